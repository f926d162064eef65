// context/once.hpp: std::call_once for the runtime, without pthread_once (a preload hook).
//
// Contract: `static Once once; once(init);` runs init the first time; a caller that comes while
// it runs waits (yielding the CPU with the raw system call) until it has run. init must not
// throw, and must not wait for anything that may itself be waiting here. Constant-initialised:
// usable from any static initializer, and a function-local one needs no guard. As with
// pthread_once, a fork child whose parent was inside init runs it again (the pid tells).
#pragma once

#include "raw_syscall.hpp"

#include <sys/syscall.h>

#include <atomic>

namespace green::detail {

class Once {
public:
    template <class F> void operator()(F&& init) noexcept {
        if (__builtin_expect(state_.load(std::memory_order_acquire) == kDone, 1)) return;
        const long me = raw_syscall(SYS_getpid);
        for (;;) {
            long seen = state_.load(std::memory_order_acquire);
            if (seen == kDone) return;
            // Idle, or left running by the parent of this fork child: ours to run.
            if (seen != me && state_.compare_exchange_strong(seen, me, std::memory_order_acquire)) {
                init();
                state_.store(kDone, std::memory_order_release);
                return;
            }
            raw_syscall(SYS_sched_yield);
        }
    }

private:
    static constexpr long kIdle = 0;
    static constexpr long kDone = -1;
    std::atomic<long> state_{kIdle};  // kIdle, kDone, or the pid of the process running init
};

}  // namespace green::detail
