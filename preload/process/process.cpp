// preload/process/process.cpp: fork, vfork, the wait family, system and pclose.
//
//  - fork/_Fork: in the child only the calling green thread survives (Hub::after_fork: it becomes
//    the thread's root task, the loop is reset with ev_loop_fork). Works from any green thread.
//  - vfork: libc's own system call sequence, in assembly (a C wrapper would return through a stack
//    frame the child then overwrites); it only marks the child (process.hpp) so that no hook
//    parks or touches the runtime's state there.
//  - wait, waitpid, wait3, wait4, waitid: the real call with WNOHANG first; if the child has not
//    changed state, the green thread parks until it may have, then asks again with the caller's
//    options. A child's exit is seen at once through a pidfd (pidfd_open, Linux >= 5.3): one for a
//    specific pid, or one per current child for "any child" and process groups (listed from
//    /proc/self/task/*/children). Stops and continues (WUNTRACED, WCONTINUED), ptrace stops,
//    children the listing missed or that appear while waiting are found by polling the WNOHANG
//    call on a backoff: 1 ms doubling to 50 ms (to 1 s when a pidfd covers the one child waited
//    for and only its exit counts). A signal handler ends the wait with EINTR unless it has
//    SA_RESTART (as natively), but a child that changed state meanwhile is reported first.
//  - system: glibc's algorithm (posix_spawn of /bin/sh -c, SIGINT and SIGQUIT ignored and SIGCHLD
//    blocked in the caller meanwhile, 127 << 8 when the shell cannot be started), with the wait
//    made green. The mask change applies to the OS thread, so the other green threads see SIGCHLD
//    blocked for that time.
//  - pclose: libc's own, run on a native worker thread (glibc's internal waitpid cannot be
//    interposed) while the green thread waits; popen itself does not block and is left alone.
#include "../core/hook.hpp"
#include "../core/fd_table.hpp"
#include "../threads/green_thread.hpp"
#include "../core/io_wait.hpp"
#include "process.hpp"
#include "../core/real.hpp"
#include "../core/runtime.hpp"
#include "../../libgreen/context/raw_syscall.hpp"

#include <green/thread_pool.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

using namespace green::preload;
using green::detail::Hub;
using green::detail::Wake;

extern "C" {
pid_t __wait(int* status);
pid_t __waitpid(pid_t pid, int* status, int options);
extern char** environ;
}

// ---- vfork ---------------------------------------------------------------------------------

__thread unsigned char green_vfork_child = 0;

GREEN_HOOK_IN_ASM(vfork);
GREEN_HOOK_IN_ASM(__vfork);

// glibc's sysdeps/unix/sysv/linux/x86_64/vfork.S plus the child mark: the return address is kept
// in %rdi across the system call (the child will have used the stack by the time the parent
// resumes), the parent clears the mark, an error goes to errno.
asm(R"(
    .pushsection .text
    .globl vfork
    .globl __vfork
    .type vfork, @function
    .type __vfork, @function
    .p2align 4
vfork:
__vfork:
    .cfi_startproc
    endbr64
    movq green_vfork_child@gottpoff(%rip), %rcx
    movb $1, %fs:(%rcx)
    popq %rdi
    .cfi_adjust_cfa_offset -8
    .cfi_register rip, rdi
    movl $58, %eax
    syscall
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    testq %rax, %rax
    je 1f
    movq green_vfork_child@gottpoff(%rip), %rcx
    movb $0, %fs:(%rcx)
    cmpq $-4095, %rax
    jae 2f
1:  ret
2:  negl %eax
    pushq %rax
    .cfi_adjust_cfa_offset 8
    call __errno_location@PLT
    popq %rcx
    .cfi_adjust_cfa_offset -8
    movl %ecx, (%rax)
    movq $-1, %rax
    ret
    .cfi_endproc
    .size vfork, .-vfork
    .size __vfork, .-__vfork
    .popsection
)");

