// hub/stall_monitor.hpp: says when a green thread keeps its hub's OS thread without switching.
//
// Contract:
//  - Every hub is registered (Hub's constructor and destructor); start_stall_monitor() starts, once,
//    a native thread that looks at them every 200 ms. A hub whose running task (not its own loop)
//    has not switched for `threshold` seconds is reported once per stall on stderr: the green
//    thread, and what its OS thread is doing (the system call it is blocked in, read from
//    /proc/self/task/TID/syscall, or "running": a spin-wait or a computation). What no hook can
//    park on blocks every green thread of that hub: this makes it visible instead of silent.
//  - The monitor only reads; it counts as one of the runtime's idle threads (never a deadlock's
//    way out). It is the place a hand-off of the blocked OS thread would start from.
#pragma once

#include <sys/types.h>

namespace green::detail {

class Hub;

void register_hub(Hub* h, pid_t os_tid) noexcept;
void unregister_hub(Hub* h) noexcept;
void start_stall_monitor(double threshold_seconds) noexcept;

}  // namespace green::detail
