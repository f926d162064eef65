// hub/stall_monitor.hpp: says when a green thread keeps its hub's OS thread without switching.
//
// Contract:
//  - Every hub is registered (Hub's constructor and destructor); start_stall_monitor() starts, once,
//    a native thread that looks at them every 200 ms. A hub whose running task (not its own loop)
//    has not switched for `threshold` seconds is reported once per stall on stderr: the green
//    thread, and what its OS thread is doing (the system call it is blocked in, read from
//    /proc/self/task/TID/syscall, or "running": a spin-wait or a computation). What no hook can
//    park on blocks every green thread of that hub: this makes it visible instead of silent.
//  - It counts as one of the runtime's idle threads (never a deadlock's way out). For hubs with
//    hand-off on, it is also what starts a hand-off (handoff.cpp), after a shorter threshold.
#pragma once

#include <sys/types.h>

namespace green::detail {

class Hub;

void register_hub(Hub* h, pid_t os_tid) noexcept;
void unregister_hub(Hub* h) noexcept;
// Report stalls of `threshold_seconds` and more (GREEN_DEBUG).
void start_stall_monitor(double threshold_seconds) noexcept;
// Hand off hubs (Hub::enable_handoff) whose task has not switched for `threshold_seconds`: the
// monitor then looks every kHandoffTick instead of every 200 ms.
void watch_for_handoff(double threshold_seconds) noexcept;
inline constexpr double kHandoffTick = 0.005;
// handoff.cpp: take `h` from its stuck task and give it to another OS thread; false if not now.
bool handoff_try_steal(Hub* h) noexcept;

}  // namespace green::detail
