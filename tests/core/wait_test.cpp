// tests/core/wait_test.cpp: green::wait, iwait / as_completed, joinall(raise_error) (issue 16).
// The timeout and kill contracts of wait() and iwait() run with the other primitives'
// (wait_fixtures.hpp: WaitAnyFx, IwaitQueueFx).
#include "test_util.hpp"

#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using tu::kEps;
using tu::Stopwatch;

TEST_CASE(
    "wait({...}, count, timeout): a greenlet, an Event, an AsyncResult, a Queue and a Channel, in the order they "
    "become ready") {
    green::Event ev;
    green::AsyncResult<int> ar;
    green::Queue<int> q;
    green::Channel<int> ch;
    auto g = green::spawn([&] {
        ev.wait();
        green::sleep(0.01);
    });
    auto setter = green::spawn([&] {
        green::sleep(0.01);
        q.put(1);
        green::sleep(0.01);
        ar.set(2);
        green::sleep(0.01);
        ev.set();
        g.join();   // g ends 10 ms after the set
        ch.put(3);  // a putter waiting makes the channel ready
    });
    Stopwatch sw;
    auto first = green::wait({g, ev, ar, q, ch}, 1);
    CHECK(first == std::vector<size_t>{3});  // the queue
    CHECK(sw.elapsed() >= 0.01 - kEps);
    CHECK(q.qsize() == 1);                       // reported, not taken
    auto all = green::wait({g, ev, ar, q, ch});  // count: all
    CHECK(all == std::vector<size_t>{3, 2, 1, 0, 4});
    CHECK(sw.elapsed() >= 0.04 - kEps);
    CHECK(ch.get() == 3);
    CHECK(setter.join(1.0));
}

TEST_CASE("wait: a put into a Queue or a Channel wakes it at once") {
    green::Queue<int> q;
    auto p = green::spawn([&] {
        green::sleep(0.01);
        q.put(1);
    });
    Stopwatch sw;
    CHECK(green::wait({q}, 1, 2.0) == std::vector<size_t>{0});
    CHECK(sw.elapsed() < 1.0);
    green::Channel<int> ch;
    auto c = green::spawn([&] {
        green::sleep(0.01);
        ch.put(2);
    });
    Stopwatch sw2;
    CHECK(green::wait({ch}, 1, 2.0) == std::vector<size_t>{0});
    CHECK(sw2.elapsed() < 1.0);
    CHECK(ch.get() == 2);
    CHECK(c.join(1.0));
    CHECK(p.join(1.0));
}

TEST_CASE("wait: a timeout returns those ready by then; 0 polls; an empty list returns at once") {
    green::Event a, b;
    b.set();
    Stopwatch sw;
    auto got = green::wait({a, b}, 2, 0.05);
    CHECK(got == std::vector<size_t>{1});
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(sw.elapsed() < 0.5);
    Stopwatch z;
    CHECK(green::wait({a}, 1, 0.0).empty());
    CHECK(green::wait({a, b}, 1, 0.0) == std::vector<size_t>{1});
    CHECK(z.elapsed() < 0.05);
    CHECK(green::wait(std::vector<green::GreenletBase>{}).empty());
    // A closed, empty queue is ready (a get would not wait: it throws Closed).
    green::Queue<int> q;
    q.close();
    CHECK(green::wait({q}, 1, 0.0) == std::vector<size_t>{0});
}

