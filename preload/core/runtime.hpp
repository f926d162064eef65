// preload/core/runtime.hpp: what every hook asks first, and what it reports.
//
// Contract:
//  - hub() is the hub a hook may park the caller on, or null when the call must go straight to
//    libc: before the preload is initialised, inside the runtime itself (libev calling epoll_wait),
//    on the runtime's own worker threads, during thread exit.
//  - debug_once(site, what) logs a fallback to a blocking call once per site when GREEN_DEBUG is
//    set. (A hook's calls are counted by HOOK_ENTER: hook.hpp.)
#pragma once

#include "../../libgreen/hub/hub.hpp"
#include "../process/process.hpp"

#include <atomic>
#include <cstdint>

namespace green::preload {

struct Config {
    bool green_threads = true;  // GREEN_THREADS=green (default) or native
    bool stats = false;         // GREEN_STATS
    bool debug = false;         // GREEN_DEBUG
    int dump_signal = 0;        // GREEN_DUMP_SIGNAL: print the green threads and go on (0: none)
};

extern Config config;
extern bool ready;  // set once the preload's constructor has run

// Depth of the program's signal handlers running on this thread (signal.cpp's trampoline).
extern thread_local int tls_in_handler __attribute__((tls_model("initial-exec")));
// Raise `sig` on the calling OS thread for the calling green thread alone (pthread_kill of a
// green thread, a pending signal it unblocked, a process-directed signal given to it, with the
// siginfo it came with): its handler runs now, and no other thread's wait is interrupted for it
// (signal.cpp).
void signal_directed(int sig, const siginfo_t* info = nullptr) noexcept;
// Whether the program has a handler installed for `sig` (signal.cpp).
bool program_handles(int sig) noexcept;
// Whether the program's handler for sig has SA_RESTART (false without a handler).
bool program_restarts(int sig) noexcept;
// Times the trampoline ran the program's handler of each signal (sigsuspend and pause wait for a
// change). Lock-free atomics: bumped in signal handlers.
extern std::atomic<uint32_t> handler_runs[65];

inline detail::Hub* hub() noexcept {
    // A vfork child borrows its parent's memory and stack: nothing of ours may run there.
    if (__builtin_expect(!ready || in_vfork_child(), 0)) return nullptr;
    detail::Hub* h = detail::Hub::for_hooks();
    // A green thread whose calls never block must still let the others run (a loop on poll(.., 0)
    // waiting for a pipe another thread fills); never from inside a signal handler.
    if (h && __builtin_expect(h->count_busy_call(), 0) && !tls_in_handler) h->fairness_yield();
    return h;
}

// What a hook reports when its park ended for `why`: 0 when notified (the awaited event came),
// `timed_out` when its own timeout passed (EAGAIN, ETIMEDOUT...), EBADF for a descriptor closed
// under it, EDEADLK when nothing could ever wake it, EINTR for a signal handler, a cancellation or
// an exception pending for the green thread.
inline int wake_errno(detail::Wake why, int timed_out) noexcept {
    switch (why) {
    case detail::Wake::Notified: return 0;
    case detail::Wake::TimedOut: return timed_out;
    case detail::Wake::Closed: return EBADF;
    case detail::Wake::LoopExit: return EDEADLK;
    default: return EINTR;
    }
}

// GREEN_HANDOFF=ms: a hub whose green thread blocks where no hook sees it goes on on another OS
// thread after this long (hub/handoff.cpp); unset: 10 ms; 0 ("off"): never.
double handoff_seconds() noexcept;
// GREEN_HUBS=N|auto: green threads run on N hubs, each on an OS thread of its own
// (hub/hub_group.hpp); unset: 1; auto: the CPUs the process may run on.
int hubs_wanted() noexcept;
// Whether GREEN_HANDOFF itself sets a threshold above 0 (not the default, nor an ignored value).
bool handoff_explicit() noexcept;

// GREEN_DEBUG: say that a call blocked the OS thread (a regular file, an unsupported flag...),
// with the descriptor and its path when there is one (fd >= 0), once per call site: `site` is
// the hook's static name, the place is the program's code that called it.
void debug_once(const char* site, const char* what, int fd = -1) noexcept;
// The preload's global locks are registered with detail::reset_in_fork_child (task.hpp): another
// hub's OS thread may hold one when a green thread forks.
using detail::fork_child_reset_locks;
using detail::reset_in_fork_child;

}  // namespace green::preload
