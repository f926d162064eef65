// hub/stall_monitor.cpp: the stall report (see stall_monitor.hpp).
#include "stall_monitor.hpp"

#include "hub.hpp"
#include "../context/raw_syscall.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace green::detail {

namespace {

struct Watched {
    Hub* hub;
    pid_t tid;
    uint64_t switches = 0;
    const Task* task = nullptr;
    double since = 0;
    bool reported = false;
    bool handed = false;  // handed off during this stall
};

SpinLock g_lock;
std::vector<Watched>* g_hubs = nullptr;
double g_threshold = 0;          // stall reports; 0: none
double g_handoff_threshold = 0;  // hand-offs; 0: none

const char* syscall_name(long nr) {
    switch (nr) {
    case SYS_read: return "read";
    case SYS_write: return "write";
    case SYS_pread64: return "pread64";
    case SYS_pwrite64: return "pwrite64";
    case SYS_futex: return "futex";
    case SYS_nanosleep: return "nanosleep";
    case SYS_clock_nanosleep: return "clock_nanosleep";
    case SYS_poll: return "poll";
    case SYS_ppoll: return "ppoll";
    case SYS_select: return "select";
    case SYS_pselect6: return "pselect6";
    case SYS_epoll_wait: return "epoll_wait";
    case SYS_epoll_pwait: return "epoll_pwait";
    case SYS_wait4: return "wait4";
    case SYS_waitid: return "waitid";
    case SYS_flock: return "flock";
    case SYS_fcntl: return "fcntl";
    case SYS_accept: return "accept";
    case SYS_accept4: return "accept4";
    case SYS_connect: return "connect";
    case SYS_recvfrom: return "recvfrom";
    case SYS_recvmsg: return "recvmsg";
    case SYS_sendto: return "sendto";
    case SYS_sendmsg: return "sendmsg";
    case SYS_rt_sigtimedwait: return "rt_sigtimedwait";
    case SYS_rt_sigsuspend: return "rt_sigsuspend";
    case SYS_pause: return "pause";
    case SYS_io_uring_enter: return "io_uring_enter";
    case SYS_openat: return "openat";
    case SYS_msgrcv: return "msgrcv";
    case SYS_semop: return "semop";
    case SYS_semtimedop: return "semtimedop";
    default: return nullptr;
    }
}

// What the OS thread `tid` is doing: "in the system call futex (202)" or "running user code".
void describe_os_thread(pid_t tid, char* out, size_t n) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", int(tid));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char buf[128] = {};
    ssize_t r = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (r <= 0) {
        snprintf(out, n, "doing something /proc does not show");
        return;
    }
    if (strncmp(buf, "running", 7) == 0) {
        snprintf(out, n, "running user code (a spin-wait or a computation, which no hook sees)");
        return;
    }
    long nr = strtol(buf, nullptr, 10);
    const char* name = syscall_name(nr);
    if (name) snprintf(out, n, "blocked in the system call %s (%ld), made where no hook could park it", name, nr);
    else snprintf(out, n, "blocked in system call %ld, made where no hook could park it", nr);
}

void* monitor_main(void*) {
    Hub::mark_worker_thread();
    idle_internal_threads.fetch_add(1);
    sigset_t all;  // the program's signals are for its own threads
    sigfillset(&all);
    raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&all), 0, long(sizeof(long)));
    for (;;) {
        usleep(g_handoff_threshold > 0 ? useconds_t(kHandoffTick * 1e6) : 200000);
        double now = monotonic_now();
        std::lock_guard lk(g_lock);
        for (Watched& w : *g_hubs) {
            const Task* cur = w.hub->running_relaxed();
            uint64_t sw = w.hub->switches_relaxed();
            if (cur != w.task || sw != w.switches || w.hub->in_loop_relaxed()) {
                w.task = cur;
                w.switches = sw;
                w.since = now;
                w.reported = false;
                w.handed = false;
                continue;
            }
            if (g_handoff_threshold > 0 && !w.handed && now - w.since >= g_handoff_threshold)
                w.handed = handoff_try_steal(w.hub);
            if (g_threshold <= 0 || w.reported || now - w.since < g_threshold) continue;
            w.reported = true;
            char what[160];
            w.tid = w.hub->os_tid();
            describe_os_thread(w.tid, what, sizeof what);
            fprintf(stderr,
                    "green: greenlet #%" PRIu64 " '%s' has kept its hub's OS thread (tid %d) for %.1f s without "
                    "switching: %s; every other green thread of that hub waits meanwhile\n",
                    cur->id, cur->name.c_str(), int(w.tid), now - w.since, what);
        }
    }
    return nullptr;
}

}  // namespace

void register_hub(Hub* h, pid_t os_tid) noexcept {
    std::lock_guard lk(g_lock);
    try {
        if (!g_hubs) g_hubs = new std::vector<Watched>;
        g_hubs->push_back({h, os_tid});
    } catch (...) {
    }
}

void unregister_hub(Hub* h) noexcept {
    std::lock_guard lk(g_lock);
    if (!g_hubs) return;
    for (size_t i = 0; i < g_hubs->size(); ++i)
        if ((*g_hubs)[i].hub == h) {
            (*g_hubs)[i] = g_hubs->back();
            g_hubs->pop_back();
            return;
        }
}

namespace {
void start_monitor() noexcept {
    static std::once_flag once;
    std::call_once(once, [&] {
        {
            std::lock_guard lk(g_lock);
            try {
                if (!g_hubs) g_hubs = new std::vector<Watched>;
            } catch (...) {
                return;
            }
        }
        pthread_t t;
        if (native_pthread_create(&t, nullptr, monitor_main, nullptr) == 0) pthread_detach(t);
    });
}
}  // namespace

void start_stall_monitor(double threshold_seconds) noexcept {
    {
        std::lock_guard lk(g_lock);
        g_threshold = threshold_seconds;
    }
    start_monitor();
}

void watch_for_handoff(double threshold_seconds) noexcept {
    {
        std::lock_guard lk(g_lock);
        g_handoff_threshold = threshold_seconds;
    }
    start_monitor();
}

}  // namespace green::detail
