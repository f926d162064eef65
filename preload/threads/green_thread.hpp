// preload/threads/green_thread.hpp: green threads and the wait table shared by the pthread hooks.
//
// Contract:
//  - A GreenThread is what pthread_create makes under GREEN_THREADS=green: a libgreen Task on the
//    creating thread's hub. Its address is the pthread_t the program sees; Task::user points back at
//    it, so "is the running task a green thread" is one load. The record lives until it is joined,
//    or until it has ended when detached.
//  - Every blocking pthread object (mutex, cond, rwlock, sem, barrier, once, join) waits through one
//    WaitTable: hash buckets keyed by the object's address, each a SpinLock, an atomic count of the
//    waiters linked in it and one list. A waiter (ObjWaiter, on the waiting stack) is either green
//    (a parked task, woken through Hub::wake, so from any OS thread) or native (an OS thread asleep on
//    the waiter's own futex word). The program's object stays the real primitive: waiters register,
//    then retry the real try-operation, then sleep; the real release, then a check of the bucket's
//    count, wakes them. So a release with nobody waiting costs one relaxed load.
//  - wait_ctx() says how the caller may wait: green (park the fiber) when its hub has another task to
//    run, native otherwise (no hub, inside the runtime, or the thread's root task alone on its hub:
//    then blocking the OS thread is exactly what the program asked for).
//  - Nothing here throws; hooks return error numbers as libc does.
#pragma once

#include "../core/runtime.hpp"
#include "tcb.hpp"
#include "../../libgreen/hub/hub_group.hpp"

#include <pthread.h>
#include <setjmp.h>
#include <time.h>
#include <unwind.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace green::preload {

// ---- per-thread keys (pthread_key_*) ---------------------------------------------------------

// One thread's values. A slot counts only while its stamp equals the key's current sequence, so a
// deleted and re-created key never sees stale values.
struct KeyTable {
    std::vector<void*> values;
    std::vector<uint64_t> stamps;
};

// Run the destructors of `t`'s non-null values, up to PTHREAD_DESTRUCTOR_ITERATIONS rounds.
void run_key_destructors(KeyTable& t);
// The key destructors of the calling root task or native thread (pthread_exit in main).
void run_own_key_destructors();

// ---- green threads ---------------------------------------------------------------------------

// Where a pthread_exit or cancellation unwinds to: on the green thread's stack (the stack's top
// page is resident anyway; the record on the heap stays small).
struct Unwinding {
    sigjmp_buf done;
    _Unwind_Exception exc;
};

struct GreenThread final : detail::Task {
    void* (*start)(void*) = nullptr;
    void* arg = nullptr;
    void* result = nullptr;  // start's return value or pthread_exit's argument
    // The OS thread whose hub runs it now (pthread_kill & co. act on it); any thread. It changes
    // when a group moves the green thread to another hub (Hub::share_ready).
    pthread_t os_thread() const noexcept { return __atomic_load_n(&hub, __ATOMIC_ACQUIRE)->root_thread(); }
    uint64_t number = 0;  // "thread N"
    char comm[16] = {};   // pthread_getname_np (inherited from the creator, like the kernel)
    bool c11 = false;     // thrd_create: start returns an int
    KeyTable keys;        // touched only by the thread itself
    // Under the wait-table bucket lock of this record:
    bool detached = false;
    bool joining = false;
    bool exited = false;  // its body and key destructors are done; result is final

    // Cancellation and unwinding (pthread_cancel, pthread_exit). The thread's own, except
    // cancel_requested (set by any thread).
    std::atomic<bool> cancel_requested{false};
    int cancel_state = PTHREAD_CANCEL_ENABLE;
    int cancel_type = PTHREAD_CANCEL_DEFERRED;
    bool exiting = false;                           // unwinding for pthread_exit or a cancel
    __pthread_unwind_buf_t* cleanup_top = nullptr;  // pthread_cleanup_push'ed by C code
    uintptr_t unwind_stop = 0;                      // frame where unwinding ends (see cancel.cpp)
    struct Unwinding* unwinding = nullptr;          // on the thread's own stack while its body runs

    // Its signal mask and the signals sent to it while it blocked them (sigmask.cpp; bit sig-1).
    std::atomic<uint64_t> sig_blocked{0};
    std::atomic<uint64_t> sig_pending{0};
    // Signals whose handlers are to run in its context (Hub::deliver), and whether some run now.
    std::atomic<uint64_t> sig_due{0};
    bool sig_delivering = false;