namespace {

// ---- fork ----------------------------------------------------------------------------------

// atfork: whether real_fork runs the pthread_atfork handlers (fork does, _Fork does not: then
// what the preload registered there is done here).
template <class Fork>
pid_t fork_with(Fork real_fork, bool atfork) {
    // The hub this thread has, if any (a fork does not create one); none inside the runtime's own
    // loop, and none in a vfork child, whose hub is its parent's.
    const bool ours = ready && !in_vfork_child();
    Hub* h = ours && !Hub::in_runtime() ? Hub::current_or_null() : nullptr;
    pid_t pid = real_fork();
    if (pid >= 0 && ours) {
        int e = errno;
        if (pid == 0) fork_child_reset_locks();  // before anything here takes one of them
        if (!atfork) FdTable::after_fork();  // every descriptor is now shared with another process
        if (pid == 0 && h) h->after_fork();
        if (pid == 0) sigmask_after_fork();
        errno = e;
    }
    return pid;
}

// ---- waiting for children ------------------------------------------------------------------

// Which children a wait is about.
struct Target {
    enum Kind { Any, Group, Pid, Pidfd } kind;
    long id;  // the pgid, pid or pidfd
};

Target waitpid_target(pid_t pid) {
    if (pid == -1) return {Target::Any, 0};
    if (pid == 0) return {Target::Group, long(getpgrp())};
    if (pid < 0) return {Target::Group, -long(pid)};
    return {Target::Pid, pid};
}

// A pidfd of the runtime's own, kept out of the program's way like libev's descriptors: moved up
// near the top of RLIMIT_NOFILE (the program's next open() gets the number it would natively) and
// shielded from its close() and close_range() (FdTable::mark_runtime). -1 if there is none.
int open_pidfd(pid_t pid) {
    int saved = errno;
    long rc = green::detail::raw_syscall(SYS_pidfd_open, pid, 0);
    int fd = adopt_runtime_fd(rc < 0 ? -1 : int(rc));
    errno = saved;
    return fd;
}

void close_pidfd(int fd) {
    FdTable::unmark_runtime(fd);
    REAL(close)(fd);
}

// Is pid being traced by this process (ptrace stops are reported without WUNTRACED)?
bool traced_by_us(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", int(pid));
    int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[2048];
    ssize_t n = REAL(read)(fd, buf, sizeof buf - 1);
    REAL(close)(fd);
    if (n <= 0) return false;
    buf[n] = 0;
    const char* p = strstr(buf, "TracerPid:");
    return p && atoi(p + 10) == getpid();
}

// Parse the pids of /proc/self/task/<tid>/children into `out`.
void read_children(const char* tid, std::vector<pid_t>& out) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", tid);
    int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    long pid = -1;
    for (;;) {
        ssize_t n = REAL(read)(fd, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                pid = (pid < 0 ? 0 : pid * 10) + (buf[i] - '0');
            } else if (pid >= 0) {
                out.push_back(pid_t(pid));
                pid = -1;
            }
        }
    }
    if (pid >= 0) out.push_back(pid_t(pid));
    REAL(close)(fd);
}

// The children of every thread of this process (a wait sees them all unless __WNOTHREAD).
std::vector<pid_t> list_children() {
    std::vector<pid_t> out;
    if (DIR* d = opendir("/proc/self/task")) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9') read_children(e->d_name, out);
        closedir(d);
    }
    return out;
}

// The pidfds a wait listens on: each becomes readable when its process exits.
class ChildWatch {
public:
    static constexpr size_t kMaxFds = 256;  // beyond, the backoff alone finds the rest

    explicit ChildWatch(const Target& t) : t_(t) { refresh(); }
    ~ChildWatch() {
        for (size_t i = 0; i < fds_.size(); ++i)
            if (pids_[i] > 0) close_pidfd(fds_[i].fd);
    }
    ChildWatch(const ChildWatch&) = delete;
    ChildWatch& operator=(const ChildWatch&) = delete;

    // (Re)discover the children concerned (new ones may have been started meanwhile).
    void refresh() {
        switch (t_.kind) {
        case Target::Pid:
            if (fds_.empty()) watch(pid_t(t_.id));
            break;
        case Target::Pidfd:
            if (fds_.empty()) add(int(t_.id), 0);  // the program's own pidfd: not ours to close
            break;
        case Target::Any:
        case Target::Group:
            for (pid_t pid : list_children())
                if (t_.kind == Target::Any || getpgid(pid) == pid_t(t_.id)) watch(pid);
            break;
        }
    }
    // Stop listening to the pidfds that woke the wait for nothing (their process is gone,
    // reaped by another waiter, or not one this wait reports).
    void drop_reported() {
        for (size_t i = 0; i < fds_.size();) {
            if (!fds_[i].revents) {
                ++i;
                continue;
            }
            if (pids_[i] > 0) {
                close_pidfd(fds_[i].fd);
                gone_.push_back(pids_[i]);
            }
            fds_[i] = fds_.back();
            pids_[i] = pids_.back();
            fds_.pop_back();
            pids_.pop_back();
        }
    }
    std::span<green::detail::FdInterest> fds() { return {fds_.data(), fds_.size()}; }

private:
    void watch(pid_t pid) {
        if (fds_.size() >= kMaxFds || std::find(pids_.begin(), pids_.end(), pid) != pids_.end() ||
            std::find(gone_.begin(), gone_.end(), pid) != gone_.end())
            return;
        int fd = open_pidfd(pid);
        if (fd >= 0) add(fd, pid);
    }
    void add(int fd, pid_t pid) {
        fds_.push_back({fd, green::detail::kRead, 0});
        pids_.push_back(pid);
    }

