// tests/core/thread_test.cpp: wake-ups across OS threads, hubs on several threads, ThreadPool.
// Every std::thread is joined and every ThreadPool destroyed before its test ends: LoopExit
// detection counts the process's threads, and later tests rely on there being none.
#include "test_util.hpp"

#include "../../libgreen/hub/hub.hpp"  // white-box: what GREEN_HUBS is built on

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using tu::kEps;
using tu::Stopwatch;

namespace {
void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
}  // namespace

// ---- a std::thread wakes a greenlet of the main thread -----------------------------------------

TEST_CASE("cross-thread: std::thread sets an Event that main-thread greenlets wait on") {
    green::Event ev;
    bool spawned_woken = false;
    auto g = green::spawn([&] { spawned_woken = ev.wait(2.0); });
    Stopwatch sw;
    std::thread th([&] {
        sleep_ms(30);
        ev.set();
    });
    CHECK(ev.wait(2.0));  // the root greenlet waits too
    CHECK(sw.elapsed() >= 0.03 - kEps);
    CHECK(sw.elapsed() < 1.0);
    CHECK(g.join(1.0));
    CHECK(spawned_woken);
    th.join();
}

TEST_CASE("cross-thread: std::thread sets an AsyncResult") {
    green::AsyncResult<int> ar;
    std::thread th([ar]() mutable {
        sleep_ms(20);
        ar.set(99);
    });
    CHECK(ar.get(2.0) == 99);
    th.join();
    green::AsyncResult<int> failing;
    std::thread th2(
        [failing]() mutable { failing.set_exception(std::make_exception_ptr(std::runtime_error("remote"))); });
    CHECK_THROWS_WITH_AS(failing.get(2.0), "remote", std::runtime_error);
    th2.join();
}

TEST_CASE("cross-thread: std::thread releases a Semaphore, one unit per waiter") {
    green::Semaphore sem(0);
    int got = 0;
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < 4; ++i)
        gs.push_back(green::spawn([&] {
            if (sem.acquire(2.0)) ++got;
        }));
    green::sleep(0.01);
    std::thread th([&] {
        for (int i = 0; i < 4; ++i) {
            sem.release();
            sleep_ms(2);
        }
    });
    CHECK(green::joinall(gs, 3.0));
    th.join();
    CHECK(got == 4);
    CHECK(sem.counter() == 0);
}

TEST_CASE("cross-thread: std::thread puts into a Queue a greenlet reads, in order, nothing lost") {
    green::Queue<int> q(16);  // bounded: the thread's own puts park on its own hub when full
    constexpr int kItems = 2000;
    std::thread th([&] {
        for (int i = 0; i < kItems; ++i) q.put(i);
    });
    auto reader = green::spawn([&] {
        for (int i = 0; i < kItems; ++i)
            if (q.get(2.0) != i) return false;
        return true;
    });
    CHECK(reader.get());
    th.join();
    CHECK(q.empty());
}

TEST_CASE("cross-thread: kill() from another thread ends a greenlet blocked on the main hub") {
    green::Event never;
    auto g = green::spawn([&] { never.wait(); });
    green::sleep(0.01);
    bool killed_in_time = false;
    std::thread th([&] { killed_in_time = g.kill(2.0); });
    CHECK(g.join(2.0));
    th.join();
    CHECK(killed_in_time);
    CHECK(g.killed());
}

// ---- hubs on several OS threads ------------------------------------------------------------------

TEST_CASE("4 OS threads, each running its own hub with greenlets") {
    std::atomic<int> total{0};
    std::vector<std::thread> threads;
    std::vector<double> took(4);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            Stopwatch sw;
            green::Queue<int> q;
            std::vector<green::Greenlet<int>> gs;
            for (int i = 0; i < 100; ++i)
                gs.push_back(green::spawn([&q, i] {
                    green::sleep(0.05);
                    q.put(i);
                    return i;
                }));
            int sum = 0;
            for (int i = 0; i < 100; ++i) sum += q.get(5.0);
            for (auto& g : gs) sum -= g.get();  // each greenlet's value came through the queue too
            if (sum == 0) total += 100;
            took[t] = sw.elapsed();
        });
    for (auto& th : threads) th.join();
    CHECK(total == 400);
    for (double d : took) CHECK(d < 2.0);  // the 100 sleeps of each hub overlapped
}

