// preload/threads/thread.cpp: pthreads become green threads.
//
// Under GREEN_THREADS=green (the default) pthread_create starts a GreenThread on the caller's hub,
// or, with GREEN_HUBS=N, on the least loaded hub of the group (hub/hub_group.hpp).
// Its pthread_t is the record's address; the main thread (and any root task) keeps its real
// pthread_t. Under GREEN_THREADS=native pthread_create is libc's. Keys and pthread_once are in
// keys.cpp, the table every pthread object's waiters wait in is wait_table.cpp.
//
// pthread_exit and deferred cancellation unwind a green thread as glibc unwinds a real one (C
// cleanup handlers, C++ destructors), without glibc's per-OS-thread bookkeeping. C11 <threads.h>
// maps onto the same hooks.
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
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
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

__attribute__((constructor(102))) void thread_init() {
}

}  // namespace

// ---- unwinding a green thread (pthread_exit, cancellation) ------------------------------------
//
// As glibc does for real threads: a forced unwind (_Unwind_ForcedUnwind) runs the C++ destructors
// and catch(...) blocks of the frames it crosses; its stop function runs the cleanup handlers C
// code pushed (pthread_cleanup_push registers a jump buffer, see __pthread_register_cancel below)
// by jumping into the frame that pushed them, and ends the unwinding by jumping back into
// guarded(), the frame that called the thread's start routine. glibc's own unwinder cannot be used:
// its cleanup list lives in the OS thread's descriptor, shared by all the green threads.

