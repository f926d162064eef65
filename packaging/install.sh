#!/usr/bin/env bash
# Installs libgreen, or removes exactly what it installs: one list (entries below) serves both,
# so `make uninstall` with the same directories undoes `make install`.
#   packaging/install.sh install|uninstall BUILD_DIR
# The Makefile passes the directories and names in the environment: DESTDIR PREFIX BINDIR LIBDIR
# INCLUDEDIR DATADIR MANDIR DOCDIR VERSION SONAME, and LDCONFIG (ldconfig, or : to skip it).
set -euo pipefail
action=$1
build=$2
root=$(cd "$(dirname "$0")/.." && pwd)
: "${DESTDIR:=}" "$PREFIX" "$BINDIR" "$LIBDIR" "$INCLUDEDIR" "$DATADIR" "$MANDIR" "$DOCDIR" "$VERSION" "$SONAME"
gen=$build/install/gen # the files made from packaging/*.in for these directories

# One line per installed file, tab-separated: mode, source, destination (without DESTDIR); a
# symbolic link is "link", its target, its path.
entries() {
    local h
    printf '755\t%s\t%s\n' "$build/install/greenrun" "$BINDIR/greenrun"
    printf '755\t%s\t%s\n' "$build/libgreen.so" "$LIBDIR/libgreen.so.$VERSION"
    printf 'link\t%s\t%s\n' "libgreen.so.$VERSION" "$LIBDIR/$SONAME"
    printf 'link\t%s\t%s\n' "$SONAME" "$LIBDIR/libgreen.so"
    printf '644\t%s\t%s\n' "$build/libgreen.a" "$LIBDIR/libgreen.a"
    printf '755\t%s\t%s\n' "$build/libgreen_preload.so" "$LIBDIR/libgreen_preload.so"
    for h in "$root"/libgreen/include/green/*.h "$root"/libgreen/include/green/*.hpp; do
        printf '644\t%s\t%s\n' "$h" "$INCLUDEDIR/green/${h##*/}"
    done
    for h in "$root"/libgreen/include/green/detail/*.hpp; do
        printf '644\t%s\t%s\n' "$h" "$INCLUDEDIR/green/detail/${h##*/}"
    done
    printf '644\t%s\t%s\n' "$gen/green.pc" "$LIBDIR/pkgconfig/green.pc"
    printf '644\t%s\t%s\n' "$gen/greenConfig.cmake" "$LIBDIR/cmake/green/greenConfig.cmake"
    printf '644\t%s\t%s\n' "$gen/greenConfigVersion.cmake" "$LIBDIR/cmake/green/greenConfigVersion.cmake"
    printf '644\t%s\t%s\n' "$gen/greenrun.1" "$MANDIR/man1/greenrun.1"
    printf '644\t%s\t%s\n' "$root/packaging/greenrun.bash-completion" "$DATADIR/bash-completion/completions/greenrun"
    printf '644\t%s\t%s\n' "$root/LICENSE" "$DOCDIR/LICENSE"
}

# Directories that are libgreen's own: removed by uninstall once empty (bin, lib... are shared).
own_dirs=("$INCLUDEDIR/green/detail" "$INCLUDEDIR/green" "$LIBDIR/cmake/green" "$DOCDIR")

generate() {
    mkdir -p "$gen"
    local libdir_pc=$LIBDIR includedir_pc=$INCLUDEDIR ptr=8
    # green.pc says ${prefix}/lib rather than the expanded path where it can (as Debian's do).
    # shellcheck disable=SC2016 # a literal ${prefix}, for pkg-config
    local p='${prefix}'
    [[ $LIBDIR == "$PREFIX"/* ]] && libdir_pc=$p${LIBDIR#"$PREFIX"}
    [[ $INCLUDEDIR == "$PREFIX"/* ]] && includedir_pc=$p${INCLUDEDIR#"$PREFIX"}
    # The pointer size CMake checks: the library's ELF class (byte 4: 1 = 32-bit, 2 = 64-bit).
    [ "$(od -An -tu1 -j4 -N1 "$build/libgreen.so" | tr -d ' ')" = 1 ] && ptr=4
    local major=${VERSION%%.*} minor=${VERSION#*.}
    minor=${minor%%.*}
    local subst=(-e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" -e "s|@SONAME@|$SONAME|g"
        -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@VERSION_MAJOR@|$major|g" -e "s|@VERSION_MINOR@|$minor|g"
        -e "s|@SIZEOF_VOID_P@|$ptr|g"
        -e "s|@INCLUDEDIR_FROM_CONFIG@|$(realpath -m --relative-to="$LIBDIR/cmake/green" "$INCLUDEDIR")|g")
    sed "${subst[@]}" -e "s|^libdir=.*|libdir=$libdir_pc|" -e "s|^includedir=.*|includedir=$includedir_pc|" \
        "$root/packaging/green.pc.in" >"$gen/green.pc"
    sed "${subst[@]}" "$root/packaging/greenConfig.cmake.in" >"$gen/greenConfig.cmake"
    sed "${subst[@]}" "$root/packaging/greenConfigVersion.cmake.in" >"$gen/greenConfigVersion.cmake"
    sed "${subst[@]}" "$root/packaging/greenrun.1.in" >"$gen/greenrun.1"
}

do_install() {
    generate
    local mode src dest
    while IFS=$'\t' read -r mode src dest; do
        install -d "$DESTDIR${dest%/*}"
        if [ "$mode" = link ]; then
            ln -sfn "$src" "$DESTDIR$dest"
        else
            install -m "$mode" "$src" "$DESTDIR$dest"
        fi
    done < <(entries)
    echo "installed libgreen $VERSION in $DESTDIR$PREFIX"
    # A real install (not a staged one) refreshes the loader's cache, so that programs linked with
    # -lgreen find libgreen.so.0 where LIBDIR is one of the loader's directories.
    if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ] && command -v "${LDCONFIG:-ldconfig}" >/dev/null; then
        "${LDCONFIG:-ldconfig}" || true
    fi
    local cache
    cache=$(ldconfig -p 2>/dev/null || true)
    if [ -z "$DESTDIR" ] && [[ $cache != *"=> $LIBDIR/$SONAME"* ]]; then
        echo "note: $LIBDIR is not among the loader's directories: link programs with" \
            "-Wl,-rpath,$LIBDIR, or run them with LD_LIBRARY_PATH=$LIBDIR"
    fi
}

do_uninstall() {
    local mode src dest d
    while IFS=$'\t' read -r mode src dest; do
        rm -f "$DESTDIR$dest"
    done < <(entries)
    for d in "${own_dirs[@]}"; do
        [ -d "$DESTDIR$d" ] && rmdir --ignore-fail-on-non-empty "$DESTDIR$d"
    done
    echo "removed libgreen $VERSION from $DESTDIR$PREFIX"
}

case $action in
install) do_install ;;
uninstall) do_uninstall ;;
*) echo "usage: $0 install|uninstall BUILD_DIR" >&2; exit 2 ;;
esac
