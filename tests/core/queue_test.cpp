// tests/core/queue_test.cpp: Queue and JoinableQueue.
#include "test_util.hpp"

#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

using tu::kEps;
using tu::Stopwatch;

TEST_CASE("Queue<int> q(16): put/get in FIFO order; sizes") {
    green::Queue<int> q(16);
    CHECK(q.maxsize() == 16);
    CHECK(q.empty());
    for (int i = 0; i < 16; ++i) q.put(i);
    CHECK(q.qsize() == 16);
    CHECK(q.full());
    for (int i = 0; i < 16; ++i) CHECK(q.get() == i);
    CHECK(q.empty());
    CHECK_FALSE(q.full());
}

TEST_CASE("Queue: get(timeout) on an empty queue throws green::Empty after the timeout") {
    green::Queue<int> q(16);
    Stopwatch sw;
    CHECK_THROWS_AS(q.get(0.05), green::Empty);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(sw.elapsed() < 0.5);
    CHECK_THROWS_AS(q.get_nowait(), green::Empty);
    CHECK_FALSE(q.try_get().has_value());
}

TEST_CASE("Queue: put on a full queue throws green::Full after the timeout") {
    green::Queue<int> q(2);
    q.put(1);
    q.put(2);
    Stopwatch sw;
    CHECK_THROWS_AS(q.put(3, 0.05), green::Full);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(sw.elapsed() < 0.5);
    CHECK_THROWS_AS(q.put_nowait(3), green::Full);
    CHECK(q.qsize() == 2);  // the failed puts left nothing behind
    CHECK(q.get() == 1);
    CHECK(q.get() == 2);
}

TEST_CASE("Queue: put blocks while full, then proceeds when a getter takes an item") {
    green::Queue<int> q(1);
    q.put(1);
    bool put_done = false;
    auto putter = green::spawn([&] {
        q.put(2);
        put_done = true;
    });
    green::sleep(0.03);
    CHECK_FALSE(put_done);  // parked: the queue is full
    CHECK(q.get() == 1);
    CHECK(putter.join(1.0));
    CHECK(put_done);
    CHECK(q.get() == 2);
}

TEST_CASE("Queue: get blocks while empty, then receives the item put") {
    green::Queue<std::string> q;
    auto getter = green::spawn([&] { return q.get(); });
    green::sleep(0.02);
    CHECK_FALSE(getter.dead());
    q.put("x");
    CHECK(getter.get(1.0) == "x");
}

TEST_CASE("Queue: peek waits like get and leaves the item; try_get") {
    green::Queue<int> q;
    auto peeker = green::spawn([&] { return q.peek(1.0); });
    green::sleep(0.01);
    q.put(5);
    CHECK(peeker.get() == 5);
    CHECK(q.qsize() == 1);
    CHECK(q.try_get() == 5);
    CHECK(q.empty());
    CHECK_THROWS_AS(q.peek(0.01), green::Empty);
}

TEST_CASE("Queue: a peeker and a getter waiting together both see the item") {
    green::Queue<int> q;
    auto peeker = green::spawn([&] { return q.peek(1.0); });
    auto getter = green::spawn([&] { return q.get(1.0); });
    green::sleep(0.01);
    q.put(9);
    CHECK(peeker.get() == 9);
    CHECK(getter.get() == 9);
}

TEST_CASE("Queue: move-only items") {
    green::Queue<std::unique_ptr<int>> q(4);
    q.put(std::make_unique<int>(3));
    auto p = q.get();
    REQUIRE(p);
    CHECK(*p == 3);
}

TEST_CASE("Queue: many producers and consumers; every item delivered exactly once") {
    green::Queue<int> q(8);  // small: producers block often
    constexpr int kProducers = 5, kPerProducer = 200, kConsumers = 4;
    std::vector<int> seen;
    std::vector<green::Greenlet<void>> gs;
    for (int p = 0; p < kProducers; ++p)
        gs.push_back(green::spawn([&, p] {
            for (int i = 0; i < kPerProducer; ++i) {
                q.put(p * kPerProducer + i);
                if (i % 7 == 0) green::sleep(0);
            }
        }));
    for (int c = 0; c < kConsumers; ++c)
        gs.push_back(green::spawn([&] {
            for (;;) {
                int v = q.get();
                if (v < 0) return;
                seen.push_back(v);
            }
        }));
    green::joinall(std::vector<green::Greenlet<void>>(gs.begin(), gs.begin() + kProducers));
    for (int c = 0; c < kConsumers; ++c) q.put(-1);
    CHECK(green::joinall(gs, 5.0));
    CHECK(seen.size() == size_t(kProducers * kPerProducer));
    CHECK(std::set<int>(seen.begin(), seen.end()).size() == seen.size());
}

TEST_CASE("JoinableQueue: join waits until task_done was called for every item") {
    green::JoinableQueue<int> q;
    for (int i = 0; i < 5; ++i) q.put(i);
    CHECK(q.unfinished_tasks() == 5);
    CHECK_FALSE(q.join(0.02));  // nobody works on them yet
    int processed = 0;
    auto worker = green::spawn([&] {
        for (int i = 0; i < 5; ++i) {
            q.get();
            green::sleep(0.005);
            ++processed;
            q.task_done();
        }
    });
    CHECK(q.join(2.0));
    CHECK(processed == 5);
    CHECK(q.unfinished_tasks() == 0);
    CHECK(q.join(0.0));
    CHECK_THROWS_AS(q.task_done(), std::logic_error);  // one more than there were items
    worker.join();
}

TEST_CASE("JoinableQueue: get alone does not finish an item") {
    green::JoinableQueue<int> q;
    q.put(1);
    q.get();
    CHECK(q.unfinished_tasks() == 1);
    CHECK_FALSE(q.join(0.02));
    q.task_done();
    CHECK(q.join(0.0));
}
