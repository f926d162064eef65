// tests/core/queue_test.cpp: Queue, JoinableQueue, close(), LifoQueue, PriorityQueue, Channel.
#include "test_util.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
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

// ---- close, LifoQueue, PriorityQueue, Channel (issue 16) ----------------------------------------

TEST_CASE("Queue::close: getters drain what is left, then get Closed; putters get Closed") {
    green::Queue<int> q;
    q.put(1);
    q.put(2);
    CHECK_FALSE(q.closed());
    q.close();
    q.close();  // idempotent
    CHECK(q.closed());
    CHECK_THROWS_AS(q.put(3), green::Closed);
    CHECK_THROWS_AS(q.put_nowait(3), green::Closed);
    CHECK(q.peek() == 1);
    CHECK(q.get() == 1);
    CHECK(q.get_nowait() == 2);
    Stopwatch sw;
    CHECK_THROWS_AS(q.get(), green::Closed);  // at once, not a wait forever
    CHECK_THROWS_AS(q.get(1.0), green::Closed);
    CHECK_THROWS_AS(q.peek(), green::Closed);
    CHECK(sw.elapsed() < 0.1);
    CHECK_FALSE(q.try_get().has_value());
    CHECK_FALSE(q.next().has_value());
}

TEST_CASE("Queue::close wakes parked getters (Closed) and a putter parked on a full queue (Closed)") {
    green::Queue<int> q(1);
    q.put(1);
    auto putter = green::spawn([&] { q.put(2); });
    green::Queue<int> empty;
    auto getter = green::spawn([&] { return empty.get(); });
    auto nexter = green::spawn([&] { return empty.next(); });
    green::sleep(0.02);
    CHECK_FALSE(putter.dead());
    CHECK_FALSE(getter.dead());
    q.close();
    empty.close();
    CHECK(putter.join(1.0));
    CHECK_THROWS_AS(putter.get(), green::Closed);
    CHECK(q.get() == 1);  // the item put before close is still there; the parked one is not
    CHECK_FALSE(q.try_get().has_value());
    CHECK(getter.join(1.0));
    CHECK_THROWS_AS(getter.get(), green::Closed);
    CHECK(nexter.get(1.0) == std::nullopt);
}

TEST_CASE("Queue::next: the consumer loop ends when the producer closes the queue") {
    green::Queue<int> q(4);
    auto producer = green::spawn([&] {
        for (int i = 0; i < 100; ++i) q.put(i);
        q.close();
    });
    long sum = 0, n = 0;
    while (auto v = q.next(2.0)) {
        sum += *v;
        ++n;
    }
    CHECK(n == 100);
    CHECK(sum == 4950);
    CHECK(producer.join(1.0));
    // Still Empty (not the end) on a timeout while open.
    green::Queue<int> open;
    CHECK_THROWS_AS(open.next(0.01), green::Empty);
}

TEST_CASE("LifoQueue: last in, first out; bounded like Queue") {
    green::LifoQueue<int> q(3);
    for (int i = 1; i <= 3; ++i) q.put(i);
    CHECK(q.full());
    CHECK_THROWS_AS(q.put_nowait(4), green::Full);
    CHECK(q.peek() == 3);
    CHECK(q.get() == 3);
    q.put(9);
    CHECK(q.get() == 9);
    CHECK(q.get() == 2);
    CHECK(q.get() == 1);
    CHECK_THROWS_AS(q.get_nowait(), green::Empty);
}

TEST_CASE("PriorityQueue: smallest first; pairs and a custom comparator; move-only items") {
    green::PriorityQueue<int> q;
    for (int v : {5, 1, 4, 1, 3, 9, 2}) q.put(v);
    std::vector<int> out;
    while (auto v = q.try_get()) out.push_back(*v);
    CHECK(out == std::vector<int>{1, 1, 2, 3, 4, 5, 9});

    green::PriorityQueue<std::pair<int, std::string>> jobs;
    jobs.put({2, "later"});
    jobs.put({0, "urgent"});
    jobs.put({1, "soon"});
    CHECK(jobs.peek().second == "urgent");
    CHECK(jobs.get().second == "urgent");
    CHECK(jobs.get().second == "soon");
    CHECK(jobs.get().second == "later");

    green::PriorityQueue<int, std::greater<int>> largest;
    for (int v : {3, 7, 5}) largest.put(v);
    CHECK(largest.get() == 7);
    CHECK(largest.get() == 5);

    struct ByValue {
        bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const { return *a < *b; }
    };
    green::PriorityQueue<std::unique_ptr<int>, ByValue> owned;
    owned.put(std::make_unique<int>(8));
    owned.put(std::make_unique<int>(6));
    CHECK(*owned.get() == 6);

    // A getter parked on an empty PriorityQueue gets the first item put.
    green::PriorityQueue<int> pq;
    auto getter = green::spawn([&] { return pq.get(); });
    green::sleep(0.01);
    pq.put(4);
    CHECK(getter.get(1.0) == 4);
}

