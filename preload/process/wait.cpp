// preload/process/wait.cpp: the wait family (wait, waitpid, wait3, wait4, waitid) parks the green
// thread until a child changes state.
//
//  - wait, waitpid, wait3, wait4, waitid: the real call with WNOHANG first; if the child has not
//    changed state, the green thread parks until it may have, then asks again with the caller's
//    options. A child's exit is seen at once through a pidfd (pidfd_open, Linux >= 5.3): one for a
//    specific pid, or one per current child for "any child" and process groups (listed from
//    /proc/self/task/*/children). Stops and continues (WUNTRACED, WCONTINUED), ptrace stops,
//    children the listing missed or that appear while waiting are found by polling the WNOHANG
//    call on a backoff: 1 ms doubling to 50 ms (to 1 s when a pidfd covers the one child waited
//    for and only its exit counts). A signal handler ends the wait with EINTR unless it has
//    SA_RESTART (as natively), but a child that changed state meanwhile is reported first.
#include "../core/hook.hpp"
#include "child_wait.hpp"

#include "../../libgreen/context/raw_syscall.hpp"
#include "../core/fd_table.hpp"
#include "../core/real.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

using namespace green::preload;
using green::detail::Hub;
using green::detail::Wake;

extern "C" {
pid_t __wait(int* status);
pid_t __waitpid(pid_t pid, int* status, int options);
}

namespace {

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

}  // namespace

long green::preload::wait_child(Hub& h, const Target& t, bool exits_only, long what_arg, long (*probe_fn)(void*),
                                void* probe_arg) {
    auto probe = [&] { return probe_fn(probe_arg); };
    ChildWatch watch(t);
    // The backoff finds what a pidfd cannot tell. When one covers the single child waited for and
    // only its exit counts, that is a ptrace stop at most: poll slowly unless we trace it.
    const bool one = exits_only && (t.kind == Target::Pidfd || (t.kind == Target::Pid && !traced_by_us(pid_t(t.id))));
    double backoff = 0.001;
    for (;;) {
        const double cap = one && !watch.fds().empty() ? 1.0 : 0.050;
        std::span<green::detail::FdInterest> fds = watch.fds();
        const green::detail::ParkSpec spec{
            backoff, {"waitpid", nullptr, what_arg}, green::detail::kInterruptUnlessRestart};
        const Wake w = fds.empty() ? h.park(spec) : h.wait_fds(fds, spec);
        long r = probe();
        if (r != 0) return r;
        switch (w) {
        case Wake::Notified: watch.drop_reported(); break;
        case Wake::TimedOut:
            backoff = std::min(backoff * 2, cap);
            if (t.kind == Target::Any || t.kind == Target::Group) watch.refresh();
            break;
        case Wake::Closed:  // the program closed its pidfd: the probe reports EBADF next time
            break;
        case Wake::Signal:
        case Wake::Interrupted: errno = EINTR; return -1;
        default:  // a timer is always armed: LoopExit cannot happen
            break;
        }
    }
}

namespace {

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

}  // namespace

GREEN_HOOK(pid_t, wait, int* status) {
    HOOK_ENTER(wait);
    return green_wait4(-1, status, 0, nullptr);
}

GREEN_HOOK(pid_t, __wait, int* status) {
    HOOK_ENTER(__wait);
    return green_wait4(-1, status, 0, nullptr);
}

GREEN_HOOK(pid_t, waitpid, pid_t pid, int* status, int options) {
    HOOK_ENTER(waitpid);
    return green_wait4(pid, status, options, nullptr);
}

GREEN_HOOK(pid_t, __waitpid, pid_t pid, int* status, int options) {
    HOOK_ENTER(__waitpid);
    return green_wait4(pid, status, options, nullptr);
}

GREEN_HOOK(pid_t, wait3, int* status, int options, struct rusage* ru) {
    HOOK_ENTER(wait3);
    return green_wait4(-1, status, options, ru);
}

GREEN_HOOK(pid_t, wait4, pid_t pid, int* status, int options, struct rusage* ru) {
    HOOK_ENTER(wait4);
    return green_wait4(pid, status, options, ru);
}

GREEN_HOOK(int, waitid, idtype_t idtype, id_t id, siginfo_t* info, int options) {
    HOOK_ENTER(waitid);
    return green_waitid(idtype, id, info, options);
}
