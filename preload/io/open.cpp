// preload/io/open.cpp: open() of a FIFO waits green for the other end.
//
// Natively, without O_NONBLOCK, open(fifo, O_RDONLY) returns once a writer has opened the FIFO
// (at once if one has it open), and open(fifo, O_WRONLY) once a reader has; O_RDWR never waits.
// Two threads of one process opening the two ends would otherwise block the one OS thread for
// ever. Only opens that could wait take this path: O_RDONLY or O_WRONLY without O_NONBLOCK or
// O_PATH, from a caller that may wait green (another green thread exists), of a path that stat
// says is a FIFO (one fstatat more per such open); everything else goes to libc unchanged.
//
// The writer: open with O_NONBLOCK fails with ENXIO while no reader has the FIFO open; it is
// retried on a backing-off timer (1 ms, doubling to 50 ms). A reader that opens and closes again
// between two tries is missed (natively that writer's open would have returned, and its first
// write then failed with EPIPE).
//
// The reader: open with O_NONBLOCK succeeds at once and counts as a reader from then on, as a
// reader blocked in open does natively (a writer's open then returns at once). Then the open
// waits, as the kernel's does, until a writer has opened the FIFO, and only then returns the
// descriptor. The other choice, returning at once a descriptor that reads wait on, would let a
// read that no hook sees (a child the descriptor is passed to, a raw system call) find end of file
// before any writer came. A writer is seen by tee(2) of one byte into a scratch pipe, which
// takes nothing from the FIFO: with O_NONBLOCK it fails with EAGAIN on an empty pipe that has a
// writer, returns 0 when it has none; poll says POLLHUP once a writer has come and gone (the
// kernel hides that state from a reader opened before any writer), POLLIN when there is data.
// The green thread parks on the descriptor's readability (data, or the last writer closing)
// with a backing-off timeout for a writer that opens and writes nothing yet. One difference
// stays: a FIFO holding data, kept open by another reader while no writer has it, returns at once
// (natively the open would wait for a writer).
//
// Either way the descriptor then gets the file status flags the program asked for
// (F_SETFL without O_NONBLOCK: the description is ours alone, just made). A signal handler ends
// the wait with EINTR unless installed with SA_RESTART, as it ends the kernel's; open is a
// cancellation point. fopen() opens through libc's internal call, which no hook sees.
#include "../core/hook.hpp"
#include "../threads/green_thread.hpp"
#include "../core/io_wait.hpp"
#include "../core/real.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

extern "C" {
int __open_2(const char* path, int flags);
int __open64_2(const char* path, int flags);
int __openat_2(int dirfd, const char* path, int flags);
int __openat64_2(int dirfd, const char* path, int flags);
}

using namespace green::preload;

