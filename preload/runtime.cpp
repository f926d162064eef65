// preload/runtime.cpp: configuration, initialisation, GREEN_STATS and GREEN_DEBUG.
#include "runtime.hpp"

#include "fd_table.hpp"
#include "real.hpp"
#include "../libgreen/hub/stall_monitor.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

namespace green::preload {

Config config;
bool ready = false;
std::atomic<uint64_t> call_counts[unsigned(Call::count_)];

namespace {

bool env_flag(const char* name) {
    const char* v = getenv(name);
    return v && *v && strcmp(v, "0") != 0 && strcasecmp(v, "no") != 0 && strcasecmp(v, "false") != 0;
}

void print_stats() {
    // Runs at exit: plain stdio on stderr is fine here.
    fprintf(stderr, "green stats (pid %d):\n", getpid());
    fprintf(stderr, "  greenlets created %" PRIu64 ", peak alive %" PRIu64 "\n",
            detail::Hub::tasks_created.load(), detail::Hub::tasks_peak.load());
    uint64_t switches = detail::Hub::retired_switches.load(), iterations = detail::Hub::retired_iterations.load();
    if (detail::Hub* h = detail::Hub::current_or_null()) {
        switches += h->switches();
        iterations += h->iterations();
    }
    fprintf(stderr, "  switches %" PRIu64 ", hub loop iterations %" PRIu64 "\n", switches, iterations);
    static const char* const names[] = {
#define GREEN_CALL_NAME(name) #name,
        GREEN_CALLS(GREEN_CALL_NAME)
#undef GREEN_CALL_NAME
    };
    for (unsigned i = 0; i < unsigned(Call::count_); ++i)
        if (uint64_t n = call_counts[i].load()) fprintf(stderr, "  %-16s %" PRIu64 "\n", names[i], n);
}

// Runs before main(): after libc, before the program's own constructors (priority 101 is the
// earliest a program may use).
__attribute__((constructor(101))) void init() {
    const char* threads = getenv("GREEN_THREADS");
    if (threads && strcmp(threads, "native") == 0) {
        // Real threads block as without the preload; the main thread keeps its hub.
        config.green_threads = false;
        detail::Hub::implicit_hub_main_thread_only();
    }
    else if (threads && *threads && strcmp(threads, "green") != 0)
        fprintf(stderr, "green: ignoring GREEN_THREADS='%s' (green or native)\n", threads);
    config.stats = env_flag("GREEN_STATS");
    config.debug = env_flag("GREEN_DEBUG");
    // The runtime's own threads must be real threads, whatever pthread_create has become.
    detail::native_pthread_create = REAL(pthread_create);
    detail::native_sigaction = REAL(sigaction);
    if (config.stats) atexit(print_stats);
    // GREEN_DEBUG: a green thread that keeps its OS thread for a second is reported, not silent.
    if (config.debug) detail::start_stall_monitor(1.0);
    // After fork every descriptor is shared with the other process, which may flip O_NONBLOCK.
    pthread_atfork(nullptr, &FdTable::after_fork, &FdTable::after_fork);
    ready = true;
}

}  // namespace

double handoff_seconds() noexcept {
    // Read at the first green thread, not at load: a program may set it in main().
    static const double seconds = [] {
        // On by default, as Go's sysmon: 20 ms is far above a hub's normal time between switches
        // (microseconds) and well under what a user notices.
        constexpr double kDefaultMs = 20;
        const char* ms = getenv("GREEN_HANDOFF");
        if (!ms || !*ms) return kDefaultMs / 1000;
        if (strcmp(ms, "off") == 0) return 0.0;
        char* end;
        double v = strtod(ms, &end);
        if (*end || v < 0 || v > 60000) {
            fprintf(stderr, "green: ignoring GREEN_HANDOFF='%s' (milliseconds, or off); using %g\n", ms, kDefaultMs);
            return kDefaultMs / 1000;
        }
        return v / 1000;
    }();
    return seconds;
}

void debug_once(const char* site, const char* what) noexcept {
    if (!config.debug) return;
    static detail::SpinLock lock;
    static std::set<const void*>* seen = new std::set<const void*>;
    {
        std::lock_guard g(lock);
        if (!seen->insert(site).second) return;
    }
    char buf[256];
    int n = snprintf(buf, sizeof buf, "green: %s: %s (blocks the OS thread; reported once)\n", site, what);
    if (n > 0) (void)!REAL(write)(2, buf, std::min<size_t>(size_t(n), sizeof buf - 1));
}

}  // namespace green::preload
