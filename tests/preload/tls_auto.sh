#!/usr/bin/env bash
# tls_auto: what GREEN_TLS=auto decides, as GREEN_DEBUG reports it. A C++ or Rust program (a
# library besides libc keeps per-thread state in TLS) gets a TCB per green thread, always; a plain
# C program too while hand-off is on (the default), else only where switching the thread pointer
# is an instruction (AT_HWCAP2 has FSGSBASE), else shares its OS thread's TLS; GREEN_TLS=thread
# and =shared are obeyed.
#   tests/preload/tls_auto.sh BUILD_DIR      (exit 0: pass)
set -u
build=$(cd "${1:-build}" && pwd)
dir=$build/tests/preload
fail=0
decision() {  # env assignments..., program args...
    env GREEN_DEBUG=1 LD_PRELOAD="$build/libgreen_preload.so" "$@" 2>&1 >/dev/null | grep -o 'TCBs of their own\|share their OS thread.s TLS' | head -1
}
expect() {  # name, expected, actual
    if [ "$2" != "$3" ]; then
        echo "FAIL tls_auto $1: expected '$2', got '$3'"
        fail=1
    fi
}
[ -x "$dir/tls_cxx" ] && [ -x "$dir/threads_sleep" ] || { echo "SKIP: build the suite's programs first (run.sh)"; exit 77; }
own="TCBs of their own"
shared="share their OS thread's TLS"
if LD_SHOW_AUXV=1 /bin/true | grep -q 'AT_HWCAP2:.*' && [ $(( $(LD_SHOW_AUXV=1 /bin/true | awk '/AT_HWCAP2/ {print $2}') & 2 )) -ne 0 ]; then
    plain=$own
else
    plain=$shared
fi
expect "C++ program" "$own" "$(decision "$dir/tls_cxx")"
# Hand-off (on by default) may resume a green thread on another OS thread: a TLS address compiled
# code kept across a call (errno's) would be another thread's, so plain C gets TCBs then too.
expect "plain C program" "$own" "$(decision "$dir/threads_sleep")"
expect "plain C, GREEN_HANDOFF=off" "$plain" "$(decision GREEN_HANDOFF=off "$dir/threads_sleep")"
expect "plain C, GREEN_TLS=thread" "$own" "$(decision GREEN_TLS=thread "$dir/threads_sleep")"
if [ -x "$dir/tls_rust" ]; then
    expect "Rust program" "$own" "$(decision "$dir/tls_rust")"
fi
out=$(GREEN_TLS=shared GREEN_DEBUG=1 LD_PRELOAD="$build/libgreen_preload.so" "$dir/tls_cxx" 2>&1 >/dev/null | grep -c 'TCBs of their own')
expect "C++ program, GREEN_TLS=shared" "0" "$out"
exit $fail