TEST_CASE("Channel: put returns only once a getter has taken the item (rendezvous)") {
    green::Channel<std::string> ch;
    bool put_done = false;
    auto putter = green::spawn([&] {
        ch.put("hello");
        put_done = true;
    });
    green::sleep(0.03);
    CHECK_FALSE(put_done);  // nobody took it: no buffer
    CHECK(ch.waiting_putters() == 1);
    CHECK(ch.get() == "hello");
    CHECK(putter.join(1.0));
    CHECK(put_done);
    CHECK(ch.waiting_putters() == 0);

    // A getter that comes first waits for the putter; items arrive in put order.
    auto getter = green::spawn([&] {
        std::vector<std::string> got;
        for (int i = 0; i < 3; ++i) got.push_back(ch.get());
        return got;
    });
    green::sleep(0.01);
    ch.put("a");
    ch.put("b");
    ch.put("c");
    CHECK(getter.get(1.0) == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("Channel: put(timeout) throws Full when nobody takes it and leaves nothing; get(timeout) Empty") {
    green::Channel<int> ch;
    Stopwatch sw;
    CHECK_THROWS_AS(ch.put(1, 0.05), green::Full);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(sw.elapsed() < 0.5);
    CHECK_THROWS_AS(ch.put(1, 0.0), green::Full);  // a hand-over needs a getter that runs
    CHECK(ch.waiting_putters() == 0);
    sw = Stopwatch{};
    CHECK_THROWS_AS(ch.get(0.03), green::Empty);  // the timed-out item is not there
    CHECK(sw.elapsed() >= 0.03 - kEps);
    CHECK_THROWS_AS(ch.get_nowait(), green::Empty);
    CHECK_FALSE(ch.try_get().has_value());
    // get_nowait takes from a putter already waiting.
    auto putter = green::spawn([&] { ch.put(5); });
    green::sleep(0.01);
    CHECK(ch.get_nowait() == 5);
    CHECK(putter.join(1.0));
}

TEST_CASE("Channel: close wakes getters (Closed, next() nullopt) and waiting putters (Closed, not delivered)") {
    green::Channel<int> ch;
    auto getter = green::spawn([&] { return ch.get(); });
    auto nexter = green::spawn([&] { return ch.next(); });
    green::sleep(0.01);
    ch.close();
    CHECK(getter.join(1.0));
    CHECK_THROWS_AS(getter.get(), green::Closed);
    CHECK(nexter.get(1.0) == std::nullopt);
    CHECK_THROWS_AS(ch.put(1), green::Closed);

    green::Channel<int> ch2;
    auto putter = green::spawn([&] { ch2.put(7); });
    green::sleep(0.01);
    CHECK(ch2.waiting_putters() == 1);
    ch2.close();
    CHECK(putter.join(1.0));
    CHECK_THROWS_AS(putter.get(), green::Closed);
    CHECK_THROWS_AS(ch2.get(), green::Closed);
    CHECK(ch2.waiting_putters() == 0);
}

TEST_CASE("Channel: a putter killed or timed out by a Timeout while waiting withdraws its offer") {
    green::Channel<std::unique_ptr<int>> ch;
    auto killed = green::spawn([&] { ch.put(std::make_unique<int>(1)); });
    auto timed = green::spawn([&] {
        green::Timeout t(0.02);
        ch.put(std::make_unique<int>(2));
    });
    green::sleep(0.01);
    CHECK(ch.waiting_putters() == 2);
    killed.kill();
    CHECK(killed.killed());
    CHECK(timed.join(1.0));
    CHECK_THROWS_AS(timed.get(), green::Timeout::Expired);
    CHECK(ch.waiting_putters() == 0);  // no offer left pointing into a dead greenlet's stack
    CHECK_THROWS_AS(ch.get(0.02), green::Empty);
    // The channel still works.
    auto putter = green::spawn([&] { ch.put(std::make_unique<int>(3)); });
    CHECK(*ch.get(1.0) == 3);
    CHECK(putter.join(1.0));
}

TEST_CASE("Channel: ping-pong with a std::thread, every item handed over once") {
    green::Channel<int> ping, pong;
    constexpr int kRounds = 2000;
    std::thread th([&] {
        for (int i = 0; i < kRounds; ++i) pong.put(ping.get() + 1);
        ping.close();
    });
    long sum = 0;
    for (int i = 0; i < kRounds; ++i) {
        ping.put(i);
        sum += pong.get(5.0);
    }
    th.join();
    CHECK(sum == long(kRounds) * (kRounds - 1) / 2 + kRounds);
    CHECK(ping.closed());
}

TEST_CASE("README example: a Channel closed by its producer, a Group's destructor, with_timeout, sleep_until") {
    using namespace std::chrono_literals;
    std::ostringstream out;
    green::Channel<std::string> ch;
    green::GreenletBase sleeper;
    {
        green::Group group;
        group.spawn([&] {
            for (const char* w : {"a", "b"}) ch.put(w);
            ch.close();
        });
        sleeper = group.spawn([] { green::sleep(10); });
        while (auto w = ch.next()) out << *w << '\n';
    }
    CHECK(out.str() == "a\nb\n");
    CHECK(sleeper.killed());
    int v = green::with_timeout(0.5, [] {
        green::sleep(0.01);
        return 1;
    });
    CHECK(v == 1);
    Stopwatch sw;
    green::sleep_until(std::chrono::system_clock::now() + 20ms);
    CHECK(sw.elapsed() >= 0.02 - kEps);
}
