// tests/core/wait_fixtures.hpp: one fixture per waiting primitive, so that the timeout contract
// (timeout_test.cpp) and the kill contract (greenlet_test.cpp) are each written once.
//
// A fixture F offers:
//   bool wait(double t)      the wait under test, in the calling greenlet: true if woken, false if
//                            its own timeout passed (primitives that throw on timeout, like
//                            Queue::get, are mapped to false; an outer green::Timeout still throws)
//   void wake()              what wakes a waiter; callable from any greenlet or OS thread
//   bool available(double t) "is a wake still there?": a wait that leaves the state as it found it
//                            for Level kinds, or consumes one unit for Consume kinds
//   void reset()             back to "nothing signalled" (root greenlet, wakers joined)
//   kind                     Level:   a wake stays until reset (Event, join, readable fd...)
//                            Consume: a wake is one unit taken by exactly one successful wait
//                            Edge:    a wake with nobody waiting is lost (Condition)
#pragma once

#include "test_util.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fx {

enum class Kind { Level, Consume, Edge };

struct EventFx {
    static constexpr const char* name = "Event::wait";
    static constexpr Kind kind = Kind::Level;
    green::Event ev;
    bool wait(double t) { return ev.wait(t); }
    void wake() { ev.set(); }
    bool available(double t) { return wait(t); }
    void reset() { ev.clear(); }
};

struct AsyncGetFx {
    static constexpr const char* name = "AsyncResult::get";
    static constexpr Kind kind = Kind::Level;
    green::AsyncResult<std::string> ar;
    bool wait(double t) {
        try {
            return ar.get(t) == "value";
        } catch (const green::TimeoutExpired& e) {
            if (e.timeout) throw;  // an outer green::Timeout, not get()'s own timeout
            return false;
        }
    }
    void wake() { ar.set("value"); }
    bool available(double t) { return wait(t); }
    void reset() { ar = green::AsyncResult<std::string>(); }
};

struct AsyncWaitFx {
    static constexpr const char* name = "AsyncResult::wait";
    static constexpr Kind kind = Kind::Level;
    green::AsyncResult<int> ar;
    bool wait(double t) { return ar.wait(t); }
    void wake() { ar.set(7); }
    bool available(double t) { return wait(t); }
    void reset() { ar = green::AsyncResult<int>(); }
};

struct SemaphoreFx {
    static constexpr const char* name = "Semaphore::acquire";
    static constexpr Kind kind = Kind::Consume;
    green::Semaphore sem{0};
    bool wait(double t) { return sem.acquire(t); }
    void wake() { sem.release(); }
    bool available(double t) { return wait(t); }
    void reset() {}
};

// The lock is held from the start; a wake releases it (a Lock has no owner, so any thread may).
struct LockFx {
    static constexpr const char* name = "Lock::acquire";
    static constexpr Kind kind = Kind::Consume;
    green::Lock lock;
    LockFx() { REQUIRE(lock.acquire(0.0)); }
    bool wait(double t) { return lock.acquire(t); }
    void wake() { lock.release(); }
    bool available(double t) { return wait(t); }
    void reset() {}
};

// An RLock has an owner, so the lock is held by a helper greenlet that lets it go when `go` is set
// (from any thread). wait() acquires and releases at once, which makes the kind Level: once the
// helper has let go, every later wait succeeds until reset() hands the lock to a new helper.
struct RLockFx {
    static constexpr const char* name = "RLock::acquire";
    static constexpr Kind kind = Kind::Level;
    green::RLock rl;
    std::shared_ptr<green::Event> go;
    green::Greenlet<void> holder;
    RLockFx() { hand_to_holder(); }
    ~RLockFx() {
        go->set();
        holder.join();
    }
    void hand_to_holder() {
        go = std::make_shared<green::Event>();
        auto held = std::make_shared<green::Event>();
        holder = green::spawn([this, g = go, held] {
            rl.acquire();
            held->set();
            g->wait();
            rl.release();
        });
        REQUIRE(held->wait(2.0));
    }
    bool wait(double t) {
        if (!rl.acquire(t)) return false;
        rl.release();
        return true;
    }
    void wake() { go->set(); }
    bool available(double t) { return wait(t); }
    void reset() {
        holder.join();
        hand_to_holder();
    }
};

struct QueueGetFx {
    static constexpr const char* name = "Queue::get";
    static constexpr Kind kind = Kind::Consume;
    green::Queue<int> q;
    bool wait(double t) {
        try {
            return q.get(t) == 1;
        } catch (const green::Empty&) {
            return false;
        }
    }
    void wake() { q.put(1); }
    bool available(double t) { return wait(t); }
    void reset() {}
};

