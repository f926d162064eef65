// preload/futex.hpp: the futex system call as green threads need it (futex.cpp).
#pragma once

#include <cstdint>

namespace green::preload {

// futex(2) with the kernel's arguments; libc's convention for the result (-1 and errno).
long futex_call(uint32_t* uaddr, int op, uint32_t val, long arg4, uint32_t* uaddr2, uint32_t val3) noexcept;

}  // namespace green::preload
