// preload/io.cpp: read, write, readv, writev, recv*, send*, sendfile and their fortified forms.
//
// Sockets are driven with MSG_DONTWAIT, never by flipping O_NONBLOCK on the shared description.
// A blocking send on a stream socket returns only once everything is queued (or on a timeout or
// signal, with what was sent), as the kernel's does: a short write is not invented.
#include "io_wait.hpp"
#include "real.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

using namespace green::preload;

extern "C" {
ssize_t __read_chk(int fd, void* buf, size_t nbytes, size_t buflen);
ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buflen, int flags, struct sockaddr* addr,
                       socklen_t* addrlen);
[[noreturn]] void __chk_fail(void);
}

namespace {

// The output side: op(done, dontwait) sends what is left after `done` bytes.
template <class Op>
ssize_t out_call(int fd, size_t total, const char* what, Op op) {
    green::detail::Hub* h = hub();
    FdState* st;
    if (!h || !(st = FdTable::get(fd)) || st->kind == FdKind::Passthrough) return op(0, false);
    if (st->kind != FdKind::Stream) return io_call(fd, Dir::Out, what, [&](bool dw) { return op(0, dw); });
    if (st->nonblock && FdTable::is_exclusive(*st)) return op(0, false);
    const double deadline = deadline_after(st->snd_timeout);
    size_t done = 0;
    for (;;) {
        ssize_t r = op(done, true);
        if (r >= 0) {
            done += size_t(r);
            if (done >= total) return ssize_t(done);
            if (st->nonblock && became_nonblocking(fd, *st)) return ssize_t(done);  // a partial write, as natively
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) return done ? ssize_t(done) : -1;
        if (became_nonblocking(fd, *st)) {
            if (done) return ssize_t(done);
            errno = EAGAIN;
            return -1;
        }
        if (wait_fd(*h, fd, Dir::Out, deadline, what) < 0) {
            // On a timeout the kernel would still have copied what fits by now (epoll reports
            // writability only once a good part of the buffer is free): one last try.
            if (errno == EAGAIN) {
                r = op(done, true);
                if (r > 0) done += size_t(r);
                errno = EAGAIN;
            }
            return done ? ssize_t(done) : -1;
        }
    }
}

// MSG_WAITALL on a blocking stream socket: gather until `len` bytes, EOF, an error or a timeout.
template <class Op>
ssize_t recv_all(int fd, size_t len, const char* what, Op op) {
    size_t got = 0;
    for (;;) {
        ssize_t r = io_call(fd, Dir::In, what, [&](bool dw) { return op(got, dw); });
        if (r < 0) return got ? ssize_t(got) : -1;
        got += size_t(r);
        if (r == 0 || got >= len) return ssize_t(got);
    }
}

bool waitall_on_stream(int fd, int flags) {
    if (!(flags & MSG_WAITALL) || (flags & MSG_DONTWAIT)) return false;
    FdState* st = FdTable::get(fd);
    return st && st->kind == FdKind::Stream && !(st->nonblock && FdTable::is_exclusive(*st));
}

// iovecs advanced past `skip` bytes, for resuming a partial writev/sendmsg.
struct IovCursor {
    std::vector<iovec> v;
    IovCursor(const iovec* iov, int n, size_t skip) {
        for (int i = 0; i < n; ++i) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            v.push_back({static_cast<char*>(iov[i].iov_base) + skip, iov[i].iov_len - skip});
            skip = 0;
        }
    }
};

size_t iov_total(const iovec* iov, int n) {
    size_t t = 0;
    for (int i = 0; i < n; ++i) t += iov[i].iov_len;
    return t;
}

}  // namespace

