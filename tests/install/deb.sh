#!/usr/bin/env bash
# The Debian package (`make deb`): its control fields (the version greenrun reports, Depends read
# from what the libraries link against), the files it holds, and its greenrun, unpacked anywhere,
# running a threaded program with its own preload. Ends with "deb: N passed, N failed".
#   tests/install/deb.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if ! command -v dpkg-deb >/dev/null; then
    echo "deb: skipped (no dpkg-deb: not a Debian system)"
    exit 0
fi
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

deb=$(make -s -C "$root" deb BUILD="$build" | tail -1)
if [ ! -f "$deb" ]; then
    fail "make deb" "no package made ($deb)"
    echo "deb: $passed passed, $((failed)) failed"
    exit 1
fi
version=$("$build/greenrun" --version | awk '{ print $NF }')
expect "Package" "libgreen" "$(dpkg-deb -f "$deb" Package)"
expect "Version: greenrun's" "$version" "$(dpkg-deb -f "$deb" Version)"
expect "Architecture" "$(dpkg --print-architecture)" "$(dpkg-deb -f "$deb" Architecture)"
depends=$(dpkg-deb -f "$deb" Depends)
for pkg in libev4 libc-ares2 "libc6 (>="; do
    case $depends in *"$pkg"*) pass "Depends names $pkg" ;; *) fail "Depends names $pkg" "Depends: $depends" ;; esac
done
ma=$(gcc -print-multiarch)
files=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
for f in ./usr/bin/greenrun "./usr/lib/$ma/libgreen.so.0" "./usr/lib/$ma/libgreen_preload.so" \
    ./usr/include/green/green.hpp "./usr/lib/$ma/pkgconfig/green.pc" ./usr/share/man/man1/greenrun.1; do
    grep -qxF "$f" <<<"$files" && pass "holds $f" || fail "holds $f"
done
dpkg-deb -x "$deb" "$tmp/unpacked"
gcc -pthread -O1 "$root/tests/install/threads.c" -o "$tmp/threads"
# threads.c's pthreads all run on the main OS thread with one hub (the default is one per CPU).
export GREEN_HUBS=1
expect "its greenrun, unpacked elsewhere, runs a threaded program with its own preload" \
    "4 threads joined, 4 on the main OS thread, LD_PRELOAD=$tmp/unpacked/usr/lib/$ma/libgreen_preload.so" \
    "$("$tmp/unpacked/usr/bin/greenrun" "$tmp/threads" 2>&1)"
echo "deb: $passed passed, $failed failed"
[ "$failed" = 0 ]
