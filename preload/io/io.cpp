// preload/io/io.cpp: read, write, readv, writev, recv*, send*, sendfile and their fortified forms.
//
// Sockets are driven with MSG_DONTWAIT, never by flipping O_NONBLOCK on the shared description.
// A blocking send on a stream socket returns only once everything is queued (or on a timeout or
// signal, with what was sent), as the kernel's does: a short write is not invented.
#include "../core/hook.hpp"
#include "../core/io_wait.hpp"
#include "../core/real.hpp"
#include "../threads/green_thread.hpp"
#include "../../libgreen/context/raw_syscall.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <type_traits>
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

// The MSG_DONTWAIT attempt of a green thread's read, write, recv and send, as a plain system call.
// libc's recv and send are cancellation points: each switches the thread's asynchronous
// cancellation on and off around the system call (two atomic operations on its TCB, a cold cache
// line when 10,000 threads take turns). A green thread is never cancelled by libc (pthread_cancel
// is the preload's: cancel.cpp), and a MSG_DONTWAIT call does not block, so for it that is pure
// cost. Other callers (the main thread, native threads) keep libc's call. recv and send are
// recvfrom and sendto to the kernel, as in libc.
ssize_t syscall_result(long r) noexcept {
    if (r >= 0) return r;
    errno = int(-r);
    return -1;
}
ssize_t recv_nowait(int fd, void* buf, size_t n, int flags) noexcept {
    if (!current_green()) return REAL(recv)(fd, buf, n, flags | MSG_DONTWAIT);
    return syscall_result(green::detail::raw_syscall(SYS_recvfrom, fd, long(buf), long(n), flags | MSG_DONTWAIT, 0, 0));
}
ssize_t send_nowait(int fd, const void* buf, size_t n, int flags) noexcept {
    if (!current_green()) return REAL(send)(fd, buf, n, flags | MSG_DONTWAIT);
    return syscall_result(green::detail::raw_syscall(SYS_sendto, fd, long(buf), long(n), flags | MSG_DONTWAIT, 0, 0));
}

