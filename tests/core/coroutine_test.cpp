// tests/core/coroutine_test.cpp: Coroutine<T>, symmetric switches as greenlet's (issue 16).
#include "test_util.hpp"

#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using tu::kEps;
using tu::Stopwatch;

TEST_CASE("Coroutine: the seeds' greenlet producer/consumer, explicit switches beside a scheduled greenlet") {
    // greenlet: c = greenlet(Consumer); p = greenlet(Producer); c.switch(), each sleeping between.
    std::vector<std::string> log;
    int ticks = 0;
    auto ticker = green::spawn([&] {
        for (;;) {
            green::sleep(0.002);
            ++ticks;
        }
    });
    green::Coroutine<> producer, consumer;
    producer = green::Coroutine<>([&] {
        for (int i = 0; i < 3; ++i) {
            log.push_back("make " + std::to_string(i));
            green::sleep(0.02);  // time.sleep(1) under monkey patching: parks only the producer
            consumer.switch_to();
        }
    });
    consumer = green::Coroutine<>([&] {
        for (int i = 0; i < 3; ++i) {
            producer.switch_to();
            log.push_back("eat " + std::to_string(i));
        }
    });
    consumer.switch_to();  // returns when the consumer's body ends: its parent is main
    CHECK(log == std::vector<std::string>{"make 0", "eat 0", "make 1", "eat 1", "make 2", "eat 2"});
    CHECK(consumer.dead());
    CHECK_FALSE(producer.dead());  // suspended in its third consumer.switch_to()
    CHECK(ticks >= 5);             // the ticker ran during the producer's sleeps
    ticker.kill();
    // Nothing names the producer any more: it is killed at its switch point (greenlet's GC).
    green::GreenletBase pg = producer.greenlet();
    producer = {};
    CHECK(pg.join(1.0));
    CHECK(pg.killed());
}

TEST_CASE("Coroutine<int>: switch_to(v) returns the value switched back; the body's result goes to its parent") {
    green::Coroutine<int> twice([](int v) {
        while (v >= 0) v = green::Coroutine<int>::current().parent().switch_to(v * 2);
        return 100;
    });
    CHECK_FALSE(twice.started());
    CHECK(twice.switch_to(1) == 2);  // starts it with 1
    CHECK(twice.started());
    CHECK(twice.switch_to(5) == 10);
    CHECK(twice.switch_to(21) == 42);
    CHECK_FALSE(twice.dead());
    CHECK(twice.switch_to(-1) == 100);  // its body returned: the result came to its parent, main
    CHECK(twice.dead());
    CHECK(twice.greenlet().dead());
    CHECK(twice.greenlet().successful());

    // A body taking no argument; a generator written with switches.
    green::Coroutine<int> fib([] {
        auto main = green::Coroutine<int>::current().parent();
        int a = 0, b = 1;
        for (;;) {
            main.switch_to(b);
            std::tie(a, b) = std::make_tuple(b, a + b);
        }
        return 0;
    });
    std::vector<int> got;
    for (int i = 0; i < 8; ++i) got.push_back(fib.switch_to(0));
    CHECK(got == std::vector<int>{1, 1, 2, 3, 5, 8, 13, 21});
}

TEST_CASE("Coroutine: current() and parent(); a dead coroutine's switch goes to its parent; switching to oneself") {
    auto main = green::Coroutine<std::string>::current();
    CHECK(main);
    CHECK_FALSE(main.parent());  // main is no coroutine
    CHECK_FALSE(main.dead());
    CHECK(main == green::Coroutine<std::string>::current());
    CHECK(main.switch_to("me") == "me");  // greenlet: a switch to oneself returns its argument

    green::Coroutine<std::string> a, b;
    a = green::Coroutine<std::string>([&](std::string s) {
        CHECK(green::Coroutine<std::string>::current() == a);
        // b's parent is a, which created it: b's result comes back to a's switch.
        b = green::Coroutine<std::string>([&](std::string t) {
            CHECK(b.parent() == a);
            return t + "+b";
        });
        return b.switch_to(s + "+a") + "!";
    });
    CHECK(a.parent() == main);
    // main -> a -> b; b's body returns to its parent a, a returns "..!" to main.
    CHECK(a.switch_to("x") == "x+a+b!");
    CHECK(a.dead());
    CHECK(b.dead());
    // A switch to the dead b goes to b's nearest live parent: main itself.
    CHECK(b.switch_to("again") == "again");

    // An explicit parent.
    green::Coroutine<int> boss([](int v) { return v; });
    green::Coroutine<int> worker([](int v) { return v + 1; }, boss);
    CHECK(worker.parent() == boss);
}