    // Its own TLS (tcb.hpp), once the thread has ended: freed with the record.
    void* tls_dtv = nullptr;
    void* tls_buffers[2] = {};  // libc's strerror and strsignal buffers

    // The thread id gettid() reports (tcb.hpp).
    pid_t tid() const noexcept { return kGreenTidBase + pid_t(number); }

    ~GreenThread() override { tcb_release(this); }
    void run() override;
};

// Cancellation points outside this family of files (read, sleep, poll, accept... hooks): if a
// pthread_cancel of the calling green thread is pending and enabled, unwind it (C cleanup
// handlers, C++ destructors, key destructors; pthread_join then returns PTHREAD_CANCELED) and
// never return. Call it from the hook function itself, which must not be noexcept: at its entry,
// and when its wait ended with EINTR (pthread_cancel wakes a green thread parked in an
// interruptible wait as a signal would).
void cancel_point();
// Unwinds the calling green thread g to the end of its routine (pthread_exit, a cancellation).
[[noreturn]] void unwind(GreenThread* g);
// True if the calling green thread has a pending, enabled cancellation.
bool cancel_pending() noexcept;

// The green thread the calling code runs in, or null (root task, native thread, inside the runtime).
inline GreenThread* current_green() noexcept {
    detail::Hub* h = detail::Hub::current_or_null();
    if (!h) return nullptr;
    detail::Task* t = h->running();
    return t ? static_cast<GreenThread*>(t->user) : nullptr;
}

// Who holds what the wait `w` is for, into out ("#3 'worker'", or "OS thread tid 1234"): the
// holder of a pthread mutex; false for another wait, or a free mutex. A diagnostic read (the
// deadlock report, the dump): the answer may be stale when it is printed.
bool describe_holder(const detail::WaitInfo& w, char* out, size_t n) noexcept;

// The record behind a pthread_t handed out by pthread_create, with a reference the caller must
// drop (release()); null for any other pthread_t.
GreenThread* find_green(pthread_t t) noexcept;
// The same for a thread id that gettid() handed out (kGreenTidBase and up).
GreenThread* find_green_by_tid(pid_t tid) noexcept;
// The same for the first live green thread, on any hub, for which pred(g, arg) holds (the
// registry's lock is held meanwhile: pred must not wait). Null if none.
GreenThread* find_green_where(bool (*pred)(const GreenThread&, const void*), const void* arg) noexcept;
// The kernel's id to use for `tid`: a live green thread's id names its hub's OS thread; any other
// id is itself. -1 (ESRCH) for a green thread's id that names no live green thread.
pid_t kernel_tid(pid_t tid) noexcept;

// ---- signal masks (sigmask.cpp) ---------------------------------------------------------------

// A new green thread takes its creator's mask (call before it is scheduled); an ending one no
// longer counts; a fork child's only thread keeps its own.
void sigmask_thread_created(GreenThread* g) noexcept;
void sigmask_thread_ending(GreenThread* g) noexcept;
void sigmask_after_fork() noexcept;
// A hub of the group other than the first (GREEN_HUBS) blocks the asynchronous signals for good:
// process-directed ones go to the first hub's OS thread, where the masks above are applied.
void sigmask_group_hub(detail::Hub& h) noexcept;
// Whether `g` blocks `sig`; a signal sent to it meanwhile waits in its pending set.
bool green_thread_blocks(GreenThread* g, int sig) noexcept;
void mark_pending(GreenThread* g, int sig) noexcept;
// sigwait & co.: take the lowest signal of `set` sent to the calling thread alone (0: none).
int take_pending(const sigset_t* set) noexcept;
// sigsuspend: hand the signals sent to the calling thread that `mask` (null: every signal) does
// not block to the kernel, as signals for its OS thread (delivered now unless all block them).
void release_pending(const sigset_t* mask) noexcept;
// The same for the root task (main).
bool root_blocks(int sig) noexcept;
void mark_root_pending(int sig) noexcept;
// In the trampoline, before a handler runs (async-signal-safe): true if `sig`, sent to the
// process, must run in another context than the running one, the kernel's choice (main if it
// does not block it, else a thread that does not): the signal is then given to that context
// outside the handler (its handler runs on its stack, with its TLS; the wait it is in ends with
// EINTR or goes on, as the kernel's would).
bool defer_process_signal(int sig, const siginfo_t* info, bool restart) noexcept;
// pthread_kill of green thread g (not the caller), or of main (g null), with a handler
// installed: its handler runs in that thread's context, as the kernel's would.
void deliver_to_thread(GreenThread* g, int sig) noexcept;
// sigsuspend's window during which the kernel delivers the calling thread's pending signals:
// those run here whatever the thread's mask says.
extern thread_local bool tls_taking_signals;
// A process-directed signal's handler ran on hub h's OS thread (in a signal handler): end the
// interruptible wait of the thread the kernel would have given it, one that does not block it,
// main first (the kernel's choice), else the running green thread (nothing to end), else one
// found outside the handler (Hub::note_process_signal).
void process_signal_arrived(detail::Hub& h, int sig, bool restart) noexcept;

