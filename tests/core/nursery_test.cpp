// tests/core/nursery_test.cpp: open_nursery / Nursery (structured concurrency).
#include "test_util.hpp"

#include <stdexcept>
#include <string>
#include <vector>

using tu::Stopwatch;

TEST_CASE("Nursery: open_nursery waits for every child, grandchildren too, and returns the body's value") {
    std::vector<int> ended;
    int r = green::open_nursery([&](green::Nursery& n) {
        for (int i = 0; i < 3; ++i)
            n.spawn([&, i] {
                green::sleep(0.01 * (3 - i));
                ended.push_back(i);
                if (i == 0)
                    n.spawn([&] {
                        green::sleep(0.02);
                        ended.push_back(10);
                    });
            });
        CHECK(n.size() == 3);
        return 7;
    });
    CHECK(r == 7);
    CHECK(ended == std::vector<int>{2, 1, 0, 10});
}

TEST_CASE("Nursery: a failing child kills its siblings, cancels the body, and its exception comes out") {
    bool sibling_finished = false, sibling_killed = false, body_cancelled = false, body_after = false;
    Stopwatch sw;
    try {
        green::open_nursery([&](green::Nursery& n) {
            n.spawn([&] {
                try {
                    green::sleep(5);
                    sibling_finished = true;
                } catch (const green::GreenletExit&) {
                    sibling_killed = true;
                    throw;
                }
            });
            n.spawn([] {
                green::sleep(0.01);
                throw std::runtime_error("child failed");
            });
            try {
                green::sleep(5);
                body_after = true;
            } catch (const green::NurseryCancelled&) {
                body_cancelled = true;
                throw;
            }
        });
        FAIL("open_nursery returned");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == "child failed");
    }
    CHECK(sw.elapsed() < 2.0);
    CHECK(sibling_killed);
    CHECK_FALSE(sibling_finished);
    CHECK(body_cancelled);
    CHECK_FALSE(body_after);
    green::sleep(0.01);  // no NurseryCancelled left pending for the caller
}

TEST_CASE("Nursery: the body throwing kills the children before the exception leaves") {
    green::GreenletBase child;
    try {
        green::open_nursery([&](green::Nursery& n) {
            child = n.spawn([] { green::sleep(5); });
            green::sleep(0.01);
            throw std::logic_error("body failed");
        });
        FAIL("open_nursery returned");
    } catch (const std::logic_error& e) {
        CHECK(std::string(e.what()) == "body failed");
    }
    CHECK(child.dead());
    CHECK(child.killed());
}

TEST_CASE("Nursery: a child's failure after the body returned still comes out, and nothing stays pending") {
    CHECK_THROWS_AS(green::open_nursery([](green::Nursery& n) {
                        n.spawn([] {
                            green::sleep(0.02);
                            throw std::out_of_range("late");
                        });
                    }),
                    std::out_of_range);
    // The failure was retrieved by the nursery: no later wait is disturbed.
    green::sleep(0.005);
}

TEST_CASE("Nursery: cancel() kills the children and open_nursery returns normally") {
    int finished = 0;
    Stopwatch sw;
    green::open_nursery([&](green::Nursery& n) {
        for (int i = 0; i < 5; ++i)
            n.spawn([&] {
                green::sleep(5);
                ++finished;
            });
        green::sleep(0.01);
        n.cancel();
        CHECK(n.cancelled());
        // Spawned into a cancelled nursery: killed before it runs.
        auto late = n.spawn([&] { ++finished; });
        green::sleep(0);
        CHECK(late.dead());
    });
    CHECK(finished == 0);
    CHECK(sw.elapsed() < 2.0);
}

TEST_CASE("Nursery: a kill of the caller while it waits kills the children first, then ends the caller") {
    green::GreenletBase child;
    bool child_killed = false;
    auto outer = green::spawn([&] {
        green::open_nursery([&](green::Nursery& n) {
            child = n.spawn([&] {
                try {
                    green::sleep(5);
                } catch (const green::GreenletExit&) {
                    child_killed = true;
                    green::sleep(0.01);  // cleanup that waits: the caller must wait for it
                    throw;
                }
            });
        });
    });
    green::sleep(0.01);
    CHECK(outer.kill(2.0));
    CHECK(outer.killed());
    CHECK(child_killed);
    CHECK(child.dead());
}

TEST_CASE("Nursery: an outer Timeout during the wait kills the children and is rethrown") {
    green::GreenletBase child;
    Stopwatch sw;
    try {
        green::Timeout t(0.02);
        green::open_nursery([&](green::Nursery& n) { child = n.spawn([] { green::sleep(5); }); });
        FAIL("open_nursery returned");
    } catch (const green::TimeoutExpired&) {}
    CHECK(sw.elapsed() < 2.0);
    CHECK(child.killed());
}
