// preload/sync/sem.cpp: POSIX semaphores whose waits park the green thread.
//
// The program's sem_t stays the real counter: a wait is libc's sem_trywait, retried after each
// wake-up; sem_post is libc's, then wakes one registered green waiter. Named semaphores (sem_open)
// work natively; being process-shared, a post may come from another process that cannot wake us,
// so green waits on shared semaphores also poll (0.5 ms growing to 20 ms).
//
// As natively, sem_wait returns EINTR when a signal handler runs during the wait, whatever
// SA_RESTART says (signals interrupt the waits of the main task, whose OS thread receives them).
#include "../core/hook.hpp"
#include "../threads/green_thread.hpp"
#include "../core/real.hpp"
#include "../core/spread.hpp"

#include <semaphore.h>

#include <cerrno>

namespace green::preload {
namespace {

using detail::Wake;

// glibc's struct new_sem: a 64-bit word (value, waiters), then `private` (0, or 128 when shared).
inline bool sem_shared(sem_t* s) noexcept { return reinterpret_cast<const unsigned*>(s)[2] != 0; }

enum class Kind { Wait, Timed, Clock };
constexpr int kUseLibc = -1001;  // the caller cannot park: block in libc's own wait

int sem_wait_impl(sem_t* s, const Deadline& dl, Kind kind) noexcept {
    int saved = errno;
    if (REAL(sem_trywait)(s) == 0) {
        errno = saved;
        return 0;
    }
    if (errno != EAGAIN) return -1;
    SpreadAfterWait spread;
    WaitCtx c = wait_ctx();
    if (!c.green) {
        errno = saved;
        return kUseLibc;  // libc's wait is a cancellation point: called from the hook itself
    }
    if (kind != Kind::Wait && dl.abs.tv_sec < 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    WaitBucket& b = bucket_for(s);
    const bool shared = sem_shared(s);
    double poll = 0.0005;
    for (;;) {
        ObjWaiter w;
        w.obj = s;
        w.type = WaitType::Sem;
        w.hub = c.hub;
        b.acquire();
        b.add(w);
        b.unlock();
        if (REAL(sem_trywait)(s) == 0) {
            b.acquire();
            b.remove(w);
            b.unlock();
            errno = saved;
            return 0;
        }
        Wake why =
            sleep_on(b, w, dl, {"sem_wait", s, -1}, detail::kInterruptAlways, shared ? next_poll(poll) : -1, true);
        b.acquire();
        bool notified = b.remove(w);
        if ((why == Wake::Signal || why == Wake::Interrupted) && notified) b.wake_one(s);  // not taken
        b.unlock();
        if (why == Wake::Interrupted) return kCancelled;
        if (why == Wake::Signal) {
            errno = EINTR;
            return -1;
        }
        if (REAL(sem_trywait)(s) == 0) {
            errno = saved;
            return 0;
        }
        if (why == Wake::TimedOut) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

}  // namespace
}  // namespace green::preload

using namespace green::preload;

// All three are cancellation points, acting even when the semaphore could be taken (as glibc).
GREEN_HOOK(int, sem_wait, sem_t* s) {
    HOOK_ENTER(sem_wait);
    cancel_point();
    int rc = sem_wait_impl(s, Deadline::none(), Kind::Wait);
    if (rc == kUseLibc) return REAL(sem_wait)(s);
    if (rc == kCancelled) cancel_point();
    return rc;
}

GREEN_HOOK(int, sem_timedwait, sem_t* s, const struct timespec* abstime) {
    HOOK_ENTER(sem_timedwait);
    if (!valid_nsec(abstime)) {
        errno = EINVAL;
        return -1;
    }
    cancel_point();
    int rc = sem_wait_impl(s, Deadline::at(CLOCK_REALTIME, abstime), Kind::Timed);
    if (rc == kUseLibc) return REAL(sem_timedwait)(s, abstime);
    if (rc == kCancelled) cancel_point();
    return rc;
}

GREEN_HOOK(int, sem_clockwait, sem_t* s, clockid_t clk, const struct timespec* abstime) {
    HOOK_ENTER(sem_clockwait);
    if (!valid_clock(clk) || !valid_nsec(abstime)) {
        errno = EINVAL;
        return -1;
    }
    cancel_point();
    int rc = sem_wait_impl(s, Deadline::at(clk, abstime), Kind::Clock);
    if (rc == kUseLibc) return REAL(sem_clockwait)(s, clk, abstime);
    if (rc == kCancelled) cancel_point();
    return rc;
}

GREEN_HOOK(int, sem_post, sem_t* s) noexcept {
    HOOK_ENTER(sem_post);
    int rc = REAL(sem_post)(s);
    if (rc != 0) return rc;
#if !defined(__x86_64__)
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    WaitBucket& b = bucket_for(s);
    if (__builtin_expect(b.count.load(std::memory_order_relaxed) == 0, 1)) return 0;
    // sem_post is async-signal-safe: a handler may interrupt this thread while it holds the
    // bucket lock. Never spin on it for long: leave a kick that the holder serves on unlock.
    for (int i = 0; i < 256; ++i) {
        if (b.lock.try_lock()) {
            b.wake_one(s);
            b.unlock();
            return 0;
        }
        __builtin_ia32_pause();
    }
    b.kick.store(1, std::memory_order_seq_cst);
    if (b.lock.try_lock()) b.unlock();  // the holder left meanwhile: serve the kick ourselves
    return 0;
}
