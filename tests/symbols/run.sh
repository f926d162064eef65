#!/usr/bin/env bash
# What the preload exports: exactly the glibc symbols it hooks (the version script that
# tools/preload_exports.sh writes), and the hooks still interpose.
#  - every dynamic symbol libgreen_preload.so defines is a dynamic symbol of glibc (libc.so.6 and
#    glibc's other libraries beside it) or is in EXCEPTIONS below, with its reason: no C++ symbol,
#    no helper (__green_*), no unique template object leaks;
#  - every glibc name the preload's objects define is exported (no hook is hidden), and the hook
#    table (GREEN_HOOK's section green_hook_names) lists exactly the exports;
#  - the runtime's own calls land on no hook (README, "The runtime's own calls"): what the objects
#    of libgreen/context, hub and sync leave undefined and the preload exports is exactly ALLOWED
#    below, each with its reason;
#  - a plain C program run preloaded (LD_BIND_NOW=1, LD_DEBUG=bindings) binds read, write,
#    pthread_create, pthread_cond_wait and both versions of pthread_cond_signal (GLIBC_2.2.5 and
#    GLIBC_2.3.2) to the preload, its pthread is a green thread, and GREEN_STATS counts its calls.
#   tests/symbols/run.sh BUILD_DIR        ends with "symbols: N passed, N failed"
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
pre=$build/libgreen_preload.so
CC=${CC:-gcc}
tmp=$(mktemp -d /tmp/green-symbols.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
    printf '%s\n' "$2" | head -20 | sed 's/^/     /'
}
unset LD_PRELOAD GREEN_STATS GREEN_DEBUG

# Exported symbols that are not glibc's, each with its reason ("name reason..."). None today.
EXCEPTIONS=(
)

# glibc's dynamic symbols, from the libc.so.6 the preload loads and glibc's libraries beside it.
libc=$(ldd "$pre" | awk '$1 == "libc.so.6" { print $3 }')
if [ -z "$libc" ] || [ ! -e "$libc" ]; then
    echo "symbols: cannot find the libc.so.6 of $pre"
    exit 1
fi
libs=("$libc")
for lib in libpthread.so.0 libdl.so.2 librt.so.1 libresolv.so.2 libanl.so.1; do
    [ -e "$(dirname "$libc")/$lib" ] && libs+=("$(dirname "$libc")/$lib")
done
ldso=$(ldd "$pre" | awk '$1 ~ /^\/.*ld-linux/ { print $1 }')
[ -n "$ldso" ] && libs+=("$ldso")
nm -D --defined-only "${libs[@]}" 2>/dev/null | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' |
    LC_ALL=C sort -u >"$tmp/glibc"
for e in "${EXCEPTIONS[@]}"; do echo "${e%% *}"; done | LC_ALL=C sort -u >>"$tmp/glibc"
LC_ALL=C sort -u -o "$tmp/glibc" "$tmp/glibc"

# --- exported = hooked glibc names -------------------------------------------------------------
nm -D --defined-only "$pre" | awk 'NF >= 3 { print $3 }' | LC_ALL=C sort -u >"$tmp/exported"
count=$(wc -l <"$tmp/exported")
echo "     $pre exports $count symbols"
extra=$(LC_ALL=C comm -23 "$tmp/exported" "$tmp/glibc")
if [ -z "$extra" ]; then
    pass "every exported symbol is a glibc symbol the preload hooks ($count)"
else
    fail "exported symbols that are not glibc's: $(wc -l <<<"$extra")" "$(c++filt <<<"$extra")"
