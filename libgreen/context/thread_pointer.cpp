// context/thread_pointer.cpp: moving FS from one thread control block to another.
#include "thread_pointer.hpp"

#include "raw_syscall.hpp"

#include <asm/prctl.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace green::detail {

namespace {
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
// The kernel sets this bit only when it enabled CR4.FSGSBASE (Linux 5.9+ on a CPU that has it);
// without it wrfsbase faults with SIGILL.
const bool g_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
}  // namespace

ptrdiff_t errno_tls_offset = reinterpret_cast<char*>(__errno_location()) - static_cast<char*>(thread_pointer());

bool thread_pointer_switch_is_fast() noexcept { return g_fsgsbase; }

void set_thread_pointer(void* tp) noexcept {
    if (__builtin_expect(g_fsgsbase, 1)) {
        __asm__ volatile("wrfsbase %0" : : "r"(tp) : "memory");
        return;
    }
    // The raw system call: libc's syscall() may be the preload's hook.
    long rc;
    __asm__ volatile("syscall"
                     : "=a"(rc)
                     : "0"(long(SYS_arch_prctl)), "D"(long(ARCH_SET_FS)), "S"(tp)
                     : "rcx", "r11", "memory");
    if (__builtin_expect(rc != 0, 0)) {
        static const char msg[] = "green: arch_prctl(ARCH_SET_FS) failed: cannot switch thread-local storage\n";
        raw_syscall(SYS_write, 2, long(msg), long(sizeof msg - 1));
        abort();
    }
}

}  // namespace green::detail
