#!/usr/bin/env bash
# Makes a Debian binary package of libgreen from a staged install (`make deb` stages it first:
# make install DESTDIR=BUILD/deb/root PREFIX=/usr LIBDIR=/usr/lib/<multiarch> LDCONFIG=:).
#   packaging/deb.sh BUILD_DIR VERSION     -> BUILD_DIR/libgreen_VERSION_ARCH.deb
# One package holds everything `make install` puts (the launcher, both libraries, headers,
# pkg-config and CMake files, the man page, completion); Debian's split into libgreen0,
# libgreen-dev and greenrun is left to a distribution. Depends is read from what the ELF files
# link against (ldd, then dpkg -S), so it is right for the machine that builds it.
set -euo pipefail
build=$1
version=$2
stage=$build/deb/root
[ -x "$stage/usr/bin/greenrun" ] || { echo "deb.sh: $stage is not a staged install" >&2; exit 1; }
arch=$(dpkg --print-architecture)

# The packages that own the shared libraries the installed ELF files need (libgreen's own aside).
depends() {
    local f lib pkg
    for f in "$stage"/usr/bin/greenrun "$stage"/usr/lib/*/libgreen.so.* "$stage"/usr/lib/*/libgreen_preload.so; do
        [ -L "$f" ] && continue
        ldd "$f" | awk '/=> \// { print $3 }'
    done | sort -u | while read -r lib; do
        case ${lib##*/} in libgreen*) continue ;; esac
        pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null) || continue
        pkg=${pkg%%:*}
        if [ "$pkg" = libc6 ]; then
            echo "libc6 (>= $(dpkg-query -W -f='${Version}' libc6 | sed 's/-.*//'))"
        else
            echo "$pkg"
        fi
    done | sort -u | paste -sd, | sed 's/,/, /g'
}

mkdir -p "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: libgreen
Version: $version
Section: libs
Priority: optional
Architecture: $arch
Maintainer: libgreen developers <libgreen@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $(depends)
Description: gevent-style green threads for native Linux programs
 greenrun runs an unmodified dynamically linked program with its blocking libc
 calls turned into waits of green threads on a libev hub, and its pthreads
 into green threads. libgreen is the same machinery as a C++20 API (greenlets,
 events, queues, channels, pools, timeouts) with a small C API.
CONTROL
# The shared library's directory is the loader's: dpkg runs ldconfig after installing it.
echo "activate-noawait ldconfig" >"$stage/DEBIAN/triggers"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
out=$build/libgreen_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
