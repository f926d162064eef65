#!/usr/bin/env bash
# greenrun: the launcher passes the program's exit status through, sets LD_PRELOAD and the
# GREEN_* variables for its options, rejects bad options, and reports a missing program.
#   tests/preload/greenrun.sh BUILD_DIR      (exit 0: pass)
set -u
build=$(cd "${1:-build}" && pwd)
gr=$build/greenrun
fail=0
check() {  # name, expected, actual
    if [ "$2" != "$3" ]; then
        echo "FAIL $1: expected '$2', got '$3'"
        fail=1
    fi
}

"$gr" -- sh -c 'exit 7'
check "exit status passed through" 7 $?

out=$("$gr" --threads=native --stack-size=64K --stats --debug -- sh -c \
    'echo "$GREEN_THREADS $GREEN_STACK_SIZE $GREEN_STATS $GREEN_DEBUG"' 2>/dev/null)
check "options become variables" "native 64K 1 1" "$out"

out=$("$gr" -- sh -c 'echo "$LD_PRELOAD"')
check "LD_PRELOAD names the preload beside greenrun" "$build/libgreen_preload.so" "$out"

out=$(LD_PRELOAD=/nonexistent.so "$gr" -- sh -c 'echo "$LD_PRELOAD"' 2>/dev/null)
check "an existing LD_PRELOAD is kept after ours" "$build/libgreen_preload.so:/nonexistent.so" "$out"

"$gr" --threads=bogus -- true 2>/dev/null
check "a bad --threads value" 2 $?
"$gr" --no-such-option -- true 2>/dev/null
check "an unknown option" 2 $?
"$gr" -- /nonexistent/program 2>/dev/null
check "a missing program" 127 $?
"$gr" --help | grep -q -- '--stack-size=SIZE'
check "--help lists the options" 0 $?

# The program runs in greenrun's own process (exec): same PID.
out=$("$gr" -- sh -c 'echo $$' & echo "launcher $!"; wait)
pid_prog=$(echo "$out" | grep -v launcher)
pid_launcher=$(echo "$out" | grep launcher | cut -d' ' -f2)
check "exec: the program keeps greenrun's PID" "$pid_launcher" "$pid_prog"

[ $fail = 0 ] && echo "greenrun: all checks passed"
exit $fail
