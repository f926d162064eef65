// preload/sigwait.cpp: sigwait, sigwaitinfo and sigtimedwait park the green thread.
//
// The daemon shape (a thread that waits for SIGTERM while the others work) would otherwise block
// the one OS thread, and with it the thread that is to raise the signal. A waited-for signal is
// blocked (sigwait's precondition), so it stays pending until taken: the green thread takes it
// with a zero-timeout sigtimedwait, and between tries sleeps on the hub (0.5 ms, growing to 10 ms:
// a signal arrives within that). Taking it with the kernel's call keeps its semantics: each
// signal is consumed once, siginfo is the kernel's, the lowest pending signal first, handlers of
// other signals run. sigwaitinfo and sigtimedwait end with EINTR when a handler of a signal
// outside the set runs (for the thread's main green thread, which signals interrupt).
#include "green_thread.hpp"
#include "real.hpp"

#include <signal.h>

#include <cerrno>
#include <ctime>

namespace {

using green::preload::Deadline;

// -1 with errno EAGAIN (timeout) or EINTR; else the signal number.
int green_sigtimedwait(const sigset_t* set, siginfo_t* info, const Deadline& dl, bool eintr) {
    double poll = 0.0005;
    for (;;) {
        const timespec zero{0, 0};
        int s = REAL(sigtimedwait)(set, info, &zero);
        if (s > 0 || errno != EAGAIN) return s;
        double left = dl.left();
        if (dl.set && left <= 0) {
            errno = EAGAIN;
            return -1;
        }
        double step = poll < 0.01 ? poll : 0.01;
        poll *= 2;
        if (left >= 0 && left < step) step = left;
        timespec ts{time_t(step), long((step - double(time_t(step))) * 1e9)};
        if (nanosleep(&ts, nullptr) != 0 && errno == EINTR && eintr) return -1;
    }
}

bool green_wait() noexcept { return green::preload::wait_ctx().green; }

}  // namespace

extern "C" {

int sigwait(const sigset_t* set, int* sig) {
    if (!green_wait()) return REAL(sigwait)(set, sig);
    int saved = errno;
    int s = green_sigtimedwait(set, nullptr, Deadline::none(), false);
    int rc = s > 0 ? 0 : errno;
    if (s > 0) *sig = s;
    errno = saved;  // sigwait returns its error, errno untouched
    return rc;
}

int sigwaitinfo(const sigset_t* set, siginfo_t* info) {
    if (!green_wait()) return REAL(sigwaitinfo)(set, info);
    return green_sigtimedwait(set, info, Deadline::none(), true);
}

int sigtimedwait(const sigset_t* set, siginfo_t* info, const struct timespec* timeout) {
    if (!green_wait()) return REAL(sigtimedwait)(set, info, timeout);
    if (timeout && !green::preload::valid_nsec(timeout)) {
        errno = EINVAL;
        return -1;
    }
    Deadline dl;
    if (timeout) {
        timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        dl.clock = CLOCK_MONOTONIC;
        dl.abs = {now.tv_sec + timeout->tv_sec, now.tv_nsec + timeout->tv_nsec};
        if (dl.abs.tv_nsec >= 1000000000L) {
            dl.abs.tv_nsec -= 1000000000L;
            dl.abs.tv_sec++;
        }
        dl.set = true;
    }
    return green_sigtimedwait(set, info, dl, true);
}

}  // extern "C"
