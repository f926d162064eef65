// preload/core/spread.cpp: see spread.hpp.
#include "spread.hpp"

#include "../threads/green_thread.hpp"

#include <cerrno>
#include <exception>
#include <utility>

namespace green::preload {

namespace {
constexpr double kIdleEnough = 0.001;  // seconds a hub must have slept with nothing to run
}

void spread_after_wait(uint64_t epoch_before) noexcept {
    // Not from a signal handler: the code it interrupted may hold its hub.
    if (tls_in_handler) return;
    detail::Hub* h = detail::Hub::current_or_null();
    if (!h || detail::Hub::in_runtime()) return;
    GreenThread* g = current_green();
    // Only after a park (a call that did not wait keeps its turn), and only if others wait to run.
    if (!g || g->park_epoch() == epoch_before || h->ready_relaxed() == 0) return;
    // A hub that has slept for less is between requests of its own threads: a move costs more
    // there (a cross-thread wake, the descriptor watched anew by the other hub's epoll) than it
    // gains. Measured on a CPU-bound thread-per-connection server, 32 connections over 2 hubs
    // (echo_threads -w 20000): 26,000 round trips/s moving to any sleeping hub, 30,500 with this
    // rule, the same as without moves.
    if (!detail::HubGroup::asleep_for(kIdleEnough)) return;
    if (g->exiting) return;  // unwinding for pthread_exit or a cancellation: let it end here
    const int saved = errno;
    std::exception_ptr stash = std::exchange(g->pending, nullptr);
    try {
        h->yield_to_idle_hub();
    } catch (...) {}
    if (stash) g->pending = std::move(stash);
    errno = saved;
}

}  // namespace green::preload
