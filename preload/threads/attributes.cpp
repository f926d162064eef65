// preload/threads/attributes.cpp: a green thread's attributes and name, signals sent to it, the calls
// that act on the OS thread under it (affinity, scheduling), sched_yield.

#include "../core/hook.hpp"
#include "green_thread.hpp"

#include "../../libgreen/context/stack_pool.hpp"
#include "../../libgreen/hub/hub_group.hpp"
#include "../core/real.hpp"

#include <sched.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

using namespace green::preload;
using green::detail::Hub;
using green::detail::HubGroup;
using green::detail::Task;
using green::detail::Wake;

// ---- attributes, names, signals, scheduling --------------------------------------------------

GREEN_HOOK(int, pthread_getattr_np, pthread_t t, pthread_attr_t* attr) noexcept {
    HOOK_ENTER(pthread_getattr_np);
    GreenThread* g = find_green(t);
    if (!g) return REAL(pthread_getattr_np)(t, attr);
    int rc = pthread_attr_init(attr);
    if (rc == 0) {
        if (g->stack.lo) {
            // The whole block, its TCB and static TLS at the top included, as glibc reports it.
            if (pthread_attr_setstack(attr, g->stack.lo, g->stack.size) != 0)
                pthread_attr_setstacksize(attr, g->stack.size);
        } else {
            size_t size = g->stack_size ? g->stack_size : green::detail::StackPool::default_size();
            pthread_attr_setstacksize(attr, size);
        }
        WaitBucket& b = bucket_for(g);
        b.acquire();
        bool detached = g->detached;
        b.unlock();
        pthread_attr_setdetachstate(attr, detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE);
    }
    g->release();
    return rc;
}

GREEN_HOOK(int, pthread_setname_np, pthread_t t, const char* name) noexcept {
    HOOK_ENTER(pthread_setname_np);
    GreenThread* g = find_green(t);
    if (!g) return REAL(pthread_setname_np)(t, name);
    size_t n = strlen(name);
    int rc = ERANGE;
    if (n < sizeof g->comm) {
        memcpy(g->comm, name, n + 1);
        try {
            g->name = name;  // what deadlock and stack-overflow reports show
        } catch (...) {}
        rc = 0;
    }
    g->release();
    return rc;
}

GREEN_HOOK(int, pthread_getname_np, pthread_t t, char* buf, size_t len) noexcept {
    HOOK_ENTER(pthread_getname_np);
    GreenThread* g = find_green(t);
    if (!g) return REAL(pthread_getname_np)(t, buf, len);
    int rc = ERANGE;
    if (len >= sizeof g->comm) {
        memcpy(buf, g->comm, sizeof g->comm);
        buf[sizeof g->comm - 1] = 0;
        rc = 0;
    }
    g->release();
    return rc;
}

GREEN_HOOK(int, pthread_kill, pthread_t t, int sig) noexcept {
    HOOK_ENTER(pthread_kill);
    GreenThread* g = find_green(t);
    if (!g) {
        // The root (main): a signal it blocks waits for it, as natively.
        Hub* h = Hub::current_or_null();
        if (h && t == h->root_thread() && sig > 0 && sig < NSIG) {
            if (root_blocks(sig)) {
                mark_root_pending(sig);
                return 0;
            }
            // From a green thread: the handler runs on main's stack, with its TLS, not the caller's.
            if (current_green() && program_handles(sig)) {
                deliver_to_thread(nullptr, sig);
                return 0;
            }
        }
        return REAL(pthread_kill)(t, sig);
    }
    pthread_t os = g->os_thread();
    int rc = -1;
    if (sig < 0 || sig >= NSIG) rc = EINVAL;
    else if (sig == 0) rc = 0;  // glibc >= 2.34: 0 even for an ended, unjoined thread
    else if (green_thread_blocks(g, sig)) {
        mark_pending(g, sig);  // delivered when it unblocks it (sigmask.cpp)
        rc = 0;
    } else if (g == current_green()) {
        signal_directed(sig);
        rc = 0;
    } else if (program_handles(sig)) {
        // The handler runs in the target's context, at once if it waits (the wait then ends with
        // EINTR, or goes on for a handler with SA_RESTART and a call the kernel restarts), else
        // when it next comes back to the runtime. An ended thread takes none.
        if (!g->exited) deliver_to_thread(g, sig);
        rc = 0;
    }
    g->release();
    // Default or ignored action: what it does to one thread it does to the process.
    return rc >= 0 ? rc : REAL(pthread_kill)(os, sig);
}

GREEN_HOOK(int, pthread_sigqueue, pthread_t t, int sig, const union sigval value) noexcept {
    HOOK_ENTER(pthread_sigqueue);
    GreenThread* g = find_green(t);
    if (!g) return REAL(pthread_sigqueue)(t, sig, value);
    pthread_t os = g->os_thread();
    g->release();
    return REAL(pthread_sigqueue)(os, sig, value);
}

// Functions taking a pthread_t that act on the OS thread: a green thread's is its hub's thread.
#define GREEN_UNPAREN(...) __VA_ARGS__
#define GREEN_ON_OS_THREAD(ret, name, params, args)        \
    GREEN_HOOK(ret, name, GREEN_UNPAREN params) noexcept { \
        HOOK_ENTER(name);                                  \
        if (GreenThread* g = find_green(t)) {              \
            t = g->os_thread();                            \
            g->release();                                  \
        }                                                  \
        return REAL(name) args;                            \
    }
GREEN_ON_OS_THREAD(int, pthread_getaffinity_np, (pthread_t t, size_t n, cpu_set_t* set), (t, n, set))
GREEN_ON_OS_THREAD(int, pthread_setaffinity_np, (pthread_t t, size_t n, const cpu_set_t* set), (t, n, set))
GREEN_ON_OS_THREAD(int, pthread_getschedparam, (pthread_t t, int* policy, struct sched_param* p), (t, policy, p))
GREEN_ON_OS_THREAD(int, pthread_setschedparam, (pthread_t t, int policy, const struct sched_param* p), (t, policy, p))
GREEN_ON_OS_THREAD(int, pthread_setschedprio, (pthread_t t, int prio), (t, prio))
GREEN_ON_OS_THREAD(int, pthread_getcpuclockid, (pthread_t t, clockid_t* clk), (t, clk))
#undef GREEN_ON_OS_THREAD
#undef GREEN_UNPAREN

GREEN_HOOK(int, sched_yield) noexcept {
    HOOK_ENTER(sched_yield);
    WaitCtx c = wait_ctx();
    if (!config.green_threads || !c.green) return REAL(sched_yield)();
    std::exception_ptr stash = std::exchange(c.self->pending, nullptr);
    const uint64_t switches = c.hub->switches_relaxed();
    try {
        // It may resume on another hub of a group (Hub::share_ready): nothing of c.hub is used after.
        // Not from a signal handler, whose interrupted code may hold its hub.
        c.hub->yield(!tls_in_handler);
    } catch (...) {}
    if (stash) c.self->pending = std::move(stash);
    // No other green thread of its hub was ready: give the OS thread's CPU away too, as natively.
    // A spin-wait on a thread of another hub (or process) then lets it run on a busy machine;
    // without it, hubs_pingpong's spinning pairs took 9 s where natively 2 s, with two CPU hogs.
    if (Hub::current_or_null() == c.hub && c.hub->switches_relaxed() == switches) REAL(sched_yield)();
    return 0;
}
