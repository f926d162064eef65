#!/usr/bin/env bash
# CPython's own test suite as a differential test of libgreen's LD_PRELOAD mode (issue 11; gevent
# runs CPython's tests the same way).
#
#   tests/cpython/run.sh BUILD_DIR [MODULE...]
#
# Runs each MODULE of CPython's regression tests (`python3 -m test -v MODULE`, through driver.py,
# which logs every test's outcome as it happens) natively, then under BUILD_DIR/greenrun, and
# prints per module the tests run, the failures of each run and every PRELOADED-ONLY failure: a
# test that failed, errored, timed out or died preloaded but passed natively, or a preloaded run
# that ended badly outside any test while the native one did not (report.py has the rules).
# Each preloaded-only test is run once more alone, preloaded, and marked "fails again alone" or
# "passes alone" (flaky or order-dependent); it counts either way. The last line is
# "cpython: M modules, N tests, K preloaded-only failures".
#
# Default modules (DEFAULT below; natively about 6 minutes on 2 cores, preloaded as much again).
# Left out: test_concurrent_futures (2.5 min natively; its pools repeat test_threading, test_queue
# and test_multiprocessing_fork), test_multiprocessing_forkserver and _spawn (as long as _fork
# each, same tests), test_socketserver (skipped without -u network). No -u resources are enabled,
# so no test leaves loopback and no cpu- or largefile-heavy test runs; CPYTHON_TEST_ARGS adds
# regrtest options to both runs (e.g. "-u cpu"). test_socket's ThreadedVSOCK* tests are ignored:
# in a VM without vsock loopback, connecting to one's own CID never completes (natively too).
#
# Needs Debian's libpython3.X-testsuite (X: python3's minor version): installed with apt-get when
# missing and running as root; otherwise the script says what to install and exits 77 (skip).
#
# Each run is bounded by `timeout` (SIGUSR1, on which regrtest prints every thread's traceback into
# the log, then SIGKILL 10 s later): the native run by CPYTHON_TEST_TIMEOUT seconds (default 600),
# the preloaded one by 4 times the native run's time, at least 180 s and at most the same limit.
# A preloaded run that times out names the test that was running.
#
# Environment: PYTHON (default /usr/bin/python3, not a pyenv shim), CPYTHON_TEST_TIMEOUT, CPYTHON_TEST_ARGS,
#              CPYTHON_RERUN_TIMEOUT (seconds for a rerun alone, default 120; 0: no reruns).
# Outputs in BUILD_DIR/tests/cpython/: MODULE.{native,preload}.{log,events,status} and
# MODULE.rerun.log. The tests' temporary files go to a private TMPDIR removed at exit.
# Exit status: 0 with no preloaded-only failure, 1 with some, 2 for a usage error, 77 skipped.

set -u
unset LD_PRELOAD

DEFAULT=(test_thread test_threading test_threading_local test_queue test_signal test_select
         test_selectors test_poll test_epoll test_socket test_subprocess test_fork1 test_wait4
         test_os test_time test_asyncio test_multiprocessing_fork)

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [MODULE...]" >&2
    exit 2
fi
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_DIR=$(cd "${1%/}" 2>/dev/null && pwd) || { echo "cpython: no build directory $1" >&2; exit 2; }
shift
MODULES=("$@")
[ ${#MODULES[@]} -gt 0 ] || MODULES=("${DEFAULT[@]}")
GREENRUN=$BUILD_DIR/greenrun
if [ ! -x "$GREENRUN" ] || [ ! -f "$BUILD_DIR/libgreen_preload.so" ]; then
    echo "cpython: $BUILD_DIR has no greenrun and libgreen_preload.so (run make first)" >&2
    exit 2
fi
PYTHON=${PYTHON:-/usr/bin/python3}   # the one Debian's testsuite package is for
TIMEOUT=${CPYTHON_TEST_TIMEOUT:-600}
RERUN_TIMEOUT=${CPYTHON_RERUN_TIMEOUT:-120}
read -r -a EXTRA <<<"${CPYTHON_TEST_ARGS:-}"
EXTRA=(--ignore '*ThreadedVSOCK*' "${EXTRA[@]}")

VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || {
    echo "SKIP cpython: $PYTHON does not run"; exit 77; }
PKG=libpython$VERSION-testsuite
missing() {   # prints the modules python cannot find
    "$PYTHON" -c 'import importlib.util as u, sys
for m in sys.argv[1:]:
    try:
        found = u.find_spec("test." + m) is not None
    except ImportError:
        found = False
    if not found:
        print(m)' "$@"
}
if [ -n "$(missing test_threading)" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "cpython: installing $PKG"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "$PKG" >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$PKG" >/dev/null 2>&1; }
    fi
    if [ -n "$(missing test_threading)" ]; then
        echo "SKIP cpython: CPython's tests are not installed (apt-get install $PKG, as root)"
        exit 77
    fi
fi
UNKNOWN=$(missing "${MODULES[@]}")
if [ -n "$UNKNOWN" ]; then
    echo "cpython: no such test module:" $UNKNOWN >&2
    exit 2
fi

OUT=$BUILD_DIR/tests/cpython
mkdir -p "$OUT" || exit 2
rm -f "$OUT/counts"
SCRATCH=$(mktemp -d /tmp/cpython-tests.XXXXXX) || exit 2
trap 'rm -rf "$SCRATCH"' EXIT

# run MODULE MODE LIMIT [PREFIX...]: one regrtest run; leaves MODULE.MODE.{log,events,status}
run() {
    local module=$1 mode=$2 limit=$3 base=$OUT/$1.$2 start end rc
    shift 3
    rm -f "$base.events" "$base.log" "$base.status"
    rm -rf "${SCRATCH:?}/$mode" && mkdir -p "$SCRATCH/$mode"
    start=$(date +%s.%N)
    {   # the braces' 2>/dev/null silences bash's "Killed"-style note when a run dies of a signal
        (cd "$SCRATCH/$mode" && TMPDIR=$SCRATCH/$mode exec timeout -k 10 -s USR1 "$limit" "$@" \
            "$PYTHON" "$SRC_DIR/driver.py" "$base.events" -v "${EXTRA[@]}" "$module") \
            </dev/null >"$base.log" 2>&1
    } 2>/dev/null
    rc=$?
    end=$(date +%s.%N)
    echo "$rc $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') $limit" >"$base.status"
}

RERUN=
[ "$RERUN_TIMEOUT" = 0 ] || RERUN="$GREENRUN $PYTHON $SRC_DIR/driver.py $RERUN_TIMEOUT"
for module in "${MODULES[@]}"; do
    rm -f "$OUT/$module.rerun.log" "$OUT/$module.rerun.events"
    run "$module" native "$TIMEOUT"
    native_secs=$(cut -d' ' -f2 "$OUT/$module.native.status")
    limit=$(awk -v n="$native_secs" -v max="$TIMEOUT" \
        'BEGIN { l = int(4 * n + 0.5); if (l < 180) l = 180; if (l > max) l = max; print l }')
    run "$module" preload "$limit" "$GREENRUN"
    CPYTHON_RERUN=$RERUN CPYTHON_RERUN_DIR=$SCRATCH/rerun "$PYTHON" "$SRC_DIR/report.py" module \
        "$OUT" "$module"
done
echo "logs: $OUT"
"$PYTHON" "$SRC_DIR/report.py" summary "$OUT"
