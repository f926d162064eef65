// preload/sync/cond.cpp: condition variables on the wait table.
//
// A green wait registers on the cond's address (FIFO), releases the mutex through the mutex hooks,
// parks, then re-takes the mutex through the mutex hooks. signal notifies the first registered
// waiter, broadcast every one: a waiter counts from the moment it registered, which precedes its
// release of the mutex, so a signal sent under the mutex after that release always finds it.
// A caller that cannot park a fiber (a native thread, GREEN_THREADS=native, a main thread with no
// other green thread) waits in libc's pthread_cond_wait itself: exact semantics, a real
// cancellation point. So signal and broadcast do both: wake the registered green waiters and call
// libc's (which costs one load when nobody waits there). A signal may thus wake one waiter of each
// kind, which POSIX allows. Process-shared condvars are libc's entirely.
//
// Both symbol versions (pthread_cond_*@GLIBC_2.2.5 and @@GLIBC_2.3.2) bind to these unversioned
// definitions: the dynamic linker accepts an unversioned definition for a versioned reference
// (checked with a program referencing both). As the state is ours, both ABIs behave alike.
#include "../core/hook.hpp"
#include "../threads/green_thread.hpp"
#include "../core/real.hpp"
#include "../core/spread.hpp"

#include <cerrno>

namespace green::preload {
namespace {

using detail::Wake;

// __wrefs bit 0: process-shared; bit 1: CLOCK_MONOTONIC (glibc 2.36; checked against
// pthread_condattr_setclock/setpshared).
constexpr unsigned kCondShared = 1;
constexpr unsigned kCondMonotonic = 2;

inline unsigned cond_flags(pthread_cond_t* c) noexcept { return __atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED); }

enum class Kind { Wait, Timed, Clock };

// libc's wait, for a caller that cannot park: it releases and re-takes the mutex itself.
int real_cond_wait(pthread_cond_t* c, pthread_mutex_t* m, const Deadline& dl, Kind kind) {
    detail::Task* owner = mutex_owner_detach(m);
    int rc;
    switch (kind) {
    case Kind::Wait: rc = REAL_V(pthread_cond_wait, "GLIBC_2.3.2")(c, m); break;
    case Kind::Timed: rc = REAL_V(pthread_cond_timedwait, "GLIBC_2.3.2")(c, m, &dl.abs); break;
    default: rc = REAL(pthread_cond_clockwait)(c, m, dl.clock, &dl.abs); break;
    }
    mutex_owner_attach(m, owner);
    return rc;
}

// libc's wait would release the mutex without the mutex hooks seeing it: not while green threads
// (of other OS threads) wait for that mutex in the wait table. Then a native caller waits in the
// table too, on its own futex word (hub null).
inline bool use_libc(const WaitCtx& ctx, pthread_cond_t* c, pthread_mutex_t* m) noexcept {
    if (cond_flags(c) & kCondShared) return true;
    return !ctx.green && bucket_for(m).count.load(std::memory_order_relaxed) == 0;
}

// Our wait: a green thread parks (hub set), a native one sleeps on its futex word (kCancelled:
// unwind for a cancellation).
int cond_wait(pthread_cond_t* c, pthread_mutex_t* m, const Deadline& dl, detail::Hub* hub) noexcept {
    SpreadAfterWait spread;  // after the mutex is taken again, the last thing of the call
    ObjWaiter w;
    w.obj = c;
    w.type = WaitType::Cond;
    w.hub = hub;
    WaitBucket& b = bucket_for(c);
    b.acquire();
    b.add(w);
    b.unlock();
    int rc = mutex_unlock_impl(m);
    if (rc != 0) {
        b.acquire();
        if (b.remove(w)) b.wake_one(c);  // pass on a signal this waiter will not consume
        b.unlock();
        return rc;
    }
    int result = 0;
    for (;;) {
        Wake why = sleep_on(b, w, dl, {"pthread_cond_wait", c, -1}, detail::kInterruptNever, -1, true);
        if (why == Wake::Notified) break;
        if (why == Wake::TimedOut) {
            result = ETIMEDOUT;
            break;
        }
        if (why == Wake::Interrupted) {
            result = kCancelled;
            break;
        }
        // A spurious wake-up (a poll, a stale timer): still registered, so keep waiting.
    }
    b.acquire();
    if (b.remove(w)) {
        if (result == kCancelled) b.wake_one(c);  // a signal this waiter will not consume
        else result = 0;                          // signalled at the deadline: the signal is consumed, report it
    }
    b.unlock();
    // Re-taken in every case: a cancelled waiter's cleanup handlers run with the mutex held.
    int lr = mutex_lock_impl(m, Deadline::none(), false);
    return lr != 0 && result != kCancelled ? lr : result;
}

}  // namespace
}  // namespace green::preload

