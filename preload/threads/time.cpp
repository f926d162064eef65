// preload/threads/time.cpp: sleep, usleep, nanosleep, clock_nanosleep park the green thread.
//
// A signal handler interrupts these whatever its SA_RESTART (as natively): EINTR, with the time
// left where the call reports it.
#include "../core/hook.hpp"
#include "green_thread.hpp"
#include "../core/real.hpp"
#include "../core/runtime.hpp"
#include "../core/spread.hpp"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

using namespace green::preload;
using green::detail::Wake;

namespace {

double seconds_of(const timespec& ts) { return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9; }

timespec timespec_of(double s) {
    if (s < 0) s = 0;
    timespec ts;
    ts.tv_sec = time_t(s);
    ts.tv_nsec = long((s - double(ts.tv_sec)) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

// Park for `seconds`; the seconds left if a signal handler ran (then 0 < result), else 0.
double green_sleep(green::detail::Hub& h, double seconds) {
    green::preload::SpreadAfterWait spread;
    const double end = green::detail::monotonic_now() + seconds;
    if (h.park({seconds, {"sleep", nullptr, -1}, green::detail::kInterruptAlways}) == Wake::Signal) {
        green::preload::cancel_point();  // pthread_cancel ends a sleep like a signal
        return std::max(end - green::detail::monotonic_now(), 1e-9);
    }
    return 0;
}

bool valid(const timespec* ts) { return ts && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L && ts->tv_sec >= 0; }

}  // namespace

GREEN_HOOK(unsigned int, sleep, unsigned int seconds) {
    HOOK_ENTER(sleep);
    green::detail::Hub* h = hub();
    if (!h) return REAL(sleep)(seconds);
    if (seconds == 0) return 0;
    double left = green_sleep(*h, seconds);
    // Whole seconds left, truncated as glibc reports them.
    return left > 0 ? unsigned(left) : 0;
}

GREEN_HOOK(int, usleep, useconds_t usec) {
    HOOK_ENTER(usleep);
    green::detail::Hub* h = hub();
    if (!h) return REAL(usleep)(usec);
    if (usec == 0) {
        h->yield(!tls_in_handler);  // a zero sleep is a polite yield, for green threads too (may move: sched_yield)
        return 0;
    }
    if (green_sleep(*h, double(usec) * 1e-6) > 0) {
        errno = EINTR;
        return -1;
    }
    return 0;
}

GREEN_HOOK(int, nanosleep, const struct timespec* req, struct timespec* rem) {
    HOOK_ENTER(nanosleep);
    green::detail::Hub* h = hub();
    if (!h || !req) return REAL(nanosleep)(req, rem);
    if (!valid(req)) {
        errno = EINVAL;
        return -1;
    }
    double left = green_sleep(*h, seconds_of(*req));
    if (left > 0) {
        if (rem) *rem = timespec_of(left);
        errno = EINTR;
        return -1;
    }
    return 0;
}

GREEN_HOOK(int, clock_nanosleep, clockid_t clock, int flags, const struct timespec* req, struct timespec* rem) {
    HOOK_ENTER(clock_nanosleep);
    green::detail::Hub* h = hub();
    // CPU-time clocks and unknown clocks: the kernel's answer (EINVAL, ENOTSUP) or its wait.
    if (!h || !req ||
        (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME && clock != CLOCK_TAI))
        return REAL(clock_nanosleep)(clock, flags, req, rem);
    if (!valid(req)) return EINVAL;
    if (!(flags & TIMER_ABSTIME)) {
        double left = green_sleep(*h, seconds_of(*req));
        if (left > 0) {
            if (rem) *rem = timespec_of(left);
            return EINTR;
        }
        return 0;
    }
    // An absolute deadline on `clock`: sleep in steps until that clock reaches it (CLOCK_REALTIME
    // may be set meanwhile; each step re-reads it).
    for (;;) {
        timespec now;
        clock_gettime(clock, &now);
        double left = seconds_of(*req) - seconds_of(now);
        if (left <= 0) return 0;
        if (green_sleep(*h, left) > 0) return EINTR;
    }
}