    Target t_;
    std::vector<green::detail::FdInterest> fds_;
    std::vector<pid_t> pids_;  // parallel to fds_; 0 for the program's pidfd
    std::vector<pid_t> gone_;  // dropped: not watched again by this wait
};

// After a WNOHANG probe found no child to report: park until probe() reports one (its result,
// non-zero) or fails (-1 and its errno), or a signal handler without SA_RESTART runs (-1, EINTR).
template <class Probe>
long wait_child(Hub& h, const Target& t, bool exits_only, long what_arg, Probe probe) {
    ChildWatch watch(t);
    // The backoff finds what a pidfd cannot tell. When one covers the single child waited for and
    // only its exit counts, that is a ptrace stop at most: poll slowly unless we trace it.
    const bool one =
        exits_only && (t.kind == Target::Pidfd || (t.kind == Target::Pid && !traced_by_us(pid_t(t.id))));
    double backoff = 0.001;
    for (;;) {
        const double cap = one && !watch.fds().empty() ? 1.0 : 0.050;
        std::span<green::detail::FdInterest> fds = watch.fds();
        const green::detail::ParkSpec spec{backoff, {"waitpid", nullptr, what_arg}, green::detail::kInterruptUnlessRestart};
        const Wake w = fds.empty() ? h.park(spec) : h.wait_fds(fds, spec);
        long r = probe();
        if (r != 0) return r;
        switch (w) {
        case Wake::Notified:
            watch.drop_reported();
            break;
        case Wake::TimedOut:
            backoff = std::min(backoff * 2, cap);
            if (t.kind == Target::Any || t.kind == Target::Group) watch.refresh();
            break;
        case Wake::Closed:  // the program closed its pidfd: the probe reports EBADF next time
            break;
        case Wake::Signal:
        case Wake::Interrupted:
            errno = EINTR;
            return -1;
        default:  // a timer is always armed: LoopExit cannot happen
            break;
        }
    }
}

bool exits_only(int options) { return !(options & (WUNTRACED | WCONTINUED)); }

// wait4 with the green wait; wait, waitpid and wait3 are wait4.
pid_t green_wait4(pid_t pid, int* status, int options, struct rusage* ru) {
    Hub* h = hub();
    if (!h || (options & WNOHANG)) return REAL(wait4)(pid, status, options, ru);
    pid_t r = REAL(wait4)(pid, status, options | WNOHANG, ru);
    if (r != 0) return r;  // a child to report, or an error (ECHILD, EINVAL)
    auto probe = [&]() -> long { return REAL(wait4)(pid, status, options | WNOHANG, ru); };
    return pid_t(wait_child(*h, waitpid_target(pid), exits_only(options), pid, probe));
}

int green_waitid(idtype_t idtype, id_t id, siginfo_t* info, int options) {
    Hub* h = hub();
    if (!h || (options & WNOHANG)) return REAL(waitid)(idtype, id, info, options);
    // A non-blocking pidfd makes waitid fail with EAGAIN instead of waiting: the kernel's answer.
    if (idtype == P_PIDFD) {
        int fl = REAL(fcntl)(int(id), F_GETFL);
        if (fl < 0 || (fl & O_NONBLOCK)) return REAL(waitid)(idtype, id, info, options);
    }
    // With WNOHANG the kernel fills si_pid with 0 when no child is ready (infop may be NULL: then
    // the event, if any, is consumed for nothing, as natively).
    siginfo_t local;
    siginfo_t* si = info ? info : &local;
    auto probe = [&]() -> long {
        int r = REAL(waitid)(idtype, id, si, options | WNOHANG);
        return r < 0 ? -1 : si->si_pid != 0 ? 1 : 0;
    };
    long r = probe();
    if (r == 0) {
        Target t{Target::Any, 0};
        if (idtype == P_PID) t = {Target::Pid, long(id)};
        else if (idtype == P_PGID) t = {Target::Group, id ? long(id) : long(getpgrp())};
        else if (idtype == P_PIDFD) t = {Target::Pidfd, long(id)};
        const bool exits = (options & WEXITED) && !(options & (WSTOPPED | WCONTINUED));
        r = wait_child(*h, t, exits, idtype == P_ALL ? -1 : long(id), probe);
    }
    return r < 0 ? -1 : 0;
}

// ---- system ---------------------------------------------------------------------------------

// glibc's sysdeps/posix/system.c: the first of concurrent calls ignores SIGINT and SIGQUIT, the
// last one restores them.
green::detail::SpinLock system_lock;
int system_refs = 0;
struct sigaction system_intr, system_quit;

