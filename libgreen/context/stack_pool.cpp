// context/stack_pool.cpp: fiber stacks, mapped, guarded, kept for reuse (see stack_pool.hpp).
//
// Its once-only initialisations use Once, not function-local statics: the guard of a contended
// static waits on a futex through syscall(), which under the preload is one of its hooks.
#include "stack_pool.hpp"

#include "once.hpp"
#include "raw_syscall.hpp"
#include "size_syntax.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sanitizers.hpp"

#if GREEN_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace green::detail {

#if GREEN_ASAN || GREEN_TSAN
void sanitizer_stack_released(const Stack& stack) noexcept;  // context/fiber.cpp
#endif

namespace {

enum Kind : uint32_t { kGuarded = 1, kSlab = StackPool::kSlabKind, kSlabGuarded = 3 };

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13
#endif

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
constexpr size_t kCanaryBytes = 64;
// Freed stacks kept ready per size; beyond that guarded stacks are unmapped and slab stacks have
// their pages returned to the kernel (MADV_DONTNEED keeps the mapping, so no VMA is split).
constexpr size_t kKeepFree = 4096;

size_t max_map_count() {
    size_t n = 65530;
    char buf[32];
    if (raw_read_file("/proc/sys/vm/max_map_count", buf, sizeof buf) > 0) n = strtoul(buf, nullptr, 10);
    return n ? n : 65530;
}

struct Pool {
    SpinLock lock;
    std::unordered_map<size_t, std::vector<Stack>> free;  // by size
    size_t guarded = 0;
    // Keep a quarter of the mappings for the program itself; two per guarded stack.
    size_t guarded_budget = max_map_count() * 3 / 8;
    bool announced = false;
};

Pool& pool() {
    static Pool* p;
    static Once once;
    once([] {
        p = new Pool;                  // never destroyed: stacks may be released during exit
        reset_in_fork_child(p->lock);  // another hub's thread may hold it at a fork
    });
    return *p;
}

size_t round_up(size_t n) { return (n + kPage - 1) / kPage * kPage; }

// A few stacks of the size this thread used last, kept without the pool's lock or map: spawn and
// exit of short greenlets is the common case. flush_thread_cache() (the hub's end) gives them back.
struct LocalCache {
    size_t size = 0;
    int count = 0;
    Stack items[32];
};
// Reached through a pointer, not held in TLS itself: every TCB of the OS thread (a green thread's
// own, under the preload) carries a copy of the pointer, and so finds the same cache.
thread_local LocalCache* tls_local_cache __attribute__((tls_model("initial-exec"))) = nullptr;

// Null only if it cannot be allocated (then stacks go straight to the shared pool).
LocalCache* local_cache() noexcept {
    if (__builtin_expect(tls_local_cache == nullptr, 0)) tls_local_cache = new (std::nothrow) LocalCache;
    return tls_local_cache;
}

[[noreturn]] void out_of_memory(size_t size) {
    fprintf(stderr, "green: cannot map a %zu-byte fiber stack: %s\n", size, strerror(errno));
    throw std::bad_alloc();
}

Stack map_guarded(size_t size) {
    void* p = mmap(nullptr, size + kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) out_of_memory(size);
    if (mprotect(p, kPage, PROT_NONE) != 0) {
        munmap(p, size + kPage);
        return Stack{};
    }
    return Stack{static_cast<char*>(p) + kPage, size, kGuarded};
}

// Whether the kernel has guard regions (MADV_GUARD_INSTALL: a page that faults like PROT_NONE but
// is part of its mapping, so it costs no VMA and none of vm.max_map_count), asked once.
bool guard_regions() {
    static bool ok;
    static Once once;
    once([] {
        void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return;
        ok = madvise(p, kPage, MADV_GUARD_INSTALL) == 0;
        munmap(p, kPage);
    });
    return ok;
}

// Stacks carved from one mapping, once the budget of guarded mappings is spent. With guard
// regions each stack gets a guard page below it anyway; without, a canary. The first stack is
// returned, the others go on the free list; the mmap and madvise run without the pool's lock,
// which is taken only to push them.
Stack map_slab(Pool& pl, size_t size) {
    const bool guards = guard_regions();
    const size_t slot = guards ? size + kPage : size;
    size_t count = std::max<size_t>(16, (4u << 20) / slot);
    void* p = mmap(nullptr, slot * count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) out_of_memory(slot * count);
    auto* base = static_cast<char*>(p);
    const size_t lead = guards ? kPage : 0;
    const uint32_t kind = guards ? kSlabGuarded : kSlab;
    if (guards)
        for (size_t i = 0; i < count; ++i) madvise(base + i * slot, kPage, MADV_GUARD_INSTALL);
    std::lock_guard g(pl.lock);
    auto& list = pl.free[size];
    // Pushed in reverse so that acquire() hands them out low address first.
    for (size_t i = count; i-- > 1;) list.push_back(Stack{base + i * slot + lead, size, kind});
    return Stack{base + lead, size, kind};
}

}  // namespace

bool StackPool::parse_size(const char* text, size_t& bytes) noexcept {
    const char* rest;
    return green_parse_size(text, &bytes, &rest);  // greenrun's syntax exactly (size_syntax.h)
}

