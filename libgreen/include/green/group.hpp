// green/group.hpp: Group and Pool (gevent.pool).
//
// Contract: a Group tracks greenlets until they end (they leave it by themselves); join() waits for
// all, kill() kills all. A Pool is a Group with a capacity: spawn() parks the caller while
// `size` greenlets are running.
// Destruction: no member outlives its Group. The destructor kills the members still running (not
// the greenlet running the destructor, if it is one) and waits until they have ended, also while
// the scope unwinds from an exception; a member that ignores GreenletExit keeps it waiting. A kill
// or Timeout aimed at the destroying greenlet meanwhile does not cut the wait short: it is thrown
// at that greenlet's next wait point instead. Only LoopExit (no member can ever end) ends it early.
#pragma once

#include <green/sync.hpp>

#include <memory>
#include <unordered_map>
#include <vector>

namespace green {

class Group {
public:
    Group() : s_(std::make_shared<State>()) {}
    virtual ~Group();
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;

    template <class F, class... A>
    auto spawn(F&& f, A&&... a) {
        before_spawn();
        auto g = green::spawn(std::forward<F>(f), std::forward<A>(a)...);
        track(g);
        return g;
    }
    // Track `g` until it ends (in a Pool, waits for a free slot first).
    void add(const GreenletBase& g) {
        before_spawn();
        track(g);
    }
    // Stop tracking `g` (it keeps running).
    void discard(const GreenletBase& g);
    bool contains(const GreenletBase& g) const;
    size_t size() const;
    std::vector<GreenletBase> greenlets() const;
    // Wait until the group is empty; false if `timeout` passed first. With raise_error, rethrows
    // the exception of the first member found failed.
    bool join(Seconds timeout = forever, bool raise_error = false);
    // Kill every member and wait for them (up to `timeout`).
    void kill(Seconds timeout = forever);

protected:
    void track(const GreenletBase& g);
    virtual void before_spawn() {}
    virtual void on_removed() {}
    struct State {
        detail::SpinLock lock;
        detail::WaitList empty_waiters;
        std::unordered_map<detail::Task*, GreenletBase> members;
        std::exception_ptr first_error;
        Group* owner;
    };
    std::shared_ptr<State> s_;
};

class Pool : public Group {
public:
    explicit Pool(size_t size) : slots_(static_cast<unsigned>(size)), size_(size) {}
    ~Pool() override;
    size_t free_count() const { return slots_.counter(); }
    bool full() const { return free_count() == 0; }
    // Wait until a slot is free; false if `timeout` passed first.
    bool wait_available(Seconds timeout = forever);
    size_t capacity() const noexcept { return size_; }

protected:
    void before_spawn() override { slots_.acquire(); }
    void on_removed() override { slots_.release(); }

private:
    Semaphore slots_;
    size_t size_;
};

}  // namespace green
