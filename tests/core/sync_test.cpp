// tests/core/sync_test.cpp: Event, AsyncResult, Lock, RLock, Semaphore, BoundedSemaphore,
// Condition. (Timeouts and kills in each wait are covered once for all in timeout_test.cpp and
// greenlet_test.cpp.)
#include "test_util.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using tu::kEps;
using tu::Stopwatch;

namespace {
// Runs `n` greenlets that each hold `lockable` (via std::lock_guard) across a sleep; returns the
// most that were ever inside at once.
template <class L> int max_concurrency(L& lockable, int n) {
    int inside = 0, most = 0;
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < n; ++i)
        gs.push_back(green::spawn([&] {
            std::lock_guard g(lockable);
            most = std::max(most, ++inside);
            green::sleep(0.005);
            --inside;
        }));
    CHECK(green::joinall(gs, 5.0));
    return most;
}
}  // namespace

// ---- Event ------------------------------------------------------------------------------------

TEST_CASE("Event: set wakes every waiter; wait on a set event returns at once; clear") {
    green::Event ev;
    CHECK_FALSE(ev.is_set());
    Stopwatch sw;
    CHECK_FALSE(ev.wait(0.1));
    CHECK(sw.elapsed() >= 0.1 - kEps);

    int woken = 0;
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < 5; ++i)
        gs.push_back(green::spawn([&] {
            if (ev.wait()) ++woken;
        }));
    green::sleep(0.01);
    CHECK(woken == 0);
    ev.set();  // never switches
    CHECK(woken == 0);
    CHECK(green::joinall(gs, 1.0));
    CHECK(woken == 5);
    CHECK(ev.is_set());
    Stopwatch s2;
    CHECK(ev.wait());
    CHECK(ev.wait(0.0));
    CHECK(s2.elapsed() < 0.05);
    ev.clear();
    CHECK_FALSE(ev.is_set());
    CHECK_FALSE(ev.wait(0.01));
}

// ---- AsyncResult ------------------------------------------------------------------------------

TEST_CASE("AsyncResult<std::string>: value set by another greenlet; copies share the result") {
    green::AsyncResult<std::string> ar;
    green::AsyncResult<std::string> copy = ar;
    CHECK_FALSE(ar.ready());
    auto setter = green::spawn([copy]() mutable {
        green::sleep(0.02);
        copy.set("hello");
    });
    Stopwatch sw;
    CHECK(ar.get() == "hello");
    CHECK(sw.elapsed() >= 0.02 - kEps);
    CHECK(ar.ready());
    CHECK(ar.successful());
    CHECK_FALSE(ar.exception());
    CHECK(ar.get(0.0) == "hello");  // stays available
    CHECK_THROWS_AS(ar.set("again"), std::logic_error);
    setter.join();
}

TEST_CASE("AsyncResult: set_exception is rethrown by get(); wait() still returns true") {
    green::AsyncResult<int> ar;
    ar.set_exception(std::make_exception_ptr(std::runtime_error("bad")));
    CHECK(ar.ready());
    CHECK_FALSE(ar.successful());
    CHECK(ar.exception());
    CHECK(ar.wait(0.0));
    CHECK_THROWS_WITH_AS(ar.get(), "bad", std::runtime_error);
    CHECK_THROWS_AS(ar.set_exception(std::make_exception_ptr(std::runtime_error("x"))), std::logic_error);
}

TEST_CASE("AsyncResult<void>") {
    green::AsyncResult<void> done;
    auto g = green::spawn([done]() mutable {
        green::sleep(0.01);
        done.set();
    });
    done.get(1.0);
    CHECK(done.ready());
    CHECK(done.successful());
    g.join();
}

// ---- Lock, Semaphore, BoundedSemaphore -------------------------------------------------------

TEST_CASE("Lock: mutual exclusion with std::lock_guard; acquire(timeout) while held") {
    green::Lock lock;
    CHECK(max_concurrency(lock, 8) == 1);
    CHECK_FALSE(lock.locked());
    {
        std::lock_guard g(lock);
        CHECK(lock.locked());
        auto other = green::spawn([&] { return lock.acquire(0.03); });
        Stopwatch sw;
        CHECK_FALSE(other.get());
        CHECK(sw.elapsed() >= 0.03 - kEps);
        CHECK_FALSE(lock.try_lock());
    }
    CHECK_FALSE(lock.locked());
    CHECK(lock.try_lock());
    lock.unlock();
    std::unique_lock ul(lock);  // works with unique_lock too
    CHECK(ul.owns_lock());
}