TEST_CASE("greenlets on two hubs talk through Queues (ping-pong across threads)") {
    green::Queue<int> ping, pong;
    constexpr int kRounds = 500;
    std::thread a([&] {
        auto g = green::spawn([&] {
            for (int i = 0; i < kRounds; ++i) ping.put(i);
        });
        int bad = 0;
        for (int i = 0; i < kRounds; ++i)
            if (pong.get(5.0) != i + 1) ++bad;
        g.join();
        CHECK(bad == 0);
    });
    std::thread b([&] {
        auto g = green::spawn([&] {
            for (int i = 0; i < kRounds; ++i) pong.put(ping.get(5.0) + 1);
        });
        CHECK(g.join(10.0));
    });
    a.join();
    b.join();
    CHECK(ping.empty());
    CHECK(pong.empty());
}

TEST_CASE("a greenlet on one hub waits on an Event set by a greenlet of another hub") {
    green::Event ev;
    green::AsyncResult<bool> result;
    std::thread waiter([&, result]() mutable {
        auto g = green::spawn([&] { return ev.wait(5.0); });
        result.set(g.get());
    });
    std::thread setter([&] {
        auto g = green::spawn([&] {
            green::sleep(0.02);
            ev.set();
        });
        g.join();
    });
    CHECK(result.get(5.0));
    waiter.join();
    setter.join();
}

// ---- ThreadPool ----------------------------------------------------------------------------------

TEST_CASE("ThreadPool(4): 8 blocking 100 ms jobs take ~0.2 s and never block the hub") {
    int ticks = 0;
    bool stop = false;
    auto ticker = green::spawn([&] {
        while (!stop) {
            green::sleep(0.01);
            ++ticks;
        }
    });
    Stopwatch sw;
    {
        green::ThreadPool pool(4);
        CHECK(pool.size() == 4);
        std::vector<green::AsyncResult<int>> rs;
        for (int i = 0; i < 8; ++i)
            rs.push_back(pool.spawn([i] {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                return i * i;
            }));
        for (int i = 0; i < 8; ++i) CHECK(rs[i].get(5.0) == i * i);
    }
    double took = sw.elapsed();
    stop = true;
    ticker.join();
    CHECK(took >= 0.2 - kEps);
    CHECK(took < 0.7);  // on one thread (or a blocked hub) it would be 0.8 s
    // The hub kept running the ticker meanwhile: ~20 ticks of 10 ms; a blocked hub gives ~0.
    CHECK(ticks >= 8);
}

TEST_CASE("ThreadPool: exceptions travel through the result; apply(); void jobs") {
    green::ThreadPool pool(2);
    auto bad = pool.spawn([]() -> int { throw std::runtime_error("in worker"); });
    CHECK_THROWS_WITH_AS(bad.get(5.0), "in worker", std::runtime_error);
    CHECK_FALSE(bad.successful());
    CHECK(bad.exception());
    CHECK(pool.apply([] { return std::string("applied"); }) == "applied");
    CHECK_THROWS_AS(pool.apply([]() -> int { throw std::logic_error("x"); }), std::logic_error);
    std::atomic<bool> ran{false};
    green::AsyncResult<void> v = pool.spawn([&] { ran = true; });
    v.get(5.0);
    CHECK(ran);
}

TEST_CASE("ThreadPool: jobs run on other OS threads, in parallel") {
    green::ThreadPool pool(3);
    std::vector<green::AsyncResult<std::thread::id>> rs;
    std::atomic<int> inside{0}, most{0};
    for (int i = 0; i < 6; ++i)
        rs.push_back(pool.spawn([&] {
            int n = ++inside;
            int m = most.load();
            while (n > m && !most.compare_exchange_weak(m, n)) {}
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            --inside;
            return std::this_thread::get_id();
        }));
    std::set<std::thread::id> ids;
    for (auto& r : rs) ids.insert(r.get(5.0));
    CHECK_FALSE(ids.count(std::this_thread::get_id()));
    CHECK(ids.size() >= 2);
    CHECK(most.load() >= 2);
}

TEST_CASE("ThreadPool: the destructor finishes queued jobs") {
    std::atomic<int> done{0};
    {
        green::ThreadPool pool(1);
        for (int i = 0; i < 5; ++i)
            pool.spawn([&] {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                ++done;
            });
    }
    CHECK(done == 5);
}

