// context/stack_pool.hpp: fiber stacks, mmap'ed with MAP_NORESERVE and reused.
//
// Contract:
//  - acquire() returns a stack of at least the requested size (rounded to pages). Only pages a
//    fiber touches cost memory; a reused stack is neither re-zeroed nor re-mapped.
//  - While the process has mappings to spare, each stack has its own PROT_NONE guard page below it
//    (two mappings per stack). Linux caps mappings per process (vm.max_map_count, 65,530 by
//    default), so past a budget stacks are carved from slabs: with guard regions
//    (MADV_GUARD_INSTALL, Linux 6.13+, no mapping of their own) each still has a guard page below
//    it; on older kernels they have none and are checked by a canary (their lowest bytes must stay
//    zero) on every switch. The switch to slabs is announced once.
//  - Any thread may acquire and release.
#pragma once

#include <green/detail/task.hpp>

#include <cstddef>

namespace green::detail {

class StackPool {
public:
    static Stack acquire(size_t size);  // size 0: default_size()
    static void release(const Stack& s) noexcept;
    // GREEN_STACK_SIZE, else 256 KiB; a size outside 16K..1G is clamped, and what is not a size
    // gives the default, each with a warning on stderr.
    static size_t default_size() noexcept;
    // True if `addr` lies in the guard page of `s` (stack overflow).
    static bool in_guard(const Stack& s, const void* addr) noexcept;
    // False if a guardless stack's canary was overwritten (stack overflow). Inline: it runs on
    // every switch.
    static bool canary_ok(const Stack& s) noexcept {
        if (__builtin_expect(s.kind != kSlabKind, 1)) return true;
        return slab_canary_ok(s);
    }
    static constexpr uint32_t kSlabKind = 2;
    static bool slab_canary_ok(const Stack& s) noexcept;
    // "256K", "64KiB", "1M", "65536" -> bytes (SIZE_MAX when too large for size_t); false, and
    // `bytes` untouched, when `text` is not digits with an optional K/M/G, "i" and "B".
    static bool parse_size(const char* text, size_t& bytes) noexcept;
    // Give the calling thread's cached stacks back to the shared pool (at thread exit).
    static void flush_thread_cache() noexcept;

private:
    static void release_shared(const Stack& s) noexcept;
};

}  // namespace green::detail
