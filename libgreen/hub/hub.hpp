// hub/hub.hpp: one Hub per OS thread, running a libev loop in its own fiber.
//
// Contract:
//  - Hub::current() creates the calling thread's hub on first use; the thread's own stack becomes
//    its root task, so main() and any OS thread can block on green objects without set-up.
//  - The one wait primitive is park(): the running task says what it waits for, optionally arms a
//    timeout, and switches away; it returns the reason it was woken. Everything else (sync objects,
//    fd waits, the preload's hooks) is built on it.
//  - Ready tasks switch to each other directly; the hub fiber runs only when nothing is ready, or
//    every kRoundBudget switches so that I/O and timers are never starved by yielders.
//  - wake() may be called from any thread; from another thread it goes through ev_async.
//  - Only this file's implementation (hub.cpp) talks to libev.
//  - Thread pointers: each task runs with Task::tcb (its hub's root TCB unless a layer above gave
//    it one; the hub task runs with whichever is installed, never a dead task's). The runtime's
//    own per-OS-thread state is therefore never kept in TLS directly: TLS holds pointers to
//    per-OS-thread records (the hub, the stack cache), set before the OS thread's first other TCB
//    exists and copied into each one, so any TCB of an OS thread leads to the same records; a
//    fiber's first entry learns its Context from a register, not from TLS (context/fiber.cpp).
#pragma once

#include <green/detail/task.hpp>

#include "../context/thread_pointer.hpp"

#include <atomic>
#include <cstdint>
#include <pthread.h>
#include <signal.h>
#include <span>
#include <string>

struct ev_loop;
struct ev_io;
struct ev_timer;
struct ev_async;

namespace green::detail {

struct FdInterest {
    int fd;
    int events;   // kRead | kWrite
    int revents;  // filled on return
};
inline constexpr int kRead = 1;   // == EV_READ
inline constexpr int kWrite = 2;  // == EV_WRITE

class Hub;
// The calling thread's hub (initial-exec TLS: one load from %fs).
extern thread_local Hub* tls_hub __attribute__((tls_model("initial-exec")));

class Hub {
public:
    static Hub& current() {
        if (__builtin_expect(tls_hub != nullptr, 1)) return *tls_hub;
        return create_current();
    }
    static Hub* current_or_null() noexcept { return tls_hub; }  // never creates
    // True while the calling thread is inside the runtime's own loop (libev callbacks, the hub
    // fiber): the preload passes such calls straight to libc.
    static bool in_runtime() noexcept;
    // The hub a preload hook may park on: the calling thread's (created on first use), or null
    // when the call must go straight to libc (inside the runtime, on one of its worker threads, or
    // during thread exit after the hub is gone).
    static Hub* for_hooks() noexcept;
    // True while the calling thread is creating or destroying its hub (libev opening and closing
    // its descriptors): the preload moves such descriptors out of the numbers the program would
    // get, and lets only the runtime close them.
    static bool constructing() noexcept;
    // Marks the calling thread as one of the runtime's own native workers.
    static void mark_worker_thread() noexcept;
    // From now on for_hooks() makes a hub only for the process's main thread; other OS threads
    // call libc directly unless they already have a hub (made by the API). GREEN_THREADS=native:
    // a hub serving one OS thread's one task would only cost, and libev sizes each loop's tables
    // by the highest descriptor number, which grows with the threads' own hub descriptors.
    static void implicit_hub_main_thread_only() noexcept;

    Task* running() const noexcept { return current_; }
    // For the stall monitor, from another thread (a diagnostic: a stale value is harmless).
    const Task* running_relaxed() const noexcept { return __atomic_load_n(&current_, __ATOMIC_RELAXED); }
    uint64_t switches_relaxed() const noexcept { return __atomic_load_n(&switches_, __ATOMIC_RELAXED); }
    bool in_loop_relaxed() const noexcept { return running_relaxed() == hub_task_; }
    // The kernel's id of the OS thread this hub runs on.
    pid_t os_tid() const noexcept { return os_tid_; }
    // The OS thread's own thread pointer (the TCB of its main stack).
    void* root_tcb() const noexcept { return root_tcb_; }
    // State a layer above keeps per hub (the preload's name-lookup channel); owned by that layer.
    void* user = nullptr;
    Task* root() const noexcept { return root_; }