int green_system(Hub& h, const char* line) {
    int status = -1;
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    {
        std::lock_guard g(system_lock);
        if (system_refs++ == 0) {
            sigaction(SIGINT, &sa, &system_intr);
            sigaction(SIGQUIT, &sa, &system_quit);
        }
    }
    sigaddset(&sa.sa_mask, SIGCHLD);
    sigset_t omask;
    sigprocmask(SIG_BLOCK, &sa.sa_mask, &omask);

    sigset_t reset;
    sigemptyset(&reset);
    if (system_intr.sa_handler != SIG_IGN) sigaddset(&reset, SIGINT);
    if (system_quit.sa_handler != SIG_IGN) sigaddset(&reset, SIGQUIT);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &omask);
    posix_spawnattr_setsigdefault(&attr, &reset);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(line), nullptr};
    int ret = posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);

    if (ret == 0) {
        pid_t r;
        do {
            r = REAL(wait4)(pid, &status, WNOHANG, nullptr);
            if (r == 0) {
                auto probe = [&]() -> long { return REAL(wait4)(pid, &status, WNOHANG, nullptr); };
                r = pid_t(wait_child(h, {Target::Pid, pid}, true, pid, probe));
            }
        } while (r == -1 && errno == EINTR);
        if (r != pid) status = -1;
    } else {
        // POSIX: as if the shell had terminated with _exit(127).
        status = 127 << 8;
    }

    {
        std::lock_guard g(system_lock);
        if (--system_refs == 0) {
            sigaction(SIGINT, &system_intr, nullptr);
            sigaction(SIGQUIT, &system_quit, nullptr);
        }
    }
    sigprocmask(SIG_SETMASK, &omask, nullptr);
    if (ret != 0) errno = ret;
    return status;
}

// ---- pclose ---------------------------------------------------------------------------------

// Native threads for pclose (they block every signal: handlers run where the program's threads
// are). Made again in a fork child, where the parent's workers do not exist; the parent's pool is
// left behind there, never destroyed.
green::ThreadPool& pclose_pool() {
    static green::detail::SpinLock lock;
    static green::ThreadPool* pool = nullptr;
    static pid_t owner = 0;
    std::lock_guard g(lock);
    pid_t me = getpid();
    if (!pool || owner != me) {
        pool = new green::ThreadPool(4);
        owner = me;
    }
    return *pool;
}

struct CallResult {
    int value;
    int error;
};

}  // namespace

GREEN_HOOK(pid_t, fork) {
    HOOK_ENTER(fork);
    return fork_with([] { return REAL(fork)(); }, true);
}

GREEN_HOOK(pid_t, _Fork) {
    HOOK_ENTER(_Fork);
    return fork_with([] { return REAL(_Fork)(); }, false);
}

GREEN_HOOK(pid_t, wait, int* status) { HOOK_ENTER(wait); return green_wait4(-1, status, 0, nullptr); }

GREEN_HOOK(pid_t, __wait, int* status) { HOOK_ENTER(__wait); return green_wait4(-1, status, 0, nullptr); }

GREEN_HOOK(pid_t, waitpid, pid_t pid, int* status, int options) { HOOK_ENTER(waitpid); return green_wait4(pid, status, options, nullptr); }

GREEN_HOOK(pid_t, __waitpid, pid_t pid, int* status, int options) { HOOK_ENTER(__waitpid); return green_wait4(pid, status, options, nullptr); }

GREEN_HOOK(pid_t, wait3, int* status, int options, struct rusage* ru) { HOOK_ENTER(wait3); return green_wait4(-1, status, options, ru); }

GREEN_HOOK(pid_t, wait4, pid_t pid, int* status, int options, struct rusage* ru) { HOOK_ENTER(wait4); return green_wait4(pid, status, options, ru); }

GREEN_HOOK(int, waitid, idtype_t idtype, id_t id, siginfo_t* info, int options) { HOOK_ENTER(waitid); return green_waitid(idtype, id, info, options); }

GREEN_HOOK(int, system, const char* line) {
    HOOK_ENTER(system);
    Hub* h = hub();
    if (!h) return REAL(system)(line);
    // glibc: whether a shell is available is whether "exit 0" runs.
    if (!line) return green_system(*h, "exit 0") == 0;
    return green_system(*h, line);
}

GREEN_HOOK(int, pclose, FILE* stream) {
    HOOK_ENTER(pclose);
    Hub* h = hub();
    if (!h || !stream) return REAL(pclose)(stream);
    // libc closes the descriptor inside: wake its green waiters and forget it first, as close does.
    int fd = fileno(stream);
    if (fd >= 0) {
        retire_fd_waits(fd, /*keep=*/false);
        FdTable::forget(fd);
    }
    try {
        CallResult res = pclose_pool().apply([stream] {
            int r = REAL(pclose)(stream);
            return CallResult{r, errno};
        });
        if (res.value < 0) errno = res.error;
        return res.value;
    } catch (...) {
        // The green thread is being killed (green::kill): libc finishes the pclose on its own.
        errno = EINTR;
        return -1;
    }
}

