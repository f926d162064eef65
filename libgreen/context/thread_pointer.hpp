// context/thread_pointer.hpp: the x86-64 thread pointer (the FS base), which locates a thread's
// control block and static TLS.
//
// Contract:
//  - thread_pointer() is the calling code's FS base (the TCB's self-pointer at %fs:0).
//  - set_thread_pointer(tp) moves FS to another TCB: `wrfsbase` where the CPU and kernel allow
//    it (AT_HWCAP2 has HWCAP2_FSGSBASE: a few ns), else arch_prctl(ARCH_SET_FS), a system call
//    (microseconds on some VMs): callers switch only when the next task's TCB differs.
//  - tls_word(offset) reads and writes a word of the installed TCB's static TLS, at a fixed
//    offset from the thread pointer, without a call (errno across switches).
#pragma once

#include <cstddef>
#include <cstdint>

namespace green::detail {

inline void* thread_pointer() noexcept {
    void* tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    return tp;
}

void set_thread_pointer(void* tp) noexcept;
// True when set_thread_pointer is a user-mode instruction rather than a system call.
bool thread_pointer_switch_is_fast() noexcept;

inline int tls_int_at(ptrdiff_t offset) noexcept {
    int v;
    __asm__ volatile("movl %%fs:(%1), %0" : "=r"(v) : "r"(offset) : "memory");
    return v;
}
inline void set_tls_int_at(ptrdiff_t offset, int v) noexcept {
    __asm__ volatile("movl %0, %%fs:(%1)" : : "r"(v), "r"(offset) : "memory");
}

}  // namespace green::detail
