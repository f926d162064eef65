// green/queue.hpp: Queue, LifoQueue, PriorityQueue, JoinableQueue (gevent.queue) and Channel.
//
// Contract: a bounded queue (maxsize > 0) parks putters while full; get parks while empty.
// get(timeout) throws green::Empty, put(timeout) green::Full once the timeout passes. Safe across
// OS threads. Items are handed over in FIFO order (LifoQueue: last in first out; PriorityQueue:
// smallest first). After close(), put throws green::Closed; getters take what is left, then get
// throws green::Closed and next() returns nullopt. A Channel holds nothing: put waits until a
// getter has taken its item. Queues and Channels are Waitable (wait.hpp): ready while get() would
// not wait (an item, a waiting putter, or closed); green::wait reports that and takes nothing.
#pragma once

#include <green/greenlet.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace green {

namespace detail {
// How a Queue stores its items: push, the item get() would return (front), and take it out.
template <class T> struct FifoItems {
    std::deque<T> d;
    void push(T&& v) { d.push_back(std::move(v)); }
    T& front() { return d.front(); }
    T take() {
        T v = std::move(d.front());
        d.pop_front();
        return v;
    }
    size_t size() const { return d.size(); }
    bool empty() const { return d.empty(); }
};
template <class T> struct LifoItems {
    std::vector<T> d;
    void push(T&& v) { d.push_back(std::move(v)); }
    T& front() { return d.back(); }
    T take() {
        T v = std::move(d.back());
        d.pop_back();
        return v;
    }
    size_t size() const { return d.size(); }
    bool empty() const { return d.empty(); }
};
// A binary heap with the smallest item (by Compare) in front, as Python's heapq.
template <class T, class Compare> struct PriorityItems {
    std::vector<T> d;
    Compare less;
    auto after() {
        return [this](const T& a, const T& b) { return less(b, a); };
    }
    void push(T&& v) {
        d.push_back(std::move(v));
        std::push_heap(d.begin(), d.end(), after());
    }
    T& front() { return d.front(); }
    T take() {
        std::pop_heap(d.begin(), d.end(), after());
        T v = std::move(d.back());
        d.pop_back();
        return v;
    }
    size_t size() const { return d.size(); }
    bool empty() const { return d.empty(); }
};
}  // namespace detail

