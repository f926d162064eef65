#!/usr/bin/env bash
# libgreen as a user installs it: `make install` into a temporary PREFIX and into a DESTDIR with a
# multiarch LIBDIR; the installed greenrun on a threaded program (also moved elsewhere: the path
# compiled in); consumers built with pkg-config (C++, C shared, C static) and with CMake (skipped
# without cmake); the man page and bash completion; `make uninstall` leaving no file behind;
# greenrun's errors and exit statuses, --version, and what it says about static, setuid, setgid
# and foreign programs. Nothing is left from one run to the next (all under one mktemp -d).
#   tests/install/run.sh BUILD_DIR        ends with "install: N passed, N failed"
# shellcheck disable=SC2016,SC2046 # single-quoted scripts for sh -c; pkg-config's output is split on purpose
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
here=$root/tests/install
tmp=$(mktemp -d /tmp/green-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -20 | sed 's/^/     /'
    return 0
}
# expect NAME EXPECTED ACTUAL
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2"$'\n'"got:      $3"; fi; }
# expect_has NAME NEEDLE TEXT
expect_has() { if [[ $3 == *"$2"* ]]; then pass "$1"; else fail "$1" "no '$2' in:"$'\n'"$3"; fi; }
# mk TARGET VAR=VALUE...: this tree's Makefile, not as a sub-make of `make test` (whose jobserver
# and MAKELEVEL belong to it); the installed linker cache is left alone (LDCONFIG=:).
mk() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$root" --no-print-directory \
        BUILD="$(realpath --relative-to="$root" "$build")" LDCONFIG=: "$@"
}
# ok_run NAME COMMAND...: COMMAND succeeds (its output shown only if it fails).
ok_run() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}
# files DIR: what is left in DIR besides directories.
files() { (cd "$1" && find . ! -type d | sort); }

multiarch=$(${CC:-gcc} -print-multiarch 2>/dev/null)
gcc -pthread -O1 "$here/threads.c" -o "$tmp/threads" || fail "build tests/install/threads.c"

# --- 1. PREFIX=$tmp/opt/green ---------------------------------------------------------------
prefix=$tmp/opt/green
ok_run "make install PREFIX=..." mk install PREFIX="$prefix"
want="./bin/greenrun
./include/green/detail/task.hpp
./include/green/green.h
./include/green/green.hpp
./lib/cmake/green/greenConfig.cmake
./lib/cmake/green/greenConfigVersion.cmake
./lib/libgreen.a
./lib/libgreen.so
./lib/libgreen.so.0
./lib/libgreen.so.0.1.0
./lib/libgreen_preload.so
./lib/pkgconfig/green.pc
./share/bash-completion/completions/greenrun
./share/doc/libgreen/LICENSE
./share/man/man1/greenrun.1"
# Every file above, and nothing else but headers.
expect "the installed files" "$want" \
    "$(files "$prefix" | awk '!/^\.\/include\/green\// || /^\.\/include\/green\/(detail\/task|green)\.hp*$/')"
expect "libgreen.so -> libgreen.so.0 -> libgreen.so.0.1.0" "libgreen.so.0 libgreen.so.0.1.0" \
    "$(readlink "$prefix/lib/libgreen.so") $(readlink "$prefix/lib/libgreen.so.0")"
expect "the installed library's soname" "libgreen.so.0" \
    "$(readelf -d "$prefix/lib/libgreen.so.0.1.0" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')"
gr=$prefix/bin/greenrun
# threads.c's pthreads all run on the main OS thread with one hub (the default is one per CPU).
export GREEN_HUBS=1
expect "greenrun --version" "greenrun (libgreen) 0.1.0" "$("$gr" --version)"
expect "the installed greenrun runs a threaded program: its pthreads on the main OS thread" \
    "4 threads joined, 4 on the main OS thread, LD_PRELOAD=$(realpath "$prefix/lib")/libgreen_preload.so" \
    "$("$gr" "$tmp/threads" 2>&1)"
mkdir -p "$tmp/elsewhere" && cp "$gr" "$tmp/elsewhere/greenrun"
expect "a greenrun moved elsewhere finds the preload at the path compiled in" \
    "4 threads joined, 4 on the main OS thread, LD_PRELOAD=$prefix/lib/libgreen_preload.so" \
    "$("$tmp/elsewhere/greenrun" "$tmp/threads" 2>&1)"

