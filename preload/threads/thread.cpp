// preload/threads/thread.cpp: pthreads become green threads.
//
// Under GREEN_THREADS=green (the default) pthread_create starts a GreenThread on the caller's hub,
// or, with GREEN_HUBS=N, on the least loaded hub of the group (hub/hub_group.hpp).
// Its pthread_t is the record's address; the main thread (and any root task) keeps its real
// pthread_t. Under GREEN_THREADS=native pthread_create is libc's. Keys and pthread_once are in
// keys.cpp, the table every pthread object's waiters wait in is wait_table.cpp.
//
// pthread_exit and deferred cancellation unwind a green thread as glibc unwinds a real one (C
// cleanup handlers, C++ destructors), without glibc's per-OS-thread bookkeeping (cancel.cpp).
// Attributes, names, signals to a thread and scheduling are in attributes.cpp; C11 <threads.h>
// maps onto the same hooks (c11_threads.cpp).
//
// Each green thread has its own thread control block and TLS where tcb.hpp decides so, and its
// own signal mask (sigmask.cpp). Limits: CPU-bound threads of one hub do not run in parallel (one
// that never blocks keeps the others of its hub waiting until hand-off); asynchronous cancellation
// acts only at cancellation points.
#include "../core/hook.hpp"
#include "green_thread.hpp"

#include "../../libgreen/context/stack_pool.hpp"
#include "../../libgreen/hub/hub_group.hpp"
#include "../core/real.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <unordered_set>
#include <utility>

using namespace green::preload;
using green::detail::Hub;
using green::detail::HubGroup;
using green::detail::Task;
using green::detail::Wake;

// ---- green threads ---------------------------------------------------------------------------

namespace green::preload {

using detail::Hub;
using detail::Task;
using detail::Wake;

namespace {

detail::SpinLock g_registry_lock;
const bool g_registry_lock_fork_reset = reset_in_fork_child(g_registry_lock);
// Green threads made and not yet ended, on every hub (pthread_exit in main waits for none).
std::atomic<long> g_green_running{0};
std::unordered_set<const void*>* g_registry = nullptr;
std::atomic<uint64_t> g_thread_numbers{0};

void registry_add(GreenThread* g) {
    std::lock_guard lk(g_registry_lock);
    if (!g_registry) g_registry = new std::unordered_set<const void*>;
    g_registry->insert(g);
}

void registry_remove(GreenThread* g) noexcept {
    std::lock_guard lk(g_registry_lock);
    if (g_registry) g_registry->erase(g);
}

// The record's reference held for the program (its pthread_t) is dropped once the thread has
// ended and was joined or detached.
void drop_handle(GreenThread* g) noexcept {
    registry_remove(g);
    g->release();
}

void thread_on_exit(Task* t) {
    auto* g = static_cast<GreenThread*>(t);
    sigmask_thread_ending(g);
    WaitBucket& b = bucket_for(g);
    b.acquire();
    g->exited = true;
    bool drop = g->detached;
    b.wake_all(g);
    b.unlock();
    // A root task waiting in pthread_exit for the green threads looks again.
    if (g_green_running.fetch_sub(1, std::memory_order_seq_cst) == 1) {
        WaitBucket& hb = bucket_for(&g_green_running);
        if (hb.count.load(std::memory_order_seq_cst)) {
            hb.acquire();
            hb.wake_all(&g_green_running);
            hb.unlock();
        }
    }
    if (drop) drop_handle(g);  // the hub still holds a reference until the fiber is gone
}

// The stack size the program asked for in attr, or 0 for "the default". glibc keeps 0 in the
// attribute until pthread_attr_setstacksize is called; pthread_attr_getstacksize would report the
// 8 MiB process default instead, which green threads do not want.
size_t requested_stack(const pthread_attr_t* attr) noexcept {
    static const int layout_ok = [] {
        pthread_attr_t a;
        if (pthread_attr_init(&a) != 0) return 0;
        size_t before;
        memcpy(&before, reinterpret_cast<const char*>(&a) + 32, sizeof before);
        int ok = before == 0 && pthread_attr_setstacksize(&a, 0x123000) == 0;
        size_t after = 0;
        memcpy(&after, reinterpret_cast<const char*>(&a) + 32, sizeof after);
        pthread_attr_destroy(&a);
        return ok && after == 0x123000 ? 1 : -1;
    }();
    size_t size = 0;
    if (layout_ok == 1) {
        memcpy(&size, reinterpret_cast<const char*>(attr) + 32, sizeof size);
        return size;
    }
    // Unknown layout: treat the process default as "not set".
    pthread_attr_t def;
    size_t dsize = 0;
    if (pthread_getattr_default_np(&def) == 0) {
        pthread_attr_getstacksize(&def, &dsize);
        pthread_attr_destroy(&def);
    }
    if (pthread_attr_getstacksize(attr, &size) != 0 || size == dsize) return 0;
    return size;
}

int os_threads() noexcept {
    int n = 0;
    if (DIR* d = opendir("/proc/self/task")) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') ++n;
        closedir(d);
    }
    return n;
}

// The stack overflow report's advice for a green thread (Hub::overflow_advice): its start routine
// and how to give it a larger stack. In a SIGSEGV handler: dladdr and snprintf only.
void thread_overflow_advice(const Task* t, size_t bigger, const char* size, char* out, size_t n) noexcept {
    const auto* g = static_cast<const GreenThread*>(t->user);
    char started[200] = "";
    Dl_info info{};
    if (g && g->start && dladdr(reinterpret_cast<void*>(g->start), &info) && info.dli_fname) {
        const char* file = strrchr(info.dli_fname, '/');
        file = file ? file + 1 : info.dli_fname;
        if (info.dli_sname && info.dli_saddr == reinterpret_cast<void*>(g->start))
            snprintf(started, sizeof started, "its thread started at %s (%s); ", info.dli_sname, file);
        else
            snprintf(started, sizeof started, "its thread started at %s+0x%lx; ", file,
                     static_cast<unsigned long>(uintptr_t(g->start) - uintptr_t(info.dli_fbase)));
    }
    if (t->stack_size)  // pthread_attr_setstacksize: that size is the program's, kept as natively
        snprintf(out, n,
                 "%sthe program set this size (pthread_attr_setstacksize): raise it there, e.g. to %zu; "
                 "greenrun --stack-size applies to threads created without a size",
                 started, bigger);
    else
        snprintf(out, n,
                 "%sgive it a larger stack, e.g. twice this one: greenrun --stack-size=%s (GREEN_STACK_SIZE=%s), "
                 "for the threads the program creates without a size",
                 started, size, size);
}

__attribute__((constructor(102))) void thread_init() { Hub::overflow_advice = thread_overflow_advice; }

}  // namespace