template <class T, class Items = detail::FifoItems<T>> class Queue {
public:
    explicit Queue(size_t maxsize = 0) : maxsize_(maxsize) {}
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    // Throws Full after `timeout`, Closed if the queue is (or gets) closed.
    void put(T item, Seconds timeout = forever) {
        lock_.lock();
        if (!detail::wait_until(lock_, putters_, timeout.value, {"Queue::put", this},
                                [&] { return closed_ || !full_locked(); })) {
            lock_.unlock();
            throw Full();
        }
        if (closed_) {
            lock_.unlock();
            throw Closed();
        }
        items_.push(std::move(item));
        on_put_locked();
        getters_.notify_one();
        watchers_.notify_all();
        lock_.unlock();
    }
    void put_nowait(T item) { put(std::move(item), 0.0); }

    // Throws Empty after `timeout`, Closed once the queue is closed and drained.
    T get(Seconds timeout = forever) {
        lock_.lock();
        if (!wait_item_locked(timeout.value, "Queue::get")) {
            lock_.unlock();
            throw Closed();
        }
        T item = take_locked();
        lock_.unlock();
        return item;
    }
    T get_nowait() { return get(0.0); }
    // As get(), but nullopt once the queue is closed and drained: while (auto v = q.next()) ...
    std::optional<T> next(Seconds timeout = forever) {
        lock_.lock();
        if (!wait_item_locked(timeout.value, "Queue::next")) {
            lock_.unlock();
            return std::nullopt;
        }
        std::optional<T> item(take_locked());
        lock_.unlock();
        return item;
    }
    std::optional<T> try_get() {
        std::lock_guard g(lock_);
        if (items_.empty()) return std::nullopt;
        return take_locked();
    }
    // The next item without removing it; waits like get().
    T peek(Seconds timeout = forever) {
        lock_.lock();
        if (!wait_item_locked(timeout.value, "Queue::peek")) {
            lock_.unlock();
            throw Closed();
        }
        T item = items_.front();
        getters_.notify_one();  // peeking consumed a wake-up meant for a getter
        lock_.unlock();
        return item;
    }

    // No more puts: waiting putters get Closed, getters take what is left and then get Closed.
    // Idempotent.
    void close() {
        std::lock_guard g(lock_);
        closed_ = true;
        getters_.notify_all();
        putters_.notify_all();
        watchers_.notify_all();
    }
    bool closed() const {
        std::lock_guard g(lock_);
        return closed_;
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

    // green::wait's interface (wait.hpp): ready while an item is there or the queue is closed.
    bool watch(detail::Waiter* w) const {
        std::lock_guard g(lock_);
        if (closed_ || !items_.empty()) return true;
        if (w) watchers_.push_back(w);
        return false;
    }
    void unwatch(detail::Waiter& w) const noexcept {
        std::lock_guard g(lock_);
        if (w.linked) watchers_.erase(&w);
    }

protected:
    virtual void on_put_locked() {}
    bool full_locked() const { return maxsize_ > 0 && items_.size() >= maxsize_; }
    // Lock held: wait until an item is there (true) or the queue is closed and empty (false);
    // after `timeout` it releases the lock and throws Empty.
    bool wait_item_locked(double timeout, const char* what) {
        if (!detail::wait_until(lock_, getters_, timeout, {what, this}, [&] { return closed_ || !items_.empty(); })) {
            lock_.unlock();
            throw Empty();
        }
        return !items_.empty();
    }
    T take_locked() {
        T item = items_.take();
        putters_.notify_one();
        if (!items_.empty()) getters_.notify_one();  // a put may have been absorbed by a barging get
        return item;
    }

    mutable detail::SpinLock lock_;
    detail::WaitList getters_;
    detail::WaitList putters_;
    mutable detail::WaitList watchers_;  // green::wait: notified (all) on every put and at close
    Items items_;
    size_t maxsize_;
    bool closed_ = false;
};

// A Queue whose get() returns the item put last.
template <class T> using LifoQueue = Queue<T, detail::LifoItems<T>>;
// A Queue whose get() returns the smallest item (by Compare; equal ones in no particular order):
// put (priority, item) pairs, or pass a comparator.
template <class T, class Compare = std::less<T>> using PriorityQueue = Queue<T, detail::PriorityItems<T, Compare>>;

// A Queue that counts unfinished items: each get() must be matched by a task_done(); join() waits
// until every item put has been marked done.
template <class T> class JoinableQueue : public Queue<T> {
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

// A rendezvous channel (gevent's Channel, Go's unbuffered chan): put() returns once a getter has
// taken its item; put(timeout) throws Full if none took it in time (so a put needs a getter that
// runs: there is no put_nowait), leaving nothing behind. get(timeout) throws Empty; get_nowait()
// takes from a putter already waiting. close() as Queue's; putters still waiting then get Closed
// and their items are not delivered. Safe across OS threads.
template <class T> class Channel {
public:
    Channel() = default;
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    void put(T item, Seconds timeout = forever) {
        Offer o(&item);
        lock_.lock();
        if (closed_) {
            lock_.unlock();
            throw Closed();
        }
        offers_.push_back(&o);
        getters_.notify_one();
        watchers_.notify_all();
        bool taken;
        try {
            detail::wait_until(lock_, o.done, timeout.value, {"Channel::put", this},
                               [&] { return o.taken || closed_; });
            taken = o.taken;
        } catch (...) {  // killed or a Timeout (lock released): withdraw, unless taken meanwhile
            std::lock_guard g(lock_);
            withdraw_locked(&o);
            throw;
        }
        bool closed = closed_;
        if (!taken) withdraw_locked(&o);
        lock_.unlock();
        if (taken) return;
        if (closed) throw Closed();
        throw Full();
    }

    // Throws Empty after `timeout`, Closed once the channel is closed.
    T get(Seconds timeout = forever) {
        lock_.lock();
        if (!wait_offer_locked(timeout.value, "Channel::get")) {
            lock_.unlock();
            throw Closed();
        }
        T item = take_locked();
        lock_.unlock();
        return item;
    }
    T get_nowait() { return get(0.0); }
    // As get(), but nullopt once the channel is closed.
    std::optional<T> next(Seconds timeout = forever) {
        lock_.lock();
        if (!wait_offer_locked(timeout.value, "Channel::next")) {
            lock_.unlock();
            return std::nullopt;
        }
        std::optional<T> item(take_locked());
        lock_.unlock();
        return item;
    }
    std::optional<T> try_get() {
        std::lock_guard g(lock_);
        if (offers_.empty()) return std::nullopt;
        return take_locked();
    }

    void close() {
        std::lock_guard g(lock_);
        closed_ = true;
        for (Offer* o : offers_) o->done.notify_all();
        offers_.clear();
        getters_.notify_all();
        watchers_.notify_all();
    }
    bool closed() const {
        std::lock_guard g(lock_);
        return closed_;
    }
    // Putters waiting for a getter.
    size_t waiting_putters() const {
        std::lock_guard g(lock_);
        return offers_.size();
    }

    // green::wait's interface (wait.hpp): ready while a putter waits or the channel is closed.
    bool watch(detail::Waiter* w) const {
        std::lock_guard g(lock_);
        if (closed_ || !offers_.empty()) return true;
        if (w) watchers_.push_back(w);
        return false;
    }
    void unwatch(detail::Waiter& w) const noexcept {
        std::lock_guard g(lock_);
        if (w.linked) watchers_.erase(&w);
    }

private:
    // A waiting put, on the putter's stack; listed in offers_ until taken or withdrawn.
    struct Offer {
        explicit Offer(T* i) : item(i) {}
        T* item;
        bool taken = false;     // under lock_: a getter moved *item out
        detail::WaitList done;  // the putter waits here
    };
    bool wait_offer_locked(double timeout, const char* what) {
        if (!detail::wait_until(lock_, getters_, timeout, {what, this}, [&] { return closed_ || !offers_.empty(); })) {
            lock_.unlock();
            throw Empty();
        }
        return !offers_.empty();
    }
    T take_locked() {
        Offer* o = offers_.front();
        offers_.pop_front();
        T item = std::move(*o->item);
        o->taken = true;
        o->done.notify_one();
        if (!offers_.empty()) getters_.notify_one();
        return item;
    }
    void withdraw_locked(Offer* o) {
        auto it = std::find(offers_.begin(), offers_.end(), o);
        if (it != offers_.end()) offers_.erase(it);
    }

    mutable detail::SpinLock lock_;
    detail::WaitList getters_;
    mutable detail::WaitList watchers_;  // green::wait: notified (all) on every offer and at close
    std::deque<Offer*> offers_;
    bool closed_ = false;
};

}  // namespace green
