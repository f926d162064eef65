#!/usr/bin/env bash
# The GREEN_* variables as the preload reads them without greenrun, and the GREEN_STATS report:
#  - GREEN_STATS takes greenrun's words (1/on/yes/true, 0/off/no/false, empty); another value is
#    off, with a one-line warning;
#  - GREEN_STACK_SIZE: the preload warns exactly where greenrun refuses (same syntax, 16K to 1G),
#    and runs with the default or the nearest bound, never a wrapped size;
#  - the report names the version greenrun --version gives, and with GREEN_HUBS=2 the hubs and the
#    green threads moved between them;
#  - it is printed once however the program ends (exit, _exit, _Exit, abort, a fault, a signal
#    from outside, a SIG_DFL the program set again; ls and sort, which close stderr at exit), and
#    the program's status (the signal, the core dump) and what sigaction tells it are as natively.
#   tests/install/env.sh BUILD_DIR        ends with "env: N passed, N failed"
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
pre=$build/libgreen_preload.so
gr=$build/greenrun
tmp=$(mktemp -d /tmp/green-env.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
    printf '%s\n' "$2" | head -20 | sed 's/^/     /'
}
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2"$'\n'"got:      $3"; fi; }
# green VAR=VALUE... PROGRAM ARGS...: PROGRAM preloaded, bounded.
green() { env LD_PRELOAD="$pre" timeout 20 env "$@"; }
reports() { grep -c '^green stats' <<<"$1"; }

unset LD_PRELOAD GREEN_STATS GREEN_DEBUG GREEN_STACK_SIZE
# threads.c's pthreads all run on the main OS thread with one hub (the default is one per CPU).
export GREEN_HUBS=1
if ! gcc -pthread -O1 "$root/tests/install/threads.c" -o "$tmp/threads" ||
    ! gcc -pthread -O1 "$root/tests/install/exit_paths.c" -o "$tmp/exit_paths"; then
    echo "env: cannot build the test programs"
    exit 1
fi
ran="4 threads joined, 4 on the main OS thread, LD_PRELOAD=$pre"

# --- GREEN_STATS ---------------------------------------------------------------------------------
for v in 1 on YES true; do
    expect "GREEN_STATS=$v: one report" 1 "$(reports "$(green GREEN_STATS="$v" "$tmp/threads" 2>&1)")"
done
for v in 0 off No false ""; do
    expect "GREEN_STATS='$v': off, nothing said" "$ran" "$(green GREEN_STATS="$v" "$tmp/threads" 2>&1)"
done
expect "GREEN_STATS=maybe: off, with a warning" \
    "green: GREEN_STATS=maybe is not a flag (1/on/yes/true or 0/off/no/false); taken as off
$ran" "$(green GREEN_STATS=maybe "$tmp/threads" 2>&1)"

# --- GREEN_STACK_SIZE: the preload warns exactly where greenrun refuses --------------------------
for v in 64K 65536 64KiB 64kb 16K 1G 1M 4096K "" -5 +64K " 64K" 10Q 64i 1.5M 8K 0 2G 1025M \
    99999999999999999999999 17179869184G; do
    env GREEN_STACK_SIZE="$v" "$gr" true 2>/dev/null
    refused=$?
    out=$(green GREEN_STACK_SIZE="$v" "$tmp/threads" 2>&1)
    warned=$([ "$out" = "$ran" ] && echo 0 || echo 2)
    expect "GREEN_STACK_SIZE='$v': greenrun's status 0/2, preload silent/warns (and runs)" \
        "$refused $ran" "$warned $(tail -1 <<<"$out")"
done
expect "GREEN_STACK_SIZE=-5: not a size, the default" \
    "green: GREEN_STACK_SIZE='-5' is not a size (bytes, or a number with K, M or G, from 16K to 1G); using the default, 256K" \
    "$(green GREEN_STACK_SIZE=-5 "$tmp/threads" 2>&1 >/dev/null)"
expect "GREEN_STACK_SIZE=8K: the minimum" "green: GREEN_STACK_SIZE='8K' is below the minimum, 16K; using 16K" \
    "$(green GREEN_STACK_SIZE=8K "$tmp/threads" 2>&1 >/dev/null)"
expect "GREEN_STACK_SIZE=2G: the maximum" "green: GREEN_STACK_SIZE='2G' is above the maximum, 1G; using 1G" \
    "$(green GREEN_STACK_SIZE=2G "$tmp/threads" 2>&1 >/dev/null)"

# --- the report: its version; printed on every way out -------------------------------------------
version=$("$gr" --version | awk '{print $NF}')
first=$(green GREEN_STATS=1 "$tmp/threads" 2>&1 >/dev/null | head -1)
expect "the report names libgreen's version ($version)" "green stats (libgreen $version, pid N):" \
    "${first/pid [0-9]*)/pid N)}"

# The counts are the program's threads: 4 made, 4 alive at once; none for a program that makes
# none, even one that makes a hub (cat reads: the runtime's own records, a hub's root and loop,
# are not counted).
line=$(green GREEN_STATS=1 "$tmp/threads" 2>&1 >/dev/null | grep '^  greenlets')
expect "4 threads: 4 greenlets created, peak alive 4" "  greenlets created 4, peak alive 4" "$line"
line=$(green GREEN_STATS=1 cat /etc/hostname 2>&1 >/dev/null | grep "^  greenlets")
expect "no thread: none created, none alive" "  greenlets created 0, peak alive 0" "$line"

