// sync/spin_lock.cpp: SpinLock's contended path, and the locks a fork child resets.
#include <green/detail/task.hpp>

#include "../context/raw_syscall.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

namespace green::detail {

void SpinLock::lock_contended() noexcept {
    for (;;) {
        for (int i = 0; i < 128; ++i) {
            if (!flag_.load(std::memory_order_relaxed) && !flag_.exchange(true, std::memory_order_acquire)) return;
            __builtin_ia32_pause();
        }
        // The raw system call: under the preload, sched_yield() is the hook that yields a green
        // thread, and a green switch must never happen while a runtime lock is being taken.
        raw_syscall(SYS_sched_yield);
    }
}

namespace {
constexpr int kMaxForkLocks = 64;
SpinLock* g_fork_locks[kMaxForkLocks];  // constant-initialized: usable from any static initializer
std::atomic<int> g_fork_lock_count{0};

// Registered before any other of the runtime's atfork handlers (constructor priority 101): child
// handlers run in registration order, so this one runs first in every fork child.
__attribute__((constructor(101))) void fork_reset_init() { pthread_atfork(nullptr, nullptr, fork_child_reset_locks); }
}  // namespace

bool reset_in_fork_child(SpinLock& lock) noexcept {
    int i = g_fork_lock_count.fetch_add(1, std::memory_order_acq_rel);
    if (i < kMaxForkLocks) g_fork_locks[i] = &lock;
    else fprintf(stderr, "green: internal: more than %d locks to reset in a fork child\n", kMaxForkLocks);
    return true;
}

void fork_child_reset_locks() noexcept {
    const int n = std::min(g_fork_lock_count.load(std::memory_order_acquire), kMaxForkLocks);
    for (int i = 0; i < n; ++i) g_fork_locks[i]->unlock();
}

}  // namespace green::detail
