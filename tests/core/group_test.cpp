// tests/core/group_test.cpp: Group and Pool.
#include "test_util.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

using tu::kEps;
using tu::Stopwatch;

TEST_CASE("Group: members leave by themselves; join waits for all") {
    green::Group group;
    int done = 0;
    for (int i = 0; i < 10; ++i)
        group.spawn([&, i] {
            green::sleep(0.005 * i);
            ++done;
        });
    CHECK(group.size() == 10);
    CHECK(group.join(2.0));
    CHECK(done == 10);
    CHECK(group.size() == 0);
    CHECK(group.greenlets().empty());
    CHECK(group.join(0.0));  // empty: at once
}

TEST_CASE("Group: spawn returns the greenlet; contains, greenlets(), join(timeout)") {
    green::Group group;
    auto g = group.spawn(
        [](int x) {
            green::sleep(0.1);
            return x + 1;
        },
        1);
    CHECK(group.contains(g));
    auto members = group.greenlets();
    REQUIRE(members.size() == 1);
    CHECK(members[0] == g);
    Stopwatch sw;
    CHECK_FALSE(group.join(0.02));
    CHECK(sw.elapsed() >= 0.02 - kEps);
    CHECK(g.get() == 2);
    CHECK(group.join(1.0));
    CHECK_FALSE(group.contains(g));
}

TEST_CASE("Group: add() tracks an existing greenlet, discard() stops tracking it") {
    green::Group group;
    auto a = green::spawn([] { green::sleep(0.02); });
    auto b = green::spawn([] { green::sleep(1); });
    group.add(a);
    group.add(b);
    CHECK(group.size() == 2);
    group.discard(b);
    CHECK_FALSE(group.contains(b));
    CHECK(group.join(1.0));  // does not wait for the discarded one
    CHECK_FALSE(b.dead());
    b.kill();
    // Adding an already-dead greenlet leaves the group empty.
    group.add(a);
    CHECK(group.size() == 0);
}

TEST_CASE("Group: kill() kills every member and waits") {
    green::Group group;
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < 5; ++i) gs.push_back(group.spawn([] { green::sleep(10); }));
    green::sleep(0.01);
    Stopwatch sw;
    group.kill();
    CHECK(sw.elapsed() < 1.0);
    for (auto& g : gs) CHECK(g.killed());
    CHECK(group.size() == 0);
}

TEST_CASE("Group: join(raise_error) rethrows a member's failure") {
    green::Group group;
    group.spawn([] { green::sleep(0.01); });
    auto bad = group.spawn([] {
        green::sleep(0.005);
        throw std::runtime_error("member failed");
    });
    CHECK_THROWS_WITH_AS(group.join(green::forever, true), "member failed", std::runtime_error);
    CHECK(group.size() == 0);
    CHECK(bad.exception());
    // Without raise_error a failed member simply counts as done.
    green::Group quiet;
    auto q = quiet.spawn([] { throw std::runtime_error("ignored"); });
    CHECK(quiet.join(1.0));
    CHECK(q.exception());
}

TEST_CASE("Pool pool(10): spawn blocks while 10 are running; max concurrency is exactly 10") {
    green::Pool pool(10);
    CHECK(pool.capacity() == 10);
    CHECK(pool.free_count() == 10);
    int running = 0, most = 0, finished = 0;
    for (int i = 0; i < 40; ++i)
        pool.spawn([&] {
            most = std::max(most, ++running);
            green::sleep(0.01);
            --running;
            ++finished;
        });
    // The 11th spawn had to wait for a slot, so by now at least 30 have finished.
    CHECK(finished >= 30);
    pool.join();
    CHECK(finished == 40);
    CHECK(most == 10);
    CHECK(pool.free_count() == 10);
    CHECK(pool.size() == 0);
}

TEST_CASE("Pool: the spawner is parked until a slot frees; full() and wait_available()") {
    green::Pool pool(2);
    green::Event release;
    pool.spawn([&] { release.wait(); });
    pool.spawn([&] { release.wait(); });
    CHECK(pool.full());
    CHECK(pool.free_count() == 0);
    Stopwatch sw;
    CHECK_FALSE(pool.wait_available(0.03));
    CHECK(sw.elapsed() >= 0.03 - kEps);
    bool third_spawned = false;
    auto spawner = green::spawn([&] {
        pool.spawn([] {});
        third_spawned = true;
    });
    green::sleep(0.02);
    CHECK_FALSE(third_spawned);
    release.set();
    CHECK(spawner.join(1.0));
    CHECK(third_spawned);
    CHECK(pool.wait_available(1.0));
    CHECK(pool.join(1.0));
    CHECK(pool.free_count() == 2);
}

