// preload/signal.cpp: sigaction and signal, so that a handler can interrupt a parked wait.
//
// Natively a signal handler interrupts the blocking system call the thread is in. Here the OS
// thread sits in the hub's epoll_wait while a green thread waits, so the preload installs its
// own trampoline: it runs the program's handler, then tells the hub, which ends the root green
// thread's wait with EINTR if that wait is one the signal ends (SA_RESTART decides for I/O; sleep,
// poll and friends always end). The program sees its own handler in sigaction's old action.
#include "real.hpp"
#include "process.hpp"
#include "runtime.hpp"

#include <signal.h>

#include <cerrno>
#include <mutex>

using namespace green::preload;

thread_local int green::preload::tls_in_handler __attribute__((tls_model("initial-exec"))) = 0;

namespace {

struct ProgramAction {
    struct sigaction act;  // the program's, as it passed it
    bool wrapped = false;  // our trampoline is installed in its place
};
ProgramAction actions[NSIG];
green::detail::SpinLock actions_lock;

void trampoline(int sig, siginfo_t* info, void* uc) {
    const struct sigaction& a = actions[sig].act;
    const int flags = a.sa_flags;
    ++tls_in_handler;
    if (flags & SA_SIGINFO) a.sa_sigaction(sig, info, uc);
    else a.sa_handler(sig);
    --tls_in_handler;
    if (flags & SA_RESETHAND) actions[sig].wrapped = false;  // the kernel reset it to SIG_DFL
    int saved = errno;
    if (green::detail::Hub* h = green::detail::Hub::current_or_null()) h->note_signal(flags & SA_RESTART);
    errno = saved;
}

bool is_handler(const struct sigaction* act) {
    if (act->sa_flags & SA_SIGINFO) return act->sa_sigaction != nullptr;
    return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

}  // namespace

extern "C" {

int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
    count(Call::sigaction);
    if (!ready || in_vfork_child() || sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
        return REAL(sigaction)(sig, act, old);
    std::lock_guard g(actions_lock);
    ProgramAction before = actions[sig];
    struct sigaction kernel_old;
    int r;
    if (act && is_handler(act)) {
        struct sigaction w = *act;
        w.sa_sigaction = trampoline;
        w.sa_flags |= SA_SIGINFO;
        r = REAL(sigaction)(sig, &w, &kernel_old);
        if (r == 0) actions[sig] = {*act, true};
    } else {
        r = REAL(sigaction)(sig, act, &kernel_old);
        if (r == 0 && act) actions[sig].wrapped = false;
    }
    if (r == 0 && old) {
        bool ours = before.wrapped && (kernel_old.sa_flags & SA_SIGINFO) && kernel_old.sa_sigaction == trampoline;
        *old = ours ? before.act : kernel_old;
    }
    return r;
}

// signal() has BSD semantics in glibc: the handler stays installed and calls restart.
sighandler_t signal(int sig, sighandler_t handler) {
    struct sigaction act {}, old{};
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART;
    if (sigaction(sig, &act, &old) < 0) return SIG_ERR;
    return old.sa_handler;  // shares its storage with sa_sigaction
}

}  // extern "C"