TEST_CASE("Coroutine: throw_into throws at its switch point; uncaught, it reaches the parent's switch_to") {
    green::Coroutine<int> c([](int v) {
        auto main = green::Coroutine<int>::current().parent();
        for (;;) {
            try {
                v = main.switch_to(v + 1);
            } catch (const std::invalid_argument& e) {
                v = 1000;  // caught: it goes on
            }
            if (v < 0) throw std::runtime_error("negative");
        }
        return 0;
    });
    CHECK(c.switch_to(1) == 2);
    CHECK(c.throw_into(std::invalid_argument("x")) == 1001);                // caught inside, switched back
    CHECK_THROWS_WITH_AS(c.switch_to(-5), "negative", std::runtime_error);  // its failure, in main
    CHECK(c.dead());
    CHECK_FALSE(c.killed());
    CHECK(c.greenlet().exception() != nullptr);

    // GreenletExit (the default) kills it; the parent's switch gets T{} (greenlet: the
    // GreenletExit object).
    bool unwound = false;
    green::Coroutine<int> k([&](int v) {
        struct Guard {
            bool& flag;
            ~Guard() { flag = true; }
        } guard{unwound};
        for (;;) v = green::Coroutine<int>::current().parent().switch_to(v);
        return 0;
    });
    CHECK(k.switch_to(7) == 7);
    CHECK(k.throw_into() == 0);
    CHECK(k.dead());
    CHECK(k.killed());
    CHECK(unwound);

    // Never started: it dies of the exception without running its body.
    bool ran = false;
    green::Coroutine<int> fresh([&](int v) {
        ran = true;
        return v;
    });
    CHECK_THROWS_WITH_AS(fresh.throw_into(std::make_exception_ptr(std::logic_error("early"))), "early",
                         std::logic_error);
    CHECK_FALSE(ran);
    CHECK(fresh.dead());
}

TEST_CASE("Coroutine: one that waits on I/O parks only itself; the switcher stays suspended until switched back") {
    tu::SockPair sp;
    green::Coroutine<int> reader([&](int) {
        CHECK(green::wait_readable(sp.a, 2.0));  // parks the coroutine on the hub
        char c = 0;
        CHECK(::read(sp.a, &c, 1) == 1);
        return int(c);
    });
    int others = 0;
    auto writer = green::spawn([&] {
        for (int i = 0; i < 5; ++i) {
            green::sleep(0.005);
            ++others;
        }
        CHECK(::write(sp.b, "A", 1) == 1);
    });
    Stopwatch sw;
    CHECK(reader.switch_to(0) == 'A');  // main resumes only when the reader's body returns
    CHECK(sw.elapsed() >= 0.025 - kEps);
    CHECK(others == 5);
    CHECK(writer.join(1.0));

    // Meanwhile it is parked on something else: a switch to it is refused.
    green::Coroutine<int> sleeper([](int) {
        green::sleep(0.05);
        return 1;
    });
    std::string what;
    auto other = green::spawn([&] {
        green::sleep(0.01);  // the sleeper is in its sleep by now
        try {
            sleeper.switch_to(3);
        } catch (const std::logic_error& e) {
            what = e.what();
        }
    });
    CHECK(sleeper.switch_to(0) == 1);
    CHECK(other.join(1.0));
    CHECK(what.find("not suspended in a switch") != std::string::npos);
    CHECK(what.find("parked (sleep)") != std::string::npos);
}

TEST_CASE("Coroutine: a switch from another OS thread, or through an empty handle, throws std::logic_error") {
    green::Coroutine<int> c([](int v) { return v; });
    std::string what;
    std::thread th([&] {
        try {
            c.switch_to(1);
        } catch (const std::logic_error& e) {
            what = e.what();
        }
    });
    th.join();
    CHECK(what.find("another thread") != std::string::npos);
    CHECK_FALSE(c.started());
    CHECK(c.switch_to(9) == 9);  // still usable on its own thread
    green::Coroutine<int> empty;
    CHECK_FALSE(empty);
    CHECK_FALSE(empty.dead());
    CHECK_THROWS_AS(empty.switch_to(1), std::logic_error);
}