# The man page renders without warnings; the completion offers values.
if command -v groff >/dev/null; then
    expect "greenrun.1 renders without groff warnings" "" \
        "$(groff -man -Tutf8 -ww -z "$prefix/share/man/man1/greenrun.1" 2>&1)"
    expect_has "greenrun.1 has the version" "libgreen 0.1.0" \
        "$(groff -man -Tutf8 "$prefix/share/man/man1/greenrun.1" 2>/dev/null | col -b 2>/dev/null)"
else
    echo "skip man page rendering: no groff"
fi
complete_words() {  # the words bash would offer for the command line "$@" (last word: cursor)
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _greenrun; echo "${COMPREPLY[*]}"' \
        _ "$prefix/share/bash-completion/completions/greenrun" "$@"
}
expect "completion: --threads=" "green native" "$(complete_words greenrun --threads = "")"
expect "completion: --tls sh" "shared" "$(complete_words greenrun --tls sh)"
expect "completion: --st" "--stack-size --stats --strict" "$(complete_words greenrun --st)"
expect "completion: --dump-signal=U" "USR1 USR2" "$(complete_words greenrun --dump-signal = U)"
expect "completion: --stats=FILE, then the program" "yes yes" \
    "$(complete_words greenrun --stats = /etc/host | grep -q /etc/hostname && echo yes) $(complete_words greenrun --stats = /tmp/s truncat | grep -qw truncate && echo yes)"

# pkg-config: no -std forced on consumers; what static linking needs.
pc() { PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config "$@" | sed 's/ *$//'; }
if command -v pkg-config >/dev/null; then
    expect "pkg-config --modversion green" "0.1.0" "$(pc --modversion green)"
    expect "pkg-config --cflags green" "-I$prefix/include" "$(pc --cflags green)"
    expect "pkg-config --static --libs green" "-L$prefix/lib -lgreen -lev -lboost_context -lstdc++ -lpthread" \
        "$(pc --static --libs green)"
    if g++ -std=c++20 "$here/consumer.cpp" $(pc --cflags --libs green) -o "$tmp/consumer_cxx" 2>"$tmp/err"; then
        expect "pkg-config C++ consumer, shared" "c++: sum 4950, concurrent, queue total 190" \
            "$(LD_LIBRARY_PATH=$prefix/lib "$tmp/consumer_cxx" 2>&1)"
    else fail "pkg-config C++ consumer builds" "$(cat "$tmp/err")"; fi
    if gcc "$here/consumer.c" $(pc --cflags --libs green) -o "$tmp/consumer_c" 2>"$tmp/err"; then
        expect "pkg-config C consumer, shared" "c: sum 45, concurrent" \
            "$(LD_LIBRARY_PATH=$prefix/lib "$tmp/consumer_c" 2>&1)"
    else fail "pkg-config C consumer builds" "$(cat "$tmp/err")"; fi
    # Static: libgreen.a and its Libs.private (the C driver adds no libstdc++ of its own).
    if gcc "$here/consumer.c" $(pc --cflags green) -Wl,-Bstatic $(pc --static --libs green) -Wl,-Bdynamic \
        -o "$tmp/consumer_c_static" 2>"$tmp/err"; then
        expect "pkg-config C consumer, static libgreen: no libgreen.so needed" "" \
            "$(readelf -d "$tmp/consumer_c_static" | grep -o 'libgreen[^]]*')"
        expect "pkg-config C consumer, static libgreen: runs" "c: sum 45, concurrent" "$("$tmp/consumer_c_static" 2>&1)"
    else fail "pkg-config C consumer builds statically" "$(cat "$tmp/err")"; fi
else
    fail "pkg-config is installed (scripts/ensure-deps.sh installs it)"
fi

# CMake: find_package(green CONFIG) -> green::green; the build tree's rpath finds the library.
if command -v cmake >/dev/null; then
    if cmake -S "$here/cmake" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/err" 2>&1 &&
        cmake --build "$tmp/cmake" -j2 >>"$tmp/err" 2>&1; then
        expect "CMake C++ consumer of green::green" "c++: sum 4950, concurrent, queue total 190" \
            "$("$tmp/cmake/consumer_cxx" 2>&1)"
        expect "CMake C consumer of green::green" "c: sum 45, concurrent" "$("$tmp/cmake/consumer_c" 2>&1)"
    else fail "CMake consumer configures and builds" "$(tail -20 "$tmp/err")"; fi
else
    echo "skip CMake consumer: no cmake"
fi

