#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed".
#   tests/run_all.sh BUILD_DIR
set -uo pipefail
build=${1:-build}
passed=0
failed=0

# Core: doctest, counted per test case.
core_log=$(mktemp)
timeout 300 "$build/core_tests" --no-intro=true 2>&1 | tee "$core_log"
core_rc=${PIPESTATUS[0]}
summary=$(grep -E '^\[doctest\] test cases:' "$core_log" | tail -1)
if [[ $summary =~ ([0-9]+)\ passed.*\|\ *([0-9]+)\ failed ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
    if [ "$core_rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
        echo "FAIL core_tests: exit status $core_rc"
        failed=$((failed + 1))
    fi
else
    echo "FAIL core_tests: no summary (exit status $core_rc; crashed or timed out?)"
    failed=$((failed + 1))
fi
rm -f "$core_log"

# Preload: each program natively and preloaded, outputs compared.
pre_log=$(mktemp)
timeout 900 tests/preload/run.sh "$build" 2>&1 | tee "$pre_log"
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$pre_log" | tail -1)
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
else
    echo "FAIL preload suite: no summary line (crashed or timed out?)"
    failed=$((failed + 1))
fi
rm -f "$pre_log"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