// ---- deadlines -------------------------------------------------------------------------------

struct Deadline {
    clockid_t clock = CLOCK_REALTIME;
    timespec abs{};
    bool set = false;  // false: wait forever

    static Deadline none() noexcept { return {}; }
    static Deadline at(clockid_t c, const timespec* ts) noexcept {
        Deadline d;
        if (ts) {
            d.clock = c;
            d.abs = *ts;
            d.set = true;
        }
        return d;
    }
    // Seconds left (0 once passed); -1 when there is no deadline.
    double left() const noexcept;
    bool passed() const noexcept { return set && left() <= 0; }
};

inline bool valid_nsec(const timespec* ts) noexcept { return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L; }
inline bool valid_clock(clockid_t c) noexcept { return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC; }

// ---- the wait table --------------------------------------------------------------------------

enum class WaitType : uint8_t { Mutex, Cond, Rwlock, Sem, Barrier, Once, Join, Exit, Futex };

struct ObjWaiter : detail::Waiter {
    const void* obj = nullptr;
    WaitType type = WaitType::Mutex;
    int tag = 0;                     // rwlock: 1 = writer; barrier: its round
    detail::Hub* hub = nullptr;      // green waiter: the task's hub; null: a native waiter
    std::atomic<uint32_t> futex{0};  // native waiter: set to 1 when notified
};

struct alignas(64) WaitBucket {
    detail::SpinLock lock;
    std::atomic<uint32_t> count{0};  // waiters linked on `list`
    std::atomic<uint32_t> kick{0};   // a sem_post from a signal handler found the lock taken
    detail::WaitList list;
    // Native waiters notified under the lock; their FUTEX_WAKE is issued by unlock(), after the
    // lock is released (a woken OS thread must not find the lock still held by its waker). A late
    // wake on a waiter that already left is harmless: futex waiters re-check their word.
    static constexpr unsigned kPendingMax = 4;
    unsigned npending = 0;
    std::atomic<uint32_t>* pending[kPendingMax] = {};

    // Take the lock. Green threads never contend for it among themselves (no switch inside);
    // OS threads may, and a preempted holder must not cost a spinner its whole time slice.
    void acquire() noexcept {
        for (unsigned i = 0; !lock.try_lock(); ++i) {
            if (i < 64) __builtin_ia32_pause();
            else yield_cpu();
        }
    }
    static void yield_cpu() noexcept;

    // All below with `lock` held.
    // Link w (a green waiter gets its hub's next Waker).
    void add(ObjWaiter& w) noexcept;
    // Unlink w if still linked; true if it had been notified. Also retires w's park number if the
    // task never parked with it, so a wake already on its way becomes stale.
    bool remove(ObjWaiter& w) noexcept;
    // Notify the first waiter on obj (matching pred, if given); false if none.
    template <class Pred> bool wake_first(const void* obj, Pred pred) noexcept;
    bool wake_one(const void* obj) noexcept {
        return wake_first(obj, [](const ObjWaiter&) { return true; });
    }
    // Notify every waiter on obj matching pred; returns how many.
    template <class Pred> size_t wake_all_if(const void* obj, Pred pred) noexcept;
    size_t wake_all(const void* obj) noexcept {
        return wake_all_if(obj, [](const ObjWaiter&) { return true; });
    }
    void notify(ObjWaiter* w) noexcept;

    // Unlock, then serve a kick left meanwhile by a sem_post that could not take the lock (a
    // signal handler interrupting this very thread inside the lock). The fence pairs with the
    // poster's kick store followed by its try_lock: one of the two sides sees the other.
    void unlock() noexcept {
        unsigned n = npending;
        std::atomic<uint32_t>* wake[kPendingMax];
        for (unsigned i = 0; i < n; ++i) wake[i] = pending[i];
        npending = 0;
        lock.unlock();
        if (__builtin_expect(n != 0, 0)) futex_wake(wake, n);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (__builtin_expect(kick.load(std::memory_order_relaxed) != 0, 0)) serve_kick();
    }
    static void futex_wake(std::atomic<uint32_t>* const* words, unsigned n) noexcept;
    void serve_kick() noexcept;
};

