// preload/io/socket.cpp: socket, socketpair, accept, accept4, connect, listen, setsockopt.
#include "../core/hook.hpp"
#include "../core/io_wait.hpp"
#include "../core/real.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

using namespace green::preload;

namespace {

FdKind kind_of_type(int type) {
    type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    return type == SOCK_STREAM || type == SOCK_SEQPACKET ? FdKind::Stream : FdKind::Datagram;
}

// A socket's timeout as setsockopt got it, as the fd table keeps it: the kernel's zero (none) is -1;
// a negative tv_sec, which the kernel takes as "expires at once" (EAGAIN, no wait), is 0.
double timeout_arg(const void* val, socklen_t len) {
    if (!val || len < socklen_t(sizeof(timeval))) return -2;  // the kernel will refuse it
    auto* tv = static_cast<const timeval*>(val);
    if (tv->tv_sec == 0 && tv->tv_usec == 0) return -1;
    if (tv->tv_sec < 0) return 0;
    return double(tv->tv_sec) + double(tv->tv_usec) * 1e-6;
}

}  // namespace

GREEN_HOOK(int, socket, int domain, int type, int protocol) {
    HOOK_ENTER(socket);
    int fd = REAL(socket)(domain, type, protocol);
    if (fd >= 0) FdTable::created(fd, kind_of_type(type), type & SOCK_NONBLOCK);
    return fd;
}

GREEN_HOOK(int, socketpair, int domain, int type, int protocol, int sv[2]) {
    HOOK_ENTER(socketpair);
    int r = REAL(socketpair)(domain, type, protocol, sv);
    if (r == 0) {
        FdTable::created(sv[0], kind_of_type(type), type & SOCK_NONBLOCK);
        FdTable::created(sv[1], kind_of_type(type), type & SOCK_NONBLOCK);
    }
    return r;
}

GREEN_HOOK(int, accept4, int fd, struct sockaddr* addr, socklen_t* len, int flags) {
    HOOK_ENTER(accept4);
    // accept has no MSG_DONTWAIT: wait until the listening socket is readable, then accept.
    int c = int(io_call(
        fd, Dir::In, "accept", [&](bool) { return REAL(accept4)(fd, addr, len, flags); }, true));
    if (c >= 0) FdTable::created(c, FdKind::Stream, flags & SOCK_NONBLOCK);  // O_NONBLOCK is not inherited
    return c;
}

GREEN_HOOK(int, accept, int fd, struct sockaddr* addr, socklen_t* len) {
    HOOK_ENTER(accept);
    return accept4(fd, addr, len, 0);
}

GREEN_HOOK(int, connect, int fd, const struct sockaddr* addr, socklen_t len) {
    HOOK_ENTER(connect);
    green::detail::Hub* h = hub();
    FdState* st;
    if (!h || !(st = FdTable::get(fd)) || st->nonblock || !st->is_socket()) return REAL(connect)(fd, addr, len);
    // A connect on a blocking socket cannot be asked not to wait: set O_NONBLOCK for this one call
    // (nothing else runs meanwhile), then wait for writability and read the outcome.
    const int fl = REAL(fcntl)(fd, F_GETFL);
    REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK);
    int r = REAL(connect)(fd, addr, len);
    int e = errno;
    REAL(fcntl)(fd, F_SETFL, fl);
    if (r == 0) return 0;
    if (e == EAGAIN && addr && addr->sa_family == AF_UNIX) {
        // A full AF_UNIX backlog: natively the call waits for room. Retry with a short back-off.
        for (double delay = 0.001;; delay = std::min(delay * 2, 0.05)) {
            if (h->park({delay, {"connect", nullptr, fd}, green::detail::kInterruptUnlessRestart}) ==
                green::detail::Wake::Signal) {
                errno = EINTR;
                return -1;
            }
            REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK);
            r = REAL(connect)(fd, addr, len);
            e = errno;
            REAL(fcntl)(fd, F_SETFL, fl);
            if (r == 0) return 0;
            if (e != EAGAIN) break;
        }
    }
    // EALREADY: a blocking connect retried after EINTR while the first attempt goes on; natively
    // the retry waits for that attempt's outcome, as the first call would have.
    if (e != EINPROGRESS && e != EALREADY) {
        errno = e;
        return -1;
    }
    // SO_SNDTIMEO as the fd table keeps it (-1: none); a blocking connect waits under it, as natively.
    if (wait_fd(*h, fd, Dir::Out, deadline_after(st->snd_timeout), "connect") < 0) {
        // Natively a timed-out blocking connect reports EINPROGRESS; a signal, EINTR. Either way the
        // connection attempt goes on in the background, as it does here.
        if (errno == EAGAIN) errno = EINPROGRESS;
        return -1;
    }
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) return -1;
    if (err) {
        errno = err;
        return -1;
    }
    // The kernel marks the socket connected only when a connect call sees the handshake done:
    // natively the blocking call did; make one, so that a later connect says EISCONN as natively.
    int saved = errno;
    REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK);
    (void)REAL(connect)(fd, addr, len);
    REAL(fcntl)(fd, F_SETFL, fl);
    errno = saved;
    return 0;
}

GREEN_HOOK(int, listen, int fd, int backlog) {
    HOOK_ENTER(listen);
    int r = REAL(listen)(fd, backlog);
    if (r == 0)
        if (FdState* st = FdTable::get(fd)) st->listening = true;
    return r;
}

GREEN_HOOK(int, setsockopt, int fd, int level, int name, const void* val, socklen_t len) {
    HOOK_ENTER(setsockopt);
    int r = REAL(setsockopt)(fd, level, name, val, len);
    if (r == 0 && level == SOL_SOCKET &&
        (name == SO_RCVTIMEO || name == SO_SNDTIMEO
#ifdef SO_RCVTIMEO_NEW
         || name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW
#endif
         )) {
        double t = timeout_arg(val, len);
        FdState* st = FdTable::get(fd);
        if (st && t >= -1) {
            bool rcv = name == SO_RCVTIMEO;
#ifdef SO_RCVTIMEO_NEW
            rcv = rcv || name == SO_RCVTIMEO_NEW;
#endif
            (rcv ? st->rcv_timeout : st->snd_timeout) = t;
        }
    }
    return r;
}