TEST_CASE("Lock: a blocked acquirer gets the lock once it is released") {
    green::Lock lock;
    lock.acquire();
    Stopwatch sw;
    auto g = green::spawn([&] {
        lock.acquire();
        double t = sw.elapsed();
        lock.release();
        return t;
    });
    green::sleep(0.05);
    CHECK_FALSE(g.dead());
    lock.release();
    CHECK(g.get() >= 0.05 - kEps);
}

TEST_CASE("Semaphore(3): at most 3 holders; acquire(timeout) fails when none is left") {
    green::Semaphore sem(3);
    CHECK(sem.counter() == 3);
    CHECK(max_concurrency(sem, 12) == 3);
    CHECK(sem.counter() == 3);
    CHECK(sem.acquire());
    CHECK(sem.acquire(0.1));
    CHECK(sem.try_acquire());
    CHECK(sem.locked());
    Stopwatch sw;
    CHECK_FALSE(sem.acquire(0.05));
    CHECK(sw.elapsed() >= 0.05 - kEps);
    sem.release();
    CHECK(sem.counter() == 1);
    CHECK(sem.acquire(0.0));
    for (int i = 0; i < 3; ++i) sem.release();
    CHECK(sem.counter() == 3);
}

TEST_CASE("Semaphore: waiters are served in FIFO order") {
    green::Semaphore sem(0);
    std::vector<int> order;
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < 4; ++i)
        gs.push_back(green::spawn([&, i] {
            sem.acquire();
            order.push_back(i);
        }));
    green::sleep(0.01);
    for (int i = 0; i < 4; ++i) {
        sem.release();
        green::sleep(0.005);
    }
    CHECK(green::joinall(gs, 1.0));
    CHECK(order == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("Semaphore: a plain Semaphore may be released above its initial value") {
    green::Semaphore sem(1);
    sem.release();
    CHECK(sem.counter() == 2);
}

TEST_CASE("BoundedSemaphore: releasing above the initial value throws std::logic_error") {
    green::BoundedSemaphore bs(2);
    CHECK_THROWS_AS(bs.release(), std::logic_error);
    CHECK(bs.counter() == 2);
    bs.acquire();
    bs.release();
    CHECK_THROWS_AS(bs.release(), std::logic_error);
    CHECK(bs.counter() == 2);
    green::Lock lock;  // a Lock is a BoundedSemaphore(1)
    CHECK_THROWS_AS(lock.release(), std::logic_error);
    CHECK_FALSE(lock.locked());
}

// ---- RLock ------------------------------------------------------------------------------------

TEST_CASE("RLock: reentrant for its owner; others wait until it is fully released") {
    green::RLock rl;
    CHECK_FALSE(rl.locked());
    rl.acquire();
    {
        std::lock_guard g1(rl);
        std::lock_guard g2(rl);
        CHECK(rl.owned());
    }
    CHECK(rl.locked());  // still held once
    CHECK(rl.owned());
    Stopwatch sw;
    auto other = green::spawn([&] {
        CHECK_FALSE(rl.owned());
        CHECK_FALSE(rl.try_acquire());
        rl.acquire();
        double t = sw.elapsed();
        CHECK(rl.owned());
        rl.release();
        return t;
    });
    green::sleep(0.03);
    CHECK_FALSE(other.dead());
    rl.release();  // depth 1 -> 0: now the other greenlet may take it
    CHECK_FALSE(rl.owned());
    CHECK(other.get() >= 0.03 - kEps);
    CHECK_FALSE(rl.locked());
}

TEST_CASE("RLock: release by a greenlet that does not own it throws std::logic_error") {
    green::RLock rl;
    CHECK_THROWS_AS(rl.release(), std::logic_error);  // nobody owns it
    rl.acquire();
    auto intruder = green::spawn([&] {
        try {
            rl.release();
        } catch (const std::logic_error&) {
            return true;
        }
        return false;
    });
    CHECK(intruder.get());
    CHECK(rl.owned());  // unaffected
    rl.release();
    CHECK_FALSE(rl.locked());
}

TEST_CASE("RLock: acquire(timeout) by another greenlet times out while held") {
    green::RLock rl;
    std::lock_guard g(rl);
    auto other = green::spawn([&] { return rl.acquire(0.03); });
    Stopwatch sw;
    CHECK_FALSE(other.get());
    CHECK(sw.elapsed() >= 0.03 - kEps);
}

// ---- Condition --------------------------------------------------------------------------------

TEST_CASE("Condition with Lock: producer/consumer with wait_for(pred)") {
    green::Lock lock;
    green::Condition cond(lock);
    std::vector<int> items;
    std::vector<int> consumed;
    auto consumer = green::spawn([&] {
        for (int n = 0; n < 20; ++n) {
            std::lock_guard g(lock);
            CHECK(cond.wait_for([&] { return !items.empty(); }, 2.0));
            consumed.push_back(items.front());
            items.erase(items.begin());
        }
    });
    for (int i = 0; i < 20; ++i) {
        {
            std::lock_guard g(lock);
            items.push_back(i);
            cond.notify();
        }
        if (i % 3 == 0) green::sleep(0.001);
    }
    CHECK(consumer.join(2.0));
    std::vector<int> expect(20);
    for (int i = 0; i < 20; ++i) expect[i] = i;
    CHECK(consumed == expect);
}

TEST_CASE("Condition: wait releases the lock while waiting and holds it again on return") {
    green::Lock lock;
    green::Condition cond(lock);
    bool holding_after = false;
    auto waiter = green::spawn([&] {
        std::lock_guard g(lock);
        bool r = cond.wait(1.0);
        holding_after = lock.locked();
        return r;
    });
    green::sleep(0.01);
    CHECK_FALSE(lock.locked());  // released during the wait
    {
        std::lock_guard g(lock);
        cond.notify();
        green::sleep(0.02);  // the notified waiter must still wait for the lock
        CHECK_FALSE(waiter.dead());
    }
    CHECK(waiter.get());
    CHECK(holding_after);
    CHECK_FALSE(lock.locked());
}

TEST_CASE("Condition: notify(n) wakes n waiters, notify_all the rest") {
    green::Lock lock;
    green::Condition cond(lock);
    int woken = 0;
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < 5; ++i)
        gs.push_back(green::spawn([&] {
            std::lock_guard g(lock);
            if (cond.wait(2.0)) ++woken;
        }));
    green::sleep(0.01);
    cond.notify(2);
    green::sleep(0.02);
    CHECK(woken == 2);
    cond.notify_all();
    CHECK(green::joinall(gs, 1.0));
    CHECK(woken == 5);
    cond.notify();  // nobody waiting: a no-op
}

