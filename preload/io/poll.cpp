// preload/io/poll.cpp: poll, ppoll and their fortified forms park the green thread (multiplex.hpp).
//
// Each descriptor is waited for as libev sees it: POLLIN, POLLPRI, POLLRDHUP (and events == 0,
// which still reports POLLERR and POLLHUP) as readable, POLLOUT as writable. Negative descriptors
// are ignored and closed ones reported as POLLNVAL by the probe, exactly as natively; regular
// files are never handed to libev (always ready; epoll refuses them).
#include "../core/hook.hpp"
#include "../core/multiplex.hpp"
#include "../core/real.hpp"

#include <poll.h>

using namespace green::preload;
using green::detail::Hub;

extern "C" {
int __poll(struct pollfd* fds, nfds_t nfds, int timeout);
int __poll_chk(struct pollfd* fds, nfds_t nfds, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout, const sigset_t* ss, size_t fdslen);
[[noreturn]] void __chk_fail(void);
}

namespace {

int interest_of(short events) {
    int k = 0;
    if (events & (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND | POLLRDHUP)) k |= green::detail::kRead;
    if (events & (POLLOUT | POLLWRNORM | POLLWRBAND)) k |= green::detail::kWrite;
    return k ? k : green::detail::kRead;
}

// After a probe found nothing: wait until one is ready, the deadline, or a signal handler.
int poll_wait(Hub& h, pollfd* fds, nfds_t n, double deadline) {
    Interests in;
    for (nfds_t i = 0; i < n; ++i)
        if (fds[i].fd >= 0) in.add(fds[i].fd, interest_of(fds[i].events));
    auto probe = [&] { return REAL(poll)(fds, n, 0); };
    return wait_ready(h, in.span(), deadline, {"poll", nullptr, n == 1 ? fds[0].fd : -1}, probe);
}

int poll_impl(pollfd* fds, nfds_t n, int timeout) {
    Hub* h = hub();
    if (!h || timeout == 0) return REAL(poll)(fds, n, timeout);
    const double deadline = deadline_after(timeout < 0 ? -1 : timeout * 1e-3);  // poll: negative is forever
    int r = REAL(poll)(fds, n, 0);
    if (r != 0) return r;
    return poll_wait(*h, fds, n, deadline);
}

bool zero_or_invalid(const timespec* ts) {
    return (ts->tv_sec == 0 && ts->tv_nsec == 0) || ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L;
}

int ppoll_impl(pollfd* fds, nfds_t n, const timespec* ts, const sigset_t* mask) {
    Hub* h = hub();
    // A zero timeout does not wait; an invalid one fails (EINVAL) before anything happens.
    if (!h || (ts && zero_or_invalid(ts))) return REAL(ppoll)(fds, n, ts, mask);
    const double deadline = deadline_after(ts ? double(ts->tv_sec) + double(ts->tv_nsec) * 1e-9 : -1);  // NULL: forever
    // The first probe carries the mask: a pending signal it unblocks ends the call atomically.
    static const timespec zero{0, 0};
    int r = REAL(ppoll)(fds, n, &zero, mask);
    if (r != 0) return r;
    MaskScope scope(mask);
    return poll_wait(*h, fds, n, deadline);
}

}  // namespace

GREEN_HOOK(int, poll, struct pollfd* fds, nfds_t nfds, int timeout) {
    HOOK_ENTER(poll);
    return poll_impl(fds, nfds, timeout);
}

GREEN_HOOK(int, __poll, struct pollfd* fds, nfds_t nfds, int timeout) {
    HOOK_ENTER(__poll);
    return poll_impl(fds, nfds, timeout);
}

GREEN_HOOK(int, ppoll, struct pollfd* fds, nfds_t nfds, const struct timespec* timeout, const sigset_t* ss) {
    HOOK_ENTER(ppoll);
    return ppoll_impl(fds, nfds, timeout, ss);
}

// glibc's checks, then the call (debug/poll_chk.c, debug/ppoll_chk.c).
GREEN_HOOK(int, __poll_chk, struct pollfd* fds, nfds_t nfds, int timeout, size_t fdslen) {
    HOOK_ENTER(__poll_chk);
    if (__builtin_expect(fdslen / sizeof(*fds) < nfds, 0)) __chk_fail();
    return poll_impl(fds, nfds, timeout);
}

GREEN_HOOK(int, __ppoll_chk, struct pollfd* fds, nfds_t nfds, const struct timespec* timeout, const sigset_t* ss,
           size_t fdslen) {
    HOOK_ENTER(__ppoll_chk);
    if (__builtin_expect(fdslen / sizeof(*fds) < nfds, 0)) __chk_fail();
    return ppoll_impl(fds, nfds, timeout, ss);
}