TEST_CASE("Pool: killed and failed members give their slot back") {
    green::Pool pool(1);
    auto a = pool.spawn([] { green::sleep(10); });
    green::sleep(0.01);
    a.kill();
    CHECK(pool.free_count() == 1);
    auto b = pool.spawn([] { throw std::runtime_error("x"); });
    CHECK(b.join(1.0));
    CHECK(pool.free_count() == 1);
    CHECK(b.exception());
    auto c = pool.spawn([] { return 3; });
    CHECK(c.get() == 3);
    CHECK(pool.join(1.0));
}

// Regression test (fixed): Group::join(raise_error=true) rethrows a member's exception
// without marking it observed, so the runtime still prints "died with an exception nobody
// retrieved" for it. Run in a child to capture stderr.
TEST_CASE("Group: an error delivered by join(raise_error) is not reported as unretrieved") {
    auto child = tu::run_in_child([] {
        {
            green::Group group;
            group.spawn([] { throw std::runtime_error("member failed"); });
            try {
                group.join(green::forever, true);
                return 2;
            } catch (const std::runtime_error&) {}
        }
        green::sleep(0.01);  // the dead greenlet's record is released by now
        return 0;
    });
    INFO(child.describe());
    CHECK(child.exited_with(0));
    CHECK_FALSE(child.has("nobody retrieved"));
}

// ---- the destructor's contract (issue 16) -------------------------------------------------------

TEST_CASE("Group destructor: children still running are killed and joined, also when the scope threw") {
    std::vector<green::GreenletBase> children;
    bool cleaned = false;
    try {
        green::Group group;
        children.push_back(group.spawn([] { green::sleep(10); }));
        children.push_back(group.spawn([&] {
            struct Cleanup {
                bool& done;
                ~Cleanup() { done = true; }
            } c{cleaned};
            green::Event().wait();
        }));
        children.push_back(group.spawn([] { return 1; }));  // ends by itself first
        green::sleep(0.01);
        throw std::runtime_error("scope failed");
    } catch (const std::runtime_error&) {}
    for (auto& g : children) CHECK(g.dead());  // none outlived the scope
    CHECK(children[0].killed());
    CHECK(children[1].killed());
    CHECK(children[2].successful());
    CHECK(cleaned);

    // Normal scope exit: the same. A Pool too.
    green::GreenletBase left;
    {
        green::Pool pool(2);
        left = pool.spawn([] { green::sleep(10); });
        green::sleep(0);
    }
    CHECK(left.killed());
    Stopwatch sw;
    { green::Group empty; }  // nothing to wait for
    CHECK(sw.elapsed() < 0.01);
}

TEST_CASE("Group destructor: waits for a child's cleanup; a kill of the destroying greenlet meanwhile comes after") {
    bool child_done = false, done_when_scope_ended = false, reached_end = false;
    auto owner = green::spawn([&] {
        {
            green::Group group;
            group.spawn([&] {
                try {
                    green::sleep(10);
                } catch (const green::GreenletExit&) {
                    green::sleep(0.05);  // a cleanup that takes a while
                    child_done = true;
                    throw;
                }
            });
            green::sleep(0.01);
        }  // ~Group: kills the child, waits for its cleanup
        done_when_scope_ended = child_done;
        green::sleep(1);  // the kill that came during ~Group is thrown here
        reached_end = true;
    });
    Stopwatch sw;
    green::sleep(0.03);  // the owner is inside ~Group now, the child in its cleanup
    CHECK_FALSE(child_done);
    owner.kill(0);
    CHECK(owner.join(1.0));
    CHECK(sw.elapsed() < 0.5);
    CHECK(done_when_scope_ended);  // the kill did not cut the destructor's wait short...
    CHECK_FALSE(reached_end);      // ...and was not lost
    CHECK(owner.killed());
}

TEST_CASE("Group destructor: run by one of its own members, it leaves that member alone") {
    auto* group = new green::Group;
    green::Event go;
    auto other = group->spawn([] { green::sleep(10); });
    auto self = group->spawn([&] {
        go.wait();
        delete group;  // kills `other`, not itself
        return 5;
    });
    green::sleep(0.01);
    go.set();
    CHECK(self.get(1.0) == 5);
    CHECK(other.killed());
}

// ---- map, imap_unordered, apply, apply_async (issue 16) ------------------------------------------

TEST_CASE("Pool::map: results in the order of the items, at most `size` running at once; void f") {
    green::Pool pool(3);
    int running = 0, peak = 0;
    std::vector<int> items{5, 1, 4, 2, 3, 0};
    Stopwatch sw;
    std::vector<int> out = pool.map(
        [&](int x) {
            peak = std::max(peak, ++running);
            green::sleep(0.01 * x);  // they end out of order
            --running;
            return x * 10;
        },
        items);
    CHECK(out == std::vector<int>{50, 10, 40, 20, 30, 0});
    CHECK(peak == 3);
    CHECK(sw.elapsed() < 0.5);
    CHECK(pool.size() == 0);
    int sum = 0;
    green::Group group;  // a Group: all at once
    group.map([&](const std::string& s) { sum += int(s.size()); }, std::vector<std::string>{"a", "bb", "ccc"});
    CHECK(sum == 6);
    CHECK(group.map([](int x) { return x; }, std::vector<int>{}).empty());
}

