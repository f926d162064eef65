// preload/core/fd_moved.cpp: close() while other green threads wait in a call on the descriptor.
//
// Linux keeps the open file alive for a call already blocked on it (close(2)): that call goes on,
// and may still return the peer's data; only the number is freed, for the program's next open.
// So before the number is closed, the calls parked on it (waits made through io_call, kMovable)
// move to a duplicate of it, kept out of the program's range; each such call goes on with the
// duplicate until it returns, and the last one closes it.
#include "io_wait.hpp"
#include "real.hpp"
#include "../../libgreen/hub/hub_group.hpp"

#include <fcntl.h>

#include <mutex>
#include <vector>

namespace green::preload {

namespace {

struct Moved {
    int dup;
    int calls;       // still using it
    FdState* state;  // what the program's descriptor was (the duplicate is the runtime's)
};
detail::SpinLock g_lock;
const bool g_lock_fork_reset = reset_in_fork_child(g_lock);
std::vector<Moved>* g_moved = nullptr;

}  // namespace

void keep_for_waiters(detail::Hub& h, int fd) noexcept {
    if (h.movable_fd_waits(fd) == 0) return;
    int saved = errno;
    int dup = adopt_runtime_fd(REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 0));
    errno = saved;
    if (dup < 0) return;  // no descriptor left: the waiters get EBADF, as before
    FdState* st = FdTable::get(fd);
    auto* state = new (std::nothrow) FdState(st ? *st : FdState{});
    bool listed = false;
    if (state) {
        std::lock_guard g(g_lock);
        try {
            if (!g_moved) g_moved = new std::vector<Moved>;
            g_moved->push_back({dup, 0, state});
            listed = true;
        } catch (...) {}
    }
    if (!listed) {
        delete state;
        FdTable::forget(dup);
        REAL(close)(dup);
        return;
    }
    int n = h.move_fd_waits(fd, dup);
    {
        std::lock_guard g(g_lock);
        for (Moved& m : *g_moved)
            if (m.dup == dup) m.calls = n;
    }
    if (n == 0) release_moved(dup, /*taken=*/false);
}

namespace {
struct Retiring {
    int fd;
    bool keep;
};
void retire_here(detail::Hub& h, void* arg) {
    auto* r = static_cast<Retiring*>(arg);
    if (r->keep) keep_for_waiters(h, r->fd);
    h.cancel_fd(r->fd);
}
}  // namespace

void retire_fd_waits(int fd, bool keep) noexcept {
    Retiring r{fd, keep};
    // The runtime's own code (the monitor reading /proc, a hub making its stack pool) closes
    // descriptors of its own: nothing waits on them, and asking another hub, which may be inside
    // the runtime too, could wait for ever.
    detail::Hub* mine = detail::Hub::current_or_null();
    if (!mine || detail::Hub::in_runtime()) return;
    retire_here(*mine, &r);
    // Another hub's tables are its own thread's: it does the same there, between its tasks.
    for (int i = 0, n = detail::HubGroup::size(); n > 1 && i < n; ++i)
        if (detail::Hub* h = detail::HubGroup::at(i); h != mine && h->may_know_fd(fd)) h->call(retire_here, &r);
}

FdState* moved_state(int dup) noexcept {
    std::lock_guard g(g_lock);
    if (g_moved)
        for (Moved& m : *g_moved)
            if (m.dup == dup) return m.state;
    return nullptr;
}

void release_moved(int dup, bool taken) noexcept {
    FdState* state = nullptr;
    {
        std::lock_guard g(g_lock);
        if (!g_moved) return;
        for (Moved& m : *g_moved)
            if (m.dup == dup) {
                if (taken && --m.calls > 0) return;
                state = m.state;
                m = g_moved->back();
                g_moved->pop_back();
                break;
            }
    }
    delete state;
    if (detail::Hub* h = detail::Hub::current_or_null()) h->cancel_fd(dup);
    FdTable::forget(dup);
    REAL(close)(dup);
}

}  // namespace green::preload