// A blocking write of more than PIPE_BUF bytes to a pipe or FIFO. Natively it copies what fits,
// sleeps until the reader makes room, as often as needed, and returns the full count (less only
// after a signal). O_NONBLOCK cannot be set for it: it belongs to the open file description,
// which other processes may be writing through at the same time (a shell pipeline, make's jobs
// sharing a pipe). So each piece is written with pwritev2(RWF_NOWAIT), non-blocking for this one
// call (pipes made by pipe(), Linux 6.4+), and between pieces the green thread parks until the
// pipe is writable. A FIFO opened by name, or an older kernel, refuses RWF_NOWAIT: then, if the
// pipe is empty (it takes its whole size at once, each page a free slot), the program's own call
// is made; else the pieces go through a private description of the same pipe, /proc/self/fd/N
// opened O_WRONLY|O_NONBLOCK and closed at the end, moved out of the program's numbers before the
// thread parks (adopt_runtime_fd: other green threads' open() get the numbers they would
// natively). Where that open fails too (no /proc, a uid changed since the pipe was made; a
// packet-mode pipe, O_DIRECT, which an open cannot ask for), pieces of PIPE_BUF bytes go through
// the program's descriptor when poll says writable (a free page, where such a piece always fits;
// in packet mode one packet each, as the kernel splits a big write).
// Returns false, errno kept, when fd is no pipe or FIFO: the caller's usual path goes on.
// op(wfd, done, max, rwf) writes at most `max` bytes of what is left after `done` to wfd, with
// pwritev2 and flags `rwf` when rwf != 0.
template <class PipeOp> bool pipe_write(green::detail::Hub& h, int fd, FdState& st, size_t total, const char* what,
                                        PipeOp op, ssize_t& result) {
    const int saved = errno;
    const int size = REAL(fcntl)(fd, F_GETPIPE_SZ);  // fails on anything but a pipe or FIFO
    if (size <= 0) {
        errno = saved;
        return false;
    }
    errno = saved;
    // wfd: where the pieces go; -1: not chosen yet (RWF_NOWAIT on fd while the kernel takes it).
    int wfd = -1;
    bool nowait = true, adopted = false;
    size_t done = 0;
    for (;;) {
        ssize_t r;
        if (nowait) {
            r = op(fd, done, total - done, RWF_NOWAIT);
            if (r < 0 && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)) {
                nowait = false;
                int queued = -1;
                if (done == 0 && total <= size_t(size) && REAL(ioctl)(fd, FIONREAD, &queued) == 0 && queued == 0) {
                    errno = saved;
                    result = op(fd, 0, total, 0);  // fits at once
                    return true;
                }
                const int fl = REAL(fcntl)(fd, F_GETFL);
                if (fl >= 0 && !(fl & (O_NONBLOCK | O_DIRECT)) && (fl & O_ACCMODE) != O_RDONLY) {
                    char path[32];
                    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                    wfd = REAL(open)(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
                }
                errno = saved;
                if (wfd < 0 && done == 0 && (fl < 0 || (fl & O_NONBLOCK) || (fl & O_ACCMODE) == O_RDONLY))
                    return false;  // the usual path gives the kernel's answer (EAGAIN, EBADF)
                continue;
            }
        } else if (wfd >= 0) {
            r = op(wfd, done, total - done, 0);
        } else if (ready_now(fd, Dir::Out)) {
            r = op(fd, done, PIPE_BUF, 0);
        } else {
            r = -1;
            errno = EAGAIN;
        }
        if (r > 0) done += size_t(r);
        if (done >= total || (r < 0 && errno != EAGAIN)) break;
        if (r > 0 && !nowait && wfd < 0) continue;  // a PIPE_BUF piece: there may be room for more
        if (became_nonblocking(fd, st)) {           // made non-blocking behind our back: as natively
            if (!done) errno = EAGAIN;
            break;
        }
        if (wfd >= 0 && !adopted) {
            wfd = adopt_runtime_fd(wfd);
            adopted = true;
        }
        // Natively a signal ends a pipe write that has copied something, SA_RESTART or not; one that
        // has not is restarted under SA_RESTART.
        green::detail::FdInterest it{fd, green::detail::kWrite, 0};
        const uint8_t intr = done ? green::detail::kInterruptAlways : green::detail::kInterruptUnlessRestart;
        if (const int e = wake_errno(h.wait_fds({&it, 1}, {-1, {what, nullptr, fd}, intr}), EAGAIN)) {
            errno = e;  // EINTR, EBADF (closed meanwhile): what was written so far
            break;
        }
    }
    const int e = errno;
    if (wfd >= 0) {
        if (adopted) FdTable::unmark_runtime(wfd);
        REAL(close)(wfd);
    }
    errno = e;
    result = done ? ssize_t(done) : -1;
    return true;
}

struct NoPipeOp {};

