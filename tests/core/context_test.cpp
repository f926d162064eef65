// tests/core/context_test.cpp: the context layer itself (detail::Context): a suspended fiber's
// backtrace, taken on top of its stack, and the fiber resuming afterwards as if untouched.
#include "test_util.hpp"

#include <green/detail/task.hpp>

#include <sys/mman.h>

namespace {
green::detail::Context g_root, g_fiber;
int g_resumed = 0;

// Suspends the fiber inside this function (its frame must show in the backtrace).
__attribute__((noinline)) void fiber_waits_here() {
    g_fiber.switch_to(&g_root);
    ++g_resumed;
    asm volatile("" ::: "memory");  // keeps the call above from being a tail call
}

green::detail::Context* fiber_body(void*) {
    fiber_waits_here();
    for (;;) g_fiber.switch_to(&g_root);  // never ends: its stack is the test's, not the pool's
}

bool sanitized() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return true;
#endif
#endif
    return false;
}
}  // namespace

TEST_CASE("Context::backtrace_suspended: the suspended fiber's own frames; it then resumes as if untouched") {
    void* frames[32];
    if (sanitized()) {
        // No walk there (the sanitizer would not know of the stack switch), and no raw fiber: one
        // left suspended on a stack unmapped behind the sanitizer's back breaks its bookkeeping of
        // the fibers after it.
        green::detail::Context never_ran;
        CHECK(never_ran.backtrace_suspended(frames, 32) == 0);
        return;
    }
    const size_t size = 256 << 10;
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    g_root.adopt_running_thread();
    g_fiber.create(green::detail::Stack{static_cast<char*>(p), size, 0}, 0, &fiber_body, nullptr);
    CHECK(g_fiber.backtrace_suspended(frames, 32) == 0);  // never ran: nothing to walk
    g_root.switch_to(&g_fiber);                           // runs until it waits in fiber_waits_here
    int n = g_fiber.backtrace_suspended(frames, 32);
    REQUIRE(n >= 2);
    const auto here = reinterpret_cast<uintptr_t>(&fiber_waits_here);
    bool found = false;
    for (int i = 0; i < n; ++i) found |= uintptr_t(frames[i]) > here && uintptr_t(frames[i]) < here + 256;
    CHECK(found);
    // Twice: a second walk starts from where the first one left the fiber.
    CHECK(g_fiber.backtrace_suspended(frames, 32) >= n);
    g_root.switch_to(&g_fiber);  // resumes in fiber_waits_here, which returns and switches back
    CHECK(g_resumed == 1);
    munmap(p, size);  // the fiber stays suspended for ever: its stack may go
}
