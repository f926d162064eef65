// tests/core/stack_test.cpp: fiber stacks: sizes, reuse, and the stack overflow report.
#include "test_util.hpp"

#include <vector>

namespace {
volatile bool g_stop_recursion = false;

// Unbounded recursion that the compiler can neither turn into a loop (the result is used after the
// call) nor shrink (a volatile buffer per frame).
__attribute__((noinline)) int recurse(int depth) {
    volatile char buf[1024];
    buf[0] = char(depth);
    buf[sizeof buf - 1] = char(depth);
    if (g_stop_recursion) return 0;
    int r = recurse(depth + 1);
    return r + buf[depth % sizeof buf];
}

// Bounded recursion using about depth KiB of stack (the store at a computed index keeps the whole
// buffer in each frame: of a volatile array only read and written at [0], clang keeps one byte).
__attribute__((noinline)) int bounded(int depth) {
    volatile char buf[1024];
    buf[0] = char(depth);
    buf[depth % sizeof buf] = char(depth);
    if (depth == 0) return buf[0];
    return bounded(depth - 1) + buf[0];
}
}  // namespace

TEST_CASE("stack overflow: the child aborts with a message naming the greenlet and a stack size to try") {
    auto child = tu::run_in_child(
        [] {
            green::SpawnOptions opts;
            opts.stack_size = 64 * 1024;
            opts.name = "deep";
            auto g = green::spawn_with(opts, [] { return recurse(0); });
            g.join();
            printf("recursion returned\n");  // must not be reached
            return 0;
        },
        10.0);
    INFO(child.describe());
    CHECK(child.killed_by(SIGABRT));
    CHECK(child.has("stack overflow"));
    CHECK(child.has("deep"));
    CHECK(child.has("GREEN_STACK_SIZE=128K"));  // the advice: twice the 64 KiB it had
    CHECK(child.has("spawn_with({.stack_size = 131072}"));
    CHECK_FALSE(child.has("recursion returned"));
}

TEST_CASE("a greenlet may use most of its stack without tripping the overflow check") {
    green::SpawnOptions opts;
    opts.stack_size = 256 * 1024;
    auto g = green::spawn_with(opts, [] {
        int r = bounded(180);  // ~180 KiB of 256 KiB
        green::sleep(0);       // a switch checks the stack of a guardless fiber
        return r;
    });
    CHECK(g.join(2.0));
    CHECK(g.successful());
}

TEST_CASE("stacks are reused: sequential greenlets do not add mappings") {
    green::SpawnOptions opts;
    opts.stack_size = 64 * 1024;
    auto round = [&] {
        for (int i = 0; i < 2000; ++i) green::spawn_with(opts, [] { green::sleep(0); }).join();
    };
    round();
    long before = tu::map_count();
    round();
    long after = tu::map_count();
    INFO("mappings " << before << " -> " << after);
    CHECK(after - before < 16);
}

TEST_CASE("small requested stacks are rounded up to a usable size") {
    green::SpawnOptions opts;
    opts.stack_size = 1;  // rounded up to the minimum (8 KiB)
    auto g = green::spawn_with(opts, [] {
        green::sleep(0);
        return bounded(2);
    });
    CHECK(g.join(1.0));
    CHECK(g.successful());
}

// A greenlet that ends hands over to the next ready one; when that one has never run and the ended
// one's stack goes back to the shared pool (another size than the cached one), the fresh one's entry
// once read the pool's leftovers as "the context that left" and wrote through them.
TEST_CASE("greenlets of mixed stack sizes end into fresh ones without corrupting the pool") {
    static const size_t sizes[] = {64 * 1024, 68 * 1024, 72 * 1024};
    int ok = 0;
    for (int round = 0; round < 10; ++round) {
        std::vector<green::Greenlet<int>> gs;
        for (int i = 0; i < 40; ++i) {
            green::SpawnOptions opts;
            opts.stack_size = sizes[(i + round) % 3];
            gs.push_back(green::spawn_with(opts, [i] { return bounded(2) * 0 + i; }));
        }
        for (int i = 0; i < 40; ++i)
            if (gs[i].get(5.0) == i) ++ok;
    }
    CHECK(ok == 400);
}

// Past vm.max_map_count's budget of guarded mappings, stacks come from slabs. A canary checked at
// switches once missed an overflow that crashed before its fiber switched; with guard regions
// (MADV_GUARD_INSTALL, Linux 6.13+) every slab stack has a guard page too, and the overflow is
// reported like any other.
TEST_CASE("stack overflow among 30,000 parked greenlets is reported") {
    auto child = tu::run_in_child(
        [] {
            green::Event never;
            std::vector<green::Greenlet<void>> parked;
            green::SpawnOptions small;
            small.stack_size = 16 * 1024;
            for (int i = 0; i < 30000; ++i) parked.push_back(green::spawn_with(small, [&never] { never.wait(); }));
            green::sleep(0);  // all of them parked, their stacks taken
            green::SpawnOptions opts;
            opts.stack_size = 64 * 1024;
            // A parked neighbour of the same size: the deep one's stack then has a stack below it.
            parked.push_back(green::spawn_with(opts, [&never] { never.wait(); }));
            green::sleep(0);
            opts.name = "deep-after-30000";
            // About 100 KiB deep in a 64 KiB stack, then back: without a guard below, the frames
            // land in the neighbouring stack and the greenlet ends without a switch to check it.
            auto g = green::spawn_with(opts, [] { return bounded(100); });
            g.join();
            printf("recursion returned\n");
            return 0;
        },
        60.0);
    INFO(child.describe());
    CHECK(child.killed_by(SIGABRT));
    CHECK(child.has("stack overflow"));
    CHECK(child.has("deep-after-30000"));
    CHECK_FALSE(child.has("recursion returned"));
}
