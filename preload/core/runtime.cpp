// preload/core/runtime.cpp: configuration, initialisation and GREEN_DEBUG (GREEN_STATS: stats.cpp).
#include "runtime.hpp"
#include "symbolize.hpp"

#include "fd_table.hpp"
#include "real.hpp"
#include "stats.hpp"
#include "signal_syntax.h"
#include "../../libgreen/hub/stall_monitor.hpp"

#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <sched.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <set>
#include <string>

namespace green::preload {

Config config;
bool ready = false;

namespace {

// The words greenrun accepts (tools/greenrun_options.c, normalize_flag); anything else is off, with
// a warning, rather than a typo or "off" turning a diagnostic on.
bool env_flag(const char* name) {
    const char* v = getenv(name);
    if (!v || !*v) return false;
    for (const char* w : {"1", "on", "yes", "true"})
        if (strcasecmp(v, w) == 0) return true;
    for (const char* w : {"0", "off", "no", "false"})
        if (strcasecmp(v, w) == 0) return false;
    fprintf(stderr, "green: %s=%s is not a flag (1/on/yes/true or 0/off/no/false); taken as off\n", name, v);
    return false;
}

// Runs before main(): after libc, before the program's own constructors (priority 101 is the
// earliest a program may use).
__attribute__((constructor(101))) void init() {
    const char* threads = getenv("GREEN_THREADS");
    if (threads && strcmp(threads, "native") == 0) {
        // Real threads block as without the preload; the main thread keeps its hub.
        config.green_threads = false;
        detail::Hub::implicit_hub_main_thread_only();
    } else if (threads && *threads && strcmp(threads, "green") != 0)
        fprintf(stderr, "green: ignoring GREEN_THREADS='%s' (green or native)\n", threads);
    config.stats = env_flag("GREEN_STATS");
    config.debug = env_flag("GREEN_DEBUG");
    if (const char* v = getenv("GREEN_DUMP_SIGNAL"); v && *v) {
        const char* why = "";
        config.dump_signal = green_parse_dump_signal(v, &why);
        if (!config.dump_signal) fprintf(stderr, "green: GREEN_DUMP_SIGNAL='%s' is %s; no dump signal\n", v, why);
    }
    // The runtime's own threads must be real threads, whatever pthread_create has become.
    detail::native_pthread_create = REAL(pthread_create);
    detail::native_sigaction = REAL(sigaction);
    start_stats();  // GREEN_STATS: at exit, _exit or a fatal signal (stats.cpp)
    // GREEN_DEBUG: a green thread that keeps its OS thread for a second is reported, not silent;
    // GREEN_BLOCK_REPORT: after the milliseconds it says (the shorter of the two).
    double block = config.debug ? 1.0 : 0;
    if (const char* v = getenv("GREEN_BLOCK_REPORT"); v && *v) {
        char* end;
        double ms = strtod(v, &end);
        if (*end || !(ms >= 1 && ms <= 60000))
            fprintf(stderr, "green: ignoring GREEN_BLOCK_REPORT='%s' (milliseconds, 1 to 60000)\n", v);
        else if (block == 0 || ms / 1000 < block) block = ms / 1000;
    }
    if (block > 0) detail::start_stall_monitor(block);
    // After fork every descriptor is shared with the other process, which may flip O_NONBLOCK.
    pthread_atfork(nullptr, &FdTable::after_fork, &FdTable::after_fork);
    pthread_atfork([] { FdTable::runtime_list_fork_lock(true); }, [] { FdTable::runtime_list_fork_lock(false); },
                   [] { FdTable::runtime_list_fork_lock(false); });
    ready = true;
}

}  // namespace

namespace {
// GREEN_HANDOFF, parsed once (at the first green thread, not at load: a program may set it in
// main()): the threshold, and whether the variable chose it rather than the default.
struct HandoffSetting {
    double seconds;
    bool explicit_;
};
const HandoffSetting& handoff_setting() noexcept {
    static const HandoffSetting setting = []() -> HandoffSetting {
        // Far above a hub's normal time between switches, well under what a user notices.
        constexpr double kDefaultMs = 10;
        const char* ms = getenv("GREEN_HANDOFF");
        if (!ms || !*ms) return {kDefaultMs / 1000, false};
        if (strcmp(ms, "off") == 0) return {0.0, true};
        char* end;
        double v = strtod(ms, &end);
        if (*end || v < 0 || v > 60000) {
            fprintf(stderr, "green: ignoring GREEN_HANDOFF='%s' (milliseconds, or off); hand-off stays at 10 ms\n", ms);
            return {kDefaultMs / 1000, false};
        }
        return {v / 1000, true};
    }();
    return setting;
}
}  // namespace

double handoff_seconds() noexcept { return handoff_setting().seconds; }

int hubs_wanted() noexcept {
    // GREEN_HUBS, parsed once, at the first green thread (a program may set it in main()).
    // Unset: auto, as Go's GOMAXPROCS defaults to the CPUs.
    static const int hubs = [] {
        const char* v = getenv("GREEN_HUBS");
        if (!v || !*v || strcmp(v, "auto") == 0) {
            // As GOMAXPROCS: the CPUs this process may run on.
            cpu_set_t set;
            if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
            return std::max(1, CPU_COUNT(&set));
        }
        char* end;
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 256) {
            fprintf(stderr, "green: ignoring GREEN_HUBS='%s' (1 to 256, or auto); running on 1 hub\n", v);
            return 1;
        }
        return int(n);
    }();
    return hubs;
}

