// tests/core/scale_test.cpp: many greenlets: no leak over 100,000 spawn/join cycles, and 70,000 alive
// at once (more stacks than vm.max_map_count leaves room for guard pages).
#include "test_util.hpp"

#include <atomic>
#include <thread>
#include <vector>

using tu::Stopwatch;

namespace {
green::SpawnOptions small_stack() {
    green::SpawnOptions opts;
    opts.stack_size = 16 * 1024;  // modest, to keep it fast
    return opts;
}

// 100,000 greenlets, 1,000 alive at a time, each switching once. Returns how many completed.
int spawn_100k_round() {
    int completed = 0;
    std::vector<green::Greenlet<void>> batch;
    batch.reserve(1000);
    for (int b = 0; b < 100; ++b) {
        batch.clear();
        for (int i = 0; i < 1000; ++i)
            batch.push_back(green::spawn_with(small_stack(), [&completed] {
                green::sleep(0);
                ++completed;
            }));
        green::joinall(batch);
    }
    return completed;
}
}  // namespace

TEST_CASE("100,000 greenlets spawned and joined, twice: the second round does not grow RSS") {
    Stopwatch sw;
    CHECK(spawn_100k_round() == 100000);
    long rss1 = tu::rss_bytes();
    long maps1 = tu::map_count();
    CHECK(spawn_100k_round() == 100000);
    long rss2 = tu::rss_bytes();
    long maps2 = tu::map_count();
    INFO("RSS " << rss1 / 1024 << " KiB -> " << rss2 / 1024 << " KiB; mappings " << maps1 << " -> " << maps2);
    CHECK(rss1 > 0);
    CHECK(rss2 < rss1 + rss1 / 10);  // < 10% growth: stacks and task records are reused/freed
    CHECK(maps2 - maps1 < 16);       // no new stack mappings: the pool reuses stacks
    CHECK(sw.elapsed() < 20.0);
}

// In a child so that the pool's one-time notice is observable and its memory is given back.
TEST_CASE("70,000 simultaneously sleeping greenlets: slabs take over, one notice") {
    auto child = tu::run_in_child(
        [] {
            std::atomic<int> done{0};
            // A fresh thread has a hub of its own: nothing of the parent's loop is shared.
            std::thread th([&] {
                std::vector<green::Greenlet<void>> gs;
                gs.reserve(70000);
                for (int i = 0; i < 70000; ++i)
                    gs.push_back(green::spawn_with(small_stack(), [&done] {
                        green::sleep(0.3);  // all 70,000 are parked at once
                        ++done;
                    }));
                green::joinall(gs);
            });
            th.join();
            printf("done %d\n", done.load());
            return done == 70000 ? 0 : 1;
        },
        40.0);
    INFO(child.describe());
    CHECK(child.exited_with(0));
    CHECK(child.has("done 70000"));
    // Exactly one notice about the switch to slab stacks (with guard regions where the kernel
    // has them, else without guard pages).
    size_t notices = 0;
    for (size_t pos = 0; (pos = child.output.find("further stacks come from slabs", pos)) != std::string::npos; ++pos)
        ++notices;
    CHECK(notices == 1);
}