    // Queue a new task to start on the next switch.
    void schedule(Task* t);
    // Let every other ready task run once (sleep(0)).
    void yield();
    // Fairness for code the hub cannot preempt: a layer above counts the calls it intercepts that
    // return without parking; once kFairnessBudget of them ran since the last switch, the task
    // lets the hub poll I/O and the other ready tasks run (Go preempts at function calls alike).
    static constexpr unsigned kFairnessBudget = 4096;
    bool count_busy_call() noexcept { return ++busy_calls_ >= kFairnessBudget; }
    // Switch to the hub with the running task put back on the ready queue; never throws.
    void fairness_yield() noexcept;

    // ---- the wait interface: every layer above waits through these -------------------------
    // The running task's next park, before it registers anywhere: the Waker goes into the wait
    // list (or wherever the waker will find it), then park(waker, spec). A task that finds its
    // condition met after all simply does not park: the Waker becomes stale.
    Waker prepare_park() noexcept {
        Task* self = current_;
        return {self, ++self->seq_};
    }
    // Park the running task until its waker is used, spec.timeout passes, a signal handler that
    // spec.interrupt accepts runs, or an exception is pending for it (kill, Timeout). Does not
    // throw: the caller inspects the reason (see throw_pending). `w` must be the task's latest.
    Wake park(const Waker& w, const ParkSpec& spec);
    Wake park(const ParkSpec& spec) { return park(prepare_park(), spec); }
    // Park until one of `fds` is ready (revents filled), or as park() (Wake::Closed: the descriptor
    // was closed). keep_armed: leave the read watcher armed after the wait (saves an epoll_ctl on
    // the next one). Only for a caller that calls cancel_fd before the descriptor is closed or
    // reused (the preload, for the program's sockets).
    Wake wait_fds(std::span<FdInterest> fds, const Waker& w, const ParkSpec& spec, bool keep_armed = false);
    Wake wait_fds(std::span<FdInterest> fds, const ParkSpec& spec, bool keep_armed = false) {
        return wait_fds(fds, prepare_park(), spec, keep_armed);
    }
    // End the park `w` was handed out for, if it is still on. Any thread.
    static void wake(const Waker& w, Wake why) noexcept;
    // End t's park with Wake::Signal if that park accepts signals (pthread_kill, pthread_cancel).
    // Any thread.
    static void wake_for_signal(Task* t) noexcept;
    // Make `e` be thrown at t's current or next wait point (kill, Timeout). Hub thread only.
    void interrupt(Task* t, std::exception_ptr e);
    // Wake every task of this hub waiting on `fd` with Wake::Closed, and make libev forget the
    // descriptor: call it before the number can be reused (close, dup2 onto it, or a descriptor
    // the program made behind the runtime's back).
    void cancel_fd(int fd) noexcept;
    // A signal handler ran: wake the root task with Wake::Signal if it is in an interruptible
    // wait that this signal ends (kInterruptAlways, or kInterruptUnlessRestart when the handler
    // lacks SA_RESTART). Async-signal-safe.
    void note_signal(bool restart) noexcept;

    // A one-shot timer calling cb(arg) on the hub; stop_timer() cancels and frees it (call it
    // exactly once, fired or not).
    void* start_timer(double seconds, void (*cb)(void*), void* arg);
    void stop_timer(void* timer) noexcept;

    // Outstanding cross-thread work whose completion will wake a task here (ThreadPool jobs):
    // while non-zero, an empty loop is not a deadlock.
    void add_external() noexcept { external_.fetch_add(1); }
    void remove_external() noexcept;

    uint64_t switches() const noexcept { return switches_; }
    uint64_t iterations() const noexcept { return iterations_; }
    // Live tasks, root included (for reports).
    template <class F> void for_each_task(F&& f) {
        for (Task* t = live_head_; t; t = t->live_next_) f(t);
    }
    // Hub thread only: whether a task is ready to run; whether `t` is the hub's only live task.
    bool has_ready() const noexcept { return ready_head_ != nullptr; }
    bool only_task(const Task* t) const noexcept { return live_head_ == t && t->live_next_ == nullptr; }
    // Hub thread only: take the wake-ups other threads (and signal handlers) posted.
    void poll_remote() noexcept { drain_remote(); }
    // "greenlet #3 'worker' waiting on Event 0x..." lines, for LoopExit and deadlock reports.
    std::string describe_waiters() const;
    // Why the root task was woken with Wake::LoopExit (the message of green::LoopExit).
    const std::string& loop_exit_message() const noexcept { return loop_exit_message_; }
    // Called by the preload in a fork child: only the calling task survives; the loop is reset.
    void after_fork() noexcept;
    // In a fork child, before after_fork: no task but the caller may ever be resumed.
    void forget_other_tasks() noexcept;

