// preload/sync/futex.cpp: futex(2) through libc's syscall(), as libstdc++ (std::future, latch,
// semaphore, atomic::wait), Rust's std (Mutex, Condvar, park) and libgomp make it.
//
// A green thread's FUTEX_WAIT parks it in the wait table every pthread object uses (type Futex, the
// word's address as its object, its bitset in the waiter's tag; all futex waiters in one bucket, so
// that a requeue moves a waiter to another word under one lock); a wake notifies green waiters there
// first, then asks the kernel for the rest, so OS threads waiting on the same word (the runtime's
// native threads, GREEN_THREADS=native, a word shared with another process) are woken as before.
// Green waiters never lose a wake: the value is compared under the bucket lock the waker takes.
// A wait that cannot be green (no other task could run) is the kernel's own.
//
// Kernel semantics kept: EAGAIN when the word differs, ETIMEDOUT (relative timeouts for
// FUTEX_WAIT, absolute on the chosen clock for FUTEX_WAIT_BITSET), EINTR when a handler without
// SA_RESTART runs, EINVAL for a bad op, timeout or bitset; REQUEUE moves green waiters as the
// kernel moves its own. A shared futex may be woken from another process, which reaches only the
// kernel's waiters: a green thread waits on one through a runtime worker thread that makes the
// kernel wait for it (16 at a time). PI futexes go to the kernel (they block the OS thread;
// GREEN_DEBUG says so).
//
// futex_waitv(2) parks the same way: one waiter per word, all under the futex bucket's lock and
// sharing the task's one Waker, so a wake of any word ends the park; the result is the highest
// index found woken, as the kernel's futex_unqueue_multiple. The kernel checks the arguments
// first (see waitv), so errors and their order are its own. A vector with a shared (or NUMA) word
// waits in the kernel on a worker thread, as a shared FUTEX_WAIT does.
#include "futex.hpp"
#include "../core/spread.hpp"

#include "../../libgreen/context/raw_syscall.hpp"
#include "../threads/green_thread.hpp"

#include <green/thread_pool.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace green::preload {

