// preload/core/multiplex.hpp: the wait that poll, select and epoll_wait share.
//
//   probe: the program's own call made with a zero timeout. It alone decides what is ready and
//   writes the exact result (revents, fd_sets, epoll events, errors such as POLLNVAL or EBADF).
//   wait:  while the probe finds nothing and time remains, the green thread parks on the hub until
//   one of the descriptors (for epoll_wait, the epoll fd itself) is reported ready, the program's
//   timeout passes, or a signal handler runs; then it probes again.
//
// Contract:
//  - Readiness the probe does not confirm (POLLPRI or events == 0 waited for as "readable", a
//    descriptor drained by another thread first) is tolerated: a descriptor that wakes the wait
//    twice in a row for nothing is no longer waited for but probed on a backoff (1 ms doubling up
//    to 50 ms), so the wait never spins.
//  - A signal handler ends the wait whatever its SA_RESTART (signal(7): these calls are never
//    restarted), unless the probe that follows finds something, as the kernel checks descriptors
//    before signals.
//  - With a signal mask (ppoll, pselect, epoll_pwait): the first probe is the real call with the
//    mask, so a signal already pending is reported atomically; for the wait itself the mask is
//    installed with pthread_sigmask and restored afterwards. A signal arriving in the few
//    instructions between the two is handled but does not end the wait (natively it would), and
//    while the caller is parked the mask applies to the whole OS thread, so to the other green
//    threads too.
#pragma once

#include "runtime.hpp"
#include "../../libgreen/hub/deadline.hpp"

#include <signal.h>

#include <cerrno>
#include <cstdint>
#include <span>
#include <vector>

namespace green::preload {

// The core's rule (hub/deadline.hpp): each hook maps its call's convention first (poll's negative
// timeout and select's NULL one are forever: -1; a zero timeout never waits, so goes to the real call).
using detail::deadline_after;

// Should fd be handed to libev? Only open descriptors that can be waited for: regular files,
// directories and block devices are always ready (the probe reports them) and epoll refuses them.
bool registrable(int fd) noexcept;

// Descriptors to wait for, one entry per descriptor.
class Interests {
public:
    void add(int fd, int events) {
        if (events && registrable(fd)) list_.push_back({fd, events, 0});
    }
    std::span<detail::FdInterest> span() noexcept { return {list_.data(), list_.size()}; }

private:
    std::vector<detail::FdInterest> list_;
};

// The program's signal mask for the duration of a wait (ppoll, pselect, epoll_pwait).
class MaskScope {
public:
    explicit MaskScope(const sigset_t* mask) noexcept : on_(mask != nullptr) {
        if (on_) pthread_sigmask(SIG_SETMASK, mask, &saved_);
    }
    ~MaskScope() {
        if (on_) {
            int e = errno;
            pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
            errno = e;
        }
    }
    MaskScope(const MaskScope&) = delete;
    MaskScope& operator=(const MaskScope&) = delete;

private:
    bool on_;
    sigset_t saved_;
};

// After a probe found nothing: park and probe until the probe finds something (its result), the
// deadline passes (0; the last probe found nothing), or a signal handler runs (-1, errno EINTR,
// *interrupted set: the last probe found nothing, and the caller restores what the program passed
// in where the kernel leaves it untouched on EINTR). deadline < 0: none. A wait for nothing without
// a deadline (poll(NULL, 0, -1)) waits for a signal, as natively, and is not taken for a deadlock.
// keep_armed: the hub keeps the descriptors' read watchers armed after the wait (Hub::wait_fds), for
// a program that waits on the same descriptor again and again (its epoll descriptor).
int wait_ready(detail::Hub& h, std::span<detail::FdInterest> fds, double deadline, detail::WaitInfo what,
               int (*probe)(void*), void* ctx, bool* interrupted = nullptr, bool keep_armed = false);

template <class Probe> int wait_ready(detail::Hub& h, std::span<detail::FdInterest> fds, double deadline,
                                      detail::WaitInfo what, Probe& probe, bool* interrupted = nullptr,
                                      bool keep_armed = false) {
    return wait_ready(
        h, fds, deadline, what, [](void* p) { return (*static_cast<Probe*>(p))(); }, &probe, interrupted, keep_armed);
}

}  // namespace green::preload
