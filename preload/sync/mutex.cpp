// preload/sync/mutex.cpp: pthread mutexes whose contended waits park the green thread.
//
// The program's pthread_mutex_t stays the real lock: every acquisition is libc's trylock, every
// release libc's unlock, so OS threads libgreen does not own (GREEN_THREADS=native, library threads,
// the runtime's pool) share the same objects safely. A green waiter registers in the wait table,
// retries the trylock, then parks; unlock releases for real, then wakes one registered waiter.
//
// Green threads of one hub share one OS thread, hence one TID, so glibc's owner checks (recursion,
// EDEADLK, EPERM) cannot tell them apart: for recursive and errorcheck mutexes the owning Task is
// recorded too, in the mutex's __list field (glibc links only robust mutexes through it) or, for
// robust ones, in a side table.
#include "../core/hook.hpp"
#include "../threads/green_thread.hpp"
#include "../core/real.hpp"
#include "../core/spread.hpp"

#include <sys/syscall.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace green::preload {
namespace {

using detail::Task;
using detail::Wake;

constexpr int kTypeMask = 3;   // PTHREAD_MUTEX_KIND_MASK_NP
constexpr int kRobust = 16;    // PTHREAD_MUTEX_ROBUST_NORMAL_NP
constexpr int kPshared = 128;  // PTHREAD_MUTEX_PSHARED_BIT

static_assert(sizeof(pthread_mutex_t) == 40 && offsetof(__pthread_mutex_s, __kind) == 16 &&
                  offsetof(__pthread_mutex_s, __list) == 24,
              "glibc x86_64 mutex layout");

inline int kind_of(pthread_mutex_t* m) noexcept { return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED); }

constexpr const char* kMutexWait = "pthread_mutex_lock";  // what a mutex wait says it waits in

inline bool tracked(int kind) noexcept {
    int t = kind & kTypeMask;
    return kind >= 0 && (t == PTHREAD_MUTEX_RECURSIVE || t == PTHREAD_MUTEX_ERRORCHECK);
}

detail::SpinLock robust_lock;
const bool robust_lock_fork_reset = reset_in_fork_child(robust_lock);
std::unordered_map<const void*, Task*>* robust_owners = nullptr;

inline Task** owner_field(pthread_mutex_t* m) noexcept { return reinterpret_cast<Task**>(&m->__data.__list.__prev); }

Task* owner_get(pthread_mutex_t* m, int kind) noexcept {
    if (!(kind & kRobust)) return __atomic_load_n(owner_field(m), __ATOMIC_RELAXED);
    std::lock_guard g(robust_lock);
    if (!robust_owners) return nullptr;
    auto it = robust_owners->find(m);
    return it == robust_owners->end() ? nullptr : it->second;
}

void owner_set(pthread_mutex_t* m, int kind, Task* t) noexcept {
    if (!(kind & kRobust)) return __atomic_store_n(owner_field(m), t, __ATOMIC_RELAXED);
    std::lock_guard g(robust_lock);
    try {
        if (!robust_owners) robust_owners = new std::unordered_map<const void*, Task*>;
        if (t) (*robust_owners)[m] = t;
        else robust_owners->erase(m);
    } catch (...) {}
}

}  // namespace

bool describe_holder(const detail::WaitInfo& w, char* out, size_t n) noexcept {
    if (!w.what || !w.object || strcmp(w.what, kMutexWait) != 0) return false;
    auto* mutex = static_cast<pthread_mutex_t*>(const_cast<void*>(w.object));
    const int kind = kind_of(mutex);
    if (tracked(kind))
        if (Task* t = owner_get(mutex, kind)) {
            snprintf(out, n, "#%" PRIu64 " '%s'", t->id, t->name.c_str());
            return true;
        }
    // Untracked kinds: glibc's own owner word, the holder's thread id (a green thread with a TCB
    // of its own has its own id there).
    const pid_t tid = __atomic_load_n(&mutex->__data.__owner, __ATOMIC_RELAXED);
    if (tid == 0) return false;
    if (GreenThread* g = find_green_by_tid(tid)) {
        snprintf(out, n, "#%" PRIu64 " '%s'", g->id, g->name.c_str());
        g->release();
    } else if (tid == pid_t(REAL(syscall)(SYS_getpid))) {
        snprintf(out, n, "the main thread (OS thread tid %d)", int(tid));
    } else {
        snprintf(out, n, "OS thread tid %d", int(tid));
    }
    return true;
}

namespace {

// 0: acquired; EBUSY: held by someone else; anything else: the error to return.
int try_acquire(pthread_mutex_t* m, int kind, Task* self, bool trylock) noexcept {
    if (!tracked(kind)) return REAL(pthread_mutex_trylock)(m);
    Task* owner = owner_get(m, kind);
    if (self && owner == self) {
        if ((kind & kTypeMask) == PTHREAD_MUTEX_ERRORCHECK) return trylock ? EBUSY : EDEADLK;
        return REAL(pthread_mutex_trylock)(m);  // glibc counts the recursion (same OS thread)
    }
    if (self && __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == my_tid()) {
        // Held on this OS thread by another green thread; or, with no green owner recorded, by
        // the thread itself from before it had a hub: then glibc's own rules apply.
        if (owner || self != self->hub->root()) return EBUSY;
        return REAL(pthread_mutex_trylock)(m);
    }
    int rc = REAL(pthread_mutex_trylock)(m);
    if (rc == 0) owner_set(m, kind, self);
    return rc;
}

// After a real release: wake one registered waiter, if any. The real unlock is a locked
// instruction (a full barrier on x86), and a waiter's registration is a seq_cst RMW before its
// retry: either the waiter's retry sees the release, or this load sees the waiter.
inline void wake_after_release(const void* obj) noexcept {
#if !defined(__x86_64__)
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    WaitBucket& b = bucket_for(obj);
    if (__builtin_expect(b.count.load(std::memory_order_relaxed) == 0, 1)) return;
    b.acquire();
    b.wake_one(obj);
    b.unlock();
}

}  // namespace

