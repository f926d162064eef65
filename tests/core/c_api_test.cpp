// tests/core/c_api_test.cpp: the C API of green.h (used here from C++; it is plain C linkage).
#include <green/green.h>

#include "test_util.hpp"

#include <cerrno>
#include <climits>
#include <cstdint>
#include <thread>
#include <vector>

using tu::kEps;
using tu::SockPair;
using tu::Stopwatch;

namespace {
void* twice(void* arg) {
    green_sleep(0.02);
    return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(arg) * 2);
}

struct Trace {
    std::vector<int>* order;
    int id;
};
void* yielder(void* arg) {
    auto* t = static_cast<Trace*>(arg);
    t->order->push_back(t->id);
    green_yield();
    t->order->push_back(t->id + 10);
    return nullptr;
}

void* read_waiter(void* arg) {
    int fd = *static_cast<int*>(arg);
    return reinterpret_cast<void*>(intptr_t(green_wait_readable(fd, 1.0)));
}

void* report_id(void* arg) {
    *static_cast<unsigned long long*>(arg) = green_current_id();
    return nullptr;
}
}  // namespace

TEST_CASE("C API: green_spawn, green_join with result, green_dead, green_release") {
    green_t* g = green_spawn(twice, reinterpret_cast<void*>(uintptr_t(21)));
    REQUIRE(g != nullptr);
    CHECK_FALSE(green_dead(g));
    void* result = nullptr;
    Stopwatch sw;
    CHECK(green_join(g, -1, &result) == 0);
    CHECK(sw.elapsed() >= 0.02 - kEps);
    CHECK(reinterpret_cast<uintptr_t>(result) == 42);
    CHECK(green_dead(g));
    CHECK(green_join(g, 0, nullptr) == 0);  // result pointer is optional
    green_release(g);
}

TEST_CASE("C API: green_join times out with -1/ETIMEDOUT") {
    green_t* g = green_spawn(twice, nullptr);
    REQUIRE(g);
    errno = 0;
    CHECK(green_join(g, 0.005, nullptr) == -1);
    CHECK(errno == ETIMEDOUT);
    CHECK(green_join(g, 1.0, nullptr) == 0);
    green_release(g);
}

TEST_CASE("C API: green_release does not stop the greenlet") {
    int done = 0;
    green_t* g = green_spawn(
        [](void* arg) -> void* {
            green_sleep(0.01);
            *static_cast<int*>(arg) = 1;
            return nullptr;
        },
        &done);
    green_release(g);
    CHECK(green_sleep(0.05) == 0);
    CHECK(done == 1);
}

TEST_CASE("C API: green_sleep and green_yield; yield ordering") {
    Stopwatch sw;
    CHECK(green_sleep(0.02) == 0);
    CHECK(sw.elapsed() >= 0.02 - kEps);
    std::vector<int> order;
    Trace a{&order, 1}, b{&order, 2};
    green_t* ga = green_spawn(yielder, &a);
    green_t* gb = green_spawn(yielder, &b);
    CHECK(green_yield() == 0);
    CHECK(order == std::vector<int>{1, 2});
    CHECK(green_join(ga, 1.0, nullptr) == 0);
    CHECK(green_join(gb, 1.0, nullptr) == 0);
    CHECK(order == std::vector<int>{1, 2, 11, 12});
    green_release(ga);
    green_release(gb);
}

TEST_CASE("C API: green_wait_readable / green_wait_writable") {
    SockPair sp;
    Stopwatch sw;
    CHECK(green_wait_readable(sp.a, 0.03) == 0);
    CHECK(sw.elapsed() >= 0.03 - kEps);
    CHECK(green_wait_writable(sp.a, 1.0) == 1);
    green_t* g = green_spawn(read_waiter, &sp.a);
    CHECK(green_sleep(0.01) == 0);
    CHECK(::write(sp.b, "x", 1) == 1);
    void* r = nullptr;
    CHECK(green_join(g, 1.0, &r) == 0);
    CHECK(reinterpret_cast<intptr_t>(r) == 1);
    green_release(g);
    // Cancelled while waiting: -1/EBADF.
    sp.drain_a();
    green_t* c = green_spawn(
        [](void* arg) -> void* {
            int fd = *static_cast<int*>(arg);
            int rc = green_wait_readable(fd, -1);
            return reinterpret_cast<void*>(intptr_t(rc == -1 && errno == EBADF));
        },
        &sp.a);
    CHECK(green_sleep(0.01) == 0);
    green::cancel_wait(sp.a);
    CHECK(green_join(c, 1.0, &r) == 0);
    CHECK(reinterpret_cast<intptr_t>(r) == 1);
    green_release(c);
}

TEST_CASE("C API: green_spawn_stack with a large stack") {
    green_t* g = green_spawn_stack(
        [](void*) -> void* {
            volatile char big[700 * 1024];  // more than the 256 KiB default
            big[0] = 1;
            big[sizeof big - 1] = 1;
            return reinterpret_cast<void*>(uintptr_t(big[0] + big[sizeof big - 1]));
        },
        nullptr, 1 << 20);
    REQUIRE(g);
    void* r = nullptr;
    CHECK(green_join(g, 1.0, &r) == 0);
    CHECK(reinterpret_cast<uintptr_t>(r) == 2);
    green_release(g);
}

TEST_CASE("C API: green_current_id is distinct per greenlet and 0 in a thread's main context") {
    unsigned long long a = 99, b = 99;
    green_t* ga = green_spawn(report_id, &a);
    green_t* gb = green_spawn(report_id, &b);
    CHECK(green_join(ga, 1.0, nullptr) == 0);
    CHECK(green_join(gb, 1.0, nullptr) == 0);
    CHECK(a != b);
    CHECK(a != 0);
    CHECK(b != 0);
    green_release(ga);
    green_release(gb);
    // green.h: "Number of the calling greenlet (0 for a thread's main context)". Regression test (fixed; see
    // the report): a thread's main context gets an ordinary task id (and the first task the process
    // creates, if it is a spawned greenlet, gets id 0).
    CHECK(green_current_id() == 0);
    unsigned long long in_thread = 99;
    std::thread th([&] { in_thread = green_current_id(); });
    th.join();
    CHECK(in_thread == 0);
}

TEST_CASE("C API: green_wait_readable/writable on a descriptor that is not open: -1/EBADF") {
    for (int fd : {-1, 77, INT_MAX}) {
        CAPTURE(fd);
        errno = 0;
        CHECK(green_wait_readable(fd, 0.1) == -1);
        CHECK(errno == EBADF);
        errno = 0;
        CHECK(green_wait_writable(fd, 0.1) == -1);
        CHECK(errno == EBADF);
    }
}