# --stats=FILE (GREEN_STATS_FILE): the report is appended to FILE, one per process (a shell and
# the program it runs each add theirs), and stderr keeps only the program's own; greenrun refuses
# a file it cannot open for appending before anything runs. Without greenrun, a file the preload
# cannot open: the report goes to stderr, with a line that says why.
rm -f "$tmp/stats.txt"
err=$("$gr" --stats="$tmp/stats.txt" "$tmp/threads" 2>&1 >/dev/null)
expect "--stats=FILE: nothing on stderr" "" "$err"
expect "--stats=FILE: one report in FILE" 1 "$(reports "$(cat "$tmp/stats.txt")")"
"$gr" --stats="$tmp/stats.txt" sh -c "$tmp/threads >/dev/null; true" 2>/dev/null
expect "--stats=FILE: appended, one more per process (sh and the program)" 3 "$(reports "$(cat "$tmp/stats.txt")")"
out=$("$gr" --stats= true 2>&1)
expect "--stats= (no name): refused, status 2" "greenrun: --stats=FILE needs a file name 2" "$out $?"
out=$("$gr" --stats="$tmp/no/such/dir/x" true 2>&1)
expect "--stats=FILE in a missing directory: refused, status 2" \
    "greenrun: --stats: cannot open $tmp/no/such/dir/x for appending: No such file or directory 2" "$out $?"
out=$(GREEN_STATS_FILE="$tmp" "$gr" --stats true 2>&1)
expect "GREEN_STATS_FILE naming a directory: refused, status 2" \
    "greenrun: GREEN_STATS_FILE: cannot open $tmp for appending: Is a directory 2" "$out $?"
out=$(green GREEN_STATS=1 GREEN_STATS_FILE="$tmp/no/such/dir/x" "$tmp/threads" 2>&1 >/dev/null | head -2)
expect "GREEN_STATS_FILE unopenable without greenrun: said, then the report on stderr" \
    "green: GREEN_STATS_FILE: cannot open $tmp/no/such/dir/x (No such file or directory): the report goes to stderr
green stats (libgreen $version, pid N):" "${out/pid [0-9]*)/pid N)}"

# With several hubs the switches line names them and counts the green threads moved between them
# (hubs_share: yielding threads crowded on one hub, which the other must take); one hub: neither.
if gcc -std=gnu11 -pthread -O1 -I"$root/tests/preload" "$root/tests/preload/hubs_share.c" -o "$tmp/hubs_share"; then
    line=$(green GREEN_HUBS=2 GREEN_STATS=1 "$tmp/hubs_share" 2>&1 >/dev/null | grep '^  switches')
    moves=$(sed -n 's/.*, hubs 2, moves between hubs \([0-9]*\)$/\1/p' <<<"$line")
    expect "GREEN_HUBS=2: the report names the hubs and counts moves between them" yes \
        "$([ "${moves:-0}" -ge 1 ] && echo yes || echo "no: $line")"
    line=$(green GREEN_HUBS=1 GREEN_STATS=1 "$tmp/threads" 2>&1 >/dev/null | grep '^  switches')
    expect "GREEN_HUBS=1: the report names no hubs" no "$(grep -q hubs <<<"$line" && echo "yes: $line" || echo no)"
else
    fail "cannot build tests/preload/hubs_share.c" ""
fi

# Natively and with GREEN_STATS, under a core size limit that lets the default actions dump core.
mkdir -p "$tmp/cores"
in_cores() { (cd "$tmp/cores" && ulimit -c unlimited && "$@"); }
for how in exit _exit _Exit abort segv quit dispositions; do
    native=$(in_cores timeout 20 "$tmp/exit_paths" wait "$tmp/exit_paths" "$how" 2>/dev/null)
    out=$(in_cores timeout 20 "$tmp/exit_paths" wait env LD_PRELOAD="$pre" GREEN_STATS=1 "$tmp/exit_paths" "$how" 2>"$tmp/err")
    expect "$how: status and output as natively, one report" "$native
1" "$out
$(reports "$(cat "$tmp/err")")"
done

# SIGTERM from outside while the program sleeps.
term() {  # term [VAR=VALUE...]: "ready", then the status after kill -TERM
    in_cores timeout 20 "$tmp/exit_paths" wait env "$@" "$tmp/exit_paths" term >"$tmp/term" 2>"$tmp/err" &
    local waiter=$! pid="" i=0
    while [ -z "$pid" ] && [ $((i++)) -lt 200 ]; do
        sleep 0.05
        pid=$(sed -n 's/^ready //p' "$tmp/term")
    done
    [ -n "$pid" ] && kill -TERM "$pid"
    wait "$waiter"
    sed 's/^ready .*/ready/' "$tmp/term"
}
native=$(term)
expect "SIGTERM while parked: status as natively, one report" "$native
1" "$(term LD_PRELOAD="$pre" GREEN_STATS=1)
$(reports "$(cat "$tmp/err")")"

# ls and sort close stderr in an atexit handler, before the preload's runs.
printf '%s\n' c a b >"$tmp/lines"
for cmd in "ls $tmp" "sort $tmp/lines"; do
    # shellcheck disable=SC2086 # the command's words
    expect "$cmd: output as natively, one report" "$($cmd)
1" "$(green GREEN_STATS=1 $cmd 2>"$tmp/err")
$(reports "$(cat "$tmp/err")")"
done

echo "env: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
