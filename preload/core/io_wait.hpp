// preload/core/io_wait.hpp: the one path every intercepted I/O call takes.
//
//   try the real call; if it would block and the program asked for blocking, park the green
//   thread on the hub until the descriptor is ready (or the program's own timeout passes, the
//   descriptor is closed, a signal handler runs), then retry.
//
// libc semantics are kept: the program's non-blocking descriptors get the real EAGAIN at once;
// SO_RCVTIMEO/SO_SNDTIMEO expire with EAGAIN; a signal handler without SA_RESTART ends the wait
// with EINTR; a descriptor closed by another green thread ends it with EBADF; no timeout is added.
#pragma once

#include "fd_table.hpp"
#include "../threads/green_thread.hpp"
#include "runtime.hpp"
#include "spread.hpp"
#include "../../libgreen/hub/deadline.hpp"

#include <sys/types.h>

#include <cerrno>
#include <utility>

namespace green::preload {

enum class Dir { In, Out };

// Park until fd is ready for `dir`. 0 when ready; -1 with errno EAGAIN (deadline passed), EBADF
// (closed meanwhile), EINTR (signal). deadline: monotonic seconds, < 0 for none.
// A signal handler ends the wait with EINTR unless it was installed with SA_RESTART, except
// for sockets with a timeout, which are never restarted (socket(7)).
// moved_to: the wait may move to a duplicate if another thread closes fd meanwhile (fd_moved.cpp);
// its number is then stored there.
int wait_fd(detail::Hub& hub, int fd, Dir dir, double deadline, const char* what, int* moved_to = nullptr) noexcept;

// fd_moved.cpp: close() of a descriptor green threads wait on moves their calls to a duplicate
// (kept_for_waiters, before the real close); each call, when it ends, lets it go.
void keep_for_waiters(detail::Hub& h, int fd) noexcept;
// `fd` is about to stop meaning what it meant (close, dup2 onto it, a new file behind the
// runtime's back): on every hub (GREEN_HUBS), calls parked on it go on with a duplicate when
// `keep` (else they end with EBADF), other waits on it end, and libev forgets it.
void retire_fd_waits(int fd, bool keep) noexcept;
void release_moved(int dup, bool taken = true) noexcept;
FdState* moved_state(int dup) noexcept;  // what the closed descriptor was

// While a call goes on with a duplicate: the hook's `fd` names it (its op reads the hook's
// variable), and gets the program's number back when the call ends.
struct MovedCall {
    int& fd;
    const int program_fd;
    int to = -1;
    explicit MovedCall(int& f) noexcept : fd(f), program_fd(f) {}
    ~MovedCall() {
        if (to >= 0) {
            fd = program_fd;
            release_moved(to);
        }
    }
    MovedCall(const MovedCall&) = delete;
    MovedCall& operator=(const MovedCall&) = delete;
};
// Before parking on a descriptor others may share: if its O_NONBLOCK was set behind our back
// (through a dup, by a forked child), the program gets the real EAGAIN. True if it must.
bool became_nonblocking(int fd, FdState& st) noexcept;
// True if fd is ready for `dir` right now (poll with a zero timeout).
bool ready_now(int fd, Dir dir) noexcept;
// False if fd's open file is not open for `dir` (O_RDONLY written to, O_WRONLY read from).
bool open_for(int fd, FdState& st, Dir dir) noexcept;
// The core's rule (hub/deadline.hpp). SO_RCVTIMEO/SO_SNDTIMEO reach it as the fd table keeps them:
// -1 for none (the kernel's zero timeout), 0 for "expires at once" (a negative one), else seconds.
using detail::deadline_after;

// op(dontwait) performs the real call; dontwait asks it to add MSG_DONTWAIT (sockets only).
// `probe` forces readiness probing before the call even on sockets (accept has no MSG_DONTWAIT).
// `want` (reads) is the byte count asked for: a read that got less emptied the socket, so the next
// one waits for readiness first instead of spending a system call on a certain EAGAIN (the
// request/response pattern: after answering, the next request is not there yet).
template <class Op> inline auto io_call(int& fd, Dir dir, const char* what, Op op, bool probe = false, size_t want = 0)
    -> decltype(op(false)) {
    SpreadAfterWait spread;  // first: it acts when everything else of the call is over
    detail::Hub* h = hub();
    FdState* st;
    if (!h || !(st = FdTable::get(fd))) return op(false);
    if (st->kind == FdKind::Passthrough) {
        // Regular files are always "ready" to the kernel's poll: nothing to wait for, but the call
        // may still take the OS thread to the disk.
        if (__builtin_expect(config.debug, 0)) debug_once(what, "a regular file or other non-pollable descriptor", fd);
        return op(false);
    }
    const bool sock = st->is_socket();
    if (st->nonblock) {
        if (!sock || FdTable::is_exclusive(*st)) return op(false);
        // It may have been made blocking again through another descriptor: ask without waiting,
        // and look at the real flag only if the answer is "would block".
        auto r = op(true);
        if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || became_nonblocking(fd, *st)) return r;
    }
    const bool try_first = sock && !probe;
    MovedCall moved(fd);
    // SO_RCVTIMEO/SO_SNDTIMEO as the fd table keeps them (-1: none); other descriptors have none.
    const double deadline = deadline_after(sock ? (dir == Dir::In ? st->rcv_timeout : st->snd_timeout) : -1);
    bool skip_try = want && st->drained && try_first;
    for (;;) {
        // skip_try: emptied by the last read, so wait without asking. The hub's watcher is
        // level-triggered: data that arrived since is reported by its next poll, and no system call
        // is spent on a certain EAGAIN (nor on a poll() to find out).
        if (try_first && !std::exchange(skip_try, false)) {
            auto r = op(true);
            if (want) st->drained = r >= 0 && size_t(r) < want;
            if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                if (__builtin_expect(r < 0 && errno == ENOTSOCK, 0)) {
                    // The number was reused behind our back (closed by libc internally): look again.
                    FdTable::forget(fd);
                    return io_call(fd, dir, what, op, probe);
                }
                return r;
            }
        } else if (!try_first && (ready_now(fd, dir) || !open_for(fd, *st, dir))) {
            // Not open for this direction (a pipe's read end written to): the kernel says EBADF
            // at once; readiness for it would never come.
            return op(false);
        }
        if (became_nonblocking(fd, *st)) {
            errno = EAGAIN;
            return -1;
        }
        if (wait_fd(*h, fd, dir, deadline, what, &moved.to) < 0) {
            if (errno == EINTR) cancel_point();  // pthread_cancel ends a wait like a signal
            return -1;
        }
        if (moved.to >= 0 && fd != moved.to) {
            // Another thread closed the program's number: this call goes on with the open file,
            // as in the kernel (fd_moved.cpp).
            fd = moved.to;
            if (!(st = moved_state(fd))) return op(false);
        }
    }
}

}  // namespace green::preload
