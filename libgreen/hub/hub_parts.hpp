// hub/hub_parts.hpp: what hub.cpp shares with the files split from it (task_lifecycle.cpp,
// fd_waits.cpp, overflow_report.cpp). Internal to hub/: no other layer includes it.
#pragma once

#include <green/detail/task.hpp>

struct ev_loop;

namespace green::detail {

// Switches between ready tasks before the hub polls libev once without blocking, so that a set of
// yielders cannot starve I/O and timers (Go checks its netpoller on a similar tick).
inline constexpr unsigned kRoundBudget = 1024;

// Set once the calling thread's hub is destroyed (thread exit): no green call may make another.
extern thread_local bool tls_hub_gone __attribute__((tls_model("initial-exec")));

// ---- overflow_report.cpp --------------------------------------------------------------------
[[noreturn]] void report_overflow(const Task* t, const char* how);
// The process's SIGSEGV handler that names a fiber whose guard page was hit (installed once).
void install_segv_handler();
// The calling thread's alternate signal stack for that handler, unless the program set one:
// the stack to give to remove_altstack, or null.
void* install_altstack();
void remove_altstack(void* stack) noexcept;

// ---- fd_waits.cpp: a hub's watchers by descriptor (Hub::fd_waits_) --------------------------
void* new_fd_waits();
void delete_fd_waits(void* fd_waits) noexcept;
// In a fork child: no task waits on a descriptor any more; libev forgets every watcher.
void forget_fd_waits(struct ev_loop* loop, void* fd_waits) noexcept;

}  // namespace green::detail