fi
objs=("$build"/obj/preload/*/*.o)
if [ -e "${objs[0]}" ]; then
    nm -g --defined-only "${objs[@]}" | awk 'NF == 3 { print $3 }' | LC_ALL=C sort -u >"$tmp/defined"
    hidden=$(LC_ALL=C comm -12 "$tmp/defined" "$tmp/glibc" | LC_ALL=C comm -23 - "$tmp/exported")
    if [ -z "$hidden" ]; then
        pass "every glibc name the preload defines is exported"
    else
        fail "hooks defined but not exported" "$hidden"
    fi
else
    fail "no preload objects in $build/obj/preload" ""
fi
# The hook table (preload/core/hook.hpp: every GREEN_HOOK puts its name in the section
# green_hook_names) is exactly the exported set: no hook defined another way, none left out.
readelf -p green_hook_names "$pre" 2>/dev/null | sed -n 's/^ *\[ *[0-9a-f]*\] *//p' | LC_ALL=C sort -u >"$tmp/table"
if [ ! -s "$tmp/table" ]; then
    fail "no hook table (section green_hook_names) in $pre" ""
elif diff=$(LC_ALL=C comm -3 "$tmp/table" "$tmp/exported") && [ -z "$diff" ]; then
    pass "the hook table lists exactly the exported symbols ($(wc -l <"$tmp/table"))"
else
    fail "hook table and exports differ (left: only in the table, right: only exported)" "$diff"
fi
missing=""
for s in read write accept connect poll sleep pthread_create pthread_join pthread_mutex_lock \
    pthread_cond_wait pthread_cond_signal getaddrinfo __read_chk fork waitpid; do
    grep -qx "$s" "$tmp/exported" || missing+="$s "
done
if [ -z "$missing" ]; then pass "the main hooks are exported"; else fail "hooks not exported: $missing" ""; fi
unique=$(readelf --dyn-syms -W "$pre" | awk '$5 == "UNIQUE" && $7 != "UND" { print $8 }')
if [ -z "$unique" ]; then pass "no STB_GNU_UNIQUE object is exported"; else fail "unique symbols exported" "$unique"; fi

# --- the runtime's own calls land on no hook ---------------------------------------------------
# In the preload a call by name from the runtime binds to the preload's hook of that name: the
# runtime makes raw system calls (context/raw_syscall.hpp) or calls libc by pointer
# (context/libc.hpp). The deliberate exceptions, as "OBJECT:NAME reason...":
ALLOWED=(
    "hub/hub.o:timerfd_create the hub's timerfd for short timeouts, made through the hook, which moves it out of the program's descriptor numbers and marks it the runtime's"
    "hub/hub.o:close that timerfd, closed (hub destroyed, fork child) through the hook, which forgets it as the runtime's"
)
runtime_objs=("$build"/obj/libgreen/{context,hub,sync}/*.o)
if [ -e "${runtime_objs[0]}" ]; then
    for o in "${runtime_objs[@]}"; do
        nm -u "$o" | awk '{ sub(/@.*/, "", $2); print $2 }' | LC_ALL=C sort -u |
            LC_ALL=C comm -12 - "$tmp/exported" | sed "s|^|${o#"$build"/obj/libgreen/}:|"
    done | LC_ALL=C sort >"$tmp/runtime_hooked"
    for a in "${ALLOWED[@]}"; do echo "${a%% *}"; done | LC_ALL=C sort >"$tmp/allowed"
    if cmp -s "$tmp/runtime_hooked" "$tmp/allowed"; then
        pass "the runtime's calls reach no hook but the ${#ALLOWED[@]} allowed"
    else
        fail "the runtime's calls and the allowed hooks differ (<: called, not allowed; >: allowed, not called)" \
            "$(LC_ALL=C diff "$tmp/runtime_hooked" "$tmp/allowed" | grep '^[<>]')"
    fi
    # A contended function-local static's guard waits on a futex through syscall(), a hook: the
    # runtime uses Once (context/once.hpp) instead.
    guarded=$(for o in "${runtime_objs[@]}"; do
        nm -u "$o" | grep -q ' __cxa_guard_acquire$' && echo "${o#"$build"/obj/libgreen/}"
    done)
    if [ -z "$guarded" ]; then
        pass "the runtime has no guarded function-local static"
    else
        fail "objects of the runtime with guarded statics (use Once)" "$guarded"
    fi
else
    fail "no runtime objects in $build/obj/libgreen" ""
fi

# --- a preloaded program still goes to the hooks ---------------------------------------------------
if ! "$CC" -pthread -O1 "$root/tests/symbols/interpose.c" -o "$tmp/interpose" 2>"$tmp/cc"; then
    fail "interpose.c does not compile" "$(cat "$tmp/cc")"
else
    out=$(cd "$tmp" && env LD_PRELOAD="$pre" LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$tmp/bind" \
        GREEN_STATS=1 timeout 20 ./interpose 2>"$tmp/err")
    rc=$?
    if [ $rc -eq 0 ] && [ "$out" = "thread tid green" ]; then
        pass "the preloaded program ran, its pthread a green thread"
    else
        fail "the preloaded program: status $rc, output '$out'" "$(cat "$tmp/err")"
    fi
    cat "$tmp"/bind.* >"$tmp/bindings" 2>/dev/null
    for want in "read GLIBC_2.2.5" "write GLIBC_2.2.5" "pthread_create GLIBC_2.34" \
        "pthread_cond_wait GLIBC_2.3.2" "pthread_cond_signal GLIBC_2.3.2" "pthread_cond_signal GLIBC_2.2.5"; do
        sym=${want% *}
        ver=${want#* }
        # pthread_create's version is GLIBC_2.34 from glibc 2.34 on, GLIBC_2.2.5 before
        [ "$sym" = pthread_create ] && ver='GLIBC_2\.[0-9.]*'
        if grep -q "binding file ./interpose \[0\] to $pre \[0\]: normal symbol \`$sym' \[$ver\]" "$tmp/bindings"; then
            pass "$sym@${want#* } binds to the preload"
        else
            fail "$sym@${want#* } does not bind to the preload" \
                "$(grep "\`$sym'" "$tmp/bindings" | grep 'interpose \[0\]')"
        fi
    done
    for call in read pthread_create; do
        if grep -Eq "^  $call +1\$" "$tmp/err"; then
            pass "GREEN_STATS counts the program's $call"
        else
            fail "GREEN_STATS does not count the program's $call" "$(cat "$tmp/err")"
        fi
    done
fi

echo "symbols: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