namespace {

// The stack pointer saved in a jump buffer (glibc mangles it with the thread's pointer guard).
uintptr_t jmpbuf_sp(const __pthread_unwind_buf_t* buf) noexcept {
    constexpr int kJbRsp = 6;
    uintptr_t v = uintptr_t(buf->__cancel_jmp_buf[0].__cancel_jmp_buf[kJbRsp]);
    uintptr_t guard;
    __asm__("mov %%fs:0x30, %0" : "=r"(guard));
    v = (v >> 0x11) | (v << (64 - 0x11));
    return v ^ guard;
}

_Unwind_Reason_Code unwind_stop(int, _Unwind_Action actions, _Unwind_Exception_Class, _Unwind_Exception*,
                                _Unwind_Context* ctx, void* arg) {
    auto* g = static_cast<GreenThread*>(arg);
    const bool end = actions & _UA_END_OF_STACK;
    const uintptr_t cfa = end ? 0 : _Unwind_GetCFA(ctx);
    if (__pthread_unwind_buf_t* buf = g->cleanup_top) {
        if (end || cfa > jmpbuf_sp(buf)) {
            // This frame pushed a cleanup handler: run it there (it then calls __pthread_unwind_next).
            g->cleanup_top = static_cast<__pthread_unwind_buf_t*>(buf->__pad[0]);
            longjmp(reinterpret_cast<__jmp_buf_tag*>(buf->__cancel_jmp_buf), 1);
        }
    }
    if (end || cfa > g->unwind_stop) siglongjmp(g->unwinding->done, 1);
    return _URC_NO_REASON;
}

[[noreturn]] void unwind(GreenThread* g) {
    if (!g->unwind_stop) {
        const char msg[] = "green: pthread_exit/pthread_cancel outside a green thread's routine\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    g->exiting = true;
    g->cancel_state = PTHREAD_CANCEL_DISABLE;  // cleanup handlers are not cancelled again
    _Unwind_Exception* exc = &g->unwinding->exc;
    memset(exc, 0, sizeof *exc);
    exc->exception_class = 0x47524e4c45584954ull;  // "GRNLEXIT"
    _Unwind_ForcedUnwind(exc, unwind_stop, g);
    const char msg[] = "green: cannot unwind a green thread for pthread_exit/pthread_cancel\n";
    (void)!write(2, msg, sizeof msg - 1);
    abort();
}

// The frame that bounds the unwinding: the stop function jumps out once it reaches a frame whose
// CFA lies above this frame's base (this frame's caller, or this frame itself, depending on which
// CFA the unwinder reports), before any handler in guarded() could see the forced unwind.
__attribute__((noinline)) void call_body(GreenThread* g, void (*body)(GreenThread*)) {
    g->unwind_stop = uintptr_t(__builtin_frame_address(0));
    body(g);
    __asm__ volatile("" ::: "memory");  // a real call above, not a tail jump: this frame must stay
}

// Runs body(g); a pthread_exit or a cancellation inside it unwinds back to here (false).
__attribute__((noinline)) bool guarded(GreenThread* g, void (*body)(GreenThread*)) {
    Unwinding here;
    g->unwinding = &here;
    if (sigsetjmp(here.done, 0) != 0) {
        g->unwind_stop = 0;
        g->unwinding = nullptr;
        return false;
    }
    try {
        call_body(g, body);
    } catch (...) {
        std::terminate();  // as natively: an exception leaving a thread's start routine
    }
    g->unwind_stop = 0;
    g->unwinding = nullptr;
    return true;
}

[[noreturn]] void cancel_now(GreenThread* g) {
    g->result = PTHREAD_CANCELED;
    unwind(g);
}

}  // namespace

bool cancel_pending() noexcept {
    GreenThread* g = current_green();
    return g && g->cancel_state == PTHREAD_CANCEL_ENABLE && !g->exiting &&
           g->cancel_requested.load(std::memory_order_relaxed);
}

void cancel_point() {
    if (__builtin_expect(cancel_pending(), 0)) cancel_now(current_green());
}

void GreenThread::run() {
    const bool own_tls = tcb != nullptr;
    if (own_tls) tcb_thread_started();
    guarded(this, [](GreenThread* g) {
        if (g->c11) g->result = reinterpret_cast<void*>(intptr_t(reinterpret_cast<int (*)(void*)>(reinterpret_cast<void (*)()>(g->start))(g->arg)));
        else g->result = g->start(g->arg);
    });
    // As glibc: C++ thread_local destructors first, then the key destructors.
    if (own_tls) guarded(this, [](GreenThread*) { tcb_run_tls_destructors(); });
    // A destructor calling pthread_exit ends only its own round.
    for (int i = 0; i < PTHREAD_DESTRUCTOR_ITERATIONS; ++i)
        if (guarded(this, [](GreenThread* g) { run_key_destructors(g->keys); })) break;
    // In a fork child the forking green thread became its process's only thread: as natively,
    // the process ends when it does.
    if (hub->root() == this) exit(0);
    if (own_tls) tcb_thread_ending(this);
}

GreenThread* find_green(pthread_t t) noexcept {
    if (!t) return nullptr;
    auto* g = reinterpret_cast<GreenThread*>(t);
    std::lock_guard lk(g_registry_lock);
    if (!g_registry || !g_registry->count(g)) return nullptr;
    g->add_ref();
    return g;
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

GREEN_HOOK(int, pthread_equal, pthread_t a, pthread_t b) noexcept { HOOK_ENTER(pthread_equal); return a == b; }

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
        } catch (...) {
        }
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
        if (h && t == h->root_thread() && sig > 0 && sig < NSIG && root_blocks(sig)) {
            mark_root_pending(sig);
            return 0;
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
        // The handler runs now, on this OS thread; the target's interruptible wait ends with EINTR.
        signal_directed(sig);
        if (!g->exited) Hub::wake_for_signal(g);
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

// ---- cancellation --------------------------------------------------------------------------
//
// Deferred cancellation of green threads: pthread_cancel marks the thread and, if it is parked in
// an interruptible wait, wakes it as a signal would; the cancellation acts at the next
// cancellation point (cond waits, sem waits, join, testcancel here; the I/O hooks call
// cancel_point()). Asynchronous cancellation is treated as deferred. Native threads: libc's.

GREEN_HOOK(int, pthread_cancel, pthread_t t) {
    HOOK_ENTER(pthread_cancel);
    GreenThread* g = find_green(t);
    if (!g) return REAL(pthread_cancel)(t);
    g->cancel_requested.store(true, std::memory_order_relaxed);
    if (g->cancel_state == PTHREAD_CANCEL_ENABLE && !g->exiting && g != current_green()) {
        Hub::wake_for_signal(g);
    }
    g->release();
    return 0;
}

GREEN_HOOK(int, pthread_setcancelstate, int state, int* old) {
    HOOK_ENTER(pthread_setcancelstate);
    GreenThread* g = current_green();
    if (!g) return REAL(pthread_setcancelstate)(state, old);
    if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE) return EINVAL;
    if (old) *old = g->exiting ? PTHREAD_CANCEL_DISABLE : g->cancel_state;
    if (!g->exiting) g->cancel_state = state;
    return 0;
}

GREEN_HOOK(int, pthread_setcanceltype, int type, int* old) {
    HOOK_ENTER(pthread_setcanceltype);
    GreenThread* g = current_green();
    if (!g) return REAL(pthread_setcanceltype)(type, old);
    if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS) return EINVAL;
    if (type == PTHREAD_CANCEL_ASYNCHRONOUS)
        debug_once("pthread_setcanceltype", "asynchronous cancellation of green threads acts at cancellation points");
    if (old) *old = g->cancel_type;
    g->cancel_type = type;
    return 0;
}