extern "C" {

ssize_t read(int fd, void* buf, size_t n) {
    count(Call::read);
    if (n == 0) return REAL(read)(fd, buf, n);  // never blocks natively; recv would say EAGAIN
    return io_call(fd, Dir::In, "read", [&](bool dw) {
        return dw ? REAL(recv)(fd, buf, n, MSG_DONTWAIT) : REAL(read)(fd, buf, n);
    }, false, n);
}

ssize_t __read_chk(int fd, void* buf, size_t nbytes, size_t buflen) {
    if (nbytes > buflen) __chk_fail();
    return read(fd, buf, nbytes);
}

ssize_t write(int fd, const void* buf, size_t n) {
    count(Call::write);
    auto* p = static_cast<const char*>(buf);
    return out_call(fd, n, "write", [&](size_t done, bool dw) {
        return dw ? REAL(send)(fd, p + done, n - done, MSG_DONTWAIT) : REAL(write)(fd, p + done, n - done);
    });
}

ssize_t readv(int fd, const struct iovec* iov, int iovcnt) {
    count(Call::readv);
    if (iovcnt <= 0 || iov_total(iov, iovcnt) == 0) return REAL(readv)(fd, iov, iovcnt);
    return io_call(fd, Dir::In, "readv", [&](bool dw) {
        if (!dw) return REAL(readv)(fd, iov, iovcnt);
        msghdr m{};
        m.msg_iov = const_cast<iovec*>(iov);
        m.msg_iovlen = size_t(iovcnt);
        return REAL(recvmsg)(fd, &m, MSG_DONTWAIT);
    });
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
    count(Call::writev);
    if (iovcnt < 0 || iovcnt > IOV_MAX) return REAL(writev)(fd, iov, iovcnt);  // the real EINVAL
    return out_call(fd, iov_total(iov, iovcnt), "writev", [&](size_t done, bool dw) {
        if (!dw) return REAL(writev)(fd, iov, iovcnt);
        IovCursor cur(iov, iovcnt, done);
        msghdr m{};
        m.msg_iov = cur.v.data();
        m.msg_iovlen = cur.v.size();
        return REAL(sendmsg)(fd, &m, MSG_DONTWAIT);
    });
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
    count(Call::recv);
    if (len == 0 || (flags & MSG_DONTWAIT)) return REAL(recv)(fd, buf, len, flags);
    auto* p = static_cast<char*>(buf);
    if (waitall_on_stream(fd, flags))
        return recv_all(fd, len, "recv", [&](size_t got, bool dw) {
            return REAL(recv)(fd, p + got, len - got, (flags & ~MSG_WAITALL) | (dw ? MSG_DONTWAIT : 0));
        });
    return io_call(fd, Dir::In, "recv", [&](bool dw) { return REAL(recv)(fd, buf, len, flags | (dw ? MSG_DONTWAIT : 0)); },
                   false, (flags & MSG_PEEK) ? 0 : len);
}

ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buflen, int flags) {
    if (len > buflen) __chk_fail();
    return recv(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void* buf, size_t len, int flags, struct sockaddr* addr, socklen_t* addrlen) {
    count(Call::recvfrom);
    if (len == 0 || (flags & MSG_DONTWAIT)) return REAL(recvfrom)(fd, buf, len, flags, addr, addrlen);
    auto* p = static_cast<char*>(buf);
    if (waitall_on_stream(fd, flags))
        return recv_all(fd, len, "recvfrom", [&](size_t got, bool dw) {
            return REAL(recvfrom)(fd, p + got, len - got, (flags & ~MSG_WAITALL) | (dw ? MSG_DONTWAIT : 0), addr, addrlen);
        });
    return io_call(fd, Dir::In, "recvfrom", [&](bool dw) {
        return REAL(recvfrom)(fd, buf, len, flags | (dw ? MSG_DONTWAIT : 0), addr, addrlen);
    });
}

ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buflen, int flags, struct sockaddr* addr,
                       socklen_t* addrlen) {
    if (len > buflen) __chk_fail();
    return recvfrom(fd, buf, len, flags, addr, addrlen);
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
    count(Call::recvmsg);
    if (flags & MSG_DONTWAIT) return REAL(recvmsg)(fd, msg, flags);
    // The kernel rewrites msg_namelen/msg_controllen/msg_flags on each try: restore the caller's.
    const socklen_t namelen = msg->msg_namelen;
    const size_t controllen = msg->msg_controllen;
    return io_call(fd, Dir::In, "recvmsg", [&](bool dw) {
        msg->msg_namelen = namelen;
        msg->msg_controllen = controllen;
        return REAL(recvmsg)(fd, msg, flags | (dw ? MSG_DONTWAIT : 0));
    });
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
    count(Call::send);
    if (flags & MSG_DONTWAIT) return REAL(send)(fd, buf, len, flags);
    auto* p = static_cast<const char*>(buf);
    return out_call(fd, len, "send", [&](size_t done, bool dw) {
        return REAL(send)(fd, p + done, len - done, flags | (dw ? MSG_DONTWAIT : 0));
    });
}

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* addr, socklen_t addrlen) {
    count(Call::sendto);
    if (flags & MSG_DONTWAIT) return REAL(sendto)(fd, buf, len, flags, addr, addrlen);
    auto* p = static_cast<const char*>(buf);
    return out_call(fd, len, "sendto", [&](size_t done, bool dw) {
        return REAL(sendto)(fd, p + done, len - done, flags | (dw ? MSG_DONTWAIT : 0), addr, addrlen);
    });
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
    count(Call::sendmsg);
    if (flags & MSG_DONTWAIT) return REAL(sendmsg)(fd, msg, flags);
    const auto* iov = msg->msg_iov;
    const int n = int(msg->msg_iovlen);
    return out_call(fd, iov_total(iov, n), "sendmsg", [&](size_t done, bool dw) {
        if (done == 0) return REAL(sendmsg)(fd, msg, flags | (dw ? MSG_DONTWAIT : 0));
        // The rest of a partly sent stream message: ancillary data went with the first bytes.
        IovCursor cur(iov, n, done);
        msghdr m{};
        m.msg_iov = cur.v.data();
        m.msg_iovlen = cur.v.size();
        return REAL(sendmsg)(fd, &m, flags | (dw ? MSG_DONTWAIT : 0));
    });
}

ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count_) {
    count(Call::sendfile);
    green::detail::Hub* h = hub();
    FdState* st;
    if (!h || !(st = FdTable::get(out_fd)) || st->nonblock || st->kind != FdKind::Stream)
        return REAL(sendfile)(out_fd, in_fd, offset, count_);
    // sendfile has no MSG_DONTWAIT: O_NONBLOCK is set only for the duration of each call, which
    // no other green thread can observe (nothing switches in between).
    const double deadline = deadline_after(st->snd_timeout);
    const int fl = REAL(fcntl)(out_fd, F_GETFL);
    size_t done = 0;
    for (;;) {
        REAL(fcntl)(out_fd, F_SETFL, fl | O_NONBLOCK);
        ssize_t r = REAL(sendfile)(out_fd, in_fd, offset, count_ - done);
        int e = errno;
        REAL(fcntl)(out_fd, F_SETFL, fl);
        errno = e;
        if (r > 0) {
            done += size_t(r);
            if (done >= count_) return ssize_t(done);
            continue;
        }
        if (r == 0) return ssize_t(done);  // end of the input file
        if (errno != EAGAIN) return done ? ssize_t(done) : -1;
        if (wait_fd(*h, out_fd, Dir::Out, deadline, "sendfile") < 0) return done ? ssize_t(done) : -1;
    }
}

// glibc exports the 64-bit-offset name too; on x86_64 they are the same call.
ssize_t sendfile64(int out_fd, int in_fd, off_t* offset, size_t count_) { return sendfile(out_fd, in_fd, offset, count_); }

}  // extern "C"
