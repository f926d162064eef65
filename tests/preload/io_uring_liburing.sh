#!/usr/bin/env bash
# io_uring_liburing: liburing's io_uring_wait_cqe, io_uring_submit_and_wait and
# io_uring_wait_cqe_timeout while other threads run (a writer the wait depends on, a ticker), the
# same natively and preloaded (helpers/io_uring_liburing.c says what is checked).
#
# Debian 12's liburing (2.3) enters the kernel with the syscall instruction (objdump: no call to
# libc's syscall()), so no hook sees the wait: the green thread blocked in io_uring_enter keeps its
# OS thread and, after GREEN_HANDOFF (20 ms), the hub goes on on another one. The durations of the
# 10 ms and 100 ms timeouts and the ticks meanwhile are printed for information.
# Needs liburing's header and library (liburing-dev); else SKIP (77).
#   tests/preload/io_uring_liburing.sh BUILD_DIR      (exit 0: pass, 77: skip)
set -u
build=$(cd "${1:-build}" && pwd)
preload=$build/libgreen_preload.so
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/io_uring_liburing.c
bin=$build/tests/preload/io_uring_liburing
[ -f /usr/include/liburing.h ] || { echo "SKIP: no liburing.h (apt-get install liburing-dev)"; exit 77; }
[ -f "$preload" ] || { echo "FAIL io_uring_liburing: no $preload"; exit 1; }
mkdir -p "$(dirname "$bin")"
${CC:-gcc} -O2 -Wall -Wextra -pthread "$src" -o "$bin" -luring ||
    { echo "FAIL io_uring_liburing: cannot build $src"; exit 1; }
tmp=$(mktemp -d /tmp/green-uring.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
timeout 60 "$bin" > "$tmp/native.out" 2> "$tmp/native.err"
rc=$?
[ $rc = 0 ] || { echo "FAIL io_uring_liburing: native exit status $rc"; cat "$tmp/native.out"; exit 1; }
GREEN_HANDOFF=10 LD_PRELOAD=$preload timeout 60 "$bin" > "$tmp/preload.out" 2> "$tmp/preload.err"
rc=$?
[ $rc = 0 ] || { echo "FAIL io_uring_liburing: preloaded exit status $rc"; fail=1; }
if ! diff -u --label native --label preloaded "$tmp/native.out" "$tmp/preload.out" > "$tmp/diff"; then
    echo "FAIL io_uring_liburing: stdout differs"
    sed 's/^/    /' "$tmp/diff"
    fail=1
fi
sed -n 's/^timing: /native:    /p' "$tmp/native.err"
sed -n 's/^timing: /preloaded: /p' "$tmp/preload.err"
[ $fail = 0 ] && echo PASS
exit $fail
