// preload/core/stats.cpp: the GREEN_STATS report, GREEN_DEBUG's dump of the green threads at SIGQUIT,
// and the ways out of a process that must print them.
#include "hook.hpp"
#include "stats.hpp"

#include "fd_table.hpp"
#include "../threads/green_thread.hpp"
#include "real.hpp"
#include "../../libgreen/hub/hub_group.hpp"
#include "runtime.hpp"
#include "symbolize.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#ifndef GREEN_VERSION
#error "GREEN_VERSION is defined by the Makefile (VERSION)"
#endif

namespace green::preload {

namespace {

int err_fd = 2;    // a copy of the program's first stderr (start_stats), else stderr itself
int stats_fd = 2;  // where the report goes: err_fd, or GREEN_STATS_FILE
std::atomic<bool> printed{false};

// The signals whose default action ends the process, as signal(7) lists them, but SIGTRAP (a
// debugger's breakpoint goes on after its handler, and a debugger wants it untouched) and the
// real-time ones (glibc keeps some for itself).
bool fatal_by_default(int sig) noexcept {
    switch (sig) {
    case SIGHUP:
    case SIGINT:
    case SIGQUIT:
    case SIGILL:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGPIPE:
    case SIGALRM:
    case SIGTERM:
    case SIGUSR1:
    case SIGUSR2:
    case SIGSTKFLT:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGVTALRM:
    case SIGPROF:
    case SIGIO:
    case SIGPWR:
    case SIGSYS: return true;
    default: return false;
    }
}

// One line of the report, formatted by hand: it may be printed from a signal handler, where
// stdio (its locks, its buffers) is not safe.
struct Line {
    explicit Line(int fd = err_fd) noexcept : fd(fd) {}
    int fd;
    char buf[256];
    size_t n = 0;
    Line& operator<<(const char* s) noexcept {
        while (*s && n < sizeof buf - 1) buf[n++] = *s++;
        return *this;
    }
    Line& operator<<(uint64_t v) noexcept {
        char d[20];
        int k = 0;
        do d[k++] = char('0' + v % 10);
        while (v /= 10);
        while (k && n < sizeof buf - 1) buf[n++] = d[--k];
        return *this;
    }
    Line& column(size_t c) noexcept {
        while (n < c && n < sizeof buf - 1) buf[n++] = ' ';
        return *this;
    }
    ~Line() {
        buf[n++] = '\n';
        for (size_t done = 0; done < n;) {
            ssize_t w = REAL(write)(fd, buf + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return;
            done += size_t(w);
        }
    }
};

const char* state_name(detail::Task::State s) noexcept {
    switch (s) {
    case detail::Task::State::New: return "not started";
    case detail::Task::State::Ready: return "ready to run";
    case detail::Task::State::Running: return "running";
    case detail::Task::State::Parked: return "waiting";
    default: return "ended";
    }
}

Line& hex(Line& l, uintptr_t v) noexcept {
    char d[16];
    int k = 0;
    do d[k++] = "0123456789abcdef"[v & 15];
    while (v >>= 4);
    l << "0x";
    while (k) {
        char c[2] = {d[--k], 0};
        l << c;
    }
    return l;
}

// What Go prints at SIGQUIT: every green thread of every hub, what it waits on, where it started.
// From a signal handler: no allocation, no lock (a diagnostic; a list another OS thread changes
// meanwhile may read torn). `going_on`: the program goes on running after it (GREEN_DUMP_SIGNAL),
// else it dies of the signal next (SIGQUIT with GREEN_DEBUG).
void print_green_dump(int sig, bool going_on) noexcept {
    const char* name = sigabbrev_np(sig);
    detail::Hub* h = detail::Hub::current_or_null();
    if (!h && detail::HubGroup::size() > 1) h = detail::HubGroup::at(0);
    if (!h) {
        Line() << "green: SIG" << (name ? name : "?") << ": no green threads run on this OS thread";
        return;
    }
    Line() << "green: SIG" << (name ? name : "?") << ": green threads of pid " << uint64_t(REAL(syscall)(SYS_getpid))
           << " (hub on OS thread tid " << uint64_t(h->os_tid()) << ", " << uint64_t(h->live_tasks_relaxed())
           << " live, " << h->switches() << " switches, " << detail::Hub::handoffs.load() << " hand-offs):";
    // Every hub of a group (GREEN_HUBS), the others read while they run: a diagnostic.
    const int n = detail::HubGroup::size();
    for (int i = 0; i < n; ++i) {
        detail::Hub* hub = n > 1 ? detail::HubGroup::at(i) : h;
        if (n > 1) Line() << "  hub " << uint64_t(i) << " on OS thread tid " << uint64_t(hub->os_tid()) << ":";
        hub->for_each_task([hub](detail::Task* t) {
            if (hub->serving() && t == hub->root()) return;
            Line l;
            l << "  greenlet #" << t->id << " '" << t->name.c_str() << "' " << state_name(t->state_now());
            const detail::WaitInfo& w = t->waiting_on();
            if (t->state_now() == detail::Task::State::Parked && w.what) {
                l << " in " << w.what;
                if (w.arg >= 0) l << " (" << uint64_t(w.arg) << ")";
            }
            if (auto* g = static_cast<GreenThread*>(t->user)) hex(l << ", started at ", uintptr_t(g->start));
        });
    }
    if (going_on)
        Line() << "green: SIG" << (name ? name : "?")
               << ": end of the dump; the program goes on (each hub prints its green threads' backtraces next)";
    else Line() << "green: SIGQUIT: now its default action (a core dump where enabled)";
}

// One frame of a backtrace: function+offset and the object it is in, or object+offset where no
// function is known (addr2line -e OBJECT OFFSET). `entry`: pc is a function's first byte.
void describe_frame(Line& l, void* pc, bool entry = false) noexcept {
    Symbol sym;
    if (!symbolize(pc, entry, sym)) {
        hex(l, uintptr_t(pc));
        return;
    }
    l << sym.name;
    if (!sym.name[0] || sym.offset) hex(l << "+", sym.offset);
    l << " (" << sym.file << ")";
}

// The dump's backtraces (Hub::on_traces): each hub prints its own suspended green threads when it
// next runs its loop, outside the signal handler, holding the hub (no other OS thread may resume
// them meanwhile). The runtime's own frames (this library's) are left out: the first frame shown
// is the program's call that waits.
void print_traces(detail::Hub& hub) noexcept {
    // One hub's list at a time: hubs print on their own OS threads, at once.
    static detail::SpinLock printing;
    std::lock_guard g(printing);
    Dl_info self{};
    dladdr(reinterpret_cast<void*>(&print_traces), &self);
    const int n = detail::HubGroup::size();
    int index = 0;
    while (index < n && detail::HubGroup::at(index) != &hub) ++index;
    {
        Line l;
        l << "green: backtraces of the green threads";
        if (n > 1) l << " of hub " << uint64_t(index);
        l << " (OS thread tid " << uint64_t(hub.os_tid()) << ", now):";
    }
    hub.for_each_task([&](detail::Task* t) {
        if (hub.serving() && t == hub.root()) return;
        const detail::Task::State st = t->state_now();
        if (st != detail::Task::State::Parked && st != detail::Task::State::Ready) return;  // it runs
        void* frames[48];
        int k = t->ctx.backtrace_suspended(frames, 48);
        {
            Line head;
            head << "  greenlet #" << t->id << " '" << t->name.c_str() << "' " << state_name(st);
            const detail::WaitInfo& w = t->waiting_on();
            if (st == detail::Task::State::Parked && w.what) {
                head << " in " << w.what;
                if (char holder[160]; describe_holder(w, holder, sizeof holder)) head << ", held by " << holder;
            }
            if (auto* g = static_cast<GreenThread*>(t->user)) {
                head << ", started at ";
                describe_frame(head, reinterpret_cast<void*>(g->start), true);
            }
        }
        int shown = 0;
        for (int i = 0; i < k && shown < 12; ++i) {
            Dl_info in{};
            if (dladdr(static_cast<char*>(frames[i]) - 1, &in) && in.dli_fbase == self.dli_fbase) continue;
            Line f;
            f << "    #" << uint64_t(shown++) << " ";
            describe_frame(f, frames[i]);
        }
        if (!shown)
            Line() << "    (no frames: "
                   << (k ? "all in libgreen" : "not started yet, or its stack cannot be walked here") << ")";
    });
}

// Stands in for SIG_DFL: report, then die of `sig` by its default action.
void on_fatal_signal(int sig, siginfo_t* si, void*) {
    int saved = errno;
    if (sig == SIGQUIT && config.debug && !in_vfork_child()) print_green_dump(sig, false);
    if (config.stats && !in_vfork_child()) print_stats();  // a vfork child's memory is its parent's
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    REAL(sigaction)(sig, &dfl, nullptr);
    // A fault comes back when its instruction runs again, now to the default action (a core dump
    // of the same place, as natively). Any other signal is sent again to this OS thread, where it
    // is blocked until this handler returns: the process dies of it there, nothing else runs.
    bool fault = si && si->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
    if (!fault) REAL(syscall)(SYS_tgkill, REAL(syscall)(SYS_getpid), REAL(syscall)(SYS_gettid), sig);
    errno = saved;
}

// GREEN_DUMP_SIGNAL (greenrun --dump-signal): the dump, the stats report if on, and back to the
// program, whose interrupted calls go on (SA_RESTART). Not in a vfork child: its memory is its
// parent's, whose threads the parent reports.
void on_dump_signal(int sig, siginfo_t*, void*) {
    if (in_vfork_child()) return;
    int saved = errno;
    print_green_dump(sig, true);
    if (config.stats) write_stats();
    detail::Hub::request_traces();  // printed by each hub outside this handler (print_traces)
    errno = saved;
}

}  // namespace

// The ends of the section green_hooks (hook.hpp), named by the linker.
extern "C" HookSlot __start_green_hooks[] __attribute__((visibility("hidden")));
extern "C" HookSlot __stop_green_hooks[] __attribute__((visibility("hidden")));

std::span<HookSlot> hook_slots() noexcept { return {__start_green_hooks, __stop_green_hooks}; }

void print_stats() noexcept {
    if (printed.exchange(true)) return;
    write_stats();
}

void write_stats() noexcept {
    int saved = errno;
    Line(stats_fd) << "green stats (libgreen " GREEN_VERSION ", pid " << uint64_t(REAL(syscall)(SYS_getpid)) << "):";
    Line(stats_fd) << "  greenlets created " << detail::Hub::tasks_created.load() << ", peak alive "
                   << detail::Hub::tasks_peak.load();
    uint64_t switches = detail::Hub::retired_switches.load(), iterations = detail::Hub::retired_iterations.load();
    // Every hub of a group (GREEN_HUBS), the others' counters read while they run.
    const int n = detail::HubGroup::size();
    for (int i = 0; i < n; ++i)
        if (detail::Hub* h = n > 1 ? detail::HubGroup::at(i) : detail::Hub::current_or_null()) {
            switches += h->switches_relaxed();
            iterations += h->iterations_relaxed();
        }
    {
        Line l(stats_fd);
        l << "  switches " << switches << ", hub loop iterations " << iterations << ", hand-offs "
          << detail::Hub::handoffs.load();
        if (n > 1) l << ", hubs " << uint64_t(n) << ", moves between hubs " << detail::Hub::moves.load();
    }
    size_t width = 0;  // the longest name counted, for one column of figures
    for (HookSlot& slot : hook_slots())
        if (slot.calls.load()) width = std::max(width, strlen(slot.name));
    for (HookSlot& slot : hook_slots())
        if (uint64_t n = slot.calls.load()) {
            Line l(stats_fd);
            (l << "  " << slot.name).column(width + 5) << n;
        }
    errno = saved;
}

bool stats_action(int sig, struct sigaction* act) noexcept {
    if (sig <= 0 || sig >= NSIG) return false;
    const bool dump = sig == config.dump_signal;
    if (!dump && (!fatal_by_default(sig) || (!config.stats && !(config.debug && sig == SIGQUIT)))) return false;
    *act = {};
    act->sa_sigaction = dump ? on_dump_signal : on_fatal_signal;
    // An alternate stack where there is one (a hub's).
    act->sa_flags = SA_SIGINFO | SA_ONSTACK | (dump ? SA_RESTART : 0);
    sigemptyset(&act->sa_mask);
    return true;
}

void start_stats() noexcept {
    // Resolved now, not at first use: _exit may come from a vfork child or a signal handler, where
    // dlsym is not safe. Wanted with GREEN_STATS off too.
    (void)REAL(_exit);
    if (!config.stats && !config.debug && !config.dump_signal) return;
    if (config.dump_signal) detail::Hub::on_traces = print_traces;
    (void)REAL(write);
    (void)REAL(syscall);
    int copy = REAL(fcntl)(2, F_DUPFD_CLOEXEC, 3);
    if (copy >= 0) stats_fd = err_fd = adopt_runtime_fd(copy);
    // GREEN_STATS_FILE (greenrun --stats=FILE): the report is appended there instead, one per
    // process of the program (each says its pid); stderr keeps the diagnostics.
    const char* file = getenv("GREEN_STATS_FILE");
    if (config.stats && file && *file) {
        int fd = REAL(open)(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) stats_fd = adopt_runtime_fd(fd);
        else
            Line() << "green: GREEN_STATS_FILE: cannot open " << file << " (" << strerror(errno)
                   << "): the report goes to stderr";
    }
    if (config.stats) atexit(print_stats);
    // Signals the program inherited ignored, or with a handler, are left as they are.
    for (int sig = 1; sig < NSIG; ++sig) {
        struct sigaction act, old;
        if (stats_action(sig, &act) && REAL(sigaction)(sig, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
            REAL(sigaction)(sig, &act, nullptr);
    }
}

}  // namespace green::preload

using namespace green::preload;

// exit() ends in _exit too, by a call inside libc that does not come here: print_stats() is
// reached from the atexit handler then, and prints once whichever comes first. A vfork child
// shares its parent's memory: the report is the parent's to print.

GREEN_HOOK(void, _exit, int status) {
    HOOK_ENTER(_exit);
    if (config.stats && !in_vfork_child()) print_stats();
    REAL(_exit)(status);
    __builtin_unreachable();
}

// The same function as _exit in glibc (an alias); a REAL slot of its own trips GCC, which mangles
// the noexcept and the plain function pointer alike.
GREEN_HOOK(void, _Exit, int status) noexcept {
    HOOK_ENTER(_Exit);
    if (config.stats && !in_vfork_child()) print_stats();
    REAL(_exit)(status);
    __builtin_unreachable();
}
