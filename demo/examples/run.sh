#!/usr/bin/env bash
# run.sh - run one example of demo/examples (used by `make example-NAME`).
#
# Usage: demo/examples/run.sh BUILD_DIR NAME        e.g.  demo/examples/run.sh build sleepers
#
# Runs BUILD_DIR/examples/NAME. patched_sleep (a plain C program with two pthreads) is run twice:
# natively (two OS threads) and under BUILD_DIR/greenrun (green threads on one OS thread), with the
# elapsed time and the OS thread count (sampled from /proc/PID/task while it runs) of each.
set -uo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 BUILD_DIR NAME" >&2; exit 2; }
BUILD_DIR=$1
NAME=$2
BIN=$BUILD_DIR/examples/$NAME
[[ -x $BIN ]] || { echo "run.sh: $BIN not found (make $BIN)" >&2; exit 2; }
unset LD_PRELOAD   # "native" must be native
[[ $NAME == patched_sleep ]] || exec "$BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/examples.XXXXXX")
CHILD=""
cleanup() {
    if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
        kill -TERM "$CHILD" 2>/dev/null
        sleep 0.2
        kill -KILL "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }

# measure LABEL CMD...: run CMD in the background, sample its OS thread count every 50 ms, print
# its output, its elapsed time and the peak thread count. Sets RC.
measure() {
    local label=$1
    shift
    local t0 t1 peak=0 n
    t0=$(now)
    "$@" >"$TMP/out" 2>"$TMP/err" &
    CHILD=$!
    while kill -0 "$CHILD" 2>/dev/null; do
        # Threads of the program (greenrun execs it: same PID).
        n=$(ls "/proc/$CHILD/task" 2>/dev/null | wc -l)
        if (( n > peak )); then peak=$n; fi
        sleep 0.05
    done
    wait "$CHILD"
    RC=$?
    CHILD=""
    t1=$(now)
    echo "---- $label: $*"
    sed 's/^/   /' "$TMP/out"
    sed 's/^/   (stderr) /' "$TMP/err"
    printf '   => %s: wall %.3f s, peak OS threads %s, exit status %d\n' "$label" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$peak" "$RC"
    SUMMARY+=("$(printf '%-28s wall %6.3f s   OS threads %3s   %s' "$label" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$peak" \
        "$(grep -m1 -o 'elapsed [0-9.]* s' "$TMP/err" || true)")")
}

SUMMARY=()
measure "native (pthreads)" "$BIN"
rc_native=$RC
if [[ -x $BUILD_DIR/greenrun && -f $BUILD_DIR/libgreen_preload.so ]]; then
    measure "greenrun (green threads)" env GREEN_STATS=1 "$BUILD_DIR/greenrun" -- "$BIN"
    rc_green=$RC
else
    SUMMARY+=("greenrun: n/a (preload not built)")
    rc_green=0
fi
echo
echo "patched_sleep: 2 threads x 10 x usleep(100 ms); ~1.0 s means the sleeps overlapped"
for s in "${SUMMARY[@]}"; do echo "  $s"; done
(( rc_native == 0 && rc_green == 0 ))
