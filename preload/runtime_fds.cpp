// preload/runtime_fds.cpp: keep the runtime's own descriptors out of the program's way.
//
// A hub is created on the first call that waits, when the program may already have closed a
// low descriptor and expect to get that number back (or expect EBADF on it). libev's epoll and
// eventfd descriptors are therefore moved up, near the top of RLIMIT_NOFILE, as they are made.
#include "fd_table.hpp"
#include "real.hpp"

#include <sys/timerfd.h>
#include "runtime.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

namespace green::preload {

int adopt_runtime_fd(int fd) noexcept {
    if (fd < 0) return fd;
    rlimit rl{};
    int floor = 768;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        floor = int(std::max<rlim_t>(3, rl.rlim_cur - rl.rlim_cur / 4));
    int high = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, floor);
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

extern "C" {

int epoll_create1(int flags) { return relocate(REAL(epoll_create1)(flags)); }
int epoll_create(int size) { return relocate(REAL(epoll_create)(size)); }
int eventfd(unsigned int initval, int flags) { return relocate(REAL(eventfd)(initval, flags)); }
int timerfd_create(int clockid, int flags) { return relocate(REAL(timerfd_create)(clockid, flags)); }

}  // extern "C"