GREEN_HOOK(void, pthread_testcancel) {
    HOOK_ENTER(pthread_testcancel);
    if (current_green()) return cancel_point();
    REAL(pthread_testcancel)();
}

// pthread_cleanup_push/pop in C code without -fexceptions: the handler's jump buffer is linked
// per green thread (glibc links it in the OS thread's descriptor, which green threads share).
GREEN_HOOK(void, __pthread_register_cancel, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_register_cancel);
    GreenThread* g = current_green();
    if (!g) return REAL(__pthread_register_cancel)(buf);
    buf->__pad[0] = g->cleanup_top;
    g->cleanup_top = buf;
}

GREEN_HOOK(void, __pthread_unregister_cancel, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_unregister_cancel);
    GreenThread* g = current_green();
    if (!g) return REAL(__pthread_unregister_cancel)(buf);
    g->cleanup_top = static_cast<__pthread_unwind_buf_t*>(buf->__pad[0]);
}

GREEN_HOOK(void, __pthread_register_cancel_defer, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_register_cancel_defer);
    GreenThread* g = current_green();
    if (!g) return REAL(__pthread_register_cancel_defer)(buf);
    buf->__pad[0] = g->cleanup_top;
    buf->__pad[2] = reinterpret_cast<void*>(intptr_t(g->cancel_type));
    g->cleanup_top = buf;
    g->cancel_type = PTHREAD_CANCEL_DEFERRED;
}

GREEN_HOOK(void, __pthread_unregister_cancel_restore, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_unregister_cancel_restore);
    GreenThread* g = current_green();
    if (!g) return REAL(__pthread_unregister_cancel_restore)(buf);
    g->cleanup_top = static_cast<__pthread_unwind_buf_t*>(buf->__pad[0]);
    g->cancel_type = int(reinterpret_cast<intptr_t>(buf->__pad[2]));
}

// A cleanup handler run by the unwinding has returned: go on unwinding.
GREEN_HOOK(void, __pthread_unwind_next, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_unwind_next);
    GreenThread* g = current_green();
    if (!g) REAL(__pthread_unwind_next)(buf);
    else unwind(g);
    __builtin_unreachable();
}

// Functions taking a pthread_t that act on the OS thread: a green thread's is its hub's thread.
#define GREEN_UNPAREN(...) __VA_ARGS__
#define GREEN_ON_OS_THREAD(ret, name, params, args)                    \
    GREEN_HOOK(ret, name, GREEN_UNPAREN params) noexcept {             \
        HOOK_ENTER(name);                                              \
        if (GreenThread* g = find_green(t)) {                          \
            t = g->os_thread();                                        \
            g->release();                                              \
        }                                                              \
        return REAL(name) args;                                        \
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
    try {
        // It may resume on another hub of a group (Hub::share_ready): nothing of c.hub is used after.
        // Not from a signal handler, whose interrupted code may hold its hub.
        c.hub->yield(!tls_in_handler);
    } catch (...) {
    }
    if (stash) c.self->pending = std::move(stash);
    return 0;
}

// ---- C11 <threads.h> -------------------------------------------------------------------------
//
// Since glibc 2.34 these call libc's internal pthread functions, which no hook sees: without these
// wrappers thrd_create would start real threads and mtx_lock would block the OS thread. Each maps
// onto the hooks above (the types are glibc's pthread types) and glibc's error mapping.

namespace {

int thrd_result(int err) noexcept {
    switch (err) {
    case 0: return 0;        // thrd_success
    case EBUSY: return 1;    // thrd_busy
    case ENOMEM: return 3;   // thrd_nomem
    case ETIMEDOUT: return 4;  // thrd_timedout
    default: return 2;       // thrd_error
    }
}

}  // namespace

