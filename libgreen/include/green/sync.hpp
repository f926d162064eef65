// green/sync.hpp: Event, AsyncResult, Lock, RLock, Semaphore, BoundedSemaphore, Condition,
// Barrier.
//
// Contract:
//  - A wait parks the calling greenlet, never the OS thread; other greenlets run meanwhile.
//  - Setters (set, release, notify) never switch: they make waiters ready and return.
//  - Every object may be waited on and signalled from any OS thread; a waiter on another thread's
//    hub is woken through that hub's ev_async.
//  - lock()/unlock()/try_lock() make Lock, RLock and Semaphore usable with std::lock_guard and
//    std::unique_lock.
//  - Event and AsyncResult are Waitable (wait.hpp): green::wait / iwait watch several at once.
#pragma once

#include <green/greenlet.hpp>

#include <memory>
#include <mutex>
#include <stdexcept>

namespace green {

class Event {
public:
    void set();
    void clear();
    bool is_set() const;
    // True once set; false if `timeout` passed first.
    bool wait(Seconds timeout = forever);
    // green::wait's interface (wait.hpp): ready once set.
    bool watch(detail::Waiter* w) const;
    void unwatch(detail::Waiter& w) const noexcept;

private:
    mutable detail::SpinLock lock_;
    mutable detail::WaitList waiters_;
    bool flag_ = false;
};

// A value (or an exception) that arrives later, possibly from another OS thread. Copies share one
// result.
template <class T> class AsyncResult {
public:
    AsyncResult() : s_(std::make_shared<State>()) {}
    void set(T v) {
        std::lock_guard g(s_->lock);
        if (s_->done) throw std::logic_error("green::AsyncResult already set");
        s_->value.emplace(std::move(v));
        s_->done = true;
        s_->waiters.notify_all();
    }
    void set_exception(std::exception_ptr e) {
        std::lock_guard g(s_->lock);
        if (s_->done) throw std::logic_error("green::AsyncResult already set");
        s_->error = std::move(e);
        s_->done = true;
        s_->waiters.notify_all();
    }
    bool ready() const {
        std::lock_guard g(s_->lock);
        return s_->done;
    }
    bool successful() const {
        std::lock_guard g(s_->lock);
        return s_->done && !s_->error;
    }
    std::exception_ptr exception() const {
        std::lock_guard g(s_->lock);
        return s_->error;
    }
    // True once ready; false if `timeout` passed first.
    bool wait(Seconds timeout = forever) const {
        s_->lock.lock();
        bool ok = detail::wait_until(s_->lock, s_->waiters, timeout.value, {"AsyncResult", s_.get()},
                                     [&] { return s_->done; });
        s_->lock.unlock();
        return ok;
    }
    // The value, or the exception rethrown; TimeoutExpired if not ready after `timeout`.
    T get(Seconds timeout = forever) const {
        if (!wait(timeout)) throw TimeoutExpired{nullptr, timeout.value};
        std::lock_guard g(s_->lock);
        if (s_->error) std::rethrow_exception(s_->error);
        if constexpr (!std::is_void_v<T>) return *s_->value;
    }
    // green::wait's interface (wait.hpp): ready once it has its value or exception.
    bool watch(detail::Waiter* w) const {
        std::lock_guard g(s_->lock);
        if (s_->done) return true;
        if (w) s_->waiters.push_back(w);
        return false;
    }
    void unwatch(detail::Waiter& w) const noexcept {
        std::lock_guard g(s_->lock);
        if (w.linked) s_->waiters.erase(&w);
    }

private:
    struct State {
        mutable detail::SpinLock lock;
        detail::WaitList waiters;
        std::optional<T> value;
        std::exception_ptr error;
        bool done = false;
    };
    std::shared_ptr<State> s_;
};

namespace detail {
struct Unit {};
}  // namespace detail

// AsyncResult<void> signals completion (or an exception) without a value.
template <> class AsyncResult<void> : public AsyncResult<detail::Unit> {
public:
    void set() { AsyncResult<detail::Unit>::set({}); }
    void get(Seconds timeout = forever) const { AsyncResult<detail::Unit>::get(timeout); }
};

class Semaphore {
public:
    explicit Semaphore(unsigned value = 1) : count_(value) {}
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;
    // Take one unit; false if `timeout` passed first.
    bool acquire(Seconds timeout = forever);
    bool try_acquire() { return acquire(0.0); }
    void release();
    unsigned counter() const;
    bool locked() const { return counter() == 0; }
    void lock() { acquire(); }
    void unlock() { release(); }
    bool try_lock() { return try_acquire(); }

protected:
    mutable detail::SpinLock lock_;
    detail::WaitList waiters_;
    unsigned count_;
};

// A Semaphore that refuses to be released above its initial value (std::logic_error).
class BoundedSemaphore : public Semaphore {
public:
    explicit BoundedSemaphore(unsigned value = 1) : Semaphore(value), initial_(value) {}
    void release();
    void unlock() { release(); }

private:
    unsigned initial_;
};

// A non-reentrant lock (gevent's Lock): a BoundedSemaphore(1).
class Lock : public BoundedSemaphore {
public:
    Lock() : BoundedSemaphore(1) {}
};

// A reentrant lock owned by a greenlet; release by another greenlet is a std::logic_error.
class RLock {
public:
    bool acquire(Seconds timeout = forever);
    bool try_acquire() { return acquire(0.0); }
    void release();
    bool locked() const;
    bool owned() const;  // by the calling greenlet
    void lock() { acquire(); }
    void unlock() { release(); }
    bool try_lock() { return try_acquire(); }

private:
    friend class Condition;
    mutable detail::SpinLock lock_;
    detail::WaitList waiters_;
    detail::Task* owner_ = nullptr;
    unsigned depth_ = 0;
};

// A condition variable bound to a Lock or an RLock (gevent's / threading's Condition).
class Condition {
public:
    explicit Condition(Lock& lock) : plain_(&lock) {}
    explicit Condition(RLock& lock) : reentrant_(&lock) {}
    // Releases the lock (fully, for an RLock), waits for a notify or the timeout, reacquires it.
    // True if notified.
    bool wait(Seconds timeout = forever);
    template <class Pred> bool wait_for(Pred pred, Seconds timeout = forever) {
        double deadline = timeout.value >= 0 ? detail::monotonic_now() + timeout.value : -1;
        while (!pred()) {
            double left = deadline < 0 ? -1 : deadline - detail::monotonic_now();
            if (deadline >= 0 && left <= 0) return pred();
            wait(left);
        }
        return true;
    }
    void notify(unsigned n = 1);
    void notify_all();

private:
    Lock* plain_ = nullptr;
    RLock* reentrant_ = nullptr;
    detail::SpinLock lock_;
    detail::WaitList waiters_;
};

// A barrier for `parties` greenlets (Python's threading.Barrier, std::barrier): wait() parks until
// `parties` callers have arrived, then releases them all at once, and the barrier is ready for the
// next round. It returns each caller's arrival index, 0 .. parties-1 (the last arrival, which
// releases the others without parking, gets parties-1).
// Broken: when a waiter's own timeout passes or it is killed (or a green::Timeout fires) while it
// waits, or abort() is called, the barrier breaks: its waiters, and every wait() from then on,
// throw green::BrokenBarrier (the one that timed out too; a killed one its own exception), until
// reset(). reset() with waiters breaks their round for them; the barrier is whole again once they
// have left. Safe across OS threads.
class Barrier {
public:
    explicit Barrier(size_t parties);  // std::invalid_argument if 0
    Barrier(const Barrier&) = delete;
    Barrier& operator=(const Barrier&) = delete;
    size_t wait(Seconds timeout = forever);
    void abort();
    void reset();
    size_t parties() const noexcept { return parties_; }
    size_t n_waiting() const;  // parked in the current round
    bool broken() const;

private:
    void break_locked();
    void leave_broken_locked();
    mutable detail::SpinLock lock_;
    detail::WaitList waiters_;
    size_t parties_;
    size_t count_ = 0;    // arrived in this round and not gone
    uint64_t round_ = 0;  // bumped when a round completes: its waiters have passed
    bool broken_ = false;
    bool resetting_ = false;  // reset() asked while broken waiters were still inside
};

}  // namespace green
