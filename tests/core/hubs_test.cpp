// tests/core/hubs_test.cpp: greenlets on several hubs (start_hubs, spawn_on, any_hub, StreamServer).
//
// start_hubs is once per process and changes how its hubs test for deadlocks, so each case runs
// in a fork()ed child (tu::run_in_child), which starts its own hubs and _exit()s.
#include <doctest/doctest.h>

#include <green/green.h>
#include <green/green.hpp>

#include "test_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <vector>

namespace {

long os_tid() { return ::syscall(SYS_gettid); }

// Returns 0, or the number of the first check that failed (printed with its line).
#define EXPECT(cond)                                            \
    do {                                                        \
        if (!(cond)) {                                          \
            printf("failed at line %d: %s\n", __LINE__, #cond); \
            return __LINE__;                                    \
        }                                                       \
    } while (0)

}  // namespace

TEST_CASE("start_hubs: greenlets run on the hub asked for, each hub on an OS thread of its own") {
    auto child = tu::run_in_child([] {
        EXPECT(green::hub_count() == 1);
        EXPECT(green::start_hubs(2) == 2);
        EXPECT(green::hub_count() == 2);
        EXPECT(green::start_hubs(3) == 2);  // once per process
        const long main_tid = os_tid();
        EXPECT(green::spawn_on(0, os_tid).get() == main_tid);
        const long other = green::spawn_on(1, os_tid).get();
        EXPECT(other != main_tid);
        EXPECT(green::spawn_on(1, os_tid).get() == other);  // the same hub, the same OS thread
        EXPECT(green::spawn(os_tid).get() == main_tid);     // this_hub, as always
        bool threw = false;
        try {
            green::spawn_on(2, os_tid);
        } catch (const std::out_of_range& e) {
            threw = std::string(e.what()).find("no hub 2") != std::string::npos;
        }
        EXPECT(threw);
        // any_hub: the least loaded, so greenlets that live a while spread over both.
        std::vector<green::Greenlet<long>> gs;
        for (int i = 0; i < 8; ++i)
            gs.push_back(green::spawn_on(green::any_hub, [] {
                green::sleep(0.05);
                return os_tid();
            }));
        std::set<long> tids;
        for (auto& g : gs) tids.insert(g.get());
        EXPECT(tids.size() == 2);
        EXPECT(tids.count(main_tid) == 1 && tids.count(other) == 1);
        return 0;
    });
    INFO(child.describe());
    CHECK(child.exited_with(0));
}

TEST_CASE("greenlets of different hubs share locks, events, queues, joins and kills") {
    auto child = tu::run_in_child([] {
        EXPECT(green::start_hubs(2) == 2);
        // A counter under a green::Lock, from 4 greenlets on each hub, some switching inside.
        green::Lock lock;
        long counter = 0;
        std::vector<green::Greenlet<void>> workers;
        for (int i = 0; i < 8; ++i)
            workers.push_back(green::spawn_on(i % 2, [&, i] {
                for (int k = 0; k < 20000; ++k) {
                    std::lock_guard g(lock);
                    long v = counter;
                    if ((k + i) % 997 == 0) green::sleep(0);  // holding it: the others must wait
                    counter = v + 1;
                }
            }));
        green::joinall(workers);
        EXPECT(counter == 8 * 20000);
        // A queue from hub 1 to a consumer on hub 0; an Event set from hub 1.
        green::Queue<int> q(16);
        green::Event done;
        auto producer = green::spawn_on(1, [&] {
            for (int k = 1; k <= 10000; ++k) q.put(k);
            done.set();
        });
        long sum = 0;
        for (int k = 0; k < 10000; ++k) sum += q.get();
        EXPECT(done.wait(5.0));
        EXPECT(sum == 10000L * 10001 / 2);
        producer.join();
        // A kill from hub 0 ends a sleep on hub 1; its joiner on hub 0 wakes.
        auto sleeper = green::spawn_on(1, [] { green::sleep(60); });
        green::sleep(0.01);
        sleeper.kill();
        EXPECT(sleeper.dead() && sleeper.killed());
        return 0;
    });
    INFO(child.describe());
    CHECK(child.exited_with(0));
}

TEST_CASE("start_hubs: waiting for ever on hub 0 while hub 1 waits too is a LoopExit, not a hang") {
    auto child = tu::run_in_child(
        [] {
            EXPECT(green::start_hubs(2) == 2);
            green::Event never, never2;
            green::SpawnOptions opts;
            opts.name = "stuck-on-hub-1";
            opts.hub = 1;
            auto g = green::spawn_with(opts, [&] { never2.wait(); });
            green::sleep(0.02);
            try {
                never.wait();
                return 2;
            } catch (const green::LoopExit& e) {
                printf("%s\n", e.what());
            }
            return 0;
        },
        10.0);
    INFO(child.describe());
    CHECK(child.exited_with(0));
    CHECK(child.has("LoopExit"));
}

TEST_CASE("StreamServer spreads its connections over the hubs") {
    auto child = tu::run_in_child([] {
        EXPECT(green::start_hubs(2) == 2);
        int lfd = green::listen_tcp("127.0.0.1", 0);
        EXPECT(lfd >= 0);
        green::Lock lock;
        std::set<long> handler_tids;
        green::StreamServer server(lfd, [&](int fd) {
            {
                std::lock_guard g(lock);
                handler_tids.insert(os_tid());
            }
            char buf[64];
            ssize_t n;
            while ((n = green::read(fd, buf, sizeof buf)) > 0) green::write_all(fd, buf, size_t(n));
        });
        server.start();
        const uint16_t port = server.port();
        std::vector<green::Greenlet<bool>> clients;
        for (int i = 0; i < 20; ++i)
            // (spread too: the handlers go to the hub with fewer greenlets, clients included)
            clients.push_back(green::spawn_on(green::any_hub, [port, i] {
                int c = green::connect_tcp("127.0.0.1", port, 5.0);
                if (c < 0) return false;
                char msg[32], back[32];
                int len = snprintf(msg, sizeof msg, "hello %d", i);
                bool ok = green::write_all(c, msg, size_t(len)) == len;
                ssize_t got = 0;
                while (ok && got < len) {
                    ssize_t n = green::read(c, back + got, size_t(len - got), 5.0);
                    if (n <= 0) ok = false;
                    else got += n;
                }
                ::close(c);
                return ok && memcmp(msg, back, size_t(len)) == 0;
            }));
        for (auto& c : clients) EXPECT(c.get());
        server.stop();
        EXPECT(handler_tids.size() == 2);
        ::close(lfd);
        return 0;
    });
    INFO(child.describe());
    CHECK(child.exited_with(0));
}

namespace {
void* tid_of_runner(void*) { return reinterpret_cast<void*>(os_tid()); }
}  // namespace

TEST_CASE("C API: green_start_hubs and green_spawn_on") {
    auto child = tu::run_in_child([] {
        EXPECT(green_hub_count() == 1);
        EXPECT(green_start_hubs(2) == 2);
        EXPECT(green_hub_count() == 2);
        green_t* g = green_spawn_on(1, tid_of_runner, nullptr);
        EXPECT(g != nullptr);
        void* r = nullptr;
        EXPECT(green_join(g, 5.0, &r) == 0);
        green_release(g);
        EXPECT(reinterpret_cast<long>(r) != os_tid());
        errno = 0;
        EXPECT(green_spawn_on(7, tid_of_runner, nullptr) == nullptr && errno == EINVAL);
        green_t* here = green_spawn_on(GREEN_THIS_HUB, tid_of_runner, nullptr);
        EXPECT(green_join(here, 5.0, &r) == 0 && reinterpret_cast<long>(r) == os_tid());
        green_release(here);
        return 0;
    });
    INFO(child.describe());
    CHECK(child.exited_with(0));
}
