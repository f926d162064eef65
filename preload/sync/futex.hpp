// preload/sync/futex.hpp: the futex system call as green threads need it (futex.cpp).
#pragma once

#include <cstdint>
#include <ctime>

namespace green::preload {

// futex(2) with the kernel's arguments; libc's convention for the result (-1 and errno).
long futex_call(uint32_t* uaddr, int op, uint32_t val, long arg4, uint32_t* uaddr2, uint32_t val3) noexcept;
// futex_waitv(2) (a struct futex_waitv array); the same convention.
long futex_waitv_call(const void* waiters, unsigned nr, unsigned flags, const timespec* timeout,
                      clockid_t clockid) noexcept;

}  // namespace green::preload