ok_run "make uninstall PREFIX=..." mk uninstall PREFIX="$prefix"
expect "make uninstall leaves no file in the prefix" "" "$(files "$prefix")"
out=$("$tmp/elsewhere/greenrun" "$tmp/threads" 2>&1)
expect "no preload anywhere: status 127" 127 $?
expect_has "no preload anywhere: says where it looked" "cannot find libgreen_preload.so (looked for" "$out"

# --- 2. DESTDIR staging, multiarch LIBDIR (as a Debian package is built) -----------------------
stage=$tmp/stage
libdir=/usr/lib${multiarch:+/$multiarch}
ok_run "make install DESTDIR=... PREFIX=/usr LIBDIR=$libdir" mk install DESTDIR="$stage" PREFIX=/usr LIBDIR="$libdir"
expect "the staged greenrun finds the preload in ../lib${multiarch:+/$multiarch}" \
    "4 threads joined, 4 on the main OS thread, LD_PRELOAD=$(realpath "$stage$libdir")/libgreen_preload.so" \
    "$("$stage/usr/bin/greenrun" "$tmp/threads" 2>&1)"
expect "green.pc for a multiarch LIBDIR" "libdir=\${prefix}/lib${multiarch:+/$multiarch}" \
    "$(grep '^libdir=' "$stage$libdir/pkgconfig/green.pc")"
ok_run "make uninstall DESTDIR=..." mk uninstall DESTDIR="$stage" PREFIX=/usr LIBDIR="$libdir"
expect "make uninstall DESTDIR=... leaves no file" "" "$(files "$stage")"

# --- 3. greenrun's own checks (the build tree's: the same program) ----------------------------
gr=$build/greenrun
# bad NAME STATUS MESSAGE ARGS...: greenrun ARGS exits with STATUS, saying MESSAGE on stderr.
bad() {
    local name=$1 status=$2 msg=$3 err rc
    shift 3
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" = "$status" ] && [[ $err == *"$msg"* ]]; then pass "$name"
    else fail "$name" "expected status $status and '$msg'; got status $rc: $err"; fi
}
bad "--stack-size=-5" 2 "greenrun: --stack-size: '-5' is not a size" "$gr" --stack-size=-5 true
bad "--stack-size=10Q" 2 "'10Q' has an unknown unit 'Q': use K, M or G" "$gr" --stack-size=10Q true
bad "--stack-size=" 2 "--stack-size needs a size" "$gr" --stack-size= true
bad "--stack-size without a value" 2 "--stack-size needs a value" "$gr" --stack-size
bad "--stack-size=8K (below 16K)" 2 "'8K' is below the minimum, 16K" "$gr" --stack-size=8K true
bad "--stack-size 2G (above 1G)" 2 "'2G' is above the maximum, 1G" "$gr" --stack-size 2G true
bad "--handoff=abc" 2 "--handoff takes milliseconds (0 to 60000) or off, not 'abc'" "$gr" --handoff=abc true
bad "--block-report=0" 2 "--block-report takes milliseconds (1 to 60000), not '0'" "$gr" --block-report=0 true
bad "--hubs=0" 2 "--hubs takes a number of hubs (1 to 256) or auto, not '0'" "$gr" --hubs=0 true
bad "GREEN_HUBS=many in the environment" 2 "GREEN_HUBS takes a number of hubs (1 to 256) or auto, not 'many'" \
    env GREEN_HUBS=many "$gr" true
expect "--hubs 2 sets GREEN_HUBS" "2 auto" \
    "$("$gr" --hubs 2 -- sh -c 'echo "$GREEN_HUBS"' 2>&1) $("$gr" --hubs=auto -- sh -c 'echo "$GREEN_HUBS"' 2>&1)"
bad "--threads bogus" 2 "--threads takes green or native, not 'bogus'" "$gr" --threads bogus true
bad "--tls=x" 2 "--tls takes thread, shared or auto, not 'x'" "$gr" --tls=x true
bad "--debug=yes" 2 "--debug takes no value" "$gr" --debug=yes true
bad "--stats=DIR" 2 "--stats: cannot open $tmp for appending: Is a directory" "$gr" --stats="$tmp" true
bad "an unknown option" 2 "unknown option '--nope'" "$gr" --nope true
bad "no program" 2 "usage: greenrun" "$gr" --stats
bad "GREEN_STACK_SIZE=10Q in the environment" 2 "GREEN_STACK_SIZE: '10Q' has an unknown unit" \
    env GREEN_STACK_SIZE=10Q "$gr" true
