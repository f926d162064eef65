// preload/process/seccomp.cpp: prctl(PR_SET_SECCOMP) and seccomp() (through syscall()): after a filter
// is installed, the process makes only the system calls it would make natively (seccomp.hpp).
#include "../core/hook.hpp"
#include "seccomp.hpp"

#include "../core/fd_table.hpp"
#include "../threads/green_thread.hpp"
#include "../core/real.hpp"
#include "../core/stats.hpp"

#include <dirent.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>

namespace green::preload {

namespace {

bool g_sandboxed = false;  // this process installed a filter (inherited by fork children)

bool is_handler(const struct sigaction& a) {
    if (a.sa_flags & SA_SIGINFO) return a.sa_sigaction != nullptr;
    return a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN;
}

// The kernel's actions the runtime put in place of the program's SIG_DFL or SIG_IGN (GREEN_STATS's
// stand-ins, the stack-overflow reporter) give way to the program's before the install, and come
// back if it fails: under the filter, the runtime's handlers would make calls of their own.
struct SignalSwap {
    struct sigaction kernel[NSIG];
    bool swapped[NSIG] = {};

    void to_program() noexcept {
        memset(swapped, 0, sizeof swapped);
        for (int sig = 1; sig < NSIG; ++sig) {
            if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33) continue;  // 32, 33: glibc's own
            struct sigaction program, k;
            // The sigaction hook tells what the program set (SIG_DFL where it set nothing).
            if (sigaction(sig, nullptr, &program) != 0 || REAL(sigaction)(sig, nullptr, &k) != 0) continue;
            if (is_handler(program) || !is_handler(k)) continue;  // the program's own handler stays
            if (REAL(sigaction)(sig, &program, nullptr) == 0) {
                kernel[sig] = k;
                swapped[sig] = true;
            }
        }
    }
    void undo() noexcept {
        for (int sig = 1; sig < NSIG; ++sig)
            if (swapped[sig]) REAL(sigaction)(sig, &kernel[sig], nullptr);
    }
};

// Every descriptor open now gets its fd-table entry, while fstat and getsockopt are still allowed:
// the hooks that consult the table without parking (fcntl, ioctl(FIONBIO), dup, listen,
// setsockopt) then find it and make no probing call under the filter.
void learn_descriptors() noexcept {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return;
    const int own = dirfd(d);
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        const int fd = atoi(e->d_name);
        if (fd != own) (void)FdTable::get(fd);
    }
    closedir(d);
}

void say(const char* msg) noexcept { (void)!REAL(write)(2, msg, strlen(msg)); }

// Install a filter with `real()`, which returns the call's result (-1 and errno on failure);
// `succeeded(r)` tells an installed filter from a refused one.
template <class Real, class Succeeded> long install(Real real, Succeeded succeeded) noexcept {
    // Before the preload's initialisation, after an earlier filter, in a vfork child (its memory
    // is its parent's: nothing here may change): nothing of the runtime runs, nothing to do.
    if (!ready || in_vfork_child()) return real();
    if (wait_ctx().green) {
        // Other green threads share this OS thread: under the filter they could never run again
        // (the hub's epoll_wait, their own translated calls). Natively they are other threads.
        say("green: refusing to install a seccomp filter while other green threads live on this "
            "OS thread: they could not run under it (install it in a child of fork, before "
            "creating threads, or run with GREEN_THREADS=native); failing with EBUSY\n");
        errno = EBUSY;
        return -1;
    }
    const int saved = errno;
    learn_descriptors();
    // The report now, while getpid and write are allowed; the exit-time one is then a no-op.
    if (config.stats) print_stats();
    static SignalSwap swap;  // static: NSIG sigactions are too large for a small green stack
    swap.to_program();
    errno = saved;
    long r = real();
    if (!succeeded(r)) {
        const int e = errno;
        swap.undo();
        errno = e;
        return r;
    }
    g_sandboxed = true;
    config.stats = false;
    config.debug = false;
    ready = false;  // every hook now passes straight to libc (runtime.hpp: hub())
    errno = saved;
    return r;
}

}  // namespace

long seccomp_syscall(long op, long flags, long args) noexcept {
    auto real = [&] { return REAL(syscall)(SYS_seccomp, op, flags, args); };
    // SECCOMP_GET_ACTION_AVAIL, SECCOMP_GET_NOTIF_SIZES, or a null program (a probe for support,
    // answered EFAULT): nothing is installed.
    if (!(op == SECCOMP_SET_MODE_STRICT || (op == SECCOMP_SET_MODE_FILTER && args != 0))) return real();
    // 0, or with SECCOMP_FILTER_FLAG_NEW_LISTENER the listener's descriptor; a positive result
    // without it is the thread a TSYNC could not synchronise (nothing installed).
    return install(real, [flags](long r) { return r == 0 || (r > 0 && (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)); });
}

}  // namespace green::preload

using namespace green::preload;

GREEN_HOOK(int, prctl, int option, ...) {
    HOOK_ENTER(prctl);
    // As glibc's prctl: four more arguments, whatever the option uses.
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
    unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    auto real = [&] { return long(REAL(prctl)(option, a2, a3, a4, a5)); };
    if (option != PR_SET_SECCOMP || !(a2 == SECCOMP_MODE_STRICT || (a2 == SECCOMP_MODE_FILTER && a3 != 0)))
        return int(real());
    return int(install(real, [](long r) { return r == 0; }));
}