namespace {

bool needs_mode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

// True if this open may wait for the other end of a FIFO and the caller can wait green.
bool may_wait(int dirfd, const char* path, int flags) {
    const int acc = flags & O_ACCMODE;
    if ((acc != O_RDONLY && acc != O_WRONLY) || (flags & (O_NONBLOCK | O_PATH)) || !path) return false;
    if (!ready || in_vfork_child() || !wait_ctx().green) return false;
    const int saved = errno;
    struct stat sb;
    const bool fifo =
        fstatat(dirfd, path, &sb, (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0) == 0 && S_ISFIFO(sb.st_mode);
    errno = saved;
    return fifo;
}

// Sleep `delay` seconds, or until fd is readable (fd >= 0). 0, or -1 with EINTR (a signal handler
// without SA_RESTART, a pthread_cancel).
int nap(int fd, double delay) {
    green::detail::Hub* h = green::detail::Hub::current_or_null();
    const green::detail::ParkSpec spec{delay, {"open", nullptr, fd}, green::detail::kInterruptUnlessRestart};
    green::detail::Wake w;
    if (fd >= 0) {
        green::detail::FdInterest it{fd, green::detail::kRead, 0};
        w = h->wait_fds({&it, 1}, spec);
    } else {
        w = h->park(spec);
    }
    if (w == green::detail::Wake::Signal || w == green::detail::Wake::Interrupted) {
        errno = EINTR;
        return -1;
    }
    return 0;
}

// A FIFO reader opened with O_NONBLOCK: has a writer opened it since?
bool writer_came(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (REAL(poll)(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) return true;
    int scratch[2];
    if (REAL(pipe2)(scratch, O_NONBLOCK | O_CLOEXEC) != 0) return true;  // cannot tell: as if (no hang)
    const ssize_t r = tee(fd, scratch[1], 1, SPLICE_F_NONBLOCK);
    const int e = errno;
    REAL(close)(scratch[0]);
    REAL(close)(scratch[1]);
    return r > 0 || (r < 0 && e == EAGAIN);
}

// The descriptor as the program's blocking open would have made it.
int finish(int fd) {
    const int fl = REAL(fcntl)(fd, F_GETFL);
    if (fl >= 0) REAL(fcntl)(fd, F_SETFL, fl & ~O_NONBLOCK);
    FdTable::created(fd, FdKind::Pollable, false);  // also makes the hub forget the number
    return fd;
}

// open_nb(extra_flags) makes the real call with the program's arguments plus extra_flags.
template <class Open> int fifo_open(int flags, Open open_nb) {
    const int saved = errno;
    const bool reader = (flags & O_ACCMODE) == O_RDONLY;
    double delay = 0.001;
    for (;;) {
        int fd = open_nb(O_NONBLOCK);
        if (fd >= 0) {
            if (reader) {
                while (!writer_came(fd)) {
                    if (nap(fd, delay) < 0) {
                        green::detail::Hub::current_or_null()->cancel_fd(fd);
                        REAL(close)(fd);
                        cancel_point();
                        errno = EINTR;
                        return -1;
                    }
                    delay = delay * 2 > 0.05 ? 0.05 : delay * 2;
                }
            }
            errno = saved;
            return finish(fd);
        }
        if (reader || errno != ENXIO) return -1;
        if (nap(-1, delay) < 0) {
            cancel_point();
            errno = EINTR;
            return -1;
        }
        delay = delay * 2 > 0.05 ? 0.05 : delay * 2;
    }
}

// The open family's common path: `real(extra)` makes the program's call with `extra` added to its
// flags (O_NONBLOCK for a FIFO's green wait); only a FIFO opened for a blocking wait waits green.
template <class Real> int open_green(int dirfd, const char* path, int flags, Real real) {
    if (!may_wait(dirfd, path, flags)) return real(0);
    cancel_point();
    return fifo_open(flags, real);
}

}  // namespace

// The mode argument, read only when the flags say there is one (open(2): O_CREAT, O_TMPFILE).
#define OPEN_MODE_ARG(mode, flags) \
    mode_t mode = 0;               \
    if (needs_mode(flags)) {       \
        va_list ap;                \
        va_start(ap, flags);       \
        mode = va_arg(ap, mode_t); \
        va_end(ap);                \
    }

GREEN_HOOK(int, open, const char* path, int flags, ...) {
    HOOK_ENTER(open);
    OPEN_MODE_ARG(mode, flags);
    return open_green(AT_FDCWD, path, flags, [&](int extra) { return REAL(open)(path, flags | extra, mode); });
}

GREEN_HOOK(int, open64, const char* path, int flags, ...) {
    HOOK_ENTER(open64);
    OPEN_MODE_ARG(mode, flags);
    return open_green(AT_FDCWD, path, flags, [&](int extra) { return REAL(open64)(path, flags | extra, mode); });
}

GREEN_HOOK(int, openat, int dirfd, const char* path, int flags, ...) {
    HOOK_ENTER(openat);
    OPEN_MODE_ARG(mode, flags);
    return open_green(dirfd, path, flags, [&](int extra) { return REAL(openat)(dirfd, path, flags | extra, mode); });
}

GREEN_HOOK(int, openat64, int dirfd, const char* path, int flags, ...) {
    HOOK_ENTER(openat64);
    OPEN_MODE_ARG(mode, flags);
    return open_green(dirfd, path, flags, [&](int extra) { return REAL(openat64)(dirfd, path, flags | extra, mode); });
}

// The fortified forms (_FORTIFY_SOURCE with flags not known at compile time): libc's own check of
// a missing mode (it aborts) stays libc's.
GREEN_HOOK(int, __open_2, const char* path, int flags) {
    HOOK_ENTER(__open_2);
    if (needs_mode(flags)) return REAL(__open_2)(path, flags);
    return open(path, flags);
}

GREEN_HOOK(int, __open64_2, const char* path, int flags) {
    HOOK_ENTER(__open64_2);
    if (needs_mode(flags)) return REAL(__open64_2)(path, flags);
    return open64(path, flags);
}

GREEN_HOOK(int, __openat_2, int dirfd, const char* path, int flags) {
    HOOK_ENTER(__openat_2);
    if (needs_mode(flags)) return REAL(__openat_2)(dirfd, path, flags);
    return openat(dirfd, path, flags);
}

GREEN_HOOK(int, __openat64_2, int dirfd, const char* path, int flags) {
    HOOK_ENTER(__openat64_2);
    if (needs_mode(flags)) return REAL(__openat64_2)(dirfd, path, flags);
    return openat64(dirfd, path, flags);
}

GREEN_HOOK(int, creat, const char* path, mode_t mode) {
    HOOK_ENTER(creat);
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}
GREEN_HOOK(int, creat64, const char* path, mode_t mode) {
    HOOK_ENTER(creat64);
    return open64(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}