bad "GREEN_STATS=maybe in the environment" 2 "GREEN_STATS takes 1, on, yes, true or 0, off, no, false" \
    env GREEN_STATS=maybe "$gr" true
bad "a missing program" 127 "cannot run /nonexistent/program" "$gr" /nonexistent/program
expect "--opt value and --opt=value" "native 64K 64M" \
    "$("$gr" --threads native --stack-size 64K -- sh -c 'echo "$GREEN_THREADS $GREEN_STACK_SIZE"' 2>&1) $(
        "$gr" --stack-size=64M -- sh -c 'echo "$GREEN_STACK_SIZE"' 2>&1)"
expect "GREEN_STATS=off means off" "[unset] 0" \
    "$(GREEN_STATS=off "$gr" sh -c 'echo "[${GREEN_STATS-unset}]"') $(GREEN_STATS=off "$gr" "$tmp/threads" 2>&1 | grep -c 'green stats')"
expect "GREEN_STATS=on means on" "1" "$(GREEN_STATS=on "$gr" "$tmp/threads" 2>&1 | grep -c 'green stats')"
expect_has "--help documents --version and the exit statuses" "--version" "$("$gr" --help)"

# Programs the preload cannot apply to: said at once; run without libgreen, or refused (--strict).
printf '#include <stdio.h>\nint main(void) { puts("ran"); return 3; }\n' >"$tmp/p.c"
if gcc -static "$tmp/p.c" -o "$tmp/static" 2>/dev/null; then
    out=$("$gr" "$tmp/static" 2>&1)
    expect "static: warned, run unchanged, its status kept" \
        "greenrun: $tmp/static is statically linked: LD_PRELOAD cannot apply; running it without libgreen
ran 3" "$out $?"
    out=$("$gr" --strict "$tmp/static" 2>&1)
    expect "static, --strict: refused with 126" \
        "greenrun: $tmp/static is statically linked: LD_PRELOAD cannot apply; not running it (--strict) 126" "$out $?"
    printf '#!%s\n' "$tmp/static" >"$tmp/script" && chmod +x "$tmp/script"
    out=$("$gr" --strict "$tmp/script" 2>&1)
    expect_has "a script whose interpreter is static" "runs under $tmp/static, which is statically linked" "$out"
else
    echo "skip static program: gcc -static fails (no libc.a)"
fi
gcc "$tmp/p.c" -o "$tmp/dynamic"
cp "$tmp/dynamic" "$tmp/foreign" && printf '\267\000' | dd of="$tmp/foreign" bs=1 seek=18 conv=notrunc 2>/dev/null
out=$("$gr" --strict "$tmp/foreign" 2>&1)
expect "an ELF for another machine, --strict" \
    "greenrun: $tmp/foreign is an ELF for another machine or word size: the preload cannot load into it; not running it (--strict) 126" \
    "$out $?"
expect "a plain dynamic program: nothing said" "ran 3" "$("$gr" "$tmp/dynamic" 2>&1) $?"
# Set-id bits count only where they change our ids, and not on a nosuid mount.
if [ "$(id -u)" -eq 0 ] && ! findmnt -n -o OPTIONS --target "$tmp" 2>/dev/null | grep -qw nosuid; then
    cp "$tmp/dynamic" "$tmp/setuid" && chown 65534 "$tmp/setuid" && chmod 4755 "$tmp/setuid"
    out=$("$gr" "$tmp/setuid" 2>&1)
    expect "setuid to another user: warned, run" \
        "greenrun: $tmp/setuid is setuid: the loader ignores LD_PRELOAD for it; running it without libgreen
ran 3" "$out $?"
    cp "$tmp/dynamic" "$tmp/setgid" && chgrp 65534 "$tmp/setgid" && chmod 2755 "$tmp/setgid"
    out=$("$gr" --strict "$tmp/setgid" 2>&1)
    expect "setgid to another group, --strict: refused" \
        "greenrun: $tmp/setgid is setgid: the loader ignores LD_PRELOAD for it; not running it (--strict) 126" "$out $?"
    cp "$tmp/dynamic" "$tmp/setuid_self" && chmod 4755 "$tmp/setuid_self"
    expect "setuid to ourselves: the preload applies, nothing said" "ran 3" "$("$gr" "$tmp/setuid_self" 2>&1) $?"
else
    echo "skip setuid/setgid programs: needs root and a mount without nosuid"
fi

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
