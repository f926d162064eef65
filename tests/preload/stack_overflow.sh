#!/usr/bin/env bash
# stack_overflow: a green thread that overflows its stack is named on stderr, with where it
# started and the advice computed from the size it had: `greenrun --stack-size=` twice that size
# for a thread created without one, or, for a size the program set with pthread_attr_setstacksize,
# to raise it there. The process then dies of SIGABRT (natively: SIGSEGV, unexplained).
#   tests/preload/stack_overflow.sh BUILD_DIR      (exit 0: pass)
set -u
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/overflow.c
bin=$build/tests/preload/overflow_helper
mkdir -p "$(dirname "$bin")"
${CC:-gcc} -O1 -pthread "$src" -o "$bin" || { echo "FAIL stack_overflow: cannot build $src"; exit 1; }
fail=0
expect() {  # name, extended regex, stderr, status
    if ! grep -qE -- "$2" <<<"$3" || [ "$4" != 134 ]; then
        echo "FAIL stack_overflow: $1 (status $4, want 134 and a line matching '$2'); stderr was:"
        sed 's/^/    /' <<<"$3" | tail -5
        fail=1
    fi
}
err=$(timeout -s KILL 30 "$build/greenrun" --stack-size=64K "$bin" 2>&1 >/dev/null)
rc=$?
expect "the report" "^green: stack overflow in greenlet #[0-9]+ 'thread 1' \(guard page hit; stack of 65536 bytes\)\.$" "$err" $rc
expect "its start and the advice" \
    "^green: its thread started at overflow_helper\+0x[0-9a-f]+; give it a larger stack, e.g. twice this one: greenrun --stack-size=128K \(GREEN_STACK_SIZE=128K\)" \
    "$err" $rc
err=$(timeout -s KILL 30 "$build/greenrun" "$bin" attr 2>&1 >/dev/null)
rc=$?
expect "a size the program set: the report" "stack of 131072 bytes\)\.$" "$err" $rc
expect "a size the program set: raise it there" \
    "the program set this size \(pthread_attr_setstacksize\): raise it there, e\.g\. to 262144" "$err" $rc
exit $fail