TEST_CASE("Group::map: the first failure kills the items still running and is rethrown") {
    green::Pool pool(10);
    int killed = 0, finished = 0;
    Stopwatch sw;
    CHECK_THROWS_WITH_AS(pool.map(
                             [&](int x) {
                                 if (x == 3) {
                                     green::sleep(0.01);
                                     throw std::runtime_error("item 3");
                                 }
                                 try {
                                     green::sleep(1);
                                 } catch (const green::GreenletExit&) {
                                     ++killed;
                                     throw;
                                 }
                                 ++finished;
                                 return x;
                             },
                             std::vector<int>{1, 2, 3, 4, 5}),
                         "item 3", std::runtime_error);
    CHECK(sw.elapsed() < 0.5);
    CHECK(killed == 4);  // and joined before map threw
    CHECK(finished == 0);
    CHECK(pool.size() == 0);
}

TEST_CASE("Pool::imap_unordered: results as they are ready, items spawned as slots free up; a failure is one step") {
    green::Pool pool(2);
    int running = 0, peak = 0;
    std::vector<int> got;
    for (int v : pool.imap_unordered(
             [&](int ms) {
                 peak = std::max(peak, ++running);
                 green::sleep(ms / 1000.0);
                 --running;
                 return ms;
             },
             std::vector<int>{30, 10, 5, 40})) {
        got.push_back(v);
    }
    // 30 and 10 start; 10 ends (5 starts), 5 ends (40 starts), 30 ends, 40 ends.
    CHECK(got == std::vector<int>{10, 5, 30, 40});
    CHECK(peak == 2);

    // The caller never parks spawning while a result could be given: with one slot, the first
    // result comes after one item's time, not after all but the last.
    green::Pool one(1);
    Stopwatch sw;
    auto seq = one.imap_unordered(
        [](int x) {
            green::sleep(0.05);
            return x;
        },
        std::vector<int>{1, 2, 3, 4, 5});
    CHECK(seq.next() == 1);
    CHECK(sw.elapsed() < 0.15);
    int n = 1;
    while (seq.next()) ++n;
    CHECK(n == 5);

    auto it = pool.imap_unordered(
        [](int x) {
            green::sleep(0.001 * x);
            if (x == 2) throw std::invalid_argument("two");
            return x;
        },
        std::vector<int>{3, 2, 1});
    std::vector<int> rest;
    int failures = 0;
    for (;;) {
        try {
            auto v = it.next(1.0);
            if (!v) break;
            rest.push_back(*v);
        } catch (const std::invalid_argument&) {
            ++failures;
        }
    }
    std::sort(rest.begin(), rest.end());
    CHECK(rest == std::vector<int>{1, 3});
    CHECK(failures == 1);
    // next(timeout) throws Empty while nothing is ready.
    auto slow = pool.imap_unordered(
        [](int x) {
            green::sleep(0.2);
            return x;
        },
        std::vector<int>{1});
    CHECK_THROWS_AS(slow.next(0.02), green::Empty);
    CHECK(slow.next() == 1);
}

TEST_CASE("Pool::apply_async never parks the caller; when full its greenlet waits for a slot; apply") {
    green::Pool pool(1);
    green::Event go;
    auto first = pool.apply_async([&] {
        go.wait();
        return 1;
    });
    CHECK(pool.contains(first));
    CHECK(pool.full());
    Stopwatch sw;
    auto second = pool.apply_async([](int x) { return x + 1; }, 41);  // pool full: no parking here
    CHECK(sw.elapsed() < 0.01);
    CHECK_FALSE(pool.contains(second));
    green::sleep(0.01);
    CHECK_FALSE(second.dead());  // waiting for the slot
    go.set();
    CHECK(second.get(1.0) == 42);
    CHECK(first.get() == 1);
    CHECK(pool.apply([](int x) { return x * 3; }, 5) == 15);
    // Called from a member: runs in place instead of waiting for a slot held by the caller.
    auto nested = pool.spawn([&] { return pool.apply([] { return 7; }); });
    CHECK(nested.get(1.0) == 7);
}

TEST_CASE("Pool destroyed while apply_async greenlets wait for a slot: they are killed first") {
    green::GreenletBase waiting;
    {
        green::Pool pool(1);
        pool.spawn([] { green::sleep(10); });
        waiting = pool.apply_async([] { return 1; });
        green::sleep(0.01);
        CHECK_FALSE(waiting.dead());
    }
    CHECK(waiting.dead());
    CHECK(waiting.killed());
}
