#!/usr/bin/env bash
# Prints a doctest filter (for -tce) naming every core test case that forks a child process
# (tu::run_in_child) in which greenlets go on running: ThreadSanitizer cannot follow such a child
# (see check-tsan in the Makefile). ',' in a name becomes '?' (doctest splits filters on ','), and
# so does a single quote (the Makefile passes the list in one).
#   tests/sanitizers/fork_tests.sh [tests/core/*.cpp]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || set -- tests/core/*.cpp
awk '
    /^TEST_CASE(_TEMPLATE)?\(/ {
        name = ""
        if (match($0, /"([^"\\]|\\.)*"/)) name = substr($0, RSTART + 1, RLENGTH - 2)
        printed = 0
    }
    /run_in_child\(/ && name != "" && !printed { gsub(/[,\047]/, "?", name); print name; printed = 1 }
' "$@" | paste -sd, -
