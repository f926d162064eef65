// hub/stall_monitor.hpp: says when a green thread keeps its hub's OS thread without switching.
//
// Contract:
//  - Every hub is registered (Hub's constructor and destructor); start_stall_monitor() starts, once,
//    a native thread that looks at them every 200 ms. A hub whose running task (not its own loop)
//    has not switched for `threshold` seconds is reported on stderr (once per green thread, 20
//    reports at most; the monitor then looks every threshold/4, at most 200 ms): the green
//    thread, and what its OS thread is doing (the system call it is blocked in, read from
//    /proc/self/task/TID/syscall, or "running": a spin-wait or a computation). What no hook can
//    park on blocks every green thread of that hub: this makes it visible instead of silent.
//  - It counts as one of the runtime's idle threads (never a deadlock's way out). For hubs with
//    hand-off on, it is also what starts a hand-off (handoff.cpp), after a shorter threshold; it
//    then looks every handoff_tick(threshold); once enough looks in a row (1, up to 20 while its
//    sleeps are cut short) found every such hub waiting in its poll, it sleeps until one comes
//    out. A task a hand-off left outside the runtime is reported as a stall would be (its hub
//    goes on).
//  - Hubs with a single live task are neither reported nor handed off: nothing waits for them.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace green::detail {

class Hub;

void register_hub(Hub* h, pid_t os_tid) noexcept;
void unregister_hub(Hub* h) noexcept;
// Report stalls of `threshold_seconds` and more (GREEN_DEBUG, GREEN_BLOCK_REPORT).
void start_stall_monitor(double threshold_seconds) noexcept;
// Hand off hubs (Hub::enable_handoff) whose task has not switched for `threshold_seconds`: the
// monitor then looks every handoff_tick(threshold) instead of every 200 ms.
void watch_for_handoff(double threshold_seconds) noexcept;
// A stall is seen between one and two looks after it began: a quarter of the threshold keeps the
// reaction within 1.5 thresholds; 1 ms to 5 ms (a look costs a few microseconds).
inline double handoff_tick(double threshold) noexcept {
    double t = threshold / 4;
    return t < 0.001 ? 0.001 : t > 0.005 ? 0.005 : t;
}
// handoff.cpp: take `h` from its stuck task (which last switched at `since`) and give it to
// another OS thread; false if not now.
bool handoff_try_steal(Hub* h, double since) noexcept;
// handoff.cpp: report(tid, task id, task name, seconds) once for each task a hand-off left
// running outside the runtime for `threshold` seconds or more.
void report_tasks_out(double threshold, double now, void (*report)(pid_t, uint64_t, const char*, double)) noexcept;
// The monitor sleeps while every hand-off hub polls (nothing can stall): a hub coming out of its
// poll wakes it when monitor_asleep is set.
extern std::atomic<uint32_t> monitor_asleep;
void wake_monitor() noexcept;

}  // namespace green::detail
