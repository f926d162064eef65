// preload/sync/wait_table.cpp: where every pthread object's waiters wait.
//
// One table for mutexes, condition variables, rwlocks, semaphores, barriers and pthread_once:
// 1024 buckets keyed by the object's address, each with a spinlock, an atomic waiter count (an
// uncontended unlock reads it and goes) and one list. A waiter is green (a parked fiber, woken
// through Hub::wake, from any thread) or native (an OS thread asleep on its own futex word).
#include "../threads/green_thread.hpp"
#include "../core/real.hpp"
#include "../../libgreen/context/raw_syscall.hpp"

#include <sched.h>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <exception>
#include <utility>

namespace green::preload {

using detail::Hub;
using detail::Task;
using detail::Wake;

// ---- the wait table --------------------------------------------------------------------------

namespace {

constexpr unsigned kBucketBits = 10;
constinit WaitBucket g_buckets[1u << kBucketBits];

long futex(std::atomic<uint32_t>* word, int op, uint32_t val, const timespec* ts) noexcept {
    long rc = detail::raw_syscall(SYS_futex, long(word), op, long(val), long(ts));
    if (rc < 0) {
        errno = int(-rc);
        return -1;
    }
    return rc;
}

timespec to_timespec(double s) noexcept {
    timespec ts;
    ts.tv_sec = time_t(s);
    ts.tv_nsec = long((s - double(ts.tv_sec)) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    if (ts.tv_nsec < 0) ts.tv_nsec = 0;
    return ts;
}

}  // namespace

WaitBucket& bucket_for(const void* obj) noexcept {
    uint64_t h = (uint64_t(uintptr_t(obj)) >> 3) * 0x9E3779B97F4A7C15ull;
    return g_buckets[h >> (64 - kBucketBits)];
}

void WaitBucket::add(ObjWaiter& w) noexcept {
    if (w.hub) w.waker = w.hub->prepare_park();
    w.notified = false;
    w.futex.store(0, std::memory_order_relaxed);
    list.push_back(&w);
    // seq_cst: orders this registration before the caller's retry of the real object (see mutex.cpp).
    count.fetch_add(1, std::memory_order_seq_cst);
}

bool WaitBucket::remove(ObjWaiter& w) noexcept {
    bool notified = w.notified;
    if (w.linked) {
        list.erase(&w);
        count.fetch_sub(1, std::memory_order_relaxed);
        notified = false;
    }
    return notified;
}

void WaitBucket::notify(ObjWaiter* w) noexcept {
    list.erase(w);
    count.fetch_sub(1, std::memory_order_relaxed);
    w->notified = true;
    if (w->hub) {
        Hub::wake(w->waker, Wake::Notified);
    } else {
        w->futex.store(1, std::memory_order_release);
        if (npending < kPendingMax) pending[npending++] = &w->futex;
        else futex(&w->futex, FUTEX_WAKE_PRIVATE, 1, nullptr);  // many at once: wake it now
    }
}

void WaitBucket::futex_wake(std::atomic<uint32_t>* const* words, unsigned n) noexcept {
    int saved = errno;
    for (unsigned i = 0; i < n; ++i) futex(words[i], FUTEX_WAKE_PRIVATE, 1, nullptr);
    errno = saved;
}

void WaitBucket::yield_cpu() noexcept { REAL(sched_yield)(); }

void WaitBucket::serve_kick() noexcept {
    if (kick.exchange(0, std::memory_order_acquire) == 0) return;
    acquire();
    for (detail::Waiter* p = list.front(); p;) {
        auto* w = static_cast<ObjWaiter*>(p);
        p = p->next;
        if (w->type == WaitType::Sem) notify(w);  // they re-check the semaphore
    }
    unlock();  // a kick left meanwhile is served by this same call, recursively
}

double Deadline::left() const noexcept {
    if (!set) return -1;
    timespec now;
    clock_gettime(clock, &now);
    double l = double(abs.tv_sec - now.tv_sec) + double(abs.tv_nsec - now.tv_nsec) * 1e-9;
    return l > 0 ? l : 0;
}

Wake sleep_on(WaitBucket& b, ObjWaiter& w, const Deadline& dl, detail::WaitInfo info, uint8_t interruptible,
              double poll, bool cancellable) noexcept {
    if (cancellable && cancel_pending()) return Wake::Interrupted;
    double left = dl.left();
    if (dl.set && left <= 0) return Wake::TimedOut;
    double t = left;
    if (poll > 0 && (t < 0 || poll < t)) t = poll;

    if (w.hub) {
        Task* self = w.waker.task;
        b.acquire();
        if (!w.linked) {
            bool n = w.notified;
            b.unlock();
            return n ? Wake::Notified : Wake::None;
        }
        w.waker = w.hub->prepare_park();  // a re-park after a spurious wake-up gets a fresh one
        b.unlock();
        // A pthread wait is not a kill point: keep a pending green::kill/Timeout for later.
        std::exception_ptr stash = std::exchange(self->pending, nullptr);
        // pthread_cancel wakes a green thread like a signal (only the root task gets real ones).
        const uint8_t interrupt = interruptible == detail::kInterruptNever && cancellable && self->user
                                      ? detail::kInterruptUnlessRestart
                                      : interruptible;
        Wake why = w.hub->park(w.waker, {t, info, interrupt});
        if (why == Wake::Interrupted) {
            if (self->pending) stash = std::exchange(self->pending, nullptr);
            why = Wake::None;
        }
        if (stash) self->pending = std::move(stash);
        if (cancellable && cancel_pending()) return Wake::Interrupted;
        if (why == Wake::Signal && interruptible == detail::kInterruptNever) why = Wake::None;
        if (why == Wake::LoopExit) why = Wake::None;  // the deadlock report ends the process
        if (why == Wake::TimedOut && !dl.passed()) why = Wake::None;
        return why;
    }

    // Native waiter: sleep on the waiter's own futex word (errno untouched, as in libc).
    struct KeepErrno {
        int saved = errno;
        ~KeepErrno() { errno = saved; }
    } keep;
    for (;;) {
        if (w.futex.load(std::memory_order_acquire)) return Wake::Notified;
        timespec rel;
        if (t >= 0) rel = to_timespec(t);
        long r = futex(&w.futex, FUTEX_WAIT_PRIVATE, 0, t >= 0 ? &rel : nullptr);
        if (w.futex.load(std::memory_order_acquire)) return Wake::Notified;
        if (r == -1 && errno == ETIMEDOUT) return dl.passed() ? Wake::TimedOut : Wake::None;
        if (r == -1 && errno == EINTR && interruptible != detail::kInterruptNever) return Wake::Signal;
        if (t >= 0) return Wake::None;  // recompute the time left
    }
}

namespace {

// ---- the calling thread's kernel id ----------------------------------------------------------

thread_local pid_t tls_tid __attribute__((tls_model("initial-exec"))) = 0;

void forget_tid_in_child() { tls_tid = 0; }

// fork: no bucket may be mid-update in the child, and the child keeps none of the parent's
// waiters (they belong to green threads and OS threads the child does not have).
void buckets_before_fork() {
    for (WaitBucket& b : g_buckets) b.acquire();
}
void buckets_after_fork_parent() {
    for (WaitBucket& b : g_buckets) b.lock.unlock();
}
void buckets_after_fork_child() {
    for (WaitBucket& b : g_buckets) {
        b.list = detail::WaitList{};
        b.count.store(0, std::memory_order_relaxed);
        b.kick.store(0, std::memory_order_relaxed);
        b.npending = 0;
        b.lock.unlock();
    }
    // Only the forking task lives on in the child (Hub::after_fork, called next, forgets the
    // others). Their timers and watchers are still armed in the loop: mark them dead so that a
    // wake-up can never resume them.
    if (Hub* h = Hub::current_or_null()) {
        h->forget_other_tasks();
    }
}

__attribute__((constructor(102))) void wait_table_init() {
    pthread_atfork(nullptr, nullptr, forget_tid_in_child);
    // Registered early, so its prepare step runs after other libraries' (which may still lock
    // mutexes, hence buckets) and its child step before theirs.
    pthread_atfork(buckets_before_fork, buckets_after_fork_parent, buckets_after_fork_child);
}

}  // namespace

pid_t my_tid() noexcept {
    pid_t t = tls_tid;
    if (__builtin_expect(t == 0, 0)) t = tls_tid = pid_t(detail::raw_syscall(SYS_gettid));
    return t;
}

}  // namespace green::preload
