// sync/spin_lock.cpp: SpinLock's contended path.
#include <green/detail/task.hpp>

#include "../context/raw_syscall.hpp"

#include <sys/syscall.h>
#include <unistd.h>

namespace green::detail {

void SpinLock::lock_contended() noexcept {
    for (;;) {
        for (int i = 0; i < 128; ++i) {
            if (!flag_.load(std::memory_order_relaxed) && !flag_.exchange(true, std::memory_order_acquire))
                return;
            __builtin_ia32_pause();
        }
        // The raw system call: under the preload, sched_yield() is the hook that yields a green
        // thread, and a green switch must never happen while a runtime lock is being taken.
        raw_syscall(SYS_sched_yield);
    }
}

}  // namespace green::detail