TEST_CASE("Coroutine: kill or Timeout of a greenlet suspended in switch_to; its coroutine ends alone later") {
    green::Event go;
    int finished = 0;
    green::Coroutine<int> c;
    auto g = green::spawn([&] {
        c = green::Coroutine<int>([&](int v) {
            go.wait();
            ++finished;
            return v;
        });
        c.switch_to(1);  // suspended here while c waits on the Event
        FAIL_CHECK("switch_to returned");
    });
    green::sleep(0.01);
    CHECK(g.kill(1.0));
    CHECK(g.killed());
    go.set();
    green::sleep(0.01);
    CHECK(finished == 1);  // its parent g is dead: its result resumes nobody
    CHECK(c.dead());

    green::Event never;
    green::Coroutine<int> waits([&](int v) {
        never.wait();
        return v;
    });
    bool expired = false;
    Stopwatch sw;
    try {
        green::Timeout t(0.05);
        waits.switch_to(1);
    } catch (const green::Timeout::Expired&) {
        expired = true;
    }
    CHECK(expired);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK_FALSE(waits.dead());
    waits.greenlet().kill();  // parked in Event::wait, not in a switch: an ordinary kill
    CHECK(waits.dead());
}

TEST_CASE("Coroutine: freed when never started; killed when suspended and unnamed; kept while named") {
    bool destroyed = false;
    struct Flag {
        bool* f;
        ~Flag() {
            if (f) *f = true;
        }
    };
    {
        green::Coroutine<int> never([flag = std::make_shared<Flag>(Flag{&destroyed})](int v) { return v; });
    }
    CHECK(destroyed);  // the body (and what it holds) went with the last handle

    bool unwound = false;
    green::GreenletBase g;
    {
        green::Coroutine<int> c([&](int v) {
            Flag f{&unwound};
            for (;;) v = green::Coroutine<int>::current().parent().switch_to(v);
            return 0;
        });
        CHECK(c.switch_to(1) == 1);
        g = c.greenlet();
        auto copy = c;  // a second handle
    }
    CHECK(g.join(1.0));
    CHECK(g.killed());
    CHECK(unwound);
}

TEST_CASE("Coroutine: prints as its greenlet, parked in a switch") {
    green::Coroutine<int> c(green::SpawnOptions{.stack_size = 0, .name = "gen"}, [](int v) {
        for (;;) v = green::Coroutine<int>::current().parent().switch_to(v);
        return 0;
    });
    c.switch_to(1);
    std::ostringstream os;
    os << c;
    CHECK(os.str().find("\"gen\" parked (switch)") != std::string::npos);
}

TEST_CASE("Coroutine: a switch runs the target at once, ahead of greenlets already ready (greenlet's switch)") {
    std::string log;
    green::Coroutine<int> c([&](int v) {
        const auto up = green::Coroutine<int>::current().parent();
        for (;;) {
            log += 'c';
            v = up.switch_to(v);
        }
        return 0;
    });
    c.switch_to(0);  // started (after the ready ones: none)
    auto g = green::spawn([&] { log += 'g'; });
    c.switch_to(0);  // g is ready, but c runs first and switches straight back
    CHECK(log == "cc");
    CHECK(g.join(1.0));
    CHECK(log == "ccg");
}

TEST_CASE("Coroutine: coroutines switching for ever leave the hub to ready greenlets and timers") {
    // Each switch hands the hub straight over; every 1,024 switches the hub polls and runs the
    // greenlets already ready, so a scheduled greenlet and a short sleep are not starved.
    long spins = 0;
    auto spinner = green::spawn([&] {
        for (;;) {
            ++spins;
            green::sleep(0);
        }
    });
    bool slept = false;
    auto sleeper = green::spawn([&] {
        green::sleep(0.001);
        slept = true;
    });
    green::sleep(0);  // both start, the sleeper's timer is armed
    green::Coroutine<long> echo([](long v) -> long {
        const auto up = green::Coroutine<long>::current().parent();
        for (;;) v = up.switch_to(v + 1);
    });
    Stopwatch sw;
    long v = 0, rounds = 0;
    const long before = spins;
    while (!slept && sw.elapsed() < 5.0) {
        for (int i = 0; i < 10000; ++i) v = echo.switch_to(v);  // no other wait point of main's
        ++rounds;
    }
    CHECK(v == rounds * 10000);
    CHECK(slept);                                            // the timer fired while main and echo only switched
    CHECK(spins - before >= rounds * 10000 * 2 / 1024 / 2);  // about one turn per 1,024 switches
    spinner.kill();
}

TEST_CASE("Coroutine: its last handle dropped on another OS thread kills it on its own hub") {
    bool unwound = false;
    struct Flag {
        bool* f;
        ~Flag() { *f = true; }
    };
    green::GreenletBase g;
    {
        green::Coroutine<int> c([&](int v) {
            Flag f{&unwound};
            const auto up = green::Coroutine<int>::current().parent();
            for (;;) v = up.switch_to(v);
            return 0;
        });
        CHECK(c.switch_to(7) == 7);
        g = c.greenlet();
        std::thread([h = std::move(c)]() mutable { h = {}; }).join();  // the decision goes to our hub
    }
    CHECK(g.join(1.0));
    CHECK(g.killed());
    CHECK(unwound);
}
