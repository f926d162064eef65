#!/usr/bin/env bash
# The Debian packages (`make deb`: dpkg-buildpackage and debhelper): their control fields (the
# version greenrun reports, Depends from dh_shlibdeps), which package holds which file, lintian's
# verdict, and the three unpacked into a scratch root, whose greenrun runs a threaded program with
# its own preload and whose libgreen-dev builds a program against its libgreen0. Ends with
# "deb: N passed, N failed".
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

debs=$(make -s -C "$root" deb BUILD="$build" 2>"$tmp/deb.err")
if ! command -v dh >/dev/null || ! command -v dpkg-buildpackage >/dev/null; then
    # make deb installs them when root and apt-get can; a machine without a Debian mirror cannot.
    echo "deb: skipped (no debhelper or dpkg-buildpackage, and they could not be installed: $(tail -1 "$tmp/deb.err"))"
    exit 0
fi
deb_of() { grep "/$1_[^/]*\.deb\$" <<<"$debs"; }
if [ -z "$(deb_of greenrun)" ] || [ -z "$(deb_of libgreen0)" ] || [ -z "$(deb_of libgreen-dev)" ]; then
    fail "make deb" "not the three packages: $debs $(tail -20 "$tmp/deb.err")"
    echo "deb: $passed passed, $failed failed"
    exit 1
fi
pass "make deb: libgreen0, libgreen-dev and greenrun, lintian clean (overrides explained in debian/)"
version=$("$build/greenrun" --version | awk '{ print $NF }')
arch=$(dpkg --print-architecture)
ma=$(gcc -print-multiarch)
for p in libgreen0 libgreen-dev greenrun; do
    d=$(deb_of $p)
    expect "$p: Package" "$p" "$(dpkg-deb -f "$d" Package)"
    expect "$p: Version is greenrun's (debian/changelog)" "$version" "$(dpkg-deb -f "$d" Version)"
    expect "$p: Architecture" "$arch" "$(dpkg-deb -f "$d" Architecture)"
done
depends=$(dpkg-deb -f "$(deb_of libgreen0)" Depends)
for pkg in libev4 libc6; do
    case $depends in *"$pkg"*) pass "libgreen0 Depends names $pkg" ;; *) fail "libgreen0 Depends names $pkg" "Depends: $depends" ;; esac
done
depends=$(dpkg-deb -f "$(deb_of greenrun)" Depends)
for pkg in libev4 libc-ares2 libc6; do
    case $depends in *"$pkg"*) pass "greenrun Depends names $pkg" ;; *) fail "greenrun Depends names $pkg" "Depends: $depends" ;; esac
done
depends=$(dpkg-deb -f "$(deb_of libgreen-dev)" Depends)
case $depends in *"libgreen0 (= $version)"*) pass "libgreen-dev Depends on its libgreen0" ;; *) fail "libgreen-dev Depends on its libgreen0" "Depends: $depends" ;; esac
# The loader's cache learns of libgreen.so.0 when libgreen0 is installed (dh_makeshlibs).
dpkg-deb -e "$(deb_of libgreen0)" "$tmp/control0"
grep -q ldconfig "$tmp/control0/triggers" 2>/dev/null && pass "libgreen0 activates the ldconfig trigger" ||
    fail "libgreen0 activates the ldconfig trigger"
holds() { # package file...
    local p=$1 f files
    shift
    files=$(dpkg-deb -c "$(deb_of "$p")" | awk '{ print $6 }')
    for f; do grep -qxF "$f" <<<"$files" && pass "$p holds $f" || fail "$p holds $f"; done
}
holds libgreen0 "./usr/lib/$ma/libgreen.so.$version" "./usr/lib/$ma/libgreen.so.0" ./usr/share/doc/libgreen0/copyright
holds libgreen-dev "./usr/lib/$ma/libgreen.so" "./usr/lib/$ma/libgreen.a" ./usr/include/green/green.hpp \
    "./usr/lib/$ma/pkgconfig/green.pc" "./usr/lib/$ma/cmake/green/greenConfig.cmake"
holds greenrun ./usr/bin/greenrun "./usr/lib/$ma/libgreen_preload.so" ./usr/share/man/man1/greenrun.1.gz \
    ./usr/share/bash-completion/completions/greenrun

for p in libgreen0 libgreen-dev greenrun; do dpkg-deb -x "$(deb_of $p)" "$tmp/root"; done
gcc -pthread -O1 "$root/tests/install/threads.c" -o "$tmp/threads"
# threads.c's pthreads all run on the main OS thread with one hub (the default is one per CPU).
export GREEN_HUBS=1
expect "its greenrun, in a scratch root, runs a threaded program with its own preload" \
    "4 threads joined, 4 on the main OS thread, LD_PRELOAD=$tmp/root/usr/lib/$ma/libgreen_preload.so" \
    "$("$tmp/root/usr/bin/greenrun" "$tmp/threads" 2>&1)"
# A C program built with libgreen-dev's pkg-config file against libgreen0, both from the root.
cat >"$tmp/hello.c" <<'C'
#include <green/green.h>
#include <stdio.h>
static void *body(void *arg) { return arg; }
int main(void) {
    green_t *g = green_spawn(body, "spawned");
    void *r = NULL;
    if (!g || green_join(g, -1, &r) != 0) return 1;
    green_release(g);
    printf("joined %s\n", (const char *)r);
    return 0;
}
C
pc="$tmp/root/usr/lib/$ma/pkgconfig"
flags=$(PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$tmp/root pkg-config --cflags --libs green)
if gcc "$tmp/hello.c" -o "$tmp/hello" $flags 2>"$tmp/cc.err"; then
    expect "a C program built with libgreen-dev runs on libgreen0" "joined spawned" \
        "$(LD_LIBRARY_PATH=$tmp/root/usr/lib/$ma "$tmp/hello" 2>&1)"
else
    fail "a C program builds with libgreen-dev's green.pc" "$(head -5 "$tmp/cc.err")"
fi
echo "deb: $passed passed, $failed failed"
[ "$failed" = 0 ]