GREEN_HOOK(int, thrd_create, unsigned long* thr, int (*func)(void*), void* arg) {
    HOOK_ENTER(thrd_create);
    if (!config.green_threads || !hub()) return REAL(thrd_create)(thr, func, arg);
    pthread_t t;
    int rc = pthread_create(&t, nullptr, reinterpret_cast<void* (*)(void*)>(reinterpret_cast<void (*)()>(func)), arg);
    if (rc == 0) {
        if (GreenThread* g = find_green(t)) {
            g->c11 = true;  // it has not run yet: it starts at this hub's next switch
            g->release();
        }
        *thr = t;
    }
    return thrd_result(rc);
}

GREEN_HOOK(int, thrd_join, unsigned long thr, int* res) {
    HOOK_ENTER(thrd_join);
    void* r = nullptr;
    int rc = pthread_join(thr, &r);
    if (rc == 0 && res) *res = int(reinterpret_cast<intptr_t>(r));
    return rc == 0 ? 0 : 2;
}

GREEN_HOOK(int, thrd_detach, unsigned long thr) { HOOK_ENTER(thrd_detach); return pthread_detach(thr) == 0 ? 0 : 2; }
GREEN_HOOK(unsigned long, thrd_current) { HOOK_ENTER(thrd_current); return pthread_self(); }
GREEN_HOOK(int, thrd_equal, unsigned long a, unsigned long b) { HOOK_ENTER(thrd_equal); return a == b; }
GREEN_HOOK(void, thrd_exit, int res) { HOOK_ENTER(thrd_exit); pthread_exit(reinterpret_cast<void*>(intptr_t(res))); }
GREEN_HOOK(void, thrd_yield) { HOOK_ENTER(thrd_yield); sched_yield(); }

GREEN_HOOK(int, thrd_sleep, const struct timespec* req, struct timespec* rem) {
    HOOK_ENTER(thrd_sleep);
    if (nanosleep(req, rem) == 0) return 0;
    return errno == EINTR ? -1 : -2;
}

GREEN_HOOK(int, mtx_lock, pthread_mutex_t* m) { HOOK_ENTER(mtx_lock); return thrd_result(pthread_mutex_lock(m)); }
GREEN_HOOK(int, mtx_trylock, pthread_mutex_t* m) { HOOK_ENTER(mtx_trylock); return thrd_result(pthread_mutex_trylock(m)); }
GREEN_HOOK(int, mtx_timedlock, pthread_mutex_t* m, const struct timespec* abstime) {
    HOOK_ENTER(mtx_timedlock);
    return thrd_result(pthread_mutex_timedlock(m, abstime));
}
GREEN_HOOK(int, mtx_unlock, pthread_mutex_t* m) { HOOK_ENTER(mtx_unlock); return thrd_result(pthread_mutex_unlock(m)); }

GREEN_HOOK(int, cnd_wait, pthread_cond_t* c, pthread_mutex_t* m) { HOOK_ENTER(cnd_wait); return thrd_result(pthread_cond_wait(c, m)); }
GREEN_HOOK(int, cnd_timedwait, pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* abstime) {
    HOOK_ENTER(cnd_timedwait);
    return thrd_result(pthread_cond_timedwait(c, m, abstime));
}
GREEN_HOOK(int, cnd_signal, pthread_cond_t* c) { HOOK_ENTER(cnd_signal); return thrd_result(pthread_cond_signal(c)); }
GREEN_HOOK(int, cnd_broadcast, pthread_cond_t* c) { HOOK_ENTER(cnd_broadcast); return thrd_result(pthread_cond_broadcast(c)); }

GREEN_HOOK(int, tss_create, unsigned int* key, void (*dtor)(void*)) {
    HOOK_ENTER(tss_create);
    pthread_key_t k;
    int rc = pthread_key_create(&k, dtor);
    if (rc == 0) *key = k;
    return rc == 0 ? 0 : 2;
}
GREEN_HOOK(void*, tss_get, unsigned int key) { HOOK_ENTER(tss_get); return pthread_getspecific(key); }
GREEN_HOOK(int, tss_set, unsigned int key, void* value) { HOOK_ENTER(tss_set); return pthread_setspecific(key, value) == 0 ? 0 : 2; }
GREEN_HOOK(void, tss_delete, unsigned int key) { HOOK_ENTER(tss_delete); pthread_key_delete(key); }

GREEN_HOOK(void, call_once, pthread_once_t* flag, void (*func)(void)) { HOOK_ENTER(call_once); pthread_once(flag, func); }

