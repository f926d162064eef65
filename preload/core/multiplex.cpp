// preload/core/multiplex.cpp: the wait loop behind poll, select and epoll_wait (see multiplex.hpp).
#include "multiplex.hpp"

#include "../threads/green_thread.hpp"

#include "fd_table.hpp"
#include "spread.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <utility>

namespace green::preload {

using detail::Wake;

namespace {
constexpr double kFirstBackoff = 0.001;  // probing of the descriptors no longer waited for
constexpr double kMaxBackoff = 0.050;
constexpr uint8_t kStrikes = 2;   // unconfirmed wake-ups in a row before a descriptor is only probed
constexpr double kForever = 1e9;  // seconds: "until a signal", without looking like a deadlock
}  // namespace

bool registrable(int fd) noexcept {
    FdState* st = FdTable::get(fd);
    if (!st) return false;
    if (st->kind != FdKind::Passthrough) return true;
    // The table may be stale (a number reused behind the hooks' back): leaving out a descriptor
    // that can become ready would make the wait miss it, so make sure.
    struct stat sb;
    if (fstat(fd, &sb) != 0) return false;
    const mode_t type = sb.st_mode & S_IFMT;
    return type != S_IFREG && type != S_IFDIR && type != S_IFBLK;
}

int wait_ready(detail::Hub& h, std::span<detail::FdInterest> fds, double deadline, detail::WaitInfo what,
               int (*probe)(void*), void* ctx, bool* interrupted, bool keep_armed) {
    SpreadAfterWait spread;
    if (interrupted) *interrupted = false;
    size_t active = fds.size();    // fds[0, active) are waited for; the rest are only probed
    std::vector<uint8_t> strikes;  // unconfirmed wake-ups in a row, per entry (allocated on the first)
    double backoff = 0;            // > 0 once some descriptor is only probed
    for (;;) {
        double left = -1;
        if (deadline >= 0) {
            left = deadline - detail::monotonic_now();
            if (left <= 0) return 0;
        }
        double t = left;
        if (backoff > 0) t = t < 0 ? backoff : std::min(t, backoff);
        // Nothing to wait for and no timeout (poll(NULL, 0, -1), select(0, ...) as pause()): natively
        // only a signal ends it. A timer far away keeps the hub from calling it a deadlock.
        if (t < 0 && !active) t = kForever;
        const detail::ParkSpec spec{t, what, detail::kInterruptAlways};
        const Wake w = active ? h.wait_fds(fds.first(active), spec, keep_armed) : h.park(spec);
        const int r = probe(ctx);
        if (r != 0) return r;
        switch (w) {
        case Wake::Notified:
            // Woken, yet the probe found nothing: count a strike for each descriptor reported.
            if (strikes.empty()) strikes.resize(fds.size());
            for (size_t i = 0; i < active;) {
                if (!fds[i].revents) {
                    strikes[i] = 0;
                    ++i;
                    continue;
                }
                if (++strikes[i] < kStrikes) {
                    ++i;
                    continue;
                }
                // Keep entries and their strikes together: move this one past the active range.
                --active;
                std::swap(fds[i], fds[active]);
                std::swap(strikes[i], strikes[active]);
                backoff = kFirstBackoff;
            }
            break;
        case Wake::TimedOut:
            if (backoff > 0) backoff = std::min(backoff * 2, kMaxBackoff);
            break;
        case Wake::Closed:
            // Another green thread closed one of them; the probe above already saw what a call
            // made now sees (POLLNVAL, EBADF, or a new file under the same number).
            break;
        case Wake::LoopExit:  // not expected: either a descriptor or a timer is always armed
            if (interrupted) *interrupted = true;
            errno = EDEADLK;
            return -1;
        default:                                    // Signal, Interrupted (green::kill, green::Timeout)
            if (w == Wake::Signal) cancel_point();  // pthread_cancel ends a wait like a signal
            if (interrupted) *interrupted = true;
            errno = EINTR;
            return -1;
        }
    }
}

}  // namespace green::preload
