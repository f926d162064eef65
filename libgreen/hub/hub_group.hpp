// hub/hub_group.hpp: several hubs, each on an OS thread of its own, sharing one process's tasks.
//
// Contract:
//  - HubGroup::start(n) makes the calling thread's hub the group's first and starts n - 1 more,
//    each on a new OS thread that does nothing but run its hub (its root task only serves: it
//    never returns and never gets LoopExit). Once per process; a fork child has one hub again.
//  - pick() says where a new task goes: the group's hub with the fewest tasks started on it and
//    not yet ended (ties go round the group), so threads made in a burst spread over the hubs.
//    A hub with several ready tasks gives half of those that yielded movably (sched_yield; the end
//    of a preload call that waited: Hub::yield_to_idle_hub) to a hub that sleeps with nothing to
//    run; other tasks stay on their hub. A hub as a whole may still move to another OS thread
//    (hand-off).
//  - Deadlock across hubs: the first hub's root gets LoopExit only when every other hub of the
//    group is idle (no ready task, nothing in libev that could fire: no descriptor, no timer) and
//    no wake-up posted from one hub to another is still on its way.
#pragma once

#include "hub.hpp"

namespace green::detail {

class HubGroup {
public:
    // Start the group (see above); `on_start` runs on each new hub's OS thread, in its root task,
    // before the hub takes tasks. Returns the number of hubs the group has (1: it could not
    // start any other, or n <= 1).
    static int start(int n, void (*on_start)(Hub&)) noexcept;
    static int size() noexcept;
    static bool active() noexcept { return size() > 1; }
    // The group's first hub (the one that started it), or null without a group.
    static Hub* first() noexcept;
    // The hub a new task should start on (`mine` without a group).
    static Hub& pick(Hub& mine) noexcept;
    // The i-th hub, 0 <= i < size().
    static Hub* at(int i) noexcept;
    // In a fork child: the calling thread's hub is the only one left.
    static void after_fork() noexcept;

    // ---- for the hubs' loops (hub.cpp) --------------------------------------------------------
    // A hub of the group other than the first is about to block with nothing that could fire.
    static void idle_enter() noexcept;
    static void idle_leave() noexcept;
    // Whether every hub but the first is idle and no posted wake-up is on its way.
    static bool others_quiet() noexcept;
    // Wake-ups posted from one OS thread to a hub, not yet taken by it.
    static void posted(int n) noexcept;
    // A hub blocks in its poll with nothing ready (true), or is back (false); whether one does,
    // and one that does other than `not_this` (null if none).
    static void sleeping(Hub& h, bool now) noexcept;
    static bool anyone_sleeping() noexcept { return sleepers_.load(std::memory_order_relaxed) > 0; }
    static Hub* sleeping_hub(const Hub* not_this) noexcept;
    // Whether a hub has slept with nothing to run for `seconds` at least (any thread, a hint).
    static bool asleep_for(double seconds) noexcept;

private:
    static std::atomic<int> sleepers_;
};

}  // namespace green::detail