    // Process-wide statistics.
    static std::atomic<uint64_t> tasks_created;
    static std::atomic<uint64_t> tasks_peak;
    static std::atomic<uint64_t> tasks_alive;
    // Switches and loop iterations of hubs whose threads have ended (added at thread exit).
    static std::atomic<uint64_t> retired_switches;
    static std::atomic<uint64_t> retired_iterations;
    // Hook for a layer above to report a LoopExit of the root task instead of throwing (the
    // preload prints a deadlock report); returns only if the exception should still be thrown.
    static void (*on_deadlock)(Hub&);

    Hub();
    ~Hub();
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;
    // The calling thread is ending: retire its hub (destroyed unless tasks other than its root
    // still live, whose stacks and wait registrations would dangle: then deliberately leaked).
    static void on_thread_exit() noexcept;

private:
    static Hub& create_current();
    struct Remote;
    static Context* task_main(void* arg);
    static void on_fd(ev_loop* loop, struct ev_io* w, int revents);
    static void on_timer(ev_loop* loop, struct ev_timer* w, int revents);
    static void on_async(ev_loop* loop, struct ev_async* w, int revents);
    void link_live(Task* t) noexcept;
    void unlink_live(Task* t) noexcept;
    void loop_main();
    void switch_to(Task* next);
    void push_ready(Task* t) noexcept {
        t->ready_next_ = nullptr;
        if (ready_tail_) ready_tail_->ready_next_ = t;
        else ready_head_ = t;
        ready_tail_ = t;
        ++ready_count_;
    }
    Task* pop_ready() noexcept {  // ready_head_ must be set
        Task* t = ready_head_;
        ready_head_ = t->ready_next_;
        if (!ready_head_) ready_tail_ = nullptr;
        t->ready_next_ = nullptr;
        --ready_count_;
        return t;
    }
    void switch_out();
    double precise_add(double timeout);           // a short wait's deadline, 0 if not kept
    void precise_remove(double deadline) noexcept;
    void start_context(Task* t);
    // Install the TCB `next` runs with, if it is not the installed one (a system call without
    // wrfsbase: never pay it when the two tasks share a TCB).
    void install_tcb(Task* next) noexcept {
        void* want = next->tcb;
        if (want && want != installed_tcb_) {
            set_thread_pointer(want);
            installed_tcb_ = want;
        }
    }
    void local_wake(Task* t, uint64_t seq, Wake why) noexcept;
    void post_remote(Task* t, uint64_t seq, Wake why, std::exception_ptr error) noexcept;
    void drain_remote() noexcept;
    void finish_current(Task* t);
    bool deadlocked();

    // A wake meant for whatever park its task is in when it arrives (signals, interrupts).
    static constexpr uint64_t kAnyEpoch = ~uint64_t(0);

    Task* current_ = nullptr;
    Task* root_ = nullptr;
    Task* hub_task_ = nullptr;
    Task* ready_head_ = nullptr;
    Task* ready_tail_ = nullptr;
    uint64_t ready_count_ = 0;    // tasks on the ready queue
    Task* live_head_ = nullptr;
    Task* exited_ = nullptr;  // a task whose fiber just ended: released by whoever runs next
    unsigned budget_ = 0;
    unsigned busy_calls_ = 0;     // see count_busy_call()
    uint64_t switches_ = 0;
    uint64_t iterations_ = 0;
    ev_loop* loop_ = nullptr;
    pid_t os_tid_ = 0;
    void* root_tcb_ = nullptr;      // the OS thread's own TCB (root, hub and API greenlets run with it)
    void* installed_tcb_ = nullptr; // what FS points at now
    static ptrdiff_t errno_offset_; // errno's place in every TCB's static TLS
    void* async_ = nullptr;       // ev_async
    void* precise_ = nullptr;     // the timerfd that ends short waits on time (hub.cpp)
    void* fd_waits_ = nullptr;    // per-fd watchers and their parked waits
    Remote* remote_ = nullptr;
    std::atomic<int> external_{0};
    std::atomic<bool> signalled_{false};
    std::string loop_exit_message_;
    void* altstack_ = nullptr;
};

// Count of libgreen's own idle worker threads (not a source of wake-ups) and of threads a layer
// above knows may wake tasks; used by the deadlock test.
extern std::atomic<int> idle_internal_threads;
// pthread_create as the runtime must call it for its own threads (the preload points it at the
// real libc function so that the runtime's workers are never turned into green threads).
extern int (*native_pthread_create)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
// sigaction as the runtime must call it for its own SIGSEGV handler (the stack-overflow report).
extern int (*native_sigaction)(int, const struct sigaction*, struct sigaction*);

}  // namespace green::detail