GreenThread* find_green(pthread_t t) noexcept {
    if (!t) return nullptr;
    auto* g = reinterpret_cast<GreenThread*>(t);
    std::lock_guard lk(g_registry_lock);
    if (!g_registry || !g_registry->count(g)) return nullptr;
    g->add_ref();
    return g;
}

GreenThread* find_green_where(bool (*pred)(const GreenThread&, const void*), const void* arg) noexcept {
    std::lock_guard lk(g_registry_lock);
    if (!g_registry) return nullptr;
    for (const void* p : *g_registry) {
        auto* g = static_cast<GreenThread*>(const_cast<void*>(p));
        if (!g->exited && pred(*g, arg)) {
            g->add_ref();
            return g;
        }
    }
    return nullptr;
}

GreenThread* find_green_by_tid(pid_t tid) noexcept {
    if (tid < kGreenTidBase) return nullptr;
    std::lock_guard lk(g_registry_lock);
    if (!g_registry) return nullptr;
    for (const void* p : *g_registry) {
        auto* g = static_cast<GreenThread*>(const_cast<void*>(p));
        if (g->tid() == tid && !g->exited) {
            g->add_ref();
            return g;
        }
    }
    return nullptr;
}

pid_t kernel_tid(pid_t tid) noexcept {
    if (tid < kGreenTidBase) return tid;
    GreenThread* g = find_green_by_tid(tid);
    if (!g) return -1;
    pid_t os = g->hub->os_tid();
    g->release();
    return os;
}

void wait_green_threads(Hub& h) noexcept {
    WaitBucket& b = bucket_for(&g_green_running);
    for (;;) {
        ObjWaiter w;
        w.obj = &g_green_running;
        w.type = WaitType::Exit;
        w.hub = &h;
        b.acquire();
        b.add(w);
        b.unlock();
        // Counted after registering: the last one's exit then finds this waiter.
        if (g_green_running.load(std::memory_order_seq_cst) == 0) {
            b.acquire();
            b.remove(w);
            b.unlock();
            return;
        }
        sleep_on(b, w, Deadline::none(), {"pthread_exit (main waits for the other threads)", nullptr});
        b.acquire();
        b.remove(w);
        b.unlock();
    }
}

}  // namespace green::preload

