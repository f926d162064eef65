#include "io_wait.hpp"

#include "real.hpp"

#include <fcntl.h>
#include <poll.h>

namespace green::preload {

bool became_nonblocking(int fd, FdState& st) noexcept {
    if (FdTable::is_exclusive(st)) return st.nonblock;
    int saved = errno;
    int fl = REAL(fcntl)(fd, F_GETFL);
    errno = saved;
    if (fl < 0) return false;  // let the real call report it
    st.nonblock = fl & O_NONBLOCK;
    return st.nonblock;
}

bool ready_now(int fd, Dir dir) noexcept {
    pollfd p{fd, short(dir == Dir::In ? POLLIN : POLLOUT), 0};
    int saved = errno;
    int n = REAL(poll)(&p, 1, 0);
    errno = saved;
    // Errors and hang-ups count as ready: the real call then reports them exactly.
    return n != 0;
}

bool open_for(int fd, FdState& st, Dir dir) noexcept {
    if (st.accmode < 0) {
        int saved = errno;
        int fl = REAL(fcntl)(fd, F_GETFL);
        errno = saved;
        if (fl < 0) return false;  // closed meanwhile: the real call says EBADF
        st.accmode = int8_t(fl & O_ACCMODE);
    }
    return st.accmode == O_RDWR || st.accmode == (dir == Dir::In ? O_RDONLY : O_WRONLY);
}

int wait_fd(detail::Hub& hub, int fd, Dir dir, double deadline, const char* what, int* moved_to) noexcept {
    double left = -1;
    if (deadline >= 0) {
        left = deadline - detail::monotonic_now();
        if (left <= 0) {
            errno = EAGAIN;
            return -1;
        }
    }
    detail::FdInterest it{fd, (dir == Dir::In ? detail::kRead : detail::kWrite) | (moved_to ? detail::kMovable : 0), 0};
    // The program's own sockets keep their read watcher armed between waits (an epoll_ctl saved per
    // wait): every close and every new descriptor goes through the preload, which disarms it then.
    // Not with native threads, where another thread's hub may watch a descriptor this one closes.
    FdState* st = FdTable::get(fd);
    const bool keep = config.green_threads && st && st->is_socket() && dir == Dir::In;
    // A wait with a deadline (SO_RCVTIMEO) ends on any handler, as natively; without, on those
    // lacking SA_RESTART.
    const uint8_t interrupt = deadline >= 0 ? detail::kInterruptAlways : detail::kInterruptUnlessRestart;
    const int e = wake_errno(hub.wait_fds({&it, 1}, {left, {what, nullptr, fd}, interrupt}, keep), EAGAIN);
    if (moved_to && it.fd != fd) *moved_to = it.fd;  // it goes on with a duplicate (fd_moved.cpp)
    if (e == 0) return 0;
    errno = e;
    return -1;
}

}  // namespace green::preload