TEST_CASE("iwait / as_completed over greenlets: each once, as it ends; the timeout ends the iteration") {
    std::vector<green::Greenlet<int>> gs;
    for (int ms : {30, 10, 20})
        gs.push_back(green::spawn([ms] {
            green::sleep(ms / 1000.0);
            return ms;
        }));
    std::vector<int> order;
    for (size_t i : green::iwait(gs)) order.push_back(gs[i].get());
    CHECK(order == std::vector<int>{10, 20, 30});

    // Already ended ones first, in their order; then as they end.
    std::vector<green::GreenletBase> mixed{gs[2], green::spawn([] { green::sleep(0.02); }), gs[0]};
    auto it = green::as_completed(mixed);
    CHECK(it.next() == 0u);
    CHECK(it.next() == 2u);
    CHECK(it.remaining() == 1);
    CHECK(it.next() == 1u);
    CHECK_FALSE(it.next());

    // A timeout for the whole iteration.
    std::vector<green::Greenlet<void>> slow;
    for (int ms : {10, 300}) slow.push_back(green::spawn([ms] { green::sleep(ms / 1000.0); }));
    Stopwatch sw;
    std::vector<size_t> seen;
    for (size_t i : green::iwait(slow, 0.05)) seen.push_back(i);
    CHECK(seen == std::vector<size_t>{0});
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(sw.elapsed() < 0.25);
    green::killall(slow);
}

TEST_CASE("wait: many greenlets, one park; an Event set from another OS thread wakes it") {
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < 200; ++i) gs.push_back(green::spawn([i] { green::sleep(0.001 * (i % 20)); }));
    CHECK(green::wait(gs, SIZE_MAX, 2.0).size() == 200);
    green::Event ev;
    green::Queue<int> q;
    std::thread th([&] {
        tu::spin_for(0.02);
        ev.set();
    });
    Stopwatch sw;
    CHECK(green::wait({q, ev}, 1, 2.0) == std::vector<size_t>{1});
    CHECK(sw.elapsed() >= 0.02 - kEps);
    th.join();
}

TEST_CASE("wait: kill and green::Timeout are thrown at it; the objects are left unwatched") {
    green::Event ev;
    green::Queue<int> q;
    auto w = green::spawn([&] { green::wait({ev, q}); });
    green::sleep(0.01);
    CHECK(w.kill(1.0));
    CHECK(w.killed());
    bool expired = false;
    try {
        green::Timeout t(0.02);
        green::wait({ev, q});
    } catch (const green::Timeout::Expired&) {
        expired = true;
    }
    CHECK(expired);
    // Both still work: a getter gets its item, a waiter its set.
    auto getter = green::spawn([&] { return q.get(1.0); });
    green::sleep(0.005);
    q.put(5);
    CHECK(getter.get() == 5);
    ev.set();
    CHECK(ev.wait(0.0));
}

TEST_CASE("joinall(raise_error) rethrows the first failure as soon as it happens; the others keep running") {
    std::vector<green::GreenletBase> gs;
    gs.push_back(green::spawn([] { green::sleep(0.2); }));
    gs.push_back(green::spawn([] {
        green::sleep(0.01);
        throw std::runtime_error("second");
    }));
    gs.push_back(green::spawn([] { green::sleep(0.2); }));
    Stopwatch sw;
    CHECK_THROWS_WITH_AS(green::joinall(gs, green::forever, true), "second", std::runtime_error);
    CHECK(sw.elapsed() < 0.15);  // did not wait for the 0.2 s ones
    CHECK_FALSE(gs[0].dead());
    CHECK_FALSE(gs[2].dead());
    // A killed greenlet is no failure; a timeout is false.
    gs[0].kill();
    CHECK_FALSE(green::joinall(std::vector<green::GreenletBase>{gs[0], gs[2]}, 0.02, true));
    CHECK(green::joinall(std::vector<green::GreenletBase>{gs[0], gs[2]}, green::forever, true));
    // Without raise_error: true once all are done, failures included.
    CHECK(green::joinall(gs));
    std::vector<green::Greenlet<void>> slow{green::spawn([] { green::sleep(0.2); })};
    CHECK_FALSE(green::joinall(slow, 0.02));
    CHECK(green::joinall(slow));
}

