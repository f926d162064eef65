#!/usr/bin/env bash
# debug_report: with GREEN_DEBUG=1, a call that blocks the OS thread (a read of a regular file) is
# reported once per place in the program's code that makes it, with the descriptor, its path and
# that place (file+offset, and the function from the program's symbol table); the program's own
# output is unchanged.
#   tests/preload/debug_report.sh BUILD_DIR      (exit 0: pass)
set -u
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/debug_calls.c
bin=$build/tests/preload/debug_calls
mkdir -p "$(dirname "$bin")"
${CC:-gcc} -O0 -pthread "$src" -o "$bin" || { echo "FAIL debug_report: cannot build $src"; exit 1; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT
printf 'abcdefghij\n' >"$data"
fail=0
native=$("$bin" "$data")
out=$(GREEN_DEBUG=1 LD_PRELOAD="$build/libgreen_preload.so" timeout 20 "$bin" "$data" 2>"$data.err")
err=$(cat "$data.err"); rm -f "$data.err"
[ "$out" = "$native" ] || { echo "FAIL debug_report: output '$out', natively '$native'"; fail=1; }
lines=$(grep -c "^green: read on fd [0-9]* ($data), called from debug_calls+0x[0-9a-f]*" <<<"$err")
if [ "$lines" != 2 ]; then
    echo "FAIL debug_report: $lines report lines for the two places that read the file, want 2; stderr was:"
    sed 's/^/    /' <<<"$err"
    fail=1
fi
# ... each naming the function that made the call, from the program's symbol table (read_from is
# static: no dynamic symbol names it).
for fn in read_from main; do
    grep -q "^green: read on fd [0-9]* ($data), called from debug_calls+0x[0-9a-f]* in $fn: " <<<"$err" ||
        { echo "FAIL debug_report: no report line naming $fn; stderr was:"; sed 's/^/    /' <<<"$err"; fail=1; }
done
exit $fail