namespace {

// Joins (or tries to) a green thread. -1: not a green thread (the caller uses libc).
int join_green(pthread_t t, void** ret, const Deadline& dl, bool try_only) noexcept {
    GreenThread* g = find_green(t);
    if (!g) return -1;
    if (g == current_green()) {
        g->release();
        return EDEADLK;
    }
    WaitBucket& b = bucket_for(g);
    b.acquire();
    if (g->detached || g->joining) {
        b.unlock();
        g->release();
        return EINVAL;
    }
    g->joining = true;
    WaitCtx c = wait_ctx();
    int rc = 0;
    while (!g->exited) {
        if (try_only) {
            rc = EBUSY;
            break;
        }
        ObjWaiter w;
        w.obj = g;
        w.type = WaitType::Join;
        w.hub = c.green ? c.hub : nullptr;
        b.add(w);
        b.unlock();
        Wake why = sleep_on(b, w, dl, {"pthread_join", g}, green::detail::kInterruptNever, -1, true);
        b.acquire();
        b.remove(w);
        if (why == Wake::Interrupted) {
            rc = kCancelled;
            break;
        }
        if (why == Wake::TimedOut && !g->exited) {
            rc = ETIMEDOUT;
            break;
        }
    }
    if (rc) g->joining = false;
    b.unlock();
    if (rc == 0) {
        if (ret) *ret = g->result;
        drop_handle(g);
    }
    g->release();
    return rc;
}

// The hub may go on on another OS thread while one of its green threads blocks where no hook sees
// it (hub/handoff.cpp). Green threads with TCBs of their own take the per-OS-thread words of
// wherever they run; the hub's root then keeps its TCB and its OS thread's runtime code gets
// another. Called from the hub's root task.
void maybe_enable_handoff(Hub& h) noexcept {
    if (h.handoff_enabled() || handoff_seconds() <= 0) return;
    if (tls_mode() == TlsMode::Shared) {
        // Green threads sharing their OS thread's TLS would see another thread's after a
        // hand-off (see decide_mode): only when GREEN_HANDOFF says so explicitly.
        if (handoff_explicit()) h.enable_handoff(handoff_seconds());
    } else if (void* carrier_tcb = tcb_make_carrier()) {
        green::detail::Hub::sync_tcb = tcb_sync;
        h.enable_handoff(handoff_seconds(), carrier_tcb);
    }
}

// A hub of the group starting on its own OS thread (GREEN_HUBS).
void on_hub_start(Hub& h) {
    sigmask_group_hub(h);
    maybe_enable_handoff(h);
}

}  // namespace

GREEN_HOOK(int, pthread_create, pthread_t* out, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
    HOOK_ENTER(pthread_create);
    Hub* h;
    if (!config.green_threads || !(h = hub())) return REAL(pthread_create)(out, attr, start, arg);
    int detach = PTHREAD_CREATE_JOINABLE;
    size_t stack = 0;
    if (attr) {
        if (pthread_attr_getdetachstate(attr, &detach) != 0) return EINVAL;
        stack = requested_stack(attr);
    }
    GreenThread* g;
    try {
        g = new GreenThread;
        g->number = g_thread_numbers.fetch_add(1, std::memory_order_relaxed) + 1;
        g->name = "thread " + std::to_string(g->number);
    } catch (...) {
        return EAGAIN;
    }
    g->start = start;
    g->arg = arg;
    g->stack_size = stack;
    g->user = g;
    g->detached = detach == PTHREAD_CREATE_DETACHED;
    g->on_exit = thread_on_exit;
    if (tls_mode() == TlsMode::Thread) g->place_tcb = tcb_place;
    // The kernel gives a new thread its creator's name.
    if (GreenThread* cur = current_green()) memcpy(g->comm, cur->comm, sizeof g->comm);
    else if (REAL(pthread_getname_np)(REAL(pthread_self)(), g->comm, sizeof g->comm) != 0) g->comm[0] = 0;
    try {
        registry_add(g);
    } catch (...) {
        g->release();
        return EAGAIN;
    }
    *out = reinterpret_cast<pthread_t>(g);
    sigmask_thread_created(g);
    g_green_running.fetch_add(1, std::memory_order_seq_cst);
    const bool from_root = h->running() == h->root();
    if (from_root && hubs_wanted() > 1 && !HubGroup::active()) HubGroup::start(hubs_wanted(), on_hub_start);
    Hub* target = &HubGroup::pick(*h);
    target->schedule(g);
    if (from_root) maybe_enable_handoff(*h);
    return 0;
}