int mutex_lock_impl(pthread_mutex_t* m, const Deadline& dl, bool timed) noexcept {
    int kind = kind_of(m);
    WaitCtx c = wait_ctx();
    int rc = try_acquire(m, kind, c.self, false);
    if (rc != EBUSY) return rc;
    SpreadAfterWait spread;
    if (timed) {
        if (!valid_nsec(&dl.abs)) return EINVAL;
        if (dl.abs.tv_sec < 0) return ETIMEDOUT;
    }
    if (!c.green) {
        // Nothing else can run on this OS thread: block it in libc, as the program asked.
        if (!timed) rc = REAL(pthread_mutex_lock)(m);
        else if (dl.clock == CLOCK_REALTIME) rc = REAL(pthread_mutex_timedlock)(m, &dl.abs);
        else rc = REAL(pthread_mutex_clocklock)(m, dl.clock, &dl.abs);
        if (rc == 0 && tracked(kind)) owner_set(m, kind, c.self);
        return rc;
    }
    WaitBucket& b = bucket_for(m);
    double poll = 0.0005;  // a process-shared mutex may be released by another process
    for (;;) {
        ObjWaiter w;
        w.obj = m;
        w.type = WaitType::Mutex;
        w.hub = c.hub;
        b.acquire();
        b.add(w);
        b.unlock();
        rc = try_acquire(m, kind, c.self, false);
        if (rc != EBUSY) {
            b.acquire();
            if (b.remove(w) && rc != 0) b.wake_one(m);
            b.unlock();
            return rc;
        }
        Wake why =
            sleep_on(b, w, dl, {kMutexWait, m, -1}, detail::kInterruptNever, (kind & kPshared) ? next_poll(poll) : -1);
        b.acquire();
        bool notified = b.remove(w);
        b.unlock();
        rc = try_acquire(m, kind, c.self, false);
        if (rc != EBUSY) {
            if (rc != 0 && notified) wake_after_release(m);
            return rc;
        }
        // Still held: its holder's unlock will wake the next registered waiter.
        if (why == Wake::TimedOut) return ETIMEDOUT;
    }
}

Task* mutex_owner_detach(pthread_mutex_t* m) noexcept {
    int kind = kind_of(m);
    if (!tracked(kind)) return nullptr;
    Task* self = self_task();
    if (!self || owner_get(m, kind) != self) return nullptr;
    owner_set(m, kind, nullptr);
    return self;
}

void mutex_owner_attach(pthread_mutex_t* m, Task* owner) noexcept {
    if (owner) owner_set(m, kind_of(m), owner);
}

int mutex_unlock_impl(pthread_mutex_t* m) noexcept {
    int kind = kind_of(m);
    if (tracked(kind)) {
        if (Task* owner = owner_get(m, kind)) {
            if (owner != self_task()) return EPERM;
            if ((kind & kTypeMask) == PTHREAD_MUTEX_RECURSIVE && m->__data.__count > 1)
                return REAL(pthread_mutex_unlock)(m);  // still held: nobody to wake
            owner_set(m, kind, nullptr);
        }
    }
    int rc = REAL(pthread_mutex_unlock)(m);
    if (rc == 0) wake_after_release(m);
    return rc;
}

}  // namespace green::preload

using namespace green::preload;

GREEN_HOOK(int, pthread_mutex_lock, pthread_mutex_t* m) noexcept {
    HOOK_ENTER(pthread_mutex_lock);
    int kind = kind_of(m);
    if (!tracked(kind) && kind >= 0 && REAL(pthread_mutex_trylock)(m) == 0) return 0;
    return mutex_lock_impl(m, Deadline::none(), false);
}

GREEN_HOOK(int, pthread_mutex_trylock, pthread_mutex_t* m) noexcept {
    HOOK_ENTER(pthread_mutex_trylock);
    int kind = kind_of(m);
    if (!tracked(kind)) return REAL(pthread_mutex_trylock)(m);
    return try_acquire(m, kind, self_task(), true);
}

GREEN_HOOK(int, pthread_mutex_timedlock, pthread_mutex_t* m, const struct timespec* abstime) noexcept {
    HOOK_ENTER(pthread_mutex_timedlock);
    return mutex_lock_impl(m, Deadline::at(CLOCK_REALTIME, abstime), true);
}

GREEN_HOOK(int, pthread_mutex_clocklock, pthread_mutex_t* m, clockid_t clk, const struct timespec* abstime) noexcept {
    HOOK_ENTER(pthread_mutex_clocklock);
    if (!valid_clock(clk)) return EINVAL;
    return mutex_lock_impl(m, Deadline::at(clk, abstime), true);
}

GREEN_HOOK(int, pthread_mutex_unlock, pthread_mutex_t* m) noexcept {
    HOOK_ENTER(pthread_mutex_unlock);
    return mutex_unlock_impl(m);
}