namespace {

using detail::Wake;

constexpr int kCmdMask = FUTEX_CMD_MASK;  // the operation without PRIVATE / CLOCK_REALTIME

long kernel_futex(uint32_t* uaddr, int op, long val, long arg4, uint32_t* uaddr2, long val3) noexcept {
    return detail::raw_syscall(SYS_futex, long(uaddr), op, val, arg4, long(uaddr2), val3);
}

long result(long rc) noexcept {
    if (rc < 0) {
        errno = int(-rc);
        return -1;
    }
    return rc;
}

// The one bucket of every futex waiter (see the top): a wake scans the futex waiters of the process.
WaitBucket& futex_bucket() noexcept {
    static const char key = 0;
    return bucket_for(&key);
}

bool matches(const ObjWaiter& w, uint32_t bitset) noexcept {
    return w.type == WaitType::Futex && (uint32_t(w.tag) & bitset) != 0;
}

// Wake up to n green waiters on uaddr whose bitset meets `bitset`; returns how many.
long wake_green(uint32_t* uaddr, long n, uint32_t bitset) noexcept {
    // Pairs with the waiter's registration (a seq_cst RMW) before its look at the word: either
    // the waiter sees the new value, or this load sees the waiter.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    WaitBucket& b = futex_bucket();
    if (n <= 0 || b.count.load(std::memory_order_relaxed) == 0) return 0;
    long left = n;
    b.acquire();
    b.wake_all_if(uaddr, [&](const ObjWaiter& w) {
        if (left == 0 || !matches(w, bitset)) return false;
        --left;
        return true;
    });
    b.unlock();
    return n - left;
}

// Green waiters first, then the kernel's, n in all.
long wake(uint32_t* uaddr, int op, long n, uint32_t bitset) noexcept {
    long woken = wake_green(uaddr, n, bitset);
    if (woken < n) {
        long k = (op & kCmdMask) == FUTEX_WAKE_BITSET
                     ? kernel_futex(uaddr, op, n - woken, 0, nullptr, long(bitset))
                     : kernel_futex(uaddr, (op & ~kCmdMask) | FUTEX_WAKE, n - woken, 0, nullptr, 0);
        if (k < 0 && woken == 0) return result(k);
        if (k > 0) woken += k;
    }
    return woken;
}

// The OS threads that wait on shared futex words (another process may wake them); never destroyed:
// waits may outlive exit. Not a function-local static: the guard of one is itself a shared futex
// word, waited on through this very hook when two hubs' threads get here at once.
ThreadPool* shared_wait_pool() noexcept {
    static std::atomic<ThreadPool*> pool{nullptr};
    static detail::SpinLock lock;
    if (ThreadPool* p = pool.load(std::memory_order_acquire)) return p;
    std::lock_guard g(lock);
    if (!pool.load(std::memory_order_relaxed)) pool.store(new ThreadPool(16), std::memory_order_release);
    return pool.load(std::memory_order_relaxed);
}

long wait(uint32_t* uaddr, int op, uint32_t val, const timespec* ts, uint32_t bitset) noexcept {
    const int cmd = op & kCmdMask;
    WaitCtx c = wait_ctx();
    if (!c.green) return result(kernel_futex(uaddr, op, val, long(ts), nullptr, long(bitset)));
    if (reinterpret_cast<uintptr_t>(uaddr) % 4) return result(-EINVAL);
    if (!uaddr) return result(-EFAULT);
    if (bitset == 0) return result(-EINVAL);
    Deadline dl;
    if (ts) {
        if (!valid_nsec(ts) || ts->tv_sec < 0) return result(-EINVAL);
        if (cmd == FUTEX_WAIT) {
            // Relative, measured on CLOCK_MONOTONIC (FUTEX_CLOCK_REALTIME only picks the clock of
            // absolute FUTEX_WAIT_BITSET deadlines).
            timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            dl.clock = CLOCK_MONOTONIC;
            dl.abs.tv_sec = now.tv_sec + ts->tv_sec;
            dl.abs.tv_nsec = now.tv_nsec + ts->tv_nsec;
            if (dl.abs.tv_nsec >= 1000000000L) {
                dl.abs.tv_nsec -= 1000000000L;
                dl.abs.tv_sec++;
            }
            dl.set = true;
        } else {
            dl = Deadline::at((op & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC, ts);
        }
    }
    if (!(op & FUTEX_PRIVATE_FLAG)) {
        ThreadPool* pool = shared_wait_pool();
        timespec copy = ts ? *ts : timespec{};
        const bool timed = ts != nullptr;
        try {
            return result(pool->apply([=]() mutable {
                return kernel_futex(uaddr, op, val, timed ? long(&copy) : 0, nullptr, long(bitset));
            }));
        } catch (...) {
            return result(-EINTR);  // killed (green::kill) while waiting
        }
    }
    WaitBucket& b = futex_bucket();
    ObjWaiter w;
    w.obj = uaddr;
    w.type = WaitType::Futex;
    w.tag = int(bitset);
    w.hub = c.hub;
    for (;;) {
        b.acquire();
        b.add(w);
        if (__atomic_load_n(uaddr, __ATOMIC_SEQ_CST) != val) {
            b.remove(w);
            b.unlock();
            return result(-EAGAIN);
        }
        b.unlock();
        Wake why = sleep_on(b, w, dl, {"futex", uaddr}, detail::kInterruptUnlessRestart);
        b.acquire();
        bool notified = b.remove(w);
        b.unlock();
        if (notified || why == Wake::Notified) return 0;
        if (why == Wake::TimedOut) return result(-ETIMEDOUT);
        if (why == Wake::Signal) return result(-EINTR);
    }
}

long requeue(uint32_t* uaddr, int op, long nr_wake, long nr_requeue, uint32_t* uaddr2, uint32_t cmpval) noexcept {
    const int cmd = op & kCmdMask;
    if (nr_wake < 0 || nr_requeue < 0) return result(-EINVAL);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    WaitBucket& b = futex_bucket();
    long woken = 0, moved = 0;
    if (b.count.load(std::memory_order_relaxed)) {
        b.acquire();
        if (cmd == FUTEX_CMP_REQUEUE && __atomic_load_n(uaddr, __ATOMIC_SEQ_CST) != cmpval) {
            b.unlock();
            return result(-EAGAIN);
        }
        // Oldest first, as the kernel: the first nr_wake are woken, the next nr_requeue moved.
        b.wake_all_if(uaddr, [&](const ObjWaiter& w) {
            if (w.type != WaitType::Futex || woken == nr_wake) return false;
            ++woken;
            return true;
        });
        for (detail::Waiter* p = b.list.front(); p && moved < nr_requeue; p = p->next) {
            auto* w = static_cast<ObjWaiter*>(p);
            if (w->obj == uaddr && w->type == WaitType::Futex) {
                w->obj = uaddr2;
                ++moved;
            }
        }
        b.unlock();
    }
    long k = kernel_futex(uaddr, op, nr_wake - woken, nr_requeue - moved, uaddr2, cmpval);
    if (k < 0) return woken + moved ? woken + moved : result(k);
    return woken + moved + k;
}

// FUTEX_WAKE_OP: *uaddr2 = op(*uaddr2, oparg) atomically; wake nr_wake on uaddr, and nr_wake2 on
// uaddr2 if cmp(old, cmparg) holds.
long wake_op(uint32_t* uaddr, int op, long nr_wake, long nr_wake2, uint32_t* uaddr2, uint32_t encoded) noexcept {
    const unsigned fop = (encoded >> 28) & 7, cmp = (encoded >> 24) & 15;
    uint32_t oparg = (encoded >> 12) & 0xfff, cmparg = encoded & 0xfff;
    if (encoded & (uint32_t(FUTEX_OP_OPARG_SHIFT) << 28)) oparg = 1u << (oparg & 31);
    // The kernel sign-extends the 12-bit arguments.
    auto sx = [](uint32_t v) { return int32_t(v << 20) >> 20; };
    int32_t a = (encoded & (uint32_t(FUTEX_OP_OPARG_SHIFT) << 28)) ? int32_t(oparg) : sx(oparg);
    int32_t ca = sx(cmparg);
    if (fop > FUTEX_OP_XOR || cmp > FUTEX_OP_CMP_GE) return result(-ENOSYS);
    uint32_t old = __atomic_load_n(uaddr2, __ATOMIC_RELAXED), next;
    do {
        switch (fop) {
        case FUTEX_OP_SET: next = uint32_t(a); break;
        case FUTEX_OP_ADD: next = old + uint32_t(a); break;
        case FUTEX_OP_OR: next = old | uint32_t(a); break;
        case FUTEX_OP_ANDN: next = old & ~uint32_t(a); break;
        default: next = old ^ uint32_t(a); break;
        }
    } while (!__atomic_compare_exchange_n(uaddr2, &old, next, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    int32_t o = int32_t(old);
    bool hit = cmp == FUTEX_OP_CMP_EQ   ? o == ca
               : cmp == FUTEX_OP_CMP_NE ? o != ca
               : cmp == FUTEX_OP_CMP_LT ? o < ca
               : cmp == FUTEX_OP_CMP_LE ? o <= ca
               : cmp == FUTEX_OP_CMP_GT ? o > ca
                                        : o >= ca;
    const int flags = op & ~kCmdMask;
    long n = wake(uaddr, flags | FUTEX_WAKE, nr_wake, FUTEX_BITSET_MATCH_ANY);
    if (n < 0) return n;
    if (hit) {
        long m = wake(uaddr2, flags | FUTEX_WAKE, nr_wake2, FUTEX_BITSET_MATCH_ANY);
        if (m > 0) n += m;
    }
    return n;
}

// ---- futex_waitv ----------------------------------------------------------------------------

long kernel_waitv(const futex_waitv* v, unsigned nr, unsigned flags, const timespec* ts, clockid_t clk) noexcept {
    return detail::raw_syscall(SYS_futex_waitv, long(v), long(nr), long(flags), long(ts), long(clk));
}

constexpr uint32_t kGreenWaitvFlags = FUTEX_32 | FUTEX_PRIVATE_FLAG;  // the words the wait table serves
constexpr unsigned kInlineWaiters = 8;                                // more: on the heap

// Park until one of ws[0..n) (linked, sharing one Waker) is notified, the deadline passes, or a
// handler without SA_RESTART runs; as sleep_on does for one waiter: a green::kill or Timeout stays
// pending for later (a futex wait is not a kill point), and None means "look again".
Wake park_any(WaitBucket& b, ObjWaiter* ws, unsigned n, const Deadline& dl, detail::WaitInfo info) noexcept {
    double t = dl.left();
    if (dl.set && t <= 0) return Wake::TimedOut;
    detail::Hub* hub = ws[0].hub;
    detail::Task* self = ws[0].waker.task;
    b.acquire();
    for (unsigned i = 0; i < n; ++i) {
        if (!ws[i].linked) {
            b.unlock();
            return Wake::Notified;
        }
    }
    const detail::Waker wk = hub->prepare_park();
    for (unsigned i = 0; i < n; ++i) ws[i].waker = wk;
    b.unlock();
    std::exception_ptr stash = std::exchange(self->pending, nullptr);
    Wake why = hub->park(wk, {t, info, detail::kInterruptUnlessRestart});
    if (why == Wake::Interrupted) {
        if (self->pending) stash = std::exchange(self->pending, nullptr);
        why = Wake::None;
    }
    if (stash) self->pending = std::move(stash);
    if (why == Wake::LoopExit) why = Wake::None;  // the deadlock report ends the process
    if (why == Wake::TimedOut && !dl.passed()) why = Wake::None;
    return why;
}

// The words of v (checked by the kernel, all FUTEX_32 | FUTEX_PRIVATE_FLAG) in the wait table.
long waitv_green(const futex_waitv* v, unsigned nr, const Deadline& dl, detail::Hub* hub) noexcept {
    ObjWaiter inline_ws[kInlineWaiters];
    std::unique_ptr<ObjWaiter[]> heap;
    ObjWaiter* ws = inline_ws;
    if (nr > kInlineWaiters) {
        heap.reset(new (std::nothrow) ObjWaiter[nr]);
        if (!heap) return result(-ENOMEM);
        ws = heap.get();
    }
    for (unsigned i = 0; i < nr; ++i) {
        ws[i].obj = reinterpret_cast<const void*>(uintptr_t(v[i].uaddr));
        ws[i].type = WaitType::Futex;
        ws[i].tag = int(FUTEX_BITSET_MATCH_ANY);
        ws[i].hub = hub;
    }
    const detail::WaitInfo info{"futex_waitv", ws[0].obj};
    WaitBucket& b = futex_bucket();
    for (;;) {
        // Register on every word, then compare them in order, all under the lock wakers take: a
        // wake after a word was compared finds its waiter (park_any gives them one Waker).
        b.acquire();
        for (unsigned i = 0; i < nr; ++i) b.add(ws[i]);
        for (unsigned i = 0; i < nr; ++i) {
            auto* word = reinterpret_cast<uint32_t*>(uintptr_t(v[i].uaddr));
            if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != uint32_t(v[i].val)) {
                for (unsigned k = 0; k < nr; ++k) b.remove(ws[k]);
                b.unlock();
                return result(-EAGAIN);
            }
        }
        b.unlock();
        Wake why = park_any(b, ws, nr, dl, info);
        long woken = -1;
        b.acquire();
        for (unsigned i = 0; i < nr; ++i)
            if (b.remove(ws[i])) woken = i;  // the highest, as the kernel's futex_unqueue_multiple
        b.unlock();
        if (woken >= 0) return woken;
        if (why == Wake::TimedOut) return result(-ETIMEDOUT);
        if (why == Wake::Signal) return result(-EINTR);
    }
}

// The kernel's futex_waitv on a worker thread (a shared word may be woken by another process).
long waitv_kernel_on_worker(const futex_waitv* v, unsigned nr, const timespec* ts, clockid_t clk) noexcept {
    ThreadPool* pool = shared_wait_pool();
    try {
        std::vector<futex_waitv> copy(v, v + nr);  // the job may outlive a killed caller
        const timespec t = ts ? *ts : timespec{};
        const bool timed = ts != nullptr;
        return result(pool->apply([copy = std::move(copy), t, timed, clk]() {
            return kernel_waitv(copy.data(), unsigned(copy.size()), 0, timed ? &t : nullptr, clk);
        }));
    } catch (...) {
        return result(-EINTR);  // killed (green::kill) while waiting
    }
}

long waitv(const futex_waitv* uv, unsigned nr, unsigned flags, const timespec* ts, clockid_t clk) noexcept {
    WaitCtx c = wait_ctx();
    if (!c.green) return result(kernel_waitv(uv, nr, flags, ts, clk));
    // The kernel rejects any flags first (none exist yet: EINVAL at once), then these, then a bad
    // clock or timeout.
    if (flags) return result(kernel_waitv(uv, nr, flags, ts, clk));
    if (nr == 0 || nr > FUTEX_WAITV_MAX || !uv) return result(-EINVAL);
    // A copy of the vector, and room for one more waiter (below). If it cannot all be read, the
    // kernel's call fails at once with the error it finds first.
    futex_waitv inline_v[kInlineWaiters + 1];
    std::unique_ptr<futex_waitv[]> heap;
    futex_waitv* v = inline_v;
    if (nr > kInlineWaiters) {
        heap.reset(new (std::nothrow) futex_waitv[nr + 1]);
        if (!heap) return result(-ENOMEM);
        v = heap.get();
    }
    const size_t bytes = nr * sizeof(futex_waitv);
    iovec local{v, bytes}, remote{const_cast<futex_waitv*>(uv), bytes};
    const long got = detail::raw_syscall(SYS_process_vm_readv, getpid(), long(&local), 1, long(&remote), 1, 0);
    if (got >= 0 && got != long(bytes)) return result(kernel_waitv(uv, nr, flags, ts, clk));
    if (got == -EFAULT) return result(kernel_waitv(uv, nr, flags, ts, clk));
    if (got < 0) memcpy(v, uv, bytes);  // process_vm_readv refused (a sandbox): trust the pointer
    // Let the kernel check everything without waiting: a last waiter on a word that differs makes
    // it answer EAGAIN once the flags, timeout and every waiter are valid and every word readable
    // (which word differs, if any, is seen under the bucket lock below). A vector already at the
    // maximum is checked in two calls: the timeout beside a waiter that differs, then the vector
    // with a deadline already passed (ETIMEDOUT: all valid, all equal; the kernel sleeps until
    // its timer fires, some microseconds).
    static const uint32_t other = 1;
    const futex_waitv differs{0, uint64_t(uintptr_t(&other)), kGreenWaitvFlags, 0};
    long rc;
    if (nr < FUTEX_WAITV_MAX) {
        v[nr] = differs;
        rc = kernel_waitv(v, nr + 1, 0, ts, clk);
    } else {
        static const timespec passed{0, 0};
        rc = kernel_waitv(&differs, 1, 0, ts, clk);
        if (rc == -EAGAIN) rc = kernel_waitv(v, nr, 0, &passed, CLOCK_MONOTONIC);
        if (rc == -ETIMEDOUT) rc = -EAGAIN;
    }
    // An error, or the index of a word the kernel saw woken while it checked.
    if (rc != -EAGAIN) return result(rc);
    bool green = true;
    for (unsigned i = 0; i < nr; ++i) green &= v[i].flags == kGreenWaitvFlags;
    if (!green) return waitv_kernel_on_worker(v, nr, ts, clk);
    return waitv_green(v, nr, ts ? Deadline::at(clk, ts) : Deadline::none(), c.hub);
}

}  // namespace

long futex_waitv_call(const void* waiters, unsigned nr, unsigned flags, const timespec* timeout,
                      clockid_t clockid) noexcept {
    SpreadAfterWait spread;
    return waitv(static_cast<const futex_waitv*>(waiters), nr, flags, timeout, clockid);
}

long futex_call(uint32_t* uaddr, int op, uint32_t val, long arg4, uint32_t* uaddr2, uint32_t val3) noexcept {
    SpreadAfterWait spread;
    switch (op & kCmdMask) {
    case FUTEX_WAIT: return wait(uaddr, op, val, reinterpret_cast<const timespec*>(arg4), FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAIT_BITSET: return wait(uaddr, op, val, reinterpret_cast<const timespec*>(arg4), val3);
    case FUTEX_WAKE: return wake(uaddr, op, int(val), FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAKE_BITSET:
        if (val3 == 0) return result(-EINVAL);
        return wake(uaddr, op, int(val), val3);
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: return requeue(uaddr, op, int(val), arg4, uaddr2, val3);
    case FUTEX_WAKE_OP: return wake_op(uaddr, op, int(val), arg4, uaddr2, val3);
    default:
        if ((op & kCmdMask) == FUTEX_LOCK_PI || (op & kCmdMask) == FUTEX_WAIT_REQUEUE_PI)
            debug_once("futex-pi", "a priority-inheritance futex wait (blocks the OS thread)");
        return result(kernel_futex(uaddr, op, val, arg4, uaddr2, val3));
    }
}

}  // namespace green::preload
