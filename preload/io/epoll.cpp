// preload/io/epoll.cpp: epoll_wait, epoll_pwait, epoll_pwait2 park the green thread (multiplex.hpp).
//
// The wait is for the program's epoll descriptor itself, which is readable while its ready list is
// not empty; the probe (the real call with a zero timeout) then collects the events, so the
// program's edge-triggered and one-shot registrations behave exactly as natively. epoll_ctl and
// epoll_create need nothing from the runtime.
#include "../core/hook.hpp"
#include "../core/multiplex.hpp"
#include "../core/real.hpp"

#include <sys/epoll.h>

using namespace green::preload;
using green::detail::Hub;

namespace {

int epoll_slow(Hub& h, int epfd, epoll_event* events, int maxevents, double deadline, const sigset_t* mask) {
    Interests in;
    in.add(epfd, green::detail::kRead);
    MaskScope scope(mask);
    auto probe = [&] { return REAL(epoll_wait)(epfd, events, maxevents, 0); };
    // The epoll descriptor stays in the hub's epoll set between waits: re-adding an epoll descriptor
    // costs the kernel a loop check (ep_loop_check) on every wait. close() disarms it (retire); not
    // with native threads, where another thread's hub may be the one watching it (as wait_fd).
    return wait_ready(h, in.span(), deadline, {"epoll_wait", nullptr, epfd}, probe, nullptr, config.green_threads);
}

// Does `mask` unblock a signal pending right now? Natively the wait then ends at once with EINTR
// (after the handler), but epoll's zero-timeout probe does not look at signals, unlike ppoll's and
// pselect's: it puts the program's mask back with the signal still pending.
bool unblocks_pending(const sigset_t* mask) {
    sigset_t pending;
    if (!mask || sigpending(&pending) != 0) return false;
    for (int s = 1; s < NSIG; ++s)
        if (sigismember(&pending, s) == 1 && sigismember(mask, s) == 0) return true;
    return false;
}

// ...and run its handler, under the call's mask as natively: that mask lets it in.
int interrupted_by_pending(const sigset_t* mask) {
    sigset_t old;
    pthread_sigmask(SIG_SETMASK, mask, &old);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = EINTR;
    return -1;
}

// epoll_wait's milliseconds: negative is forever (0, no wait, goes to the real call).
double deadline_ms(int timeout) { return deadline_after(timeout < 0 ? -1 : timeout * 1e-3); }

}  // namespace

GREEN_HOOK(int, epoll_wait, int epfd, struct epoll_event* events, int maxevents, int timeout) {
    HOOK_ENTER(epoll_wait);
    Hub* h = hub();
    if (!h || timeout == 0) return REAL(epoll_wait)(epfd, events, maxevents, timeout);
    const double deadline = deadline_ms(timeout);
    int r = REAL(epoll_wait)(epfd, events, maxevents, 0);
    if (r != 0) return r;
    return epoll_slow(*h, epfd, events, maxevents, deadline, nullptr);
}

GREEN_HOOK(int, epoll_pwait, int epfd, struct epoll_event* events, int maxevents, int timeout, const sigset_t* ss) {
    HOOK_ENTER(epoll_pwait);
    Hub* h = hub();
    if (!h || timeout == 0) return REAL(epoll_pwait)(epfd, events, maxevents, timeout, ss);
    const double deadline = deadline_ms(timeout);
    const bool interrupt = unblocks_pending(ss);
    int r = REAL(epoll_pwait)(epfd, events, maxevents, 0, ss);
    if (r != 0) return r;
    if (interrupt) return interrupted_by_pending(ss);
    return epoll_slow(*h, epfd, events, maxevents, deadline, ss);
}

GREEN_HOOK(int, epoll_pwait2, int epfd, struct epoll_event* events, int maxevents, const struct timespec* timeout,
           const sigset_t* ss) {
    HOOK_ENTER(epoll_pwait2);
    Hub* h = hub();
    // No wait (zero timeout), or an immediate EINVAL (invalid timeout) from the kernel.
    if (!h || (timeout && ((timeout->tv_sec == 0 && timeout->tv_nsec == 0) || timeout->tv_sec < 0 ||
                           timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L)))
        return REAL(epoll_pwait2)(epfd, events, maxevents, timeout, ss);
    const double deadline =  // a NULL timeout is forever
        deadline_after(timeout ? double(timeout->tv_sec) + double(timeout->tv_nsec) * 1e-9 : -1);
    static const timespec zero{0, 0};
    const bool interrupt = unblocks_pending(ss);
    int r = REAL(epoll_pwait2)(epfd, events, maxevents, &zero, ss);
    if (r != 0) return r;
    if (interrupt) return interrupted_by_pending(ss);
    return epoll_slow(*h, epfd, events, maxevents, deadline, ss);
}
