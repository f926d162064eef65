// preload/signal/signal.cpp: sigaction and signal, so that a handler can interrupt a parked wait.
//
// Natively a signal handler interrupts the blocking system call the thread is in. Here the OS
// thread sits in the hub's epoll_wait while a green thread waits, so the preload installs its
// own trampoline: it runs the program's handler, then ends, with EINTR, the wait of the thread the
// kernel would have interrupted if that wait is one the signal ends (SA_RESTART decides for I/O;
// sleep, poll and friends always end): for a process-directed signal, main's or another thread's
// that does not block it (sigmask.cpp); for pthread_kill, its target's. The program sees its own
// handler in sigaction's old action.
#include "../core/hook.hpp"
#include "../core/real.hpp"
#include "../process/process.hpp"
#include "../core/runtime.hpp"
#include "../core/stats.hpp"
#include "../threads/green_thread.hpp"

#include "../../libgreen/context/raw_syscall.hpp"

#include <link.h>
#include <sys/syscall.h>
#include <signal.h>

#include <cerrno>
#include <cstdint>
#include <mutex>

using namespace green::preload;

thread_local int green::preload::tls_in_handler __attribute__((tls_model("initial-exec"))) = 0;
namespace {
thread_local bool tls_directed __attribute__((tls_model("initial-exec"))) = false;
}
std::atomic<uint32_t> green::preload::handler_runs[NSIG];

namespace {

struct ProgramAction {
    struct sigaction act;    // the program's, as it passed it
    bool wrapped = false;    // our trampoline is installed in its place
    struct sigaction plain;  // the program's last SIG_DFL or SIG_IGN (none set: SIG_DFL)
};
ProgramAction actions[NSIG];
green::detail::SpinLock actions_lock;
const bool actions_lock_fork_reset = reset_in_fork_child(actions_lock);

// SIGSEGV and friends raised by the kernel for the instruction that faulted (si_code > 0), not sent.
bool raised_by_fault(int sig, const siginfo_t* info) {
    bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP;
    return fault && info && info->si_code > 0;
}

void trampoline(int sig, siginfo_t* info, void* uc) {
    const struct sigaction& a = actions[sig].act;
    const int flags = a.sa_flags;
    // A signal for the process, come while a context that blocks it runs (the OS thread lets in
    // what any green thread takes): its handler runs later in one that takes it (sigmask.cpp).
    // Not for SA_RESETHAND: the kernel has put SIG_DFL back already.
    if (!tls_directed && !raised_by_fault(sig, info) && !(flags & SA_RESETHAND) &&
        !(info && info->si_code == SI_TKILL && info->si_pid == green::detail::raw_syscall(SYS_getpid)))
        if (int saved = errno; defer_process_signal(sig, info, flags & SA_RESTART)) {
            errno = saved;
            return;
        }
    ++tls_in_handler;
    if (flags & SA_SIGINFO) a.sa_sigaction(sig, info, uc);
    else a.sa_handler(sig);
    --tls_in_handler;
    handler_runs[sig].fetch_add(1, std::memory_order_release);  // sigsuspend and pause (sigwait.cpp)
    if (flags & SA_RESETHAND) actions[sig].wrapped = false;     // the kernel reset it to SIG_DFL
    int saved = errno;
    // A signal sent to one green thread interrupts only that thread's wait (pthread_kill does it);
    // a fault of the running code is its own. Else the signal was for the process.
    if (!tls_directed && !raised_by_fault(sig, info))
        if (green::detail::Hub* h = green::detail::Hub::current_or_null())
            process_signal_arrived(*h, sig, flags & SA_RESTART);
    errno = saved;
}

bool is_handler(const struct sigaction* act) {
    if (act->sa_flags & SA_SIGINFO) return act->sa_sigaction != nullptr;
    return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

// The preload's code segment, found once at load: dl_iterate_phdr takes the loader's lock, which
// sigaction, called from a signal handler, must not.
uintptr_t own_code_lo, own_code_hi;
__attribute__((constructor)) void find_own_code() {
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void*) {
            auto self = reinterpret_cast<uintptr_t>(&trampoline);
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                uintptr_t lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr, hi = lo + info->dlpi_phdr[i].p_memsz;
                if (info->dlpi_phdr[i].p_type == PT_LOAD && self >= lo && self < hi) {
                    own_code_lo = lo, own_code_hi = hi;
                    return 1;
                }
            }
            return 0;
        },
        nullptr);
}

// A handler in the preload's own code: the trampoline, the hub's SIGSEGV handler (stack overflow
// reports), GREEN_STATS's stand-in for SIG_DFL (stats.hpp). The program is told what it set.
bool runtime_handler(const struct sigaction& a) {
    auto h = reinterpret_cast<uintptr_t>(a.sa_sigaction);
    return is_handler(&a) && h >= own_code_lo && h < own_code_hi;
}

}  // namespace

void green::preload::signal_directed(int sig, const siginfo_t* info) noexcept {
    int saved = errno;
    tls_directed = true;
    // The calling OS thread may block it for other reasons (a hub of the group blocks every
    // asynchronous signal): the calling green thread does not, so let it in for this one call.
    uint64_t one = uint64_t(1) << (sig - 1), old = 0;
    green::detail::raw_syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, long(&one), long(&old), long(sizeof one));
    // The kernel's ids: a green thread's TCB holds a made-up tid. Delivered before the call returns.
    // A process-directed signal keeps the siginfo it came with (its sender's pid and uid, SI_USER
    // or SI_QUEUE): rt_tgsigqueueinfo may pass any to the caller's own process.
    const long pid = green::detail::raw_syscall(SYS_getpid), tid = green::detail::raw_syscall(SYS_gettid);
    if (!info || green::detail::raw_syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, long(info)) != 0)
        green::detail::raw_syscall(SYS_tgkill, pid, tid, sig);
    if (old & one) green::detail::raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, long(&one), 0, long(sizeof one));
    tls_directed = false;
    errno = saved;
}

bool green::preload::program_handles(int sig) noexcept {
    // Without the lock: pthread_kill may be called from a handler that interrupted sigaction.
    return sig > 0 && sig < NSIG && actions[sig].wrapped;
}

bool green::preload::program_restarts(int sig) noexcept {
    return program_handles(sig) && (actions[sig].act.sa_flags & SA_RESTART);
}

GREEN_HOOK(int, sigaction, int sig, const struct sigaction* act, struct sigaction* old) {
    HOOK_ENTER(sigaction);
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
        if (r == 0) {
            actions[sig].act = *act;
            actions[sig].wrapped = true;
        }
    } else {
        struct sigaction dying;  // GREEN_STATS: the report, then the default action (stats.hpp)
        bool dfl = act && act->sa_handler == SIG_DFL;
        r = REAL(sigaction)(sig, dfl && stats_action(sig, &dying) ? &dying : act, &kernel_old);
        if (r == 0 && act) {
            actions[sig].wrapped = false;
            actions[sig].plain = *act;
        }
    }
    if (r == 0 && old) *old = !runtime_handler(kernel_old) ? kernel_old : before.wrapped ? before.act : before.plain;
    return r;
}

// signal() has BSD semantics in glibc: the handler stays installed and calls restart.
GREEN_HOOK(sighandler_t, signal, int sig, sighandler_t handler) {
    HOOK_ENTER(signal);
    struct sigaction act {
    }, old{};
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART;
    if (sigaction(sig, &act, &old) < 0) return SIG_ERR;
    return old.sa_handler;  // shares its storage with sa_sigaction
}