TEST_CASE("README example: Coroutine, wait, iwait, Pool::map and imap_unordered, Barrier, kill(exception)") {
    green::Coroutine<int> twice([](int v) -> int {
        for (;;) v = green::Coroutine<int>::current().parent().switch_to(v * 2);
    });
    int a = twice.switch_to(1), b = twice.switch_to(5);
    CHECK(a == 2);
    CHECK(b == 10);

    auto g = green::spawn([] { green::sleep(0.05); });
    green::Event event;
    green::Queue<int> q;
    auto putter = green::spawn([&] { q.put(1); });
    auto done = green::wait({g, event, q}, 1, 0.5);
    CHECK(done == std::vector<size_t>{2});
    std::vector<green::Greenlet<int>> gs{green::spawn([] { return 1; }), green::spawn([] { return 2; })};
    std::ostringstream out;
    for (size_t i : green::iwait(gs)) out << gs[i].get();
    CHECK(out.str() == "12");

    green::Pool pool(4);
    std::vector<int> squares = pool.map([](int x) { return x * x; }, std::vector{1, 2, 3});
    CHECK(squares == std::vector<int>{1, 4, 9});
    auto fetch = [](const std::string& url) {
        green::sleep(0.001 * double(url.size()));
        return int(url.size());
    };
    std::vector<std::string> urls{"http://a/long", "http://b"};
    std::vector<int> sizes;
    for (int r : pool.imap_unordered(fetch, urls)) sizes.push_back(r);
    CHECK(sizes == std::vector<int>{8, 13});  // fastest first

    green::Barrier barrier(3);
    std::vector<green::Greenlet<size_t>> parties;
    for (int i = 0; i < 3; ++i) parties.push_back(green::spawn([&] { return barrier.wait(1.0); }));
    CHECK(green::joinall(parties, 1.0, true));

    g.kill(std::runtime_error("stop"));
    CHECK_THROWS_WITH_AS(g.get(), "stop", std::runtime_error);
    putter.join();
}

TEST_CASE("select: the first source with an item runs its handler; it parks until one has") {
    green::Queue<int> jobs;
    green::Channel<std::string> names;
    std::vector<std::string> got;
    auto feeder = green::spawn([&] {
        green::sleep(0.01);
        names.put("ann");  // a rendezvous: select takes it
        jobs.put(7);
        jobs.put(8);
    });
    for (int round = 0; round < 3; ++round) {
        auto which = green::select(2.0, green::on_get(jobs, [&](int j) { got.push_back("job " + std::to_string(j)); }),
                                   green::on_get(names, [&](std::string n) { got.push_back("name " + n); }));
        REQUIRE(which);
    }
    CHECK(got == std::vector<std::string>{"name ann", "job 7", "job 8"});
    feeder.get();
}

TEST_CASE("select: cases in order when several have items; timeout 0 is Go's default; a timeout gives nullopt") {
    green::Queue<int> a, b;
    a.put(1);
    b.put(2);
    int seen = 0;
    CHECK(green::select(0, green::on_get(b, [&](int v) { seen = v; }), green::on_get(a, [&](int v) { seen = v; })) ==
          0u);
    CHECK(seen == 2);
    CHECK(green::select(0, green::on_get(b, [&](int v) { seen = v; }), green::on_get(a, [&](int v) { seen = v; })) ==
          1u);
    CHECK(seen == 1);
    CHECK_FALSE(green::select(0, green::on_get(a, [](int) {}), green::on_get(b, [](int) {})));
    tu::Stopwatch sw;
    CHECK_FALSE(green::select(0.02, green::on_get(a, [](int) {})));
    CHECK(sw.elapsed() >= 0.02 - tu::kEps);
}

TEST_CASE("select: a closed empty source never fires; all closed is green::Closed") {
    green::Queue<int> done, work;
    done.close();
    auto late = green::spawn([&] {
        green::sleep(0.01);
        work.put(5);
    });
    int v = 0;
    CHECK(green::select(2.0, green::on_get(done, [](int) { FAIL("fired"); }),
                        green::on_get(work, [&](int x) { v = x; })) == 1u);
    CHECK(v == 5);
    work.close();
    CHECK_THROWS_AS(green::select(2.0, green::on_get(done, [](int) {}), green::on_get(work, [](int) {})),
                    green::Closed);
    late.get();
}
