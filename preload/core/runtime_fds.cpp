// preload/core/runtime_fds.cpp: keep the runtime's own descriptors out of the program's way.
//
// A hub is created on the first call that waits, when the program may already have closed a
// low descriptor and expect to get that number back (or expect EBADF on it). libev's epoll and
// eventfd descriptors are therefore moved up, near the top of RLIMIT_NOFILE, as they are made.
#include "hook.hpp"
#include "fd_table.hpp"
#include "real.hpp"

#include <sys/timerfd.h>
#include "runtime.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <mutex>

namespace green::preload {

// A descriptor number at or above the soft RLIMIT_NOFILE, where a program that looks at every
// descriptor it may have (0 .. limit-1: subprocess's close_fds, a daemon closing all) never finds
// it. The kernel lets a descriptor stay above a limit lowered after it was made: the soft limit is
// raised for the one F_DUPFD, then put back. -1 when the hard limit leaves no room.
namespace {
// Two hubs made at once (GREEN_HUBS) must not interleave the raise and the restore: one would read
// the other's raised limit as the program's, and its dup fail once that one is put back.
detail::SpinLock limit_lock;
const bool limit_lock_fork_reset = reset_in_fork_child(limit_lock);
}  // namespace

int above_soft_limit(int fd) noexcept {
    std::lock_guard g(limit_lock);
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_max <= rl.rlim_cur) return -1;
    rlimit raised = rl;
    raised.rlim_cur = std::min<rlim_t>(rl.rlim_max, rl.rlim_cur + 64);
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) return -1;
    int high = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, int(rl.rlim_cur));
    setrlimit(RLIMIT_NOFILE, &rl);
    return high;
}

int adopt_runtime_fd(int fd) noexcept {
    if (fd < 0) return fd;
    int saved = errno;
    int high = above_soft_limit(fd);
    if (high < 0) {
        // No room above it: near the top of the program's range, out of the way of low numbers.
        rlimit rl{};
        int floor = 768;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            floor = int(std::max<rlim_t>(3, rl.rlim_cur - rl.rlim_cur / 4));
        high = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, floor);
    }
    errno = saved;
    if (high >= 0) {
        REAL(close)(fd);
        fd = high;
    }  // else no room up there: keep the low number
    FdTable::mark_runtime(fd);
    return fd;
}

}  // namespace green::preload

namespace {

int relocate(int fd) {
    if (!(green::detail::Hub::constructing() || green::detail::Hub::in_runtime())) return fd;
    return green::preload::adopt_runtime_fd(fd);
}

}  // namespace

GREEN_HOOK(int, epoll_create1, int flags) {
    HOOK_ENTER(epoll_create1);
    return relocate(REAL(epoll_create1)(flags));
}
GREEN_HOOK(int, epoll_create, int size) {
    HOOK_ENTER(epoll_create);
    return relocate(REAL(epoll_create)(size));
}
GREEN_HOOK(int, eventfd, unsigned int initval, int flags) {
    HOOK_ENTER(eventfd);
    return relocate(REAL(eventfd)(initval, flags));
}
GREEN_HOOK(int, timerfd_create, int clockid, int flags) {
    HOOK_ENTER(timerfd_create);
    return relocate(REAL(timerfd_create)(clockid, flags));
}
