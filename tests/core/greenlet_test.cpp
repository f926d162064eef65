// tests/core/greenlet_test.cpp: spawn, join, get, kill, link, sleep/yield, getcurrent, local<T>,
// empty handles, operator<<, spawn_later, sleep_until, and the kill contract shared by every
// waiting primitive (wait_fixtures.hpp).
#include "wait_fixtures.hpp"

#include <cfenv>
#include <chrono>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using tu::kEps;
using tu::Stopwatch;

TEST_CASE("spawn: the issue's example, get() returns 42 after about 0.2 s") {
    Stopwatch sw;
    green::Greenlet<int> g = green::spawn(
        [](int x) {
            green::sleep(0.2);
            return x * 2;
        },
        21);
    CHECK(g.get() == 42);
    CHECK(sw.elapsed() >= 0.2 - kEps);
    CHECK(sw.elapsed() < 2.0);
    CHECK(g.dead());
    CHECK(g.successful());
    CHECK(g.value() == 42);
}

TEST_CASE("spawn: 1000 greenlets sleeping 200 ms each, joined with joinall, run concurrently") {
    Stopwatch sw;
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < 1000; ++i) gs.push_back(green::spawn([] { green::sleep(std::chrono::milliseconds(200)); }));
    CHECK(green::joinall(gs));
    CHECK(sw.elapsed() >= 0.2 - kEps);
    CHECK(sw.elapsed() < 2.0);  // sequentially it would take 200 s; even 100 x 0.2 s would be 20 s
    for (auto& g : gs) CHECK(g.successful());
}

TEST_CASE("spawn never switches: the body starts when the caller waits or yields") {
    bool ran = false;
    auto g = green::spawn([&] { ran = true; });
    CHECK_FALSE(ran);
    CHECK_FALSE(g.dead());
    green::sleep(0);
    CHECK(ran);
    CHECK(g.join(0.5));
}

TEST_CASE("spawn: arguments are taken by value, move-only ones too; void greenlets") {
    std::string s = "abc";
    auto g1 = green::spawn([](std::string v) { return v + "d"; }, s);
    auto g2 = green::spawn([](std::unique_ptr<int> p) { return *p + 1; }, std::make_unique<int>(41));
    int n = 0;
    green::Greenlet<void> g3 = green::spawn([&n] { n = 5; });
    s = "changed";
    CHECK(g1.get() == "abcd");
    CHECK(g2.get() == 42);
    g3.get();
    CHECK(n == 5);
}

TEST_CASE("spawn: a greenlet runs to its end even if every handle is dropped") {
    auto done = std::make_shared<green::Event>();
    green::spawn([done] {
        green::sleep(0.01);
        done->set();
    });
    CHECK(done->wait(1.0));
}

TEST_CASE("join(timeout): false while running, true once it ended") {
    auto g = green::spawn([] { green::sleep(0.1); });
    Stopwatch sw;
    CHECK_FALSE(g.join(0.02));
    CHECK(sw.elapsed() >= 0.02 - kEps);
    CHECK(g.join(0.5));
    CHECK(g.dead());
    CHECK(g.join(0.5));  // joining a dead greenlet returns at once
}

TEST_CASE("get(timeout) on a running greenlet throws TimeoutExpired with no Timeout object") {
    auto g = green::spawn([] {
        green::sleep(0.2);
        return 1;
    });
    bool thrown = false;
    try {
        g.get(0.02);
    } catch (const green::TimeoutExpired& e) {
        thrown = true;
        CHECK(e.timeout == nullptr);  // distinguishes it from an outer green::Timeout
    }
    CHECK(thrown);
    CHECK(g.get() == 1);
}

TEST_CASE("a greenlet cannot join itself") {
    auto g = std::make_shared<green::GreenletBase>();
    auto self = green::spawn([g] {
        try {
            g->join();
        } catch (const std::logic_error&) {
            return true;
        }
        return false;
    });
    *g = self;
    CHECK(self.get() == true);
}

TEST_CASE("exceptions cross get(): rethrown, exception() returns it, successful() is false") {
    auto g = green::spawn([]() -> int { throw std::runtime_error("boom"); });
    CHECK(g.join(1.0));
    CHECK(g.dead());
    CHECK_FALSE(g.successful());
    CHECK_FALSE(g.killed());
    CHECK_FALSE(g.value().has_value());
    REQUIRE(g.exception());
    try {
        std::rethrow_exception(g.exception());
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == "boom");
    }
    CHECK_THROWS_WITH_AS(g.get(), "boom", std::runtime_error);
    CHECK_THROWS_AS(g.get(), std::runtime_error);  // every get() rethrows it
}