size_t StackPool::default_size() noexcept {
    static size_t size;
    static Once once;
    once([] {
        constexpr size_t kDefault = 256 << 10, kMin = 16 << 10, kMax = size_t(1) << 30;
        const char* text = getenv("GREEN_STACK_SIZE");
        size_t s = kDefault;
        // greenrun refuses what is wrong here; run without it, say what is used instead.
        if (text && *text && !parse_size(text, s)) {
            fprintf(stderr,
                    "green: GREEN_STACK_SIZE='%s' is not a size (bytes, or a number with K, M or G, "
                    "from 16K to 1G); using the default, 256K\n",
                    text);
            s = kDefault;
        } else if (s < kMin || s > kMax) {
            bool low = s < kMin;
            fprintf(stderr, "green: GREEN_STACK_SIZE='%s' is %s; using %s\n", text,
                    low ? "below the minimum, 16K" : "above the maximum, 1G", low ? "16K" : "1G");
            s = low ? kMin : kMax;
        }
        size = round_up(s);
    });
    return size;
}

Stack StackPool::acquire(size_t size) {
    size = size ? round_up(std::max<size_t>(size, 8 << 10)) : default_size();
    LocalCache* lc = local_cache();
    if (lc && lc->size == size && lc->count > 0) return lc->items[--lc->count];
    Pool& pl = pool();
    bool guard = false;
    {
        std::lock_guard g(pl.lock);
        auto& list = pl.free[size];
        if (!list.empty()) {
            Stack s = list.back();
            list.pop_back();
            return s;
        }
        if (pl.guarded < pl.guarded_budget) {
            ++pl.guarded;  // reserved now, mapped below
            guard = true;
        }
    }
    // The mappings are made outside the lock (a spin lock): no other thread spins on an mmap.
    if (guard) {
        Stack s = map_guarded(size);
        if (s.lo) return s;
        std::lock_guard g(pl.lock);
        --pl.guarded;
        pl.guarded_budget = pl.guarded;  // the kernel refused: no more guards from now on
    }
    bool announce = false;
    size_t guarded = 0;
    {
        std::lock_guard g(pl.lock);
        announce = !std::exchange(pl.announced, true);
        guarded = pl.guarded;
    }
    if (announce)  // without the lock: under the preload, this write may park the green thread
        fprintf(stderr,
                "green: %zu fiber stacks have guard pages, the most vm.max_map_count (%zu) allows; "
                "%s\n",
                guarded, max_map_count(),
                guard_regions() ? "further stacks come from slabs, with guard regions (MADV_GUARD_INSTALL)"
                                : "further stacks come from slabs without guard pages, checked by a canary on "
                                  "every switch");
    return map_slab(pl, size);
}

void StackPool::release(const Stack& s) noexcept {
#if GREEN_ASAN || GREEN_TSAN
    sanitizer_stack_released(s);  // the sanitizer's record of a fiber abandoned on it
#endif
#if GREEN_ASAN
    // Frames that never returned (a fiber's last ones, an abandoned hub fiber's) leave their
    // redzones poisoned: the next fiber on this stack would trip over them. Only the span from
    // the lowest poisoned byte up is cleared, so untouched stacks cost no shadow memory.
    if (void* p = __asan_region_is_poisoned(s.lo, s.size))
        __asan_unpoison_memory_region(p, size_t(s.lo + s.size - static_cast<char*>(p)));
#endif
    if (LocalCache* lc = local_cache()) {
        if (lc->count == 0) lc->size = s.size;
        if (lc->size == s.size && lc->count < int(std::size(lc->items))) {
            lc->items[lc->count++] = s;
            return;
        }
    }
    release_shared(s);
}

// Past kKeepFree free stacks of a size, the munmap or madvise runs under the pool's lock (the one
// place that makes a system call while holding it).
void StackPool::release_shared(const Stack& s) noexcept {
    Pool& pl = pool();
    std::lock_guard g(pl.lock);
    auto& list = pl.free[s.size];
    if (list.size() >= kKeepFree) {
        if (s.kind == kGuarded) {
            munmap(s.lo - kPage, s.size + kPage);
            --pl.guarded;
            return;
        }
        madvise(s.lo, s.size, MADV_DONTNEED);
    }
    list.push_back(s);
}

void StackPool::flush_thread_cache() noexcept {
    LocalCache* lc = tls_local_cache;
    if (!lc) return;
    // The cache itself goes too (it was leaked at every thread exit); should this thread use
    // stacks again, local_cache() makes a new one.
    tls_local_cache = nullptr;
    int n = lc->count;
    while (n > 0) release_shared(lc->items[--n]);
    delete lc;
}

bool StackPool::in_guard(const Stack& s, const void* addr) noexcept {
    auto a = reinterpret_cast<uintptr_t>(addr);
    auto lo = reinterpret_cast<uintptr_t>(s.lo);
    if (s.kind == kGuarded || s.kind == kSlabGuarded) return a >= lo - kPage && a < lo;
    // A guardless stack overflows into the slab neighbour below it or off the slab's start.
    return a >= lo - kPage && a < lo + kCanaryBytes;
}

bool StackPool::slab_canary_ok(const Stack& s) noexcept {
    // Untouched anonymous memory reads as zero without costing a resident page; a fiber that
    // reaches its lowest bytes has overflowed (or is one frame from it).
    auto* w = reinterpret_cast<const uint64_t*>(s.lo);
    for (size_t i = 0; i < kCanaryBytes / 8; ++i)
        if (w[i]) return false;
    return true;
}

}  // namespace green::detail
