#!/usr/bin/env bash
# dump_signal: GREEN_DUMP_SIGNAL (greenrun --dump-signal) makes a signal print every green thread
# of every hub (number, name, what it waits on, where it started), and the --stats report when it
# is on, after which the program goes on and each hub prints its green threads' backtraces: helpers/dump_go_on.c signals itself SIGUSR2 while three
# threads wait in read, pthread_mutex_lock and a sleep, then finishes (natively SIGUSR2 would end
# it). A program that catches the signal itself keeps it: its handler runs, nothing is dumped.
# greenrun refuses a signal that cannot ask for a dump (status 2); the preload without greenrun
# says so and goes on without one.
#   tests/preload/dump_signal.sh BUILD_DIR      (exit 0: pass)
set -u
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/dump_go_on.c
bin=$build/tests/preload/dump_go_on
gr=$build/greenrun
mkdir -p "$(dirname "$bin")"
${CC:-gcc} -O1 -pthread "$src" -o "$bin" || { echo "FAIL dump_signal: cannot build $src"; exit 1; }
fail=0
check() {  # name, expected, actual
    if [ "$2" != "$3" ]; then
        echo "FAIL dump_signal: $1"
        printf '    expected: %s\n    got:      %s\n' "$2" "$3"
        fail=1
    fi
}
errf=$(mktemp)
trap 'rm -f "$errf"' EXIT

out=$(timeout -s KILL 20 "$gr" --dump-signal=USR2 --stats "$bin" 2>"$errf")
check "the program goes on after the dump" "0 done" "$? $out"
for want in "green: SIGUSR2: green threads of pid" "'thread 1' waiting in read (3), started at 0x" \
    "'thread 3' waiting in pthread_mutex_lock, started at 0x" "'thread 2' waiting in sleep, started at 0x" \
    "green: SIGUSR2: end of the dump; the program goes on"; do
    grep -qF "$want" "$errf" || { echo "FAIL dump_signal: no line with '$want'; stderr was:"; sed 's/^/    /' "$errf"; fail=1; }
done
check "--stats: a report at the dump and one at the end" 2 "$(grep -c '^green stats' "$errf")"
# Then each hub prints the backtraces of its suspended green threads: the program's frames, named
# from its symbol table (the helper's functions are static: no dynamic symbol names them), and
# for a mutex wait who holds the mutex (main, which locked it first).
for want in "green: backtraces of the green threads" "'thread 1' waiting in read, started at reader (" \
    "'thread 2' waiting in sleep, started at sleeper (" \
    "'thread 3' waiting in pthread_mutex_lock, held by the main thread (OS thread tid " "started at locker (" \
    "#0 reader+0x" " sleeper+0x" "#0 locker+0x" " main+0x" " __libc_start_main+0x"; do
    grep -qF -- "$want" "$errf" || { echo "FAIL dump_signal: no backtrace line with '$want'; stderr was:"; sed 's/^/    /' "$errf"; fail=1; }
done
check "no frame of the runtime itself in the backtraces" "" "$(grep -E '^    #[0-9]+ .*libgreen_preload' "$errf")"

# With --stats=FILE the reports go to FILE, the dump still to stderr.
statsf=$(mktemp)
out=$(timeout -s KILL 20 "$gr" --dump-signal=USR2 --stats="$statsf" "$bin" 2>"$errf")
check "--stats=FILE: the dump on stderr, the two reports in FILE" "0 done 1 0 2" \
    "$? $out $(grep -c 'green: SIGUSR2: green threads of pid' "$errf") $(grep -c '^green stats' "$errf") $(grep -c '^green stats' "$statsf")"
rm -f "$statsf"

out=$(timeout -s KILL 20 env GREEN_DUMP_SIGNAL=12 LD_PRELOAD="$build/libgreen_preload.so" "$bin" handler 2>"$errf")
check "the program's own handler keeps the signal" "0 handler ran
done" "$? $out"
check "... and nothing is dumped" "" "$(cat "$errf")"

out=$("$gr" --dump-signal=KILL true 2>&1)
check "--dump-signal=KILL refused" "greenrun: --dump-signal: 'KILL' is a signal no program can catch 2" "$out $?"
out=$("$gr" --dump-signal=SIGSEGV true 2>&1)
check "--dump-signal=SIGSEGV refused" \
    "greenrun: --dump-signal: 'SIGSEGV' is a signal the program's own code raises (a fault, abort, a breakpoint) 2" "$out $?"
out=$(GREEN_DUMP_SIGNAL=usr9 "$gr" true 2>&1)
check "GREEN_DUMP_SIGNAL=usr9 refused" \
    "greenrun: GREEN_DUMP_SIGNAL: 'usr9' is not a signal (a name such as USR2 or QUIT, or a number from 1 to 64) 2" "$out $?"
out=$(timeout -s KILL 20 env GREEN_DUMP_SIGNAL=STOP LD_PRELOAD="$build/libgreen_preload.so" true 2>&1)
check "GREEN_DUMP_SIGNAL=STOP without greenrun: said, no dump signal" \
    "green: GREEN_DUMP_SIGNAL='STOP' is a signal no program can catch; no dump signal 0" "$out $?"
exit $fail