// The output side: op(done, dontwait) sends what is left after `done` bytes; pipe_op, for write and
// writev, is pipe_write's op.
template <class Op, class PipeOp = NoPipeOp>
ssize_t out_call(int fd, size_t total, const char* what, Op op, PipeOp pipe_op = {}) {
    green::detail::Hub* h = hub();
    FdState* st;
    if (!h || !(st = FdTable::get(fd)) || st->kind == FdKind::Passthrough) return op(0, false);
    if constexpr (!std::is_same_v<PipeOp, NoPipeOp>) {
        ssize_t r;
        if (st->kind == FdKind::Pollable && total > PIPE_BUF && !(st->nonblock && FdTable::is_exclusive(*st)) &&
            pipe_write(*h, fd, *st, total, what, pipe_op, r))
            return r;
    }
    if (st->kind != FdKind::Stream) return io_call(fd, Dir::Out, what, [&](bool dw) { return op(0, dw); });
    if (st->nonblock && FdTable::is_exclusive(*st)) return op(0, false);
    const double deadline = deadline_after(st->snd_timeout);  // SO_SNDTIMEO as the fd table keeps it: -1 none
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
template <class Op> ssize_t recv_all(int fd, size_t len, const char* what, Op op) {
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

constexpr unsigned kMaxIov = 1024;  // UIO_MAXIOV: the kernel's limit on vlen and iovcnt

}  // namespace

GREEN_HOOK(ssize_t, read, int fd, void* buf, size_t n) {
    HOOK_ENTER(read);
    if (n == 0) return REAL(read)(fd, buf, n);  // never blocks natively; recv would say EAGAIN
    return io_call(
        fd, Dir::In, "read", [&](bool dw) { return dw ? recv_nowait(fd, buf, n, 0) : REAL(read)(fd, buf, n); }, false,
        n);
}

GREEN_HOOK(ssize_t, __read_chk, int fd, void* buf, size_t nbytes, size_t buflen) {
    HOOK_ENTER(__read_chk);
    if (nbytes > buflen) __chk_fail();
    return read(fd, buf, nbytes);
}

GREEN_HOOK(ssize_t, write, int fd, const void* buf, size_t n) {
    HOOK_ENTER(write);
    auto* p = static_cast<const char*>(buf);
    return out_call(
        fd, n, "write",
        [&](size_t done, bool dw) {
            return dw ? send_nowait(fd, p + done, n - done, 0) : REAL(write)(fd, p + done, n - done);
        },
        [&](int wfd, size_t done, size_t max, int rwf) {
            const size_t len = std::min(n - done, max);
            if (!rwf) return REAL(write)(wfd, p + done, len);
            iovec v{const_cast<char*>(p + done), len};
            return pwritev2(wfd, &v, 1, -1, rwf);
        });
}

GREEN_HOOK(ssize_t, readv, int fd, const struct iovec* iov, int iovcnt) {
    HOOK_ENTER(readv);
    if (iovcnt <= 0 || iov_total(iov, iovcnt) == 0) return REAL(readv)(fd, iov, iovcnt);
    return io_call(fd, Dir::In, "readv", [&](bool dw) {
        if (!dw) return REAL(readv)(fd, iov, iovcnt);
        msghdr m{};
        m.msg_iov = const_cast<iovec*>(iov);
        m.msg_iovlen = size_t(iovcnt);
        return REAL(recvmsg)(fd, &m, MSG_DONTWAIT);
    });
}

GREEN_HOOK(ssize_t, writev, int fd, const struct iovec* iov, int iovcnt) {
    HOOK_ENTER(writev);
    if (iovcnt < 0 || iovcnt > IOV_MAX) return REAL(writev)(fd, iov, iovcnt);  // the real EINVAL
    return out_call(
        fd, iov_total(iov, iovcnt), "writev",
        [&](size_t done, bool dw) {
            if (!dw) return REAL(writev)(fd, iov, iovcnt);
            IovCursor cur(iov, iovcnt, done);
            msghdr m{};
            m.msg_iov = cur.v.data();
            m.msg_iovlen = cur.v.size();
            return REAL(sendmsg)(fd, &m, MSG_DONTWAIT);
        },
        [&](int wfd, size_t done, size_t max, int rwf) {
            IovCursor cur(iov, iovcnt, done);
            for (iovec& v : cur.v) {  // at most `max` bytes
                v.iov_len = std::min(v.iov_len, max);
                max -= v.iov_len;
            }
            if (rwf) return pwritev2(wfd, cur.v.data(), int(cur.v.size()), -1, rwf);
            return REAL(writev)(wfd, cur.v.data(), int(cur.v.size()));
        });
}

GREEN_HOOK(ssize_t, recv, int fd, void* buf, size_t len, int flags) {
    HOOK_ENTER(recv);
    if (len == 0 || (flags & MSG_DONTWAIT)) return REAL(recv)(fd, buf, len, flags);
    auto* p = static_cast<char*>(buf);
    if (waitall_on_stream(fd, flags))
        return recv_all(fd, len, "recv", [&](size_t got, bool dw) {
            return REAL(recv)(fd, p + got, len - got, (flags & ~MSG_WAITALL) | (dw ? MSG_DONTWAIT : 0));
        });
    return io_call(
        fd, Dir::In, "recv",
        [&](bool dw) { return dw ? recv_nowait(fd, buf, len, flags) : REAL(recv)(fd, buf, len, flags); }, false,
        (flags & MSG_PEEK) ? 0 : len);
}

GREEN_HOOK(ssize_t, __recv_chk, int fd, void* buf, size_t len, size_t buflen, int flags) {
    HOOK_ENTER(__recv_chk);
    if (len > buflen) __chk_fail();
    return recv(fd, buf, len, flags);
}

GREEN_HOOK(ssize_t, recvfrom, int fd, void* buf, size_t len, int flags, struct sockaddr* addr, socklen_t* addrlen) {
    HOOK_ENTER(recvfrom);
    if (len == 0 || (flags & MSG_DONTWAIT)) return REAL(recvfrom)(fd, buf, len, flags, addr, addrlen);
    auto* p = static_cast<char*>(buf);
    if (waitall_on_stream(fd, flags))
        return recv_all(fd, len, "recvfrom", [&](size_t got, bool dw) {
            return REAL(recvfrom)(fd, p + got, len - got, (flags & ~MSG_WAITALL) | (dw ? MSG_DONTWAIT : 0), addr,
                                  addrlen);
        });
    return io_call(fd, Dir::In, "recvfrom", [&](bool dw) {
        return REAL(recvfrom)(fd, buf, len, flags | (dw ? MSG_DONTWAIT : 0), addr, addrlen);
    });
}

GREEN_HOOK(ssize_t, __recvfrom_chk, int fd, void* buf, size_t len, size_t buflen, int flags, struct sockaddr* addr,
           socklen_t* addrlen) {
    HOOK_ENTER(__recvfrom_chk);
    if (len > buflen) __chk_fail();
    return recvfrom(fd, buf, len, flags, addr, addrlen);
}

GREEN_HOOK(ssize_t, recvmsg, int fd, struct msghdr* msg, int flags) {
    HOOK_ENTER(recvmsg);
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

GREEN_HOOK(ssize_t, send, int fd, const void* buf, size_t len, int flags) {
    HOOK_ENTER(send);
    if (flags & MSG_DONTWAIT) return REAL(send)(fd, buf, len, flags);
    auto* p = static_cast<const char*>(buf);
    return out_call(fd, len, "send", [&](size_t done, bool dw) {
        return dw ? send_nowait(fd, p + done, len - done, flags) : REAL(send)(fd, p + done, len - done, flags);
    });
}

GREEN_HOOK(ssize_t, sendto, int fd, const void* buf, size_t len, int flags, const struct sockaddr* addr,
           socklen_t addrlen) {
    HOOK_ENTER(sendto);
    if (flags & MSG_DONTWAIT) return REAL(sendto)(fd, buf, len, flags, addr, addrlen);
    auto* p = static_cast<const char*>(buf);
    return out_call(fd, len, "sendto", [&](size_t done, bool dw) {
        return REAL(sendto)(fd, p + done, len - done, flags | (dw ? MSG_DONTWAIT : 0), addr, addrlen);
    });
}

GREEN_HOOK(ssize_t, sendmsg, int fd, const struct msghdr* msg, int flags) {
    HOOK_ENTER(sendmsg);
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

// recvmmsg as the kernel runs it (recvmmsg(2)): one blocking receive per datagram with the call's
// flags, except that after the first MSG_WAITFORONE makes the rest non-blocking; the timeout is
// looked at only after each datagram (so it never ends a wait for one: the documented quirk is
// kept) and the time left is written back. Here each round is one real recvmmsg with
// MSG_DONTWAIT taking what is queued, and the green thread parks between rounds.
GREEN_HOOK(int, recvmmsg, int fd, struct mmsghdr* vec, unsigned int vlen, int flags, struct timespec* timeout) {
    HOOK_ENTER(recvmmsg);
    green::detail::Hub* h = hub();
    FdState* st;
    // An invalid timeout is the kernel's EINVAL, at once.
    const bool bad_timeout =
        timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L);
    if (!h || (flags & MSG_DONTWAIT) || vlen == 0 || bad_timeout || !(st = FdTable::get(fd)) || !st->is_socket() ||
        (st->nonblock && FdTable::is_exclusive(*st)))
        return REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
    if (vlen > kMaxIov) vlen = kMaxIov;  // the kernel's clamp
    // A zero timeout has passed by the first datagram: the kernel returns that one alone.
    if (timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0) vlen = 1;
    // The time left is kept in integers, as the kernel does: a timeout near LONG_MAX seconds would
    // not survive a double (2^63 does not fit a time_t).
    const struct timespec limit = timeout ? *timeout : timespec{};
    struct timespec start {};
    if (timeout) clock_gettime(CLOCK_MONOTONIC, &start);
    const int base = flags & ~MSG_WAITFORONE;
    unsigned got = 0;
    for (;;) {
        ssize_t r = io_call(fd, Dir::In, "recvmmsg", [&](bool dw) {
            return ssize_t(REAL(recvmmsg)(fd, vec + got, vlen - got, base | (dw ? MSG_DONTWAIT : 0), nullptr));
        });
        // An error after some datagrams: those are returned (the kernel keeps the error for the next call).
        if (r < 0) return got ? int(got) : -1;
        got += unsigned(r);
        if (timeout) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            time_t sec = limit.tv_sec - (now.tv_sec - start.tv_sec);  // elapsed: small, never above
            long nsec = limit.tv_nsec - (now.tv_nsec - start.tv_nsec);
            if (nsec < 0) nsec += 1000000000L, --sec;
            else if (nsec >= 1000000000L) nsec -= 1000000000L, ++sec;
            if (sec < 0 || (sec == 0 && nsec == 0)) {
                *timeout = {0, 0};
                break;
            }
            *timeout = {sec, nsec};
        }
        if (got >= vlen || (flags & MSG_WAITFORONE) || (vec[got - 1].msg_hdr.msg_flags & MSG_OOB)) break;
    }
    return int(got);
}

// sendmmsg: one blocking send per message, as the kernel's loop; an error after some were sent
// returns their count. Datagrams go in rounds of one real sendmmsg with MSG_DONTWAIT; a stream
// message through the sendmsg hook (all of its bytes queued before the next, as natively).
GREEN_HOOK(int, sendmmsg, int fd, struct mmsghdr* vec, unsigned int vlen, int flags) {
    HOOK_ENTER(sendmmsg);
    green::detail::Hub* h = hub();
    FdState* st;
    if (!h || (flags & MSG_DONTWAIT) || vlen == 0 || !(st = FdTable::get(fd)) || !st->is_socket() ||
        (st->nonblock && FdTable::is_exclusive(*st)))
        return REAL(sendmmsg)(fd, vec, vlen, flags);
    if (vlen > kMaxIov) vlen = kMaxIov;
    unsigned done = 0;
    while (done < vlen) {
        if (st->kind == FdKind::Stream) {
            msghdr& m = vec[done].msg_hdr;
            ssize_t r = sendmsg(fd, &m, flags);
            if (r < 0) return done ? int(done) : -1;
            vec[done++].msg_len = unsigned(r);
            // Cut short (a signal, SO_SNDTIMEO, made non-blocking): the kernel's next send fails at once.
            if (size_t(r) < iov_total(m.msg_iov, int(m.msg_iovlen))) break;
            continue;
        }
        ssize_t r = io_call(fd, Dir::Out, "sendmmsg", [&](bool dw) {
            return ssize_t(REAL(sendmmsg)(fd, vec + done, vlen - done, flags | (dw ? MSG_DONTWAIT : 0)));
        });
        if (r < 0) return done ? int(done) : -1;
        done += unsigned(r);
    }
    return int(done);
}

GREEN_HOOK(ssize_t, sendfile, int out_fd, int in_fd, off_t* offset, size_t count_) {
    HOOK_ENTER(sendfile);
    green::detail::Hub* h = hub();
    FdState* st;
    if (!h || !(st = FdTable::get(out_fd)) || st->nonblock || st->kind != FdKind::Stream)
        return REAL(sendfile)(out_fd, in_fd, offset, count_);
    // sendfile has no MSG_DONTWAIT: O_NONBLOCK is set only for the duration of each call, which
    // no other green thread can observe (nothing switches in between).
    const double deadline = deadline_after(st->snd_timeout);  // SO_SNDTIMEO as the fd table keeps it: -1 none
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
GREEN_HOOK(ssize_t, sendfile64, int out_fd, int in_fd, off_t* offset, size_t count_) {
    HOOK_ENTER(sendfile64);
    return sendfile(out_fd, in_fd, offset, count_);
}