GREEN_HOOK(pthread_t, pthread_self) noexcept {
    HOOK_ENTER(pthread_self);
    if (GreenThread* g = current_green()) return reinterpret_cast<pthread_t>(g);
    // The root task stays its OS thread's, wherever a hand-off runs it.
    if (Hub* h = Hub::current_or_null(); h && !Hub::in_runtime() && h->running() == h->root()) return h->root_thread();
    return REAL(pthread_self)();
}

GREEN_HOOK(int, pthread_equal, pthread_t a, pthread_t b) noexcept {
    HOOK_ENTER(pthread_equal);
    return a == b;
}

// Each green thread has an id of its own, as each thread has natively (tcb.hpp).
GREEN_HOOK(pid_t, gettid) noexcept {
    HOOK_ENTER(gettid);
    if (GreenThread* g = current_green()) return g->tid();
    if (Hub* h = Hub::current_or_null(); h && !Hub::in_runtime() && h->running() == h->root()) return h->root_tid();
    return REAL(gettid)();
}

GREEN_HOOK(int, pthread_join, pthread_t t, void** ret) {
    HOOK_ENTER(pthread_join);
    int rc = join_green(t, ret, Deadline::none(), false);
    if (rc == kCancelled) cancel_point();
    return rc >= 0 ? rc : REAL(pthread_join)(t, ret);
}

GREEN_HOOK(int, pthread_tryjoin_np, pthread_t t, void** ret) noexcept {
    HOOK_ENTER(pthread_tryjoin_np);
    int rc = join_green(t, ret, Deadline::none(), true);
    return rc >= 0 ? rc : REAL(pthread_tryjoin_np)(t, ret);
}

GREEN_HOOK(int, pthread_timedjoin_np, pthread_t t, void** ret, const struct timespec* abstime) {
    HOOK_ENTER(pthread_timedjoin_np);
    if (GreenThread* g = find_green(t)) {
        g->release();
        if (abstime && !valid_nsec(abstime)) return EINVAL;
        int rc = join_green(t, ret, Deadline::at(CLOCK_REALTIME, abstime), false);
        if (rc == kCancelled) cancel_point();
        if (rc >= 0) return rc;
    }
    return REAL(pthread_timedjoin_np)(t, ret, abstime);
}

GREEN_HOOK(int, pthread_clockjoin_np, pthread_t t, void** ret, clockid_t clk, const struct timespec* abstime) {
    HOOK_ENTER(pthread_clockjoin_np);
    if (GreenThread* g = find_green(t)) {
        g->release();
        if (abstime && (!valid_clock(clk) || !valid_nsec(abstime))) return EINVAL;
        int rc = join_green(t, ret, Deadline::at(clk, abstime), false);
        if (rc == kCancelled) cancel_point();
        if (rc >= 0) return rc;
    }
    return REAL(pthread_clockjoin_np)(t, ret, clk, abstime);
}

GREEN_HOOK(int, pthread_detach, pthread_t t) noexcept {
    HOOK_ENTER(pthread_detach);
    GreenThread* g = find_green(t);
    if (!g) return REAL(pthread_detach)(t);
    WaitBucket& b = bucket_for(g);
    int rc = 0;
    bool drop = false;
    b.acquire();
    if (g->detached) rc = EINVAL;
    else if (!g->joining) {  // a thread being joined stays the joiner's (glibc: 0, no effect)
        g->detached = true;
        drop = g->exited;
    }
    b.unlock();
    if (drop) drop_handle(g);
    g->release();
    return rc;
}

GREEN_HOOK(void, pthread_exit, void* value) {
    HOOK_ENTER(pthread_exit);
    if (GreenThread* g = current_green()) {
        g->result = value;
        unwind(g);
    }
    WaitCtx c = wait_ctx();
    if (config.green_threads && c.hub && c.self == c.hub->root()) {
        // As natively: this thread's key destructors run, then the process lives on until the
        // other threads are done. The green threads of this hub run on this OS thread: wait here.
        run_own_key_destructors();
        wait_green_threads(*c.hub);
        // (The group's other hubs' OS threads are the runtime's, not the program's.)
        if (getpid() == my_tid() &&
            os_threads() - green::detail::idle_internal_threads.load() - (HubGroup::size() - 1) <= 1) {
            // The last thread of the process ended: glibc would exit(0) here.
            exit(0);
        }
    }
    REAL(pthread_exit)(value);
    __builtin_unreachable();
}
