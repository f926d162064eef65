// hub/stall_monitor.cpp: the stall report (see stall_monitor.hpp).
#include "stall_monitor.hpp"

#include "hub.hpp"
#include "../context/once.hpp"
#include "../context/raw_syscall.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
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
    bool handed = false;   // handed off during this stall
    double cpu_since = 0;  // the OS thread's CPU time at `since`
};

SpinLock g_lock;
const bool g_lock_fork_reset = reset_in_fork_child(g_lock);
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
    char buf[128];
    if (raw_read_file(path, buf, sizeof buf) <= 0) {
        snprintf(out, n, "doing something /proc does not show");
        return;
    }
    if (strncmp(buf, "running", 7) == 0) {
        snprintf(out, n, "running user code (a spin-wait or a computation, which no hook sees)");
        return;
    }
    long nr = strtol(buf, nullptr, 10);
    const char* name = syscall_name(nr);
    // The line ends with the user stack pointer and the program counter of the blocked call: where
    // the system call instruction is (a libc wrapper, or the program's own raw syscall).
    char where[96] = "";
    const char* last = strrchr(buf, ' ');
    if (last) {
        Dl_info info{};
        void* pc = reinterpret_cast<void*>(strtoull(last + 1, nullptr, 16));
        if (pc && dladdr(pc, &info) && info.dli_fname) {
            const char* file = strrchr(info.dli_fname, '/');
            file = file ? file + 1 : info.dli_fname;
            if (info.dli_sname && info.dli_saddr)
                snprintf(where, sizeof where, " at %s+0x%lx (%s)", info.dli_sname,
                         static_cast<unsigned long>(uintptr_t(pc) - uintptr_t(info.dli_saddr)), file);
            else
                snprintf(where, sizeof where, " at %s+0x%lx", file,
                         static_cast<unsigned long>(uintptr_t(pc) - uintptr_t(info.dli_fbase)));
        }
    }
    if (name)
        snprintf(out, n, "blocked in the system call %s (%ld)%s, made where no hook could park it", name, nr, where);
    else snprintf(out, n, "blocked in system call %ld%s, made where no hook could park it", nr, where);
}

