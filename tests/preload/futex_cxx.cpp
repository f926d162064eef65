// futex_cxx: the C++20 standard library's waiting primitives between std::threads.
// libstdc++ builds futures (__atomic_futex_unsigned) and everything on top of
// std::atomic<T>::wait (latch, counting_semaphore, barrier, stop_token's
// callback hand-off) on raw syscall(SYS_futex, ...), not on pthread calls, so
// under libgreen each of these waits must park only its green thread: a wait
// that reaches the kernel blocks the one OS thread and the thread that would
// end it never runs. Checked (short sleeps make the waits real, past the
// library's spin phase):
//  1. std::async, 8 tasks with std::launch::async, each sleeping 10 ms:
//     the futures' results; future::wait_for(20 ms) on a task still busy
//     -> future_status::timeout, then get() once it is done;
//  2. std::latch: 4 threads count down at staggered times and wait, main
//     arrive_and_wait()s; nobody passes before the last count-down;
//  3. std::counting_semaphore ping-pong between two std::threads, 200 rounds
//     (a 1 ms sleep every 20th), strictly alternating; try_acquire_for(20 ms)
//     on an empty semaphore -> false;
//  4. std::barrier of 4 threads with a completion function, 10 phases: the
//     completion runs once per phase and every thread sees all 4 arrivals;
//  5. std::atomic<int>::wait(0) ended by store + notify_one 20 ms later;
//  6. a std::jthread blocked in condition_variable_any::wait(lock, stop_token,
//     pred) is stopped by the jthread's destructor (request_stop + join): the
//     wait returns false with stop requested;
//  7. a std::shared_future waited on by 4 threads, set 20 ms later: all get
//     the value.
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <latch>
#include <mutex>
#include <semaphore>
#include <stop_token>
#include <thread>
#include <vector>

#include "t.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}
static const char *yn(bool b)
{
    return b ? "yes" : "no";
}

// ---- 1. std::async
static void async_tasks()
{
    std::vector<std::future<int>> fs;
    for (int i = 1; i <= 8; i++)
        fs.push_back(std::async(std::launch::async, [i] {
            std::this_thread::sleep_for(10ms);
            return i * i;
        }));
    int sum = 0;
    bool order_ok = true;
    for (int i = 1; i <= 8; i++) {
        int v = fs[size_t(i - 1)].get();
        sum += v;
        if (v != i * i) order_ok = false;
    }
    std::printf("std::async x8: sum of squares %d, each future its own task's result: %s\n", sum,
                yn(order_ok));
    CHECK(sum == 204 && order_ok);

    auto slow = std::async(std::launch::async, [] {
        std::this_thread::sleep_for(200ms);
        return 7;
    });
    auto t0 = Clock::now();
    auto st = slow.wait_for(20ms);
    double el = since(t0);
    int v = slow.get();
    std::printf("future::wait_for(20 ms) on a 200 ms task: %s, waited: %s; get() then: %d\n",
                st == std::future_status::timeout ? "timeout" : "ready/deferred",
                yn(el >= 0.019 && el < 0.19), v);
    CHECK(st == std::future_status::timeout && el >= 0.019 && el < 0.19 && v == 7);
}

// ---- 2. std::latch
static void latch_test()
{
    std::latch l(5);
    std::atomic<int> counted{0}, passed_early{0}, passed{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; i++)
        ts.emplace_back([&, i] {
            std::this_thread::sleep_for(std::chrono::milliseconds(5 * (i + 1)));
            counted++;
            l.count_down();
            l.wait();
            if (counted.load() != 4) passed_early++;
            passed++;
        });
    auto t0 = Clock::now();
    l.arrive_and_wait();
    double el = since(t0);
    for (auto &t : ts) t.join();
    std::printf("std::latch(5), 4 threads + main: passed %d, passed before the last count-down %d, "
                "main waited for them: %s\n",
                passed.load(), passed_early.load(), yn(el >= 0.015));
    CHECK(passed == 4 && passed_early == 0 && el >= 0.015);
}

// ---- 3. std::counting_semaphore ping-pong
static void semaphore_test()
{
    std::counting_semaphore<1> ping(0), pong(0);
    constexpr int kRounds = 200;
    std::atomic<int> turn{0};
    int bad = 0;
    std::thread a([&] {
        for (int r = 0; r < kRounds; r++) {
            ping.acquire();
            if (turn.load() != 2 * r + 1) bad++;
            turn.store(2 * r + 2);
            if (r % 20 == 0) std::this_thread::sleep_for(1ms);
            pong.release();
        }
    });
    int bad_b = 0;
    std::thread b([&] {
        for (int r = 0; r < kRounds; r++) {
            if (turn.load() != 2 * r) bad_b++;
            turn.store(2 * r + 1);
            if (r % 20 == 10) std::this_thread::sleep_for(1ms);
            ping.release();
            pong.acquire();
        }
    });
    a.join();
    b.join();
    std::printf("std::counting_semaphore ping-pong: %d turns, out of order %d\n", turn.load(), bad + bad_b);
    CHECK(turn == 2 * kRounds && bad == 0 && bad_b == 0);

    std::counting_semaphore<4> empty(0);
    auto t0 = Clock::now();
    bool got = empty.try_acquire_for(20ms);
    double el = since(t0);
    std::printf("try_acquire_for(20 ms) on an empty semaphore: %s, waited: %s\n", yn(got),
                yn(el >= 0.019 && el < 1.5));
    CHECK(!got && el >= 0.019 && el < 1.5);
}

