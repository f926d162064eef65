// preload/core/spread.cpp: see spread.hpp.
#include "spread.hpp"

#include "../threads/green_thread.hpp"

#include <cerrno>
#include <exception>
#include <utility>

namespace green::preload {

void spread_after_wait(uint64_t epoch_before) noexcept {
    // Not from a signal handler: the code it interrupted may hold its hub.
    if (tls_in_handler) return;
    detail::Hub* h = detail::Hub::current_or_null();
    if (!h || detail::Hub::in_runtime()) return;
    GreenThread* g = current_green();
    // Only after a park (a call that did not wait keeps its turn), and only if others wait to run.
    if (!g || g->park_epoch() == epoch_before || h->ready_relaxed() == 0) return;
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