WaitBucket& bucket_for(const void* obj) noexcept;

// How the caller waits: `hub` set for a green wait (park), null for a native one (futex or the real
// blocking function).
struct WaitCtx {
    detail::Hub* hub = nullptr;    // the caller's hub, if any (not inside the runtime)
    detail::Task* self = nullptr;  // the running task there: identity for owner checks
    bool green = false;            // park the fiber instead of blocking the OS thread
};

// The running task of the calling thread (identity for owner checks), or null outside any hub.
inline detail::Task* self_task() noexcept {
    detail::Hub* h = detail::Hub::current_or_null();
    if (!h || detail::Hub::in_runtime()) return nullptr;
    return h->running();
}

inline WaitCtx wait_ctx() noexcept {
    WaitCtx c;
    detail::Hub* h = detail::Hub::current_or_null();
    if (!h || detail::Hub::in_runtime()) return c;
    c.hub = h;
    c.self = h->running();
    // The root task alone on its hub may as well block the OS thread: nothing else could run.
    // Not in a group (GREEN_HUBS): other hubs start threads here and ask it to run calls.
    c.green = c.self != h->root() || !h->only_task(c.self) || detail::HubGroup::active();
    return c;
}

// Sleep until w is notified, the deadline passes, or (interruptible) a signal handler runs.
// Called without the bucket lock; w must have been add()ed. Returns Notified, TimedOut, Signal,
// LoopExit, or None for a spurious wake-up (callers re-check their condition and sleep again).
// `poll` > 0 caps each sleep (objects shared with other processes, whose releases we never see).
// `cancellable`: the wait is a cancellation point; Interrupted is returned when a cancellation of
// the green thread is pending (the caller unregisters and returns kCancelled to its hook, which
// calls cancel_point()).
detail::Wake sleep_on(WaitBucket& b, ObjWaiter& w, const Deadline& dl, detail::WaitInfo info,
                      uint8_t interruptible = detail::kInterruptNever, double poll = -1,
                      bool cancellable = false) noexcept;
inline constexpr int kCancelled = -1000;  // internal result: unwind for a cancellation

// Poll interval for process-shared objects: starts small, grows to a few milliseconds.
inline double next_poll(double& p) noexcept {
    double cur = p;
    p = p * 2 > 0.02 ? 0.02 : p * 2;
    return cur;
}

// ---- shared between the sync files -------------------------------------------------------------

// The mutex paths cond_wait uses to release and re-take the program's mutex.
int mutex_lock_impl(pthread_mutex_t* m, const Deadline& dl, bool timed) noexcept;
int mutex_unlock_impl(pthread_mutex_t* m) noexcept;
// Around a wait inside libc's pthread_cond_wait, which releases and re-takes the mutex itself:
// the recorded green owner (recursive/errorcheck kinds) is taken off, then put back.
detail::Task* mutex_owner_detach(pthread_mutex_t* m) noexcept;
void mutex_owner_attach(pthread_mutex_t* m, detail::Task* owner) noexcept;

// The calling OS thread's kernel thread id (cached; reset in a fork child).
pid_t my_tid() noexcept;

// Waiting for every green thread to end (pthread_exit in the root task of hub `h`).
void wait_green_threads(detail::Hub& h) noexcept;

// ---- template bodies -------------------------------------------------------------------------

template <class Pred> bool WaitBucket::wake_first(const void* obj, Pred pred) noexcept {
    for (detail::Waiter* p = list.front(); p; p = p->next) {
        auto* w = static_cast<ObjWaiter*>(p);
        if (w->obj == obj && pred(*w)) {
            notify(w);
            return true;
        }
    }
    return false;
}

template <class Pred> size_t WaitBucket::wake_all_if(const void* obj, Pred pred) noexcept {
    size_t n = 0;
    for (detail::Waiter* p = list.front(); p;) {
        auto* w = static_cast<ObjWaiter*>(p);
        p = p->next;
        if (w->obj == obj && pred(*w)) {
            notify(w);
            ++n;
        }
    }
    return n;
}

}  // namespace green::preload
