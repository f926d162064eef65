// preload/fd_moved.cpp: close() while other green threads wait in a call on the descriptor.
//
// Linux keeps the open file alive for a call already blocked on it (close(2)): that call goes on,
// and may still return the peer's data; only the number is freed, for the program's next open.
// So before the number is closed, the calls parked on it (waits made through io_call, kMovable)
// move to a duplicate of it, kept out of the program's range; each such call goes on with the
// duplicate until it returns, and the last one closes it.
#include "io_wait.hpp"
#include "real.hpp"

#include <fcntl.h>

#include <mutex>
#include <vector>

namespace green::preload {

namespace {

struct Moved {
    int dup;
    int calls;      // still using it
    FdState* state; // what the program's descriptor was (the duplicate is the runtime's)
};
detail::SpinLock g_lock;
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
        } catch (...) {
        }
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
