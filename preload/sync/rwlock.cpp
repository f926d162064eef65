// preload/sync/rwlock.cpp: reader-writer locks whose contended waits park the green thread.
//
// The program's pthread_rwlock_t stays the real lock (libc's tryrdlock/trywrlock/unlock), so it
// keeps glibc's semantics for readers in parallel, reader recursion and the kind's preference, and
// may be shared with native threads. The writing green thread is recorded in the unused __pad2
// word: glibc's own EDEADLK checks compare TIDs, which all green threads of a hub share. On release
// every waiting reader and the first waiting writer are woken; the losers register again.
#include "../core/hook.hpp"
#include "../threads/green_thread.hpp"
#include "../core/real.hpp"

#include <cerrno>
#include <cstddef>

namespace green::preload {
namespace {

using detail::Task;
using detail::Wake;

static_assert(sizeof(pthread_rwlock_t) == 56 && offsetof(__pthread_rwlock_arch_t, __pad2) == 40,
              "glibc x86_64 rwlock layout");

inline Task** writer_field(pthread_rwlock_t* rw) noexcept { return reinterpret_cast<Task**>(&rw->__data.__pad2); }

int try_lock(pthread_rwlock_t* rw, bool writer, Task* self, bool trylock) noexcept {
    if (self && __atomic_load_n(writer_field(rw), __ATOMIC_RELAXED) == self) return trylock ? EBUSY : EDEADLK;
    if (!writer) return REAL(pthread_rwlock_tryrdlock)(rw);
    int rc = REAL(pthread_rwlock_trywrlock)(rw);
    if (rc == 0) __atomic_store_n(writer_field(rw), self, __ATOMIC_RELAXED);
    return rc;
}

int real_lock(pthread_rwlock_t* rw, bool writer, const Deadline& dl, bool timed) noexcept {
    if (!timed) return writer ? REAL(pthread_rwlock_wrlock)(rw) : REAL(pthread_rwlock_rdlock)(rw);
    if (writer) return REAL(pthread_rwlock_clockwrlock)(rw, dl.clock, &dl.abs);
    return REAL(pthread_rwlock_clockrdlock)(rw, dl.clock, &dl.abs);
}

int rw_lock(pthread_rwlock_t* rw, bool writer, const Deadline& dl, bool timed) noexcept {
    if (timed && (!valid_clock(dl.clock) || !valid_nsec(&dl.abs))) return EINVAL;
    WaitCtx c = wait_ctx();
    int rc = try_lock(rw, writer, c.self, false);
    if (rc != EBUSY) return rc;
    if (timed && dl.abs.tv_sec < 0) return ETIMEDOUT;
    if (!c.green) {
        rc = real_lock(rw, writer, dl, timed);
        if (rc == 0 && writer) __atomic_store_n(writer_field(rw), c.self, __ATOMIC_RELAXED);
        return rc;
    }
    WaitBucket& b = bucket_for(rw);
    const bool shared = __atomic_load_n(&rw->__data.__shared, __ATOMIC_RELAXED) != 0;
    double poll = 0.0005;
    for (;;) {
        ObjWaiter w;
        w.obj = rw;
        w.type = WaitType::Rwlock;
        w.tag = writer;
        w.hub = c.hub;
        b.acquire();
        b.add(w);
        b.unlock();
        rc = try_lock(rw, writer, c.self, false);
        if (rc != EBUSY) {
            b.acquire();
            b.remove(w);
            b.unlock();
            return rc;
        }
        Wake why = sleep_on(b, w, dl, {writer ? "pthread_rwlock_wrlock" : "pthread_rwlock_rdlock", rw, -1},
                            detail::kInterruptNever, shared ? next_poll(poll) : -1);
        b.acquire();
        b.remove(w);
        b.unlock();
        rc = try_lock(rw, writer, c.self, false);
        if (rc != EBUSY) return rc;
        if (why == Wake::TimedOut) return ETIMEDOUT;
    }
}

}  // namespace
}  // namespace green::preload

using namespace green::preload;

GREEN_HOOK(int, pthread_rwlock_rdlock, pthread_rwlock_t* rw) noexcept {
    HOOK_ENTER(pthread_rwlock_rdlock);
    return rw_lock(rw, false, Deadline::none(), false);
}
GREEN_HOOK(int, pthread_rwlock_wrlock, pthread_rwlock_t* rw) noexcept {
    HOOK_ENTER(pthread_rwlock_wrlock);
    return rw_lock(rw, true, Deadline::none(), false);
}

GREEN_HOOK(int, pthread_rwlock_tryrdlock, pthread_rwlock_t* rw) noexcept {
    HOOK_ENTER(pthread_rwlock_tryrdlock);
    return try_lock(rw, false, self_task(), true);
}
GREEN_HOOK(int, pthread_rwlock_trywrlock, pthread_rwlock_t* rw) noexcept {
    HOOK_ENTER(pthread_rwlock_trywrlock);
    return try_lock(rw, true, self_task(), true);
}

GREEN_HOOK(int, pthread_rwlock_timedrdlock, pthread_rwlock_t* rw, const struct timespec* abstime) noexcept {
    HOOK_ENTER(pthread_rwlock_timedrdlock);
    return rw_lock(rw, false, Deadline::at(CLOCK_REALTIME, abstime), true);
}
GREEN_HOOK(int, pthread_rwlock_timedwrlock, pthread_rwlock_t* rw, const struct timespec* abstime) noexcept {
    HOOK_ENTER(pthread_rwlock_timedwrlock);
    return rw_lock(rw, true, Deadline::at(CLOCK_REALTIME, abstime), true);
}
GREEN_HOOK(int, pthread_rwlock_clockrdlock, pthread_rwlock_t* rw, clockid_t clk, const struct timespec* abstime)
noexcept {
    HOOK_ENTER(pthread_rwlock_clockrdlock);
    if (!valid_clock(clk)) return EINVAL;
    return rw_lock(rw, false, Deadline::at(clk, abstime), true);
}
GREEN_HOOK(int, pthread_rwlock_clockwrlock, pthread_rwlock_t* rw, clockid_t clk, const struct timespec* abstime)
noexcept {
    HOOK_ENTER(pthread_rwlock_clockwrlock);
    if (!valid_clock(clk)) return EINVAL;
    return rw_lock(rw, true, Deadline::at(clk, abstime), true);
}

GREEN_HOOK(int, pthread_rwlock_unlock, pthread_rwlock_t* rw) noexcept {
    HOOK_ENTER(pthread_rwlock_unlock);
    green::detail::Task* w = __atomic_load_n(writer_field(rw), __ATOMIC_RELAXED);
    if (w && w == self_task()) __atomic_store_n(writer_field(rw), nullptr, __ATOMIC_RELAXED);
    int rc = REAL(pthread_rwlock_unlock)(rw);
    if (rc != 0) return rc;
#if !defined(__x86_64__)
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    WaitBucket& b = bucket_for(rw);
    if (__builtin_expect(b.count.load(std::memory_order_relaxed) == 0, 1)) return 0;
    b.acquire();
    bool writer_woken = false;
    b.wake_all_if(rw, [&](const ObjWaiter& x) {
        if (!x.tag) return true;
        if (writer_woken) return false;
        return writer_woken = true;
    });
    b.unlock();
    return 0;
}
