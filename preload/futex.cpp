// preload/futex.cpp: futex(2) through libc's syscall(), as libstdc++ (std::future, latch,
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
// kernel moves its own.// A shared futex may be woken from
// another process, which reaches only the kernel's waiters: a green thread waits on one through a
// runtime worker thread that makes the kernel wait for it (16 at a time). PI futexes and
// futex_waitv go to the kernel (they block the OS thread; GREEN_DEBUG says so).
#include "futex.hpp"

#include "../libgreen/context/raw_syscall.hpp"
#include "green_thread.hpp"

#include <green/thread_pool.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>

#include <cerrno>
#include <climits>
#include <cstdint>

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
        static ThreadPool* pool = new ThreadPool(16);  // never destroyed: waits may outlive exit
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
    bool hit = cmp == FUTEX_OP_CMP_EQ ? o == ca : cmp == FUTEX_OP_CMP_NE ? o != ca : cmp == FUTEX_OP_CMP_LT ? o < ca
             : cmp == FUTEX_OP_CMP_LE ? o <= ca : cmp == FUTEX_OP_CMP_GT ? o > ca : o >= ca;
    const int flags = op & ~kCmdMask;
    long n = wake(uaddr, flags | FUTEX_WAKE, nr_wake, FUTEX_BITSET_MATCH_ANY);
    if (n < 0) return n;
    if (hit) {
        long m = wake(uaddr2, flags | FUTEX_WAKE, nr_wake2, FUTEX_BITSET_MATCH_ANY);
        if (m > 0) n += m;
    }
    return n;
}

}  // namespace

long futex_call(uint32_t* uaddr, int op, uint32_t val, long arg4, uint32_t* uaddr2, uint32_t val3) noexcept {
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
