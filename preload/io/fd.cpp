// preload/io/fd.cpp: close, dup, dup2, dup3, fcntl, ioctl(FIONBIO), pipe, pipe2, fclose.
//
// close() lets calls parked on the descriptor (read, recv, accept...) go on with its open file, as
// the kernel does (fd_moved.cpp); other waits on it (poll, select) end, before the number can be
// reused, and libev forgets it first.
#include "../core/hook.hpp"
#include "stdio.hpp"
#include "file_lock.hpp"
#include "../core/io_wait.hpp"
#include "../core/real.hpp"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <unistd.h>

using namespace green::preload;

namespace {

// fd is about to stop meaning what it meant: calls blocked on it go on with its open file, as in
// the kernel (fd_moved.cpp); other waits on it end with EBADF; forget what we knew.
void retire(int fd) {
    if (in_vfork_child()) return;  // the parent's tables, borrowed: leave them alone
    retire_fd_waits(fd, /*keep=*/true);
    FdTable::forget(fd);
}

int fcntl_impl(int (*real)(int, int, ...), int fd, int cmd, va_list ap) {
    switch (cmd) {
    case F_SETFL: {
        int flags = va_arg(ap, int);
        int r = real(fd, cmd, flags);
        if (r == 0)
            if (FdState* st = FdTable::get(fd)) st->nonblock = flags & O_NONBLOCK;
        return r;
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int minfd = va_arg(ap, int);
        int r = real(fd, cmd, minfd);
        if (r >= 0) FdTable::copy(fd, r);
        return r;
    }
    case F_SETLKW:
    case F_OFD_SETLKW: {
        void* lk = va_arg(ap, void*);
        if (!lock_wait_green()) return real(fd, cmd, lk);
        const int try_cmd = cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK;
        return lock_wait("fcntl", [&] { return real(fd, try_cmd, lk); });
    }
    case F_GETFD:
    case F_GETFL:
    case F_GETOWN:
    case F_GETSIG:
    case F_GETLEASE:
    case F_GETPIPE_SZ:
    case F_GET_SEALS: return real(fd, cmd);
    default:
        // Every other command takes one argument, an int or a pointer: passed on as a pointer-sized
        // value, which the x86_64 calling convention makes the same thing.
        return real(fd, cmd, va_arg(ap, void*));
    }
}

}  // namespace

GREEN_HOOK(int, close, int fd) {
    HOOK_ENTER(close);
    if (FdTable::is_runtime(fd)) {
        if (green::detail::Hub::in_runtime() || green::detail::Hub::constructing()) {
            FdTable::unmark_runtime(fd);  // libev itself (loop destroyed, or re-made after fork)
            return REAL(close)(fd);
        }
        // The hub's own descriptor: the program never opened it, so to the program it is closed
        // (daemons close every descriptor they did not open).
        errno = EBADF;
        return -1;
    }
    if (fd >= 0) retire(fd);
    return REAL(close)(fd);
}

// Closes a range of descriptors in one call, out of close()'s sight; the runtime's own
// descriptors inside the range are stepped around.
GREEN_HOOK(int, close_range, unsigned int first, unsigned int last, int flags) {
    HOOK_ENTER(close_range);
    if (first > last) return REAL(close_range)(first, last, flags);  // the real EINVAL
    if (!(flags & CLOSE_RANGE_CLOEXEC)) FdTable::for_each_known(first, last, retire);
    int r = 0;
    unsigned from = first;
    for (int fd : FdTable::runtime_fds()) {
        if (unsigned(fd) < from || unsigned(fd) > last) continue;
        if (unsigned(fd) > from && REAL(close_range)(from, unsigned(fd) - 1, flags) != 0) r = -1;
        from = unsigned(fd) + 1;
    }
    if (from <= last && from != 0 && REAL(close_range)(from, last, flags) != 0) r = -1;
    if (from == 0 && REAL(close_range)(0, last, flags) != 0) r = -1;
    return r;
}

GREEN_HOOK(void, closefrom, int lowfd) {
    HOOK_ENTER(closefrom);
    if (lowfd < 0) lowfd = 0;
    close_range(unsigned(lowfd), ~0u, 0);
}

GREEN_HOOK(int, dup, int fd) {
    HOOK_ENTER(dup);
    int r = REAL(dup)(fd);
    if (r >= 0) FdTable::copy(fd, r);
    return r;
}

GREEN_HOOK(int, dup2, int oldfd, int newfd) {
    HOOK_ENTER(dup2);
    // dup2 closes newfd first: its waiters must not sleep on through the swap.
    if (oldfd != newfd && newfd >= 0 && REAL(fcntl)(oldfd, F_GETFD) >= 0) retire(newfd);
    int r = REAL(dup2)(oldfd, newfd);
    if (r >= 0 && oldfd != newfd) FdTable::copy(oldfd, r);
    return r;
}

GREEN_HOOK(int, dup3, int oldfd, int newfd, int flags) {
    HOOK_ENTER(dup3);
    if (oldfd != newfd && newfd >= 0 && REAL(fcntl)(oldfd, F_GETFD) >= 0) retire(newfd);
    int r = REAL(dup3)(oldfd, newfd, flags);
    if (r >= 0) FdTable::copy(oldfd, r);
    return r;
}

GREEN_HOOK(int, fcntl, int fd, int cmd, ...) {
    HOOK_ENTER(fcntl);
    va_list ap;
    va_start(ap, cmd);
    int r = fcntl_impl(REAL(fcntl), fd, cmd, ap);
    va_end(ap);
    return r;
}

// Programs built with 64-bit file offsets (the default for new builds) call this name.
GREEN_HOOK(int, fcntl64, int fd, int cmd, ...) {
    HOOK_ENTER(fcntl64);
    va_list ap;
    va_start(ap, cmd);
    int r = fcntl_impl(REAL(fcntl64), fd, cmd, ap);
    va_end(ap);
    return r;
}

GREEN_HOOK(int, ioctl, int fd, unsigned long request, ...) {
    HOOK_ENTER(ioctl);
    va_list ap;
    va_start(ap, request);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    int r = REAL(ioctl)(fd, request, arg);
    if (r == 0 && request == FIONBIO && arg)
        if (FdState* st = FdTable::get(fd)) st->nonblock = *static_cast<int*>(arg) != 0;
    return r;
}

GREEN_HOOK(int, pipe, int fds[2]) {
    HOOK_ENTER(pipe);
    int r = REAL(pipe)(fds);
    if (r == 0) {
        FdTable::created(fds[0], FdKind::Pollable, false);
        FdTable::created(fds[1], FdKind::Pollable, false);
    }
    return r;
}

GREEN_HOOK(int, pipe2, int fds[2], int flags) {
    HOOK_ENTER(pipe2);
    int r = REAL(pipe2)(fds, flags);
    if (r == 0) {
        FdTable::created(fds[0], FdKind::Pollable, flags & O_NONBLOCK);
        FdTable::created(fds[1], FdKind::Pollable, flags & O_NONBLOCK);
    }
    return r;
}

// fclose closes its descriptor inside libc, out of close()'s sight (a cookie FILE from our
// fdopen closes it through close()).
GREEN_HOOK(int, fclose, FILE* f) {
    HOOK_ENTER(fclose);
    if (f && !stdio_forget(f)) {
        int fd = REAL(fileno)(f);
        if (fd >= 0) retire(fd);
    }
    return REAL(fclose)(f);
}