// CPU time of one of the process's threads (the kernel's per-thread clock id for `tid`).
double thread_cpu_seconds(pid_t tid) noexcept {
    const clockid_t id = clockid_t((~unsigned(tid) << 3) | 6);  // MAKE_THREAD_CPUCLOCK(tid, SCHED)
    timespec ts{};
    if (raw_syscall(SYS_clock_gettime, id, long(&ts)) != 0) return 0;
    return double(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

// The scheduler state letter of one of the process's threads ('R' runnable, 'S', 'D'...), or 0.
char thread_state(pid_t tid) noexcept {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", int(tid));
    char buf[256];
    if (raw_read_file(path, buf, sizeof buf) <= 0) return 0;
    const char* p = strrchr(buf, ')');  // the name in parentheses may hold anything
    return p && p[1] == ' ' ? p[2] : 0;
}

// Whether another OS thread would let the hub go on: its thread is blocked in the kernel, or is
// computing: it got at least a quarter of the time since, or, on a loaded machine, the
// threshold's worth of CPU without switching (a spin-wait for another green thread of its hub
// must get a hand-off however slowly the kernel runs it, or never end). A thread that is runnable
// but was hardly given a CPU would only compete with one more: never for that alone (each such
// hand-off added an OS thread, which the load starved in turn: 13 OS threads for a server on 2
// hubs under the test suite's load; natively, as here, it runs when the kernel lets it).
bool worth_handing_off(const Watched& w, double now) noexcept {
    const pid_t tid = w.hub->os_tid();
    if (thread_state(tid) != 'R') return true;
    const double cpu = thread_cpu_seconds(tid) - w.cpu_since;
    return cpu >= 0.25 * (now - w.since) || cpu >= g_handoff_threshold;
}

// Once per green thread, and kMaxReports in all: a server whose every request spins would
// otherwise fill its log. The monitor thread's own state.
constexpr int kMaxReports = 20;
bool may_report(uint64_t id) noexcept {
    static uint64_t seen[kMaxReports];
    static int made = 0;
    if (made > kMaxReports) return false;
    for (int i = 0; i < made && i < kMaxReports; ++i)
        if (seen[i] == id) return false;
    if (made == kMaxReports) {
        ++made;
        fprintf(stderr, "green: %d stall reports made; no more are printed\n", kMaxReports);
        return false;
    }
    seen[made++] = id;
    return true;
}

// How often the monitor looks without hand-off: often enough for a report close to its threshold.
long report_tick_us() noexcept { return long(std::min(0.2, g_threshold / 4) * 1e6); }

void report_task_out(pid_t tid, uint64_t id, const char* name, double seconds) {
    if (!may_report(id)) return;
    char what[256];
    describe_os_thread(tid, what, sizeof what);
    fprintf(stderr,
            "green: greenlet #%" PRIu64
            " '%s' has run for %.1f s outside the runtime on OS thread tid %d: %s; "
            "its hub went on on another OS thread (hand-off)\n",
            id, name, seconds, int(tid), what);
}

// Whether every hand-off hub is in its poll and there is nothing to report; g_lock held.
bool all_polling() noexcept {
    if (g_threshold > 0) return false;
    for (Watched& w : *g_hubs)
        if (w.hub->handoff_on() && !w.hub->polling()) return false;
    return true;
}

// Looks in a row that must find every hub polling before the monitor sleeps until one is not: one,
// doubled (up to 20) each time a sleep is cut short within 20 ms, back to one after a sleep of
// 200 ms. A busy server polls often and briefly: sleeping at each of those polls made its hub pay
// a futex wake (and the monitor's wake-up on its CPU) at nearly every poll it came out of; an idle
// one that gets a request now and then keeps a monitor that sleeps between them.
constexpr int kMaxQuietLooks = 20;
constexpr double kShortSleep = 0.020, kLongSleep = 0.200;

void* monitor_main(void*) {
    name_os_thread("green-monitor");
    Hub::mark_worker_thread();
    idle_internal_threads.fetch_add(1);
    sigset_t all;  // the program's signals are for its own threads
    sigfillset(&all);
    raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&all), 0, long(sizeof(long)));
    int quiet = 0;         // looks in a row that found every hand-off hub polling
    int quiet_needed = 1;  // before sleeping
    for (;;) {
        raw_sleep_us(g_handoff_threshold > 0 ? long(handoff_tick(g_handoff_threshold) * 1e6)
                     : g_threshold > 0       ? report_tick_us()
                                             : 200000);
        if (g_handoff_threshold > 0) {
            g_lock.lock();
            const bool polling = all_polling();
            quiet = polling ? quiet + 1 : 0;
            bool sleep = false;
            if (quiet >= quiet_needed) {
                // Dekker with the hub's loop: it clears polling_ then reads monitor_asleep, we set
                // monitor_asleep then read polling_ (both seq_cst): one of us sees the other.
                monitor_asleep.store(1, std::memory_order_seq_cst);
                sleep = all_polling();
            }
            g_lock.unlock();
            if (sleep) {
                const double from = monotonic_now();
                while (monitor_asleep.load(std::memory_order_acquire))
                    raw_syscall(SYS_futex, long(&monitor_asleep), FUTEX_WAIT_PRIVATE, 1, 0);
                const double slept = monotonic_now() - from;
                if (slept < kShortSleep) quiet_needed = std::min(2 * quiet_needed, kMaxQuietLooks);
                else if (slept >= kLongSleep) quiet_needed = 1;
                quiet = 0;
            }
            monitor_asleep.store(0, std::memory_order_relaxed);
        }
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
                if (g_handoff_threshold > 0 && w.hub->handoff_on()) w.cpu_since = thread_cpu_seconds(w.hub->os_tid());
                continue;
            }
            // A hub with one task keeps no one waiting: nothing to hand off or report (a busy event
            // loop alone on its hub does not switch for long stretches; the look stays cheap).
            if (w.hub->live_tasks_relaxed() < 2) continue;
            if (g_handoff_threshold > 0 && !w.handed && now - w.since >= g_handoff_threshold &&
                worth_handing_off(w, now))
                w.handed = handoff_try_steal(w.hub, w.since);
            if (w.handed) continue;  // it goes on elsewhere
            if (g_threshold <= 0 || w.reported || now - w.since < g_threshold) continue;
            w.reported = true;
            if (!may_report(cur->id)) continue;
            char what[256];
            w.tid = w.hub->os_tid();
            describe_os_thread(w.tid, what, sizeof what);
            fprintf(stderr,
                    "green: greenlet #%" PRIu64
                    " '%s' has kept its hub's OS thread (tid %d) for %.1f s without "
                    "switching: %s; every other green thread of that hub waits meanwhile\n",
                    cur->id, cur->name.c_str(), int(w.tid), now - w.since, what);
        }
        if (g_threshold > 0 && g_handoff_threshold > 0) report_tasks_out(g_threshold, now, report_task_out);
    }
    return nullptr;
}

}  // namespace

void register_hub(Hub* h, pid_t os_tid) noexcept {
    std::lock_guard lk(g_lock);
    try {
        if (!g_hubs) g_hubs = new std::vector<Watched>;
        g_hubs->push_back({h, os_tid});
    } catch (...) {}
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
    static Once once;
    once([&] {
        {
            std::lock_guard lk(g_lock);
            try {
                if (!g_hubs) g_hubs = new std::vector<Watched>;
            } catch (...) {
                return;
            }
        }
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);  // (pthread_detach is a hook)
        pthread_t t;
        native_pthread_create(&t, &attr, monitor_main, nullptr);
        pthread_attr_destroy(&attr);
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
    wake_monitor();
}

std::atomic<uint32_t> monitor_asleep{0};

void wake_monitor() noexcept {
    if (monitor_asleep.exchange(0, std::memory_order_seq_cst))
        raw_syscall(SYS_futex, long(&monitor_asleep), FUTEX_WAKE_PRIVATE, 1);
}

}  // namespace green::detail