TEST_CASE("Condition with RLock: waiting at depth 2 releases it fully and restores depth 2") {
    green::RLock rl;
    green::Condition cond(rl);
    bool other_got_it = false;
    auto waiter = green::spawn([&] {
        rl.acquire();
        rl.acquire();  // depth 2
        bool r = cond.wait(1.0);
        CHECK(rl.owned());
        rl.release();
        CHECK(rl.owned());  // still depth 1: the depth was restored
        rl.release();
        CHECK_FALSE(rl.owned());
        return r;
    });
    green::sleep(0.01);
    CHECK_FALSE(rl.locked());  // fully released while waiting
    {
        std::lock_guard g(rl);
        other_got_it = true;
        cond.notify();
    }
    CHECK(waiter.get());
    CHECK(other_got_it);
    CHECK_FALSE(rl.locked());
}

TEST_CASE("Condition with RLock: wait without holding it throws std::logic_error") {
    green::RLock rl;
    green::Condition cond(rl);
    CHECK_THROWS_AS(cond.wait(0.01), std::logic_error);
    cond.notify();  // the condition is still usable
    auto g = green::spawn([&] {
        std::lock_guard lg(rl);
        return cond.wait(1.0);
    });
    green::sleep(0.01);
    cond.notify();
    CHECK(g.get());
}

// Regression test (fixed): Condition(Lock)::wait without holding the Lock throws from
// plain_->release() while Condition's internal SpinLock is still locked, so the next notify() or
// wait() spins forever. Run in a child with a deadline; a hang shows as a timeout.
TEST_CASE("Condition with Lock: wait without holding it throws and leaves the condition usable") {
    auto child = tu::run_in_child(
        [] {
            green::Lock lock;
            green::Condition cond(lock);
            try {
                cond.wait(0.01);
                return 2;  // should have thrown
            } catch (const std::logic_error&) {}
            cond.notify();  // hangs if the internal lock was left held
            return 0;
        },
        3.0);
    INFO(child.describe());
    CHECK(child.exited_with(0));
}

// Regression test (fixed): if a greenlet notified in Condition::wait is killed while it
// waits to get the lock back, the GreenletExit is thrown from the destructor that reacquires the
// lock (noexcept), which calls std::terminate. Expected: it ends killed and the lock stays usable.
TEST_CASE("Condition: a notified waiter killed while reacquiring the lock ends killed") {
    auto child = tu::run_in_child(
        [] {
            green::Lock lock;
            green::Condition cond(lock);
            auto waiter = green::spawn([&] {
                std::unique_lock ul(lock);
                cond.wait();
            });
            green::sleep(0.01);
            lock.acquire();
            cond.notify();
            green::sleep(0.01);  // the waiter was notified and now waits for the lock we hold
            waiter.kill(0);
            green::sleep(0.01);
            lock.release();
            if (!waiter.join(1.0)) return 3;
            if (!waiter.killed()) return 4;
            if (!lock.acquire(0.5)) return 5;  // not left held by the killed waiter
            return 0;
        },
        5.0);
    INFO(child.describe());
    CHECK(child.exited_with(0));
}

