// context/raw_syscall.hpp: system calls the runtime makes for itself.
//
// The rule: inside the runtime, a system call is made with the `syscall` instruction (or a REAL()
// libc function), never through libc's syscall(): under the preload that is a hook, which would
// turn the runtime's own futex waits into green waits. Returns the kernel's result: >= 0, or
// -errno (errno is left alone).
#pragma once

namespace green::detail {

inline long raw_syscall(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0, long a6 = 0) noexcept {
    long rc;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(rc)
                     : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return rc;
}

}  // namespace green::detail