using namespace green::preload;

GREEN_HOOK(int, pthread_cond_wait, pthread_cond_t* c, pthread_mutex_t* m) {
    HOOK_ENTER(pthread_cond_wait);
    WaitCtx ctx = wait_ctx();
    if (use_libc(ctx, c, m)) {
        if (ctx.green) debug_once("pthread_cond_wait", "process-shared condition variable");
        return real_cond_wait(c, m, Deadline::none(), Kind::Wait);
    }
    int rc = cond_wait(c, m, Deadline::none(), ctx.green ? ctx.hub : nullptr);
    if (rc == kCancelled) cancel_point();
    return rc;
}

GREEN_HOOK(int, pthread_cond_timedwait, pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* abstime) {
    HOOK_ENTER(pthread_cond_timedwait);
    unsigned flags = cond_flags(c);
    WaitCtx ctx = wait_ctx();
    if (use_libc(ctx, c, m)) {
        if (ctx.green) debug_once("pthread_cond_timedwait", "process-shared condition variable");
        return real_cond_wait(c, m, Deadline::at(CLOCK_REALTIME, abstime), Kind::Timed);
    }
    if (!valid_nsec(abstime)) return EINVAL;
    int rc = cond_wait(c, m, Deadline::at((flags & kCondMonotonic) ? CLOCK_MONOTONIC : CLOCK_REALTIME, abstime),
                       ctx.green ? ctx.hub : nullptr);
    if (rc == kCancelled) cancel_point();
    return rc;
}

GREEN_HOOK(int, pthread_cond_clockwait, pthread_cond_t* c, pthread_mutex_t* m, clockid_t clk,
           const struct timespec* abstime) {
    HOOK_ENTER(pthread_cond_clockwait);
    WaitCtx ctx = wait_ctx();
    if (use_libc(ctx, c, m)) {
        if (ctx.green) debug_once("pthread_cond_clockwait", "process-shared condition variable");
        return real_cond_wait(c, m, Deadline::at(clk, abstime), Kind::Clock);
    }
    if (!valid_clock(clk) || !valid_nsec(abstime)) return EINVAL;
    int rc = cond_wait(c, m, Deadline::at(clk, abstime), ctx.green ? ctx.hub : nullptr);
    if (rc == kCancelled) cancel_point();
    return rc;
}

GREEN_HOOK(int, pthread_cond_signal, pthread_cond_t* c) noexcept {
    HOOK_ENTER(pthread_cond_signal);
    WaitBucket& b = bucket_for(c);
    if (b.count.load(std::memory_order_relaxed)) {
        b.acquire();
        b.wake_one(c);
        b.unlock();
    }
    // Waiters inside libc (process-shared condvars): glibc's signal costs one load without any.
    return REAL_V(pthread_cond_signal, "GLIBC_2.3.2")(c);
}

GREEN_HOOK(int, pthread_cond_broadcast, pthread_cond_t* c) noexcept {
    HOOK_ENTER(pthread_cond_broadcast);
    WaitBucket& b = bucket_for(c);
    if (b.count.load(std::memory_order_relaxed)) {
        b.acquire();
        b.wake_all(c);
        b.unlock();
    }
    return REAL_V(pthread_cond_broadcast, "GLIBC_2.3.2")(c);
}