// A full queue of one; a wake takes the item out (try_get never blocks, so any thread may).
struct QueuePutFx {
    static constexpr const char* name = "Queue::put";
    static constexpr Kind kind = Kind::Consume;
    green::Queue<int> q{1};
    QueuePutFx() { q.put(0); }
    bool wait(double t) {
        try {
            q.put(1, t);
            return true;
        } catch (const green::Full&) {
            return false;
        }
    }
    void wake() { (void)q.try_get(); }
    bool available(double t) { return wait(t); }
    void reset() {}
};

struct ConditionFx {
    static constexpr const char* name = "Condition::wait";
    static constexpr Kind kind = Kind::Edge;
    green::Lock lock;
    green::Condition cond{lock};
    bool wait(double t) {
        std::lock_guard g(lock);  // released on any exit: wait() reacquires even when it throws
        return cond.wait(t);
    }
    void wake() { cond.notify(); }
    bool available(double) { return false; }
    void reset() {}
};

// Greenlet::join on a target that ends when `go` is set.
struct JoinFx {
    static constexpr const char* name = "Greenlet::join";
    static constexpr Kind kind = Kind::Level;
    std::shared_ptr<green::Event> go;
    green::Greenlet<void> target;
    JoinFx() { reset(); }
    ~JoinFx() {
        go->set();
        target.join();
    }
    bool wait(double t) { return target.join(t); }
    void wake() { go->set(); }
    bool available(double t) { return wait(t); }
    void reset() {
        if (target) {
            go->set();
            target.join();
        }
        go = std::make_shared<green::Event>();
        target = green::spawn([g = go] { g->wait(); });
    }
};

struct GroupJoinFx {
    static constexpr const char* name = "Group::join";
    static constexpr Kind kind = Kind::Level;
    std::shared_ptr<green::Event> go;
    green::Group group;
    GroupJoinFx() { reset(); }
    ~GroupJoinFx() {
        go->set();
        group.join();
    }
    bool wait(double t) { return group.join(t); }
    void wake() { go->set(); }
    bool available(double t) { return wait(t); }
    void reset() {
        if (go) {
            go->set();
            group.join();
        }
        go = std::make_shared<green::Event>();
        group.spawn([g = go] { g->wait(); });
    }
};

// wait_readable on one end of a socket pair; a wake writes a byte into the other end.
struct ReadableFx {
    static constexpr const char* name = "wait_readable";
    static constexpr Kind kind = Kind::Level;
    tu::SockPair sp;
    bool wait(double t) { return green::wait_readable(sp.a, t); }
    void wake() { CHECK(::write(sp.b, "x", 1) == 1); }  // CHECK: may run on another thread
    bool available(double t) { return wait(t); }
    void reset() { sp.drain_a(); }
};

// green::wait over an AsyncResult and a Queue that stay empty, and an Event: one park on three lists.
struct WaitAnyFx {
    static constexpr const char* name = "green::wait";
    static constexpr Kind kind = Kind::Level;
    green::AsyncResult<int> never;
    green::Queue<int> empty;
    green::Event ev;
    bool wait(double t) {
        auto got = green::wait({never, empty, ev}, 1, t);
        return got == std::vector<size_t>{2};
    }
    void wake() { ev.set(); }
    bool available(double t) { return wait(t); }
    void reset() { ev.clear(); }
};

// green::iwait over a Channel nobody puts into and a Queue a wake puts into (iwait takes nothing:
// the item stays until reset).
struct IwaitQueueFx {
    static constexpr const char* name = "green::iwait";
    static constexpr Kind kind = Kind::Level;
    green::Channel<int> ch;
    green::Queue<int> q;
    bool wait(double t) {
        auto it = green::iwait({ch, q}, t);
        auto i = it.next();
        return i && *i == 1;
    }
    void wake() { q.put(1); }
    bool available(double t) { return wait(t); }
    void reset() {
        while (q.try_get()) {}
    }
};

// A wake arranged for the fixture, then a wait(2 s) that must see it: "the primitive still works".
template <class F> void check_works_normally(F& f) {
    auto waker = green::spawn([&f] {
        green::sleep(0.01);
        f.wake();
    });
    tu::Stopwatch sw;
    CHECK(f.wait(2.0));
    CHECK(sw.elapsed() < 1.0);  // woken by the wake, not found at the end of its timeout
    waker.join();
    f.reset();
}

}  // namespace fx

// Every waiting primitive, for TEST_CASE_TEMPLATE.
#define GREEN_WAIT_FIXTURES                                                                                 \
    fx::EventFx, fx::AsyncGetFx, fx::AsyncWaitFx, fx::SemaphoreFx, fx::LockFx, fx::RLockFx, fx::QueueGetFx, \
        fx::QueuePutFx, fx::ConditionFx, fx::JoinFx, fx::GroupJoinFx, fx::ReadableFx, fx::WaitAnyFx, fx::IwaitQueueFx
