// preload/signal/sigwait.cpp: sigwait, sigwaitinfo and sigtimedwait park the green thread.
//
// The daemon shape (a thread that waits for SIGTERM while the others work) would otherwise block
// the one OS thread, and with it the thread that is to raise the signal. A waited-for signal is
// blocked (sigwait's precondition), so it stays pending until taken: the green thread takes it
// with a zero-timeout sigtimedwait, and between tries sleeps on the hub (0.5 ms, growing to 10 ms:
// a signal arrives within that). Taking it with the kernel's call keeps its semantics: each
// signal is consumed once, siginfo is the kernel's, the lowest pending signal first, handlers of
// other signals run. sigwaitinfo and sigtimedwait end with EINTR when a handler of a signal
// outside the set runs (for the thread's main green thread, which signals interrupt).
//
// sigsuspend and pause park the green thread until the program's handler of a signal runs
// (signal.cpp's trampoline counts the runs of each signal's handler). The signal mask belongs to
// the OS thread, which every green thread on it shares: sigsuspend does not install its mask for
// the whole wait (the other green threads would run with it). Instead, between sleeps, it looks
// at the pending signals; when one that the given mask unblocks is pending, it installs the mask
// for the time of two pthread_sigmask calls, during which the kernel delivers that signal and its
// handler runs, with that mask, on the green thread's own stack, as the kernel's sigsuspend does;
// then it puts the old mask back. A handler that runs meanwhile for a signal the OS thread does
// not block ends the wait too, unless the sigsuspend mask blocks that signal (natively another
// thread would have taken it). Both return -1 with EINTR once a handler has run; a pending
// signal whose action is to end the process ends it. Both are cancellation points.
#include "../core/hook.hpp"
#include "../threads/green_thread.hpp"
#include "../core/real.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace {

using green::preload::Deadline;

// -1 with errno EAGAIN (timeout) or EINTR; else the signal number.
int green_sigtimedwait(const sigset_t* set, siginfo_t* info, const Deadline& dl, bool eintr) {
    double poll = 0.0005;
    for (;;) {
        // One sent to this green thread alone (pthread_kill while it blocked it: sigmask.cpp).
        if (int sig = green::preload::take_pending(set)) {
            if (info) {
                *info = siginfo_t{};
                info->si_signo = sig;
                info->si_code = SI_TKILL;
                info->si_pid = getpid();
                info->si_uid = getuid();
            }
            return sig;
        }
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

// sigsuspend(mask), or pause() when mask is null: -1 with EINTR once a handler it waits for ran.
int green_sigsuspend(const sigset_t* mask) {
    using green::preload::handler_runs;
    uint32_t seen[NSIG];
    for (int s = 1; s < NSIG; ++s) seen[s] = handler_runs[s].load(std::memory_order_acquire);
    auto handled = [&] {
        for (int s = 1; s < NSIG; ++s)
            if ((!mask || !sigismember(mask, s)) && handler_runs[s].load(std::memory_order_acquire) != seen[s])
                return true;
        return false;
    };
    double poll = 0.0005;
    for (;;) {
        green::preload::release_pending(mask);  // sent to this thread, and now unblocked
        if (mask) {
            sigset_t pend;
            bool deliver = false;
            if (sigpending(&pend) == 0)
                for (int s = 1; s < NSIG && !deliver; ++s) deliver = sigismember(&pend, s) && !sigismember(mask, s);
            if (deliver) {
                // The kernel delivers the unblocked pending signals on the way out of the first
                // call: their handlers run here, with the sigsuspend mask in force.
                sigset_t old;
                green::preload::tls_taking_signals = true;  // whatever this thread's own mask says
                REAL(pthread_sigmask)(SIG_SETMASK, mask, &old);
                REAL(pthread_sigmask)(SIG_SETMASK, &old, nullptr);
                green::preload::tls_taking_signals = false;
            }
        }
        if (handled()) {
            errno = EINTR;
            return -1;
        }
        const double step = poll < 0.01 ? poll : 0.01;
        poll *= 2;
        timespec ts{0, long(step * 1e9)};
        // The nanosleep hook parks; a handler run wakes the thread's main green thread at once (the
        // loop then looks), a pthread_cancel unwinds from inside it.
        nanosleep(&ts, nullptr);
    }
}

}  // namespace

GREEN_HOOK(int, sigwait, const sigset_t* set, int* sig) {
    HOOK_ENTER(sigwait);
    if (!green_wait()) return REAL(sigwait)(set, sig);
    int saved = errno;
    int s = green_sigtimedwait(set, nullptr, Deadline::none(), false);
    int rc = s > 0 ? 0 : errno;
    if (s > 0) *sig = s;
    errno = saved;  // sigwait returns its error, errno untouched
    return rc;
}

GREEN_HOOK(int, sigwaitinfo, const sigset_t* set, siginfo_t* info) {
    HOOK_ENTER(sigwaitinfo);
    if (!green_wait()) return REAL(sigwaitinfo)(set, info);
    return green_sigtimedwait(set, info, Deadline::none(), true);
}

GREEN_HOOK(int, sigtimedwait, const sigset_t* set, siginfo_t* info, const struct timespec* timeout) {
    HOOK_ENTER(sigtimedwait);
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

GREEN_HOOK(int, sigsuspend, const sigset_t* mask) {
    HOOK_ENTER(sigsuspend);
    // glibc declares mask nonnull, but a null one must still get the kernel's EFAULT: hide it
    // from the compiler, which would drop the test.
    const sigset_t* m = mask;
    __asm__("" : "+r"(m));
    if (!green_wait() || !m) return REAL(sigsuspend)(mask);
    green::preload::cancel_point();
    return green_sigsuspend(mask);
}

GREEN_HOOK(int, pause) {
    HOOK_ENTER(pause);
    if (!green_wait()) return REAL(pause)();
    green::preload::cancel_point();
    return green_sigsuspend(nullptr);
}
