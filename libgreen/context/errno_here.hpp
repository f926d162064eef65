// context/errno_here.hpp: `errno` read and written in the installed TCB at every use.
//
// glibc declares __errno_location `const`, so the compiler may compute errno's address once in a
// function and keep it across calls (`errno = 0; read(...); errno`). Runtime code that parks may
// resume on another OS thread, with another TCB (a hand-off moved its hub): a kept address is then
// the old thread's errno, where a result written lands in another green thread's. The runtime and
// the preload are compiled with this header forced first (-include, see the Makefile): their
// `errno` is an %fs-relative access each time, at the offset every TCB keeps it.
#pragma once

#include <errno.h>

#include "thread_pointer.hpp"

namespace green::detail {

// errno's offset from the thread pointer (the same in every TCB: static TLS); 0 until the
// runtime's static initializers ran (thread_pointer.cpp), when __errno_location() answers.
extern ptrdiff_t errno_tls_offset;

inline int& errno_here() noexcept {
    const ptrdiff_t off = errno_tls_offset;
    if (__builtin_expect(off == 0, 0)) return *__errno_location();
    return *reinterpret_cast<int*>(static_cast<char*>(thread_pointer()) + off);
}

}  // namespace green::detail

#undef errno
#define errno (::green::detail::errno_here())