bool handoff_explicit() noexcept { return handoff_setting().explicit_ && handoff_setting().seconds > 0; }

namespace {

// The program's code that made the call: the first return address outside the preload, as
// "prog+0x1234"; null if none is found.
const void* program_caller(char* where, size_t n) noexcept {
    void* frames[16];
    int k = backtrace(frames, 16);
    Dl_info self{};
    dladdr(reinterpret_cast<void*>(&program_caller), &self);
    for (int i = 1; i < k; ++i) {
        Dl_info di{};
        if (!dladdr(frames[i], &di) || di.dli_fbase == self.dli_fbase) continue;
        const char* file = di.dli_fname ? di.dli_fname : "?";
        if (const char* slash = strrchr(file, '/')) file = slash + 1;
        snprintf(where, n, "%s+0x%lx", file,
                 static_cast<unsigned long>(static_cast<char*>(frames[i]) - static_cast<char*>(di.dli_fbase)));
        return frames[i];
    }
    snprintf(where, n, "an unknown place");
    return nullptr;
}

}  // namespace

void debug_once(const char* site, const char* what, int fd) noexcept {
    if (!config.debug) return;
    int saved = errno;
    char caller[160];
    const void* pc = program_caller(caller, sizeof caller);
    static detail::SpinLock lock;
    static auto* seen = new std::set<std::pair<const void*, const void*>>;
    {
        std::lock_guard g(lock);
        if (!seen->insert({site, pc}).second) {
            errno = saved;
            return;
        }
    }
    // The function too, from the object's symbol table (static functions included): once per site.
    Symbol sym;
    if (pc && symbolize(pc, false, sym) && sym.name[0]) {
        size_t used = strlen(caller);
        snprintf(caller + used, sizeof caller - used, " in %s", sym.name);
    }
    char target[200] = "";
    if (fd >= 0) {
        char link[64], path[160];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(link, path, sizeof path - 1);
        path[len > 0 ? len : 0] = 0;
        snprintf(target, sizeof target, " on fd %d (%s)", fd, len > 0 ? path : "?");
    }
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "green: %s%s, called from %s: %s (blocks the OS thread; reported once per call site)\n", site,
                     target, caller, what);
    if (n > 0) (void)!REAL(write)(2, buf, std::min<size_t>(size_t(n), sizeof buf - 1));
    errno = saved;
}

}  // namespace green::preload