// joinall(raise_error): wait_test.cpp (it rethrows as soon as one fails, as gevent's).

TEST_CASE("kill(): GreenletExit is thrown at the wait point; catch(std::exception&) does not stop it") {
    bool saw_exit = false, swallowed = false, after = false;
    auto g = green::spawn([&] {
        try {
            green::sleep(10);
        } catch (const std::exception&) {
            swallowed = true;
        } catch (const green::GreenletExit&) {
            saw_exit = true;
            throw;
        }
        after = true;
    });
    green::sleep(0.01);  // let it park in sleep
    Stopwatch sw;
    CHECK(g.kill());
    CHECK(sw.elapsed() < 1.0);
    CHECK(saw_exit);
    CHECK_FALSE(swallowed);
    CHECK_FALSE(after);
    CHECK(g.dead());
    CHECK(g.killed());
    CHECK_FALSE(g.successful());
    CHECK_FALSE(g.exception());  // killed is not failed
    CHECK_THROWS_AS(g.get(), green::GreenletExit);
    CHECK(g.kill());  // killing a dead greenlet is a no-op
}

TEST_CASE("kill(): a greenlet killed before it started never runs its body") {
    bool ran = false;
    auto g = green::spawn([&] { ran = true; });
    CHECK(g.kill());
    CHECK_FALSE(ran);
    CHECK(g.killed());
    green::sleep(0.01);
    CHECK_FALSE(ran);
}

TEST_CASE("kill(timeout): false if the greenlet outlives the timeout") {
    // This one swallows its first GreenletExit and keeps going until the second.
    int exits = 0;
    auto g = green::spawn([&] {
        try {
            green::sleep(10);
        } catch (const green::GreenletExit&) {
            ++exits;
        }
        green::sleep(10);
    });
    green::sleep(0.01);
    Stopwatch sw;
    CHECK_FALSE(g.kill(0.05));
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(exits == 1);
    CHECK(g.kill(1.0));
    CHECK(g.killed());
}

TEST_CASE("kill(): a greenlet killing itself ends killed") {
    auto g = std::make_shared<green::GreenletBase>();
    bool after = false;
    auto self = green::spawn([g, &after] {
        g->kill();
        after = true;
    });
    *g = self;
    CHECK(self.join(1.0));
    CHECK(self.killed());
    CHECK_FALSE(after);
}

TEST_CASE("killall kills every greenlet and waits for them") {
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < 10; ++i) gs.push_back(green::spawn([] { green::sleep(10); }));
    green::sleep(0.01);
    Stopwatch sw;
    green::killall(gs);
    CHECK(sw.elapsed() < 1.0);
    for (auto& g : gs) CHECK(g.killed());
}

TEST_CASE("kill(exception): the greenlet dies of the chosen exception, failed and not killed") {
    std::string caught;
    auto g = green::spawn([&] {
        try {
            green::sleep(10);
        } catch (const std::out_of_range& e) {
            caught = e.what();
            throw;
        }
    });
    green::sleep(0.01);
    Stopwatch sw;
    CHECK(g.kill(std::out_of_range("stop now")));
    CHECK(sw.elapsed() < 1.0);
    CHECK(caught == "stop now");
    CHECK(g.dead());
    CHECK_FALSE(g.killed());
    CHECK_FALSE(g.successful());
    CHECK_THROWS_WITH_AS(g.get(), "stop now", std::out_of_range);

    // The exception_ptr form: the greenlet dies of that very exception object.
    auto e = std::make_exception_ptr(std::runtime_error("ptr"));
    auto h = green::spawn([] { green::sleep(10); });
    green::sleep(0.01);
    CHECK(h.kill(e, 1.0));
    CHECK(h.exception() == e);
    // A null exception_ptr means GreenletExit; kill(0) still means "timeout 0".
    auto n = green::spawn([] { green::sleep(10); });
    green::sleep(0.01);
    CHECK_FALSE(n.kill(0));
    CHECK(n.join(1.0));
    CHECK(n.killed());
    auto z = green::spawn([] { green::sleep(10); });
    green::sleep(0.01);
    CHECK(z.kill(std::exception_ptr{}, 1.0));
    CHECK(z.killed());
}