TEST_CASE("ThreadPool: a waiting greenlet is not a deadlock while a job is outstanding") {
    // Only the root waits and no other thread but the (busy) worker exists: the hub must not
    // report LoopExit while the job runs.
    green::ThreadPool pool(1);
    auto r = pool.spawn([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return 5;
    });
    CHECK_NOTHROW(CHECK(r.get() == 5));
}

// ---- regressions ----------------------------------------------------------------------------------

// Regression test (fixed): Hub::interrupt() overwrites a pending exception. A kill that
// arrives (here from another thread) in the same loop tick as the target's green::Timeout expiry
// is replaced by TimeoutExpired; the target, which handles timeouts, survives the kill.
TEST_CASE("kill is not lost when a green::Timeout of the target expires in the same tick") {
    int timeouts = 0;
    auto g = green::spawn([&] {
        for (;;) {
            try {
                green::Timeout t(0.1);
                green::sleep(5);
            } catch (const green::Timeout::Expired&) {
                if (++timeouts >= 3) return;  // a program that retries on timeout
            }
        }
    });
    green::sleep(0.02);                  // g is parked, its Timeout due in ~0.08 s
    std::thread th([&] { g.kill(0); });  // the kill is queued for the main hub
    th.join();
    tu::spin_for(0.15);  // keep the hub busy until the Timeout is due as well
    CHECK(g.join(2.0));
    CHECK(g.killed());
    CHECK(timeouts == 0);
}

// Regression test (fixed): a thread that sets an Event and exits at once can make the hub
// report LoopExit although the wake-up is already queued: loop_main() drains the remote queue,
// then deadlocked() counts threads; a thread that pushes its wake and exits between the two is
// missed. Run in a child so that the stray LoopExits cannot disturb this process.
TEST_CASE("no spurious LoopExit when the waking thread exits right after its wake") {
    auto child = tu::run_in_child(
        [] {
            green::Event side;  // a greenlet woken by the thread keeps the hub cycling
            auto g = green::spawn([&] {
                for (;;) {
                    side.wait();
                    side.clear();
                }
            });
            green::sleep(0.001);
            int spurious = 0;
            for (int i = 0; i < 3000; ++i) {
                green::Event ev;
                double delay = (i % 100) * 1e-6;
                std::thread th([&] {
                    side.set();
                    tu::spin_for(delay);
                    ev.set();
                });
                try {
                    ev.wait();
                } catch (const green::LoopExit& e) {
                    if (++spurious == 1) printf("iteration %d: %s\n", i, e.what());
                }
                th.join();
            }
            printf("spurious LoopExits: %d of 3000\n", spurious);
            return spurious == 0 ? 0 : 1;
        },
        20.0);
    INFO(child.describe());
    CHECK(child.exited_with(0));
}

// Regression test (fixed): stacks taken by a thread are never given back when it exits:
// ~Hub does not release the hub fiber's own stack, and StackPool's per-thread cache of freed
// stacks is not flushed at thread exit. Each short-lived thread that runs a few greenlets leaks
// its hub stack and its cached stacks (two mappings each, with guard pages).
TEST_CASE("short-lived threads that run greenlets do not leak stacks") {
    // Hold enough default-size stacks that the pool's free list (at most 4096 kept) is empty: then
    // every stack a new thread takes is a fresh mapping, and one never given back shows in the count.
    green::Event release;
    std::vector<green::Greenlet<void>> holders;
    for (int i = 0; i < 4200; ++i) holders.push_back(green::spawn([&] { release.wait(); }));
    green::sleep(0.01);
    auto run_threads = [](int n) {
        for (int i = 0; i < n; ++i) {
            std::thread t([] {
                std::vector<green::Greenlet<void>> gs;
                for (int j = 0; j < 4; ++j) gs.push_back(green::spawn([] { green::sleep(0); }));
                green::joinall(gs);
            });
            t.join();
        }
    };
    long before = tu::map_count();
    run_threads(100);
    long after = tu::map_count();
    release.set();
    CHECK(green::joinall(holders, 5.0));
    INFO("mappings before " << before << ", after 100 threads " << after);
    CHECK(after - before < 50);
}

