// green/queue.hpp: Queue and JoinableQueue (gevent.queue).
//
// Contract: a bounded queue (maxsize > 0) parks putters while full; get parks while empty.
// get(timeout) throws green::Empty, put(timeout) green::Full once the timeout passes. Safe across
// OS threads. Items are handed over in FIFO order.
#pragma once

#include <green/greenlet.hpp>

#include <deque>
#include <mutex>

namespace green {

template <class T>
class Queue {
public:
    explicit Queue(size_t maxsize = 0) : maxsize_(maxsize) {}
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    void put(T item, Seconds timeout = forever) {
        lock_.lock();
        if (!detail::wait_until(lock_, putters_, timeout.value, {"Queue::put", this}, [&] { return !full_locked(); })) {
            lock_.unlock();
            throw Full();
        }
        items_.push_back(std::move(item));
        on_put_locked();
        getters_.notify_one();
        lock_.unlock();
    }
    void put_nowait(T item) { put(std::move(item), 0.0); }

    T get(Seconds timeout = forever) {
        lock_.lock();
        if (!detail::wait_until(lock_, getters_, timeout.value, {"Queue::get", this}, [&] { return !items_.empty(); })) {
            lock_.unlock();
            throw Empty();
        }
        T item = std::move(items_.front());
        items_.pop_front();
        putters_.notify_one();
        if (!items_.empty()) getters_.notify_one();  // a put may have been absorbed by a barging get
        lock_.unlock();
        return item;
    }
    T get_nowait() { return get(0.0); }
    std::optional<T> try_get() {
        std::lock_guard g(lock_);
        if (items_.empty()) return std::nullopt;
        T item = std::move(items_.front());
        items_.pop_front();
        putters_.notify_one();
        return item;
    }
    // The next item without removing it; waits like get().
    T peek(Seconds timeout = forever) {
        lock_.lock();
        if (!detail::wait_until(lock_, getters_, timeout.value, {"Queue::peek", this}, [&] { return !items_.empty(); })) {
            lock_.unlock();
            throw Empty();
        }
        T item = items_.front();
        getters_.notify_one();  // peeking consumed a wake-up meant for a getter
        lock_.unlock();
        return item;
    }

    size_t qsize() const {
        std::lock_guard g(lock_);
        return items_.size();
    }
    bool empty() const { return qsize() == 0; }
    bool full() const {
        std::lock_guard g(lock_);
        return full_locked();
    }
    size_t maxsize() const noexcept { return maxsize_; }

protected:
    virtual void on_put_locked() {}
    bool full_locked() const { return maxsize_ > 0 && items_.size() >= maxsize_; }

    mutable detail::SpinLock lock_;
    detail::WaitList getters_;
    detail::WaitList putters_;
    std::deque<T> items_;
    size_t maxsize_;
};

// A Queue that counts unfinished items: each get() must be matched by a task_done(); join() waits
// until every item put has been marked done.
template <class T>
class JoinableQueue : public Queue<T> {
public:
    using Queue<T>::Queue;
    void task_done() {
        std::lock_guard g(this->lock_);
        if (unfinished_ == 0) throw std::logic_error("green::JoinableQueue::task_done called too many times");
        if (--unfinished_ == 0) joiners_.notify_all();
    }
    bool join(Seconds timeout = forever) {
        this->lock_.lock();
        bool ok = detail::wait_until(this->lock_, joiners_, timeout.value, {"JoinableQueue::join", this},
                                     [&] { return unfinished_ == 0; });
        this->lock_.unlock();
        return ok;
    }
    size_t unfinished_tasks() const {
        std::lock_guard g(this->lock_);
        return unfinished_;
    }

protected:
    void on_put_locked() override { ++unfinished_; }

private:
    detail::WaitList joiners_;
    size_t unfinished_ = 0;
};

}  // namespace green