// ---- 4. std::barrier
static void barrier_test()
{
    constexpr int kThreads = 4, kPhases = 10;
    int completions = 0;
    std::atomic<int> arrived[kPhases] = {};
    std::atomic<int> saw_all{0};
    auto on_completion = [&]() noexcept { completions++; };
    std::barrier bar(kThreads, on_completion);
    std::vector<std::thread> ts;
    for (int i = 0; i < kThreads; i++)
        ts.emplace_back([&, i] {
            for (int p = 0; p < kPhases; p++) {
                if ((p + i) % 3 == 0) std::this_thread::sleep_for(1ms);
                arrived[p]++;
                bar.arrive_and_wait();
                if (arrived[p].load() == kThreads) saw_all++;
            }
        });
    for (auto &t : ts) t.join();
    std::printf("std::barrier(4), 10 phases: completion ran %d times, threads that saw all 4 "
                "arrivals after the wait: %d/40\n",
                completions, saw_all.load());
    CHECK(completions == kPhases && saw_all == kThreads * kPhases);
}

// ---- 5. std::atomic<int>::wait / notify_one
static void atomic_wait_test()
{
    std::atomic<int> a{0};
    double waited = 0;
    int seen = -1;
    // Timed from before the thread starts: on a loaded machine it may start late.
    const auto t0 = Clock::now();
    std::thread w([&] {
        a.wait(0);
        waited = since(t0);
        seen = a.load();
    });
    std::this_thread::sleep_for(20ms);
    a.store(1);
    a.notify_one();
    w.join();
    std::printf("std::atomic<int>::wait(0), notify_one 20 ms later: saw %d, waited: %s\n", seen,
                yn(waited >= 0.015 && waited < 1.5));
    CHECK(seen == 1 && waited >= 0.015 && waited < 1.5);
}

// ---- 6. std::jthread stopped through condition_variable_any::wait(stop_token)
static void jthread_test()
{
    std::mutex m;
    std::condition_variable_any cv;
    int ret = -1, stop_seen = -1;
    std::atomic<bool> waiting{false};
    auto t0 = Clock::now();
    {
        std::jthread jt([&](std::stop_token st) {
            std::unique_lock lk(m);
            waiting = true;
            bool r = cv.wait(lk, st, [] { return false; });
            ret = r;
            stop_seen = st.stop_requested();
        });
        while (!waiting.load()) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(20ms);
    } // ~jthread: request_stop(), join()
    double el = since(t0);
    std::printf("std::jthread in condition_variable_any::wait(stop_token) stopped by ~jthread: "
                "wait returned %s, stop requested: %s, took: %s\n",
                ret == 0   ? "false"
                : ret == 1 ? "true"
                           : "?",
                yn(stop_seen == 1), el >= 0.019 && el < 1.5 ? "ok" : "wrong");
    CHECK(ret == 0 && stop_seen == 1 && el >= 0.019 && el < 1.5);
}

// ---- 7. std::shared_future
static void shared_future_test()
{
    std::promise<int> p;
    std::shared_future<int> sf = p.get_future().share();
    std::atomic<int> got{0}, waited{0};
    std::vector<std::thread> ts;
    auto t0 = Clock::now();
    for (int i = 0; i < 4; i++)
        ts.emplace_back([&, sf] {
            int v = sf.get();
            if (v == 42) got++;
            if (since(t0) >= 0.015) waited++;
        });
    std::this_thread::sleep_for(20ms);
    p.set_value(42);
    for (auto &t : ts) t.join();
    std::printf("std::shared_future, 4 waiting threads, set 20 ms later: got the value %d/4, "
                "waited for it %d/4\n",
                got.load(), waited.load());
    CHECK(got == 4 && waited == 4);
}

int main()
{
    setvbuf(stdout, nullptr, _IOLBF, 0);
    alarm(30);
    async_tasks();
    latch_test();
    semaphore_test();
    barrier_test();
    atomic_wait_test();
    jthread_test();
    shared_future_test();
    std::printf("%s\n", failed ? "RESULT: FAIL" : "RESULT: ok");
    return failed;
}