// ---- Barrier (issue 16) ----------------------------------------------------------------------------

TEST_CASE("Barrier(3): all three pass once the third arrives, indices 0..2; ready for the next round") {
    green::Barrier barrier(3);
    CHECK(barrier.parties() == 3);
    std::vector<std::string> log;
    std::vector<size_t> indices;
    auto party = [&](int id, double delay) {
        for (int round = 0; round < 2; ++round) {
            green::sleep(delay);
            log.push_back("arrive " + std::to_string(id));
            indices.push_back(barrier.wait(2.0));
            log.push_back("pass " + std::to_string(id));
        }
    };
    std::vector<green::Greenlet<void>> gs;
    for (int id = 0; id < 3; ++id) gs.push_back(green::spawn(party, id, 0.01 * id));
    green::sleep(0.015);
    CHECK(barrier.n_waiting() == 2);  // 0 and 1 wait for 2
    CHECK(green::joinall(gs, 2.0));
    // No one passes a round before everyone has arrived at it.
    for (int round = 0; round < 2; ++round) {
        auto nth = [&](const std::string& what, int k) {
            int seen = 0;
            for (size_t i = 0; i < log.size(); ++i)
                if (log[i].rfind(what, 0) == 0 && seen++ == k) return i;
            return log.size();
        };
        size_t last_arrival =
            std::max({nth("arrive", 3 * round), nth("arrive", 3 * round + 1), nth("arrive", 3 * round + 2)});
        CHECK(last_arrival < nth("pass", 3 * round));
    }
    std::vector<size_t> first(indices.begin(), indices.begin() + 3);
    std::sort(first.begin(), first.end());
    CHECK(first == std::vector<size_t>{0, 1, 2});
    CHECK(indices[0] == 2);  // the last to arrive (party 2) passes first, without parking
    CHECK_FALSE(barrier.broken());
    CHECK(barrier.n_waiting() == 0);
}

TEST_CASE("Barrier: a waiter's timeout breaks it for every waiter and later wait, until reset()") {
    green::Barrier barrier(3);
    int broken_seen = 0;
    auto patient = green::spawn([&] {
        try {
            barrier.wait();
        } catch (const green::BrokenBarrier&) {
            ++broken_seen;
        }
    });
    green::sleep(0.005);
    Stopwatch sw;
    CHECK_THROWS_AS(barrier.wait(0.03), green::BrokenBarrier);  // its own timeout: broken
    CHECK(sw.elapsed() >= 0.03 - kEps);
    CHECK(patient.join(1.0));
    CHECK(broken_seen == 1);
    CHECK(barrier.broken());
    CHECK_THROWS_AS(barrier.wait(1.0), green::BrokenBarrier);  // at once
    barrier.reset();
    CHECK_FALSE(barrier.broken());
    // Whole again: three parties pass.
    std::vector<green::Greenlet<size_t>> gs;
    for (int i = 0; i < 3; ++i) gs.push_back(green::spawn([&] { return barrier.wait(1.0); }));
    CHECK(green::joinall(gs, 1.0));
    for (auto& g : gs) CHECK(g.successful());
}

TEST_CASE("Barrier: abort(), a killed waiter, reset() with waiters, a party on another OS thread") {
    green::Barrier barrier(2);
    auto w = green::spawn([&] { return barrier.wait(); });
    green::sleep(0.005);
    barrier.abort();
    CHECK_THROWS_AS(w.get(1.0), green::BrokenBarrier);
    barrier.reset();

    auto k = green::spawn([&] { barrier.wait(); });
    green::sleep(0.005);
    CHECK(k.kill(1.0));
    CHECK(k.killed());
    CHECK(barrier.broken());  // a killed waiter breaks the round
    barrier.reset();

    auto r = green::spawn([&] { barrier.wait(); });
    green::sleep(0.005);
    barrier.reset();  // its round is broken for it; whole once it has left
    CHECK_THROWS_AS(r.get(1.0), green::BrokenBarrier);
    CHECK_FALSE(barrier.broken());

    size_t mine = 99;
    std::thread th([&] { mine = barrier.wait(2.0); });  // the thread's own hub parks it
    size_t ours = barrier.wait(2.0);
    th.join();
    CHECK(mine + ours == 1);  // indices 0 and 1
    CHECK_THROWS_AS(green::Barrier(0), std::invalid_argument);
}