TEST_CASE("kill(exception): caught, the greenlet goes on; before it started, it never runs; killing itself throws it") {
    auto g = green::spawn([] {
        try {
            green::sleep(10);
        } catch (const std::invalid_argument&) {
            return 1;  // handled: ends normally
        }
        return 0;
    });
    green::sleep(0.01);
    CHECK(green::kill(g, std::invalid_argument("x")));  // gevent.kill(greenlet, exception)
    CHECK(g.get() == 1);

    bool ran = false;
    auto fresh = green::spawn([&] { ran = true; });
    CHECK(fresh.kill(std::logic_error("early")));
    CHECK_FALSE(ran);
    CHECK_THROWS_WITH_AS(fresh.get(), "early", std::logic_error);

    auto self = std::make_shared<green::GreenletBase>();
    auto s = green::spawn([self] { self->kill(std::domain_error("me")); });
    *self = s;
    CHECK(s.join(1.0));
    CHECK_THROWS_AS(s.get(), std::domain_error);
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < 3; ++i) gs.push_back(green::spawn([] { green::sleep(10); }));
    green::sleep(0.01);
    green::killall(gs, std::runtime_error("all"));
    for (auto& x : gs) CHECK_THROWS_WITH_AS(x.get(), "all", std::runtime_error);
}

