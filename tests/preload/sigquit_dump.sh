#!/usr/bin/env bash
# sigquit_dump: with GREEN_DEBUG=1, a SIGQUIT at its default action first prints every green
# thread (as Go prints its goroutines): its number, name, what it waits on and where it started;
# then the process dies of SIGQUIT as natively (same status). Without GREEN_DEBUG, nothing is
# printed. The program is helpers/dump_hang.c: three threads waiting for ever.
#   tests/preload/sigquit_dump.sh BUILD_DIR      (exit 0: pass)
set -u
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/dump_hang.c
bin=$build/tests/preload/dump_hang
mkdir -p "$(dirname "$bin")"
${CC:-gcc} -O1 -pthread "$src" -o "$bin" || { echo "FAIL sigquit_dump: cannot build $src"; exit 1; }
fail=0

# Run $@ (SIGQUIT at its default action: a non-interactive shell's background job ignores it),
# send it SIGQUIT after half a second; sets $status and $err.
quit_after() {
    local errf
    errf=$(mktemp)
    env --default-signal=QUIT "$@" 2>"$errf" >/dev/null &
    local pid=$!
    sleep 0.5
    kill -QUIT "$pid"
    { wait "$pid"; } 2>/dev/null
    status=$?
    err=$(cat "$errf")
    rm -f "$errf"
}

quit_after timeout -s KILL 20 "$bin"
native=$status
quit_after timeout -s KILL 20 env GREEN_DEBUG=1 LD_PRELOAD="$build/libgreen_preload.so" "$bin"
[ "$status" = "$native" ] || { echo "FAIL sigquit_dump: status $status, natively $native"; fail=1; }
for want in "green: SIGQUIT: green threads of pid" "greenlet #1 'main' waiting in pthread_join" \
    "'thread 1' waiting in pthread_mutex_lock, started at 0x" "'thread 2' waiting in read (3), started at 0x" \
    "green: SIGQUIT: now its default action"; do
    grep -qF "$want" <<<"$err" || { echo "FAIL sigquit_dump: no line with '$want'; stderr was:"; sed 's/^/    /' <<<"$err"; fail=1; }
done
quit_after timeout -s KILL 20 env LD_PRELOAD="$build/libgreen_preload.so" "$bin"
[ "$status" = "$native" ] || { echo "FAIL sigquit_dump: without GREEN_DEBUG, status $status, natively $native"; fail=1; }
if grep -q "SIGQUIT" <<<"$err"; then echo "FAIL sigquit_dump: a dump without GREEN_DEBUG: $err"; fail=1; fi
exit $fail
