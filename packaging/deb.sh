#!/usr/bin/env bash
# Builds libgreen's Debian packages with Debian's own tools: dpkg-buildpackage and debhelper
# (debian/), from a clean copy of the sources, so the packages are what a Debian build of this
# tree gives (Debian's hardening flags, shlibs dependencies, ldconfig trigger).
#   packaging/deb.sh BUILD_DIR   -> BUILD_DIR/deb/{libgreen0,libgreen-dev,greenrun}_VERSION_ARCH.deb
# Prints the paths of the three packages, one per line (the -dbgsym ones are beside them); lintian's verdict goes to
# BUILD_DIR/deb/lintian.txt when lintian is installed. As root it installs debhelper (and
# lintian) when missing; otherwise it says what to install.
set -euo pipefail
build=$(mkdir -p "$1" && cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v dh >/dev/null || ! command -v dpkg-buildpackage >/dev/null || ! command -v lintian >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -q --no-install-recommends debhelper dpkg-dev lintian >&2 ||
            { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends debhelper dpkg-dev lintian >&2; }
    fi
fi
if ! command -v dh >/dev/null || ! command -v dpkg-buildpackage >/dev/null; then
    echo "deb.sh: needs debhelper and dpkg-dev: sudo apt-get install -y debhelper dpkg-dev" >&2
    exit 1
fi

out=$build/deb
rm -rf "$out"
src=$out/libgreen
mkdir -p "$src"
# The tracked files when this is a git checkout (nothing built, nothing local), else the tree
# without build directories.
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf - --no-recursion) |
        tar xf - -C "$src"
else
    (cd "$root" && tar cf - --exclude='./build*' --exclude=./.git .) | tar xf - -C "$src"
fi

# Binary packages only (-b), unsigned; the suite is not run in the package build (debian/rules).
(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc 2>/dev/null || echo 2)" \
    dpkg-buildpackage -b -us -uc >"$out/build.log" 2>&1) || {
    echo "deb.sh: dpkg-buildpackage failed; the end of $out/build.log:" >&2
    tail -30 "$out/build.log" >&2
    exit 1
}
# The three packages (debhelper also makes -dbgsym ones: the debug symbols, beside them).
debs=$(ls "$out"/*.deb | grep -v -- -dbgsym_)
if command -v lintian >/dev/null; then
    # Tags this project accepts are explained in debian/*.lintian-overrides.
    # shellcheck disable=SC2086 # one word per package
    lintian --fail-on error $debs >"$out/lintian.txt" 2>&1 || {
        echo "deb.sh: lintian reports errors ($out/lintian.txt):" >&2
        cat "$out/lintian.txt" >&2
        exit 1
    }
fi
echo "$debs"