namespace {
// A result whose moved-from husk is slow to destroy: the worker destroys it inside the job, after
// result.set() has already woken the waiter and before the job's wrapper finishes.
struct SlowHusk {
    bool moved = false;
    SlowHusk() = default;
    SlowHusk(SlowHusk&& o) noexcept { o.moved = true; }
    SlowHusk(const SlowHusk&) = default;
    ~SlowHusk() {
        if (moved) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
};
}  // namespace

// Regression test (fixed): ThreadPool's job wrapper calls hub->remove_external() on the
// submitting thread's Hub *after* the result has woken the submitter; if that thread exits in
// between, its Hub has been deleted (HubOwner) and the worker writes into freed memory. In a
// plain build the use-after-free is silent, so this passes; built with -fsanitize=address (library
// included) it fails with heap-use-after-free in Hub::remove_external. Runs in a child to contain it.
TEST_CASE("ThreadPool: the submitting thread may exit as soon as it has its result") {
    auto child = tu::run_in_child(
        [] {
            green::ThreadPool pool(1);
            bool got = false;
            std::thread t([&] {
                pool.spawn([] { return SlowHusk{}; }).get();
                got = true;
            });  // its hub is destroyed at thread exit, while the job is still finishing
            t.join();
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            return got ? 0 : 1;
        },
        10.0);
    INFO(child.describe());
    CHECK(child.exited_with(0));
    CHECK_FALSE(child.has("AddressSanitizer"));
}

// Regression test (fixed): a fork child inherited the count of the parent's idle runtime threads
// (a ThreadPool's workers) although they are not in it, so its deadlock test saw no other OS
// thread that could wake it: a wait that another thread of the child ends was reported as
// LoopExit at once.
TEST_CASE("a fork child does not count the idle pool workers of its parent as threads it has") {
    green::ThreadPool pool(2);
    CHECK(pool.apply([] { return 1; }) == 1);  // both workers now exist, idle
    green::sleep(0.01);
    auto child = tu::run_in_child(
        [] {
            green::Event ev;
            std::thread th([&] {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                ev.set();
            });
            int rc = 0;
            try {
                ev.wait();
            } catch (const green::LoopExit& e) {
                printf("%s\n", e.what());
                rc = 1;
            }
            th.join();
            return rc;
        },
        20.0);
    INFO(child.describe());
    CHECK(child.exited_with(0));
}

// ---- one hub acting on another's thread (what GREEN_HUBS's group is built on) -----------------

namespace {
struct RecordingTask final : green::detail::Task {
    std::atomic<pid_t> ran_on{0};
    void run() override { ran_on.store(gettid()); }
};
}  // namespace

TEST_CASE(
    "a task scheduled from another thread starts on its hub's thread; Hub::call runs there and "
    "returns once it ran") {
    using green::detail::Hub;
    std::atomic<Hub*> hub_b{nullptr};
    std::atomic<pid_t> tid_b{0};
    green::Event stop;
    std::thread b([&] {
        tid_b.store(gettid());
        hub_b.store(&Hub::current());
        stop.wait();  // B's root parks: its hub runs what others give it
    });
    while (!hub_b.load()) sleep_ms(1);

    auto* t = new RecordingTask;  // the creator's reference, dropped below
    hub_b.load()->schedule(t);
    Stopwatch sw;
    while (t->ran_on.load() == 0 && sw.elapsed() < 5) green::sleep(0.001);
    CHECK(t->ran_on.load() == tid_b.load());

    struct Arg {
        pid_t ran_on = 0;
        int ticks_seen = -1;
        std::atomic<int>* ticks;
    };
    std::atomic<int> ticks{0};
    auto ticker = green::spawn([&] {
        for (int i = 0; i < 20; ++i) {
            ticks.fetch_add(1);
            green::sleep(0.001);
        }
    });
    Arg arg{0, -1, &ticks};
    green::sleep(0.003);
    hub_b.load()->call(
        [](Hub&, void* p) {
            auto* a = static_cast<Arg*>(p);
            a->ran_on = gettid();
            a->ticks_seen = a->ticks->load();
        },
        &arg);
    CHECK(arg.ran_on == tid_b.load());
    CHECK(arg.ticks_seen >= 0);  // it ran before call() returned
    ticker.join();
    CHECK(ticks.load() == 20);

    stop.set();
    b.join();
    t->release();
}