TEST_CASE("sleep(0) yields: every other ready greenlet runs once, in order") {
    std::vector<int> order;
    auto a = green::spawn([&] {
        order.push_back(1);
        green::sleep(0);
        order.push_back(3);
    });
    auto b = green::spawn([&] {
        order.push_back(2);
        green::yield();
        order.push_back(4);
    });
    green::sleep(0);
    CHECK(order == std::vector<int>{1, 2});  // both ran once before the caller came back
    green::joinall(std::vector<green::GreenletBase>{a, b});
    CHECK(order == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("sleep: waits at least the time asked, with doubles and chrono durations") {
    Stopwatch sw;
    green::sleep(0.03);
    CHECK(sw.elapsed() >= 0.03 - kEps);
    Stopwatch sw2;
    green::sleep(std::chrono::milliseconds(30));
    CHECK(sw2.elapsed() >= 0.03 - kEps);
    CHECK(sw2.elapsed() < 0.5);
}

TEST_CASE("sleep: a long-running yielder does not starve timers") {
    // Pure sleep(0) loops must still let the hub run due timers (budgeted round).
    bool timer_done = false;
    auto t = green::spawn([&] {
        green::sleep(0.02);
        timer_done = true;
    });
    Stopwatch sw;
    while (!timer_done && sw.elapsed() < 2.0) green::sleep(0);
    CHECK(timer_done);
    CHECK(sw.elapsed() < 0.5);
    t.join();
}

TEST_CASE("link, link_value, link_exception: which fire, in which context, and on dead greenlets") {
    SUBCASE("success") {
        std::vector<std::string> calls;
        green::GreenletBase ctx_in_link;
        auto g = green::spawn([] { return 1; });
        g.link([&](green::GreenletBase d) {
            calls.push_back("link");
            CHECK(d == g);
            ctx_in_link = green::getcurrent();
        });
        g.link_value([&](green::GreenletBase) { calls.push_back("value"); });
        g.link_exception([&](green::GreenletBase) { calls.push_back("exception"); });
        g.join();
        CHECK(calls == std::vector<std::string>{"link", "value"});
        CHECK(ctx_in_link == g);  // runs in the greenlet's own context, just before it exits
    }
    SUBCASE("failure") {
        std::vector<std::string> calls;
        auto g = green::spawn([] { throw std::runtime_error("x"); });
        g.link([&](green::GreenletBase) { calls.push_back("link"); });
        g.link_value([&](green::GreenletBase) { calls.push_back("value"); });
        g.link_exception([&](green::GreenletBase d) {
            calls.push_back("exception");
            CHECK(d.exception() != nullptr);
        });
        g.join();
        CHECK(calls == std::vector<std::string>{"link", "exception"});
    }
    SUBCASE("killed: only plain link fires") {
        std::vector<std::string> calls;
        auto g = green::spawn([] { green::sleep(10); });
        g.link([&](green::GreenletBase) { calls.push_back("link"); });
        g.link_value([&](green::GreenletBase) { calls.push_back("value"); });
        g.link_exception([&](green::GreenletBase) { calls.push_back("exception"); });
        green::sleep(0.01);
        g.kill();
        CHECK(calls == std::vector<std::string>{"link"});
    }
    SUBCASE("linking a dead greenlet calls at once") {
        auto g = green::spawn([] { return 2; });
        g.join();
        int called = 0;
        g.link([&](green::GreenletBase) { ++called; });
        g.link_value([&](green::GreenletBase) { ++called; });
        CHECK(called == 2);
    }
}

TEST_CASE("getcurrent(): identity of the running greenlet and of the main one") {
    auto root = green::getcurrent();
    CHECK(root);
    CHECK(root == green::getcurrent());
    CHECK(root.name() == "main");
    green::GreenletBase seen_a, seen_b;
    auto a = green::spawn([&] { seen_a = green::getcurrent(); });
    auto b = green::spawn([&] {
        green::sleep(0);
        seen_b = green::getcurrent();
    });
    green::joinall(std::vector<green::GreenletBase>{a, b});
    CHECK(seen_a == a);
    CHECK(seen_b == b);
    CHECK_FALSE(seen_a == seen_b);
    CHECK(seen_a.id() == a.id());
    CHECK(a.id() != b.id());
    CHECK_FALSE(root == a);
    CHECK(green::getcurrent() == root);
}

TEST_CASE("spawn_with: name and stack size options; set_name") {
    green::SpawnOptions opts;
    opts.stack_size = 1 << 20;
    opts.name = "worker";
    auto g = green::spawn_with(opts, [] {
        // Uses ~512 KiB of stack: needs the 1 MiB asked for (the default is 256 KiB).
        volatile char big[512 * 1024];
        big[0] = 1;
        big[sizeof big - 1] = 2;
        return green::getcurrent().name();
    });
    CHECK(g.name() == "worker");
    CHECK(g.get() == "worker");
    g.set_name("renamed");
    CHECK(g.name() == "renamed");
}

namespace {
struct Tracked {
    static inline int destroyed = 0;
    int value = -1;
    ~Tracked() { ++destroyed; }
};
}  // namespace

TEST_CASE("local<T>: one value per greenlet, destroyed when the greenlet ends") {
    static green::local<Tracked> slot;
    Tracked::destroyed = 0;
    slot->value = 100;  // the main greenlet's own value
    std::vector<green::Greenlet<int>> gs;
    for (int i = 0; i < 5; ++i)
        gs.push_back(green::spawn([i] {
            CHECK(slot->value == -1);  // default-constructed on first use
            slot->value = i;
            green::sleep(0.01);  // others set theirs meanwhile
            return slot.get().value;
        }));
    for (int i = 0; i < 5; ++i) CHECK(gs[i].get() == i);
    CHECK(Tracked::destroyed == 5);
    CHECK(slot->value == 100);

    // A killed greenlet's values are destroyed too.
    auto k = green::spawn([] {
        slot->value = 7;
        green::sleep(10);
    });
    green::sleep(0.01);
    k.kill();
    CHECK(Tracked::destroyed == 6);
}

// ---- kill contract: a greenlet killed in any wait ends killed, and the object still works ----

TEST_CASE("kill while blocked in sleep") {
    auto g = green::spawn([] { green::sleep(10); });
    green::sleep(0.01);
    Stopwatch sw;
    CHECK(g.kill(1.0));
    CHECK(g.killed());
    CHECK(sw.elapsed() < 0.5);
    Stopwatch s2;
    green::sleep(0.02);  // the killed sleep's timer does not disturb a later one
    CHECK(s2.elapsed() >= 0.02 - kEps);
}

TEST_CASE_TEMPLATE("kill contract (d): killed while waiting, then the object still works", F, GREEN_WAIT_FIXTURES) {
    INFO(std::string(F::name));
    F f;
    bool returned = false;
    auto w = green::spawn([&] {
        f.wait(green::forever);
        returned = true;
    });
    green::sleep(0.02);
    REQUIRE_FALSE(w.dead());  // it is parked in the wait
    Stopwatch sw;
    CHECK(w.kill(1.0));
    CHECK(sw.elapsed() < 0.5);
    CHECK(w.killed());
    CHECK_FALSE(returned);
    fx::check_works_normally(f);
    // And a second waiter after the kill: timeouts are unaffected.
    Stopwatch s2;
    CHECK_FALSE(f.wait(0.02));
    CHECK(s2.elapsed() >= 0.02 - kEps);
}

TEST_CASE_TEMPLATE("kill contract (e): a waiter killed right after its wake passes the wake on", F,
                   GREEN_WAIT_FIXTURES) {
    // A and B wait; one wake arrives (for a Consume or Edge kind it goes to A alone); A is killed
    // before it could run. The wake must not die with A: B must get it (no lost wake-up).
    INFO(std::string(F::name));
    F f;
    bool a_got = false, b_got = false;
    auto a = green::spawn([&] { a_got = f.wait(green::forever); });
    auto b = green::spawn([&] { b_got = f.wait(green::forever); });
    green::sleep(0.02);
    REQUIRE_FALSE(a.dead());
    REQUIRE_FALSE(b.dead());
    f.wake();
    a.kill(0);  // pending GreenletExit: thrown when A next runs, which is after its wake-up
    CHECK(b.join(1.0));
    CHECK(b_got);
    CHECK(a.join(1.0));
    CHECK(a.killed());
    CHECK_FALSE(a_got);
    if (!b.dead()) b.kill();
}

// ---- LoopExit -----------------------------------------------------------------------------------

// Waiting forever on something nobody can set throws LoopExit in the thread's root greenlet (not a
// hang). It needs a process with no other thread, so it runs in a fork()ed child.
TEST_CASE("LoopExit: waiting on an Event nobody can set names the waiters and what they wait on") {
    // Suite hygiene: every test joins its threads and destroys its ThreadPools.
    CHECK(tu::thread_count() == 1);
    auto child = tu::run_in_child(
        [] {
            green::Event never;
            green::SpawnOptions opts;
            opts.name = "stuck-worker";
            auto g = green::spawn_with(opts, [&] { never.wait(); });
            try {
                never.wait();
                printf("wait returned\n");
                return 2;
            } catch (const green::LoopExit& e) {
                printf("%s\n", e.what());
            }
            // The hub is still usable afterwards: the stuck greenlet can be released.
            never.set();
            if (!g.join(1.0)) return 3;
            // Joining a greenlet that waits forever is reported too, naming the join.
            green::Event never2;
            auto h = green::spawn([&] { never2.wait(); });
            try {
                h.join();
                return 4;
            } catch (const green::LoopExit& e) {
                printf("second: %s\n", e.what());
            }
            return 0;
        },
        10.0);
    INFO(child.describe());
    REQUIRE(child.exited_with(0));
    CHECK(child.has("LoopExit"));
    CHECK(child.has("Event"));         // what they wait on
    CHECK(child.has("stuck-worker"));  // which greenlet
    CHECK(child.has("'main'"));
    CHECK(child.has("second:"));
    CHECK(child.has("join"));
}

TEST_CASE("no LoopExit while a timer can still wake someone") {
    // The root waits on an Event only a sleeping greenlet will set: not a deadlock.
    green::Event ev;
    auto g = green::spawn([&] {
        green::sleep(0.05);
        ev.set();
    });
    CHECK_NOTHROW(CHECK(ev.wait()));
    g.join();
}

TEST_CASE("each greenlet keeps its own floating-point rounding mode across switches, as a thread does") {
    const int outer = fegetround();
    int seen_a = -1, seen_b = -1;
    volatile double x = 1.0, y = 3.0;  // volatile: divided at run time, in the current mode
    double down = 0, up = 0;
    auto a = green::spawn([&] {
        fesetround(FE_DOWNWARD);
        green::sleep(0);  // b runs now, with its own mode
        seen_a = fegetround();
        down = x / y;
    });
    auto b = green::spawn([&] {
        fesetround(FE_UPWARD);
        green::sleep(0);
        seen_b = fegetround();
        up = x / y;
    });
    a.join();
    b.join();
    CHECK(seen_a == FE_DOWNWARD);
    CHECK(seen_b == FE_UPWARD);
    CHECK(down < up);
    CHECK(fegetround() == outer);  // the root task's mode is untouched
}

// ---- empty handles, printing, spawn_later, sleep_until (issue 16) -------------------------------

TEST_CASE("empty handle: GreenletBase{} and a moved-from one give empty values; acting on them throws logic_error") {
    green::GreenletBase none;
    CHECK_FALSE(none);
    CHECK(none.name().empty());
    CHECK(none.id() == 0);
    CHECK_FALSE(none.dead());
    CHECK_FALSE(none.started());
    CHECK_FALSE(none.successful());
    CHECK_FALSE(none.killed());
    CHECK(none.exception() == nullptr);
    CHECK(none.join(0.0));  // nothing to wait for
    CHECK(none.kill(0.0));
    CHECK_THROWS_WITH_AS(none.set_name("x"), "green: set_name() on an empty greenlet handle", std::logic_error);
    CHECK_THROWS_AS(none.link([](green::GreenletBase) {}), std::logic_error);
    CHECK_THROWS_AS(none.link_value([](green::GreenletBase) {}), std::logic_error);
    green::Greenlet<int> empty_int;
    CHECK_FALSE(empty_int.value().has_value());
    CHECK_THROWS_WITH_AS(empty_int.get(), "green: get() on an empty greenlet handle", std::logic_error);
    CHECK_THROWS_AS(green::Greenlet<void>{}.get(), std::logic_error);

    auto g = green::spawn_with({.name = "mover"}, [] { return 1; });
    auto moved = std::move(g);
    CHECK(g.name().empty());  // NOLINT: the moved-from handle is empty, not dangling
    CHECK(moved.name() == "mover");
    CHECK(moved.get() == 1);
}

namespace {
std::string str(const green::GreenletBase& g) {
    std::ostringstream os;
    os << g;
    return os.str();
}
}  // namespace

TEST_CASE("operator<<: a greenlet prints its id, name and state") {
    CHECK(str(green::GreenletBase{}) == "<Greenlet empty>");
    green::Event ev;
    auto g = green::spawn_with({.name = "worker"}, [&] { ev.wait(); });
    std::string id = std::to_string(g.id());
    CHECK(str(g) == "<Greenlet #" + id + " \"worker\" ready>");
    green::sleep(0);
    CHECK(str(g) == "<Greenlet #" + id + " \"worker\" parked (Event)>");
    ev.set();
    g.join();
    CHECK(str(g) == "<Greenlet #" + id + " \"worker\" dead>");

    auto self = green::spawn([] { return str(green::getcurrent()); });
    CHECK(self.get() == "<Greenlet #" + std::to_string(self.id()) + " running>");
    auto sleeper = green::spawn([] { green::sleep(10); });
    green::sleep(0);
    CHECK(str(sleeper) == "<Greenlet #" + std::to_string(sleeper.id()) + " parked (sleep)>");
    sleeper.kill();
    CHECK(str(sleeper) == "<Greenlet #" + std::to_string(sleeper.id()) + " killed>");
    auto bad = green::spawn([] { throw std::runtime_error("x"); });
    bad.join();
    CHECK(str(bad) == "<Greenlet #" + std::to_string(bad.id()) + " failed>");
    CHECK(bad.exception());  // retrieved: not reported at exit
}

TEST_CASE("spawn_later(0.05, f, args): f runs after the delay with its arguments; killed before, never") {
    Stopwatch sw;
    double started_at = -1;
    auto g = green::spawn_later(
        0.05,
        [&](int x, std::unique_ptr<int> p) {
            started_at = sw.elapsed();
            return x + *p;
        },
        40, std::make_unique<int>(2));
    green::sleep(0.02);
    CHECK(started_at < 0);  // still in its delay
    CHECK(g.get(1.0) == 42);
    CHECK(started_at >= 0.05 - kEps);
    CHECK(started_at < 0.5);

    bool ran = false;
    auto never = green::spawn_later(std::chrono::milliseconds(50), [&] { ran = true; });
    green::sleep(0.01);
    CHECK(never.kill(1.0));
    CHECK(never.killed());
    green::sleep(0.08);
    CHECK_FALSE(ran);

    auto now = green::spawn_later(-1, [] { return 7; });  // <= 0: as spawn, not "forever"
    CHECK(now.get(0.5) == 7);
}

TEST_CASE("sleep_until: steady_clock and system_clock time points; a past one only yields") {
    using namespace std::chrono;
    auto t0 = steady_clock::now();
    green::sleep_until(t0 + milliseconds(50));
    CHECK(steady_clock::now() >= t0 + milliseconds(50));
    CHECK(steady_clock::now() < t0 + milliseconds(500));

    auto w0 = system_clock::now();
    Stopwatch sw;
    green::sleep_until(w0 + milliseconds(40));
    CHECK(system_clock::now() >= w0 + milliseconds(40));
    CHECK(sw.elapsed() >= 0.04 - kEps);
    CHECK(sw.elapsed() < 0.5);

    // Other greenlets run meanwhile; a time point in the past yields once and returns.
    int ticks = 0;
    auto ticker = green::spawn([&] { ++ticks; });
    sw = Stopwatch{};
    green::sleep_until(steady_clock::now() - seconds(1));
    CHECK(sw.elapsed() < 0.05);
    CHECK(ticks == 1);
    ticker.join();
}

TEST_CASE("stop_token: a body taking a token gets its greenlet's; request_stop ends green::sleep early") {
    int turns = 0;
    auto g = green::spawn(
        [&](std::stop_token st, int step) {
            while (green::sleep(5, st)) turns += step;  // ends at the stop, not after 5 s
            return st.stop_requested() ? turns : -1;
        },
        1);
    green::sleep(0.01);
    tu::Stopwatch sw;
    CHECK(g.get_stop_token().stop_possible());
    CHECK(g.request_stop());
    CHECK_FALSE(g.request_stop());  // already requested
    CHECK(g.get(2.0) == 0);
    CHECK(sw.elapsed() < 1.0);
    // A body that takes no token: nothing to request; a variadic generic lambda gets none either.
    auto plain = green::spawn([] { return 1; });
    CHECK_FALSE(plain.request_stop());
    CHECK_FALSE(plain.get_stop_token().stop_possible());
    auto generic = green::spawn([](auto&&... a) { return int(sizeof...(a)); }, 5, 6);
    CHECK(generic.get() == 2);
    CHECK_FALSE(green::GreenletBase{}.request_stop());
}

TEST_CASE(
    "stop_token: sleep(s, token) sleeps the whole time when no stop comes; a stop from another OS thread ends it") {
    std::stop_source src;
    tu::Stopwatch sw;
    CHECK(green::sleep(0.02, src.get_token()));
    CHECK(sw.elapsed() >= 0.02 - tu::kEps);
    std::thread requester([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        src.request_stop();
    });
    sw = tu::Stopwatch();
    CHECK_FALSE(green::sleep(5, src.get_token()));
    CHECK(sw.elapsed() < 2.0);
    requester.join();
    CHECK_FALSE(green::sleep(1, src.get_token()));  // already requested: at once
    // std::stop_callback works with a greenlet's token (cooperative code polls or registers).
    bool called = false;
    auto g = green::spawn_later(0.01, [&](std::stop_token st) {
        std::stop_callback cb(st, [&] { called = true; });
        green::sleep(5, st);
    });
    green::sleep(0.02);
    g.request_stop();
    CHECK(g.join(2.0));
    CHECK(called);
}

TEST_CASE("gather: the values of all as a tuple; the first failure kills the rest and comes out") {
    auto a = green::spawn([] {
        green::sleep(0.02);
        return 1;
    });
    auto b = green::spawn([] { return std::string("two"); });
    auto c = green::spawn([] { green::sleep(0.01); });
    auto [x, y, z] = green::gather(a, b, c);
    CHECK(x == 1);
    CHECK(y == "two");
    (void)z;
    auto slow = green::spawn([] {
        green::sleep(5);
        return 0;
    });
    auto bad = green::spawn([]() -> int {
        green::sleep(0.01);
        throw std::runtime_error("bad");
    });
    tu::Stopwatch sw;
    CHECK_THROWS_AS(green::gather(slow, bad), std::runtime_error);
    CHECK(sw.elapsed() < 2.0);
    CHECK(slow.killed());
}

TEST_CASE("every: calls on schedule until a stop is requested, or until f returns false") {
    int ticks = 0;
    tu::Stopwatch sw;
    auto g = green::every(0.01, [&] { ++ticks; });
    green::sleep(0.055);
    CHECK(g.request_stop());
    CHECK(g.join(1.0));
    CHECK(ticks >= 3);
    CHECK(ticks <= 6);
    int left = 3;
    auto h = green::every(0.005, [&] { return --left > 0; });
    CHECK(h.join(2.0));
    CHECK(left == 0);
    // A tick that runs long skips the ticks it covered instead of running them late in a burst.
    int calls = 0;
    auto k = green::every(0.01, [&] {
        if (++calls == 1) tu::spin_for(0.05);  // the hub cannot run meanwhile
    });
    green::sleep(0.075);
    k.request_stop();
    k.join();
    CHECK(calls <= 4);
}
