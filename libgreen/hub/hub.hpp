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
//  - Only this file's implementation talks to libev (hub.cpp; its descriptor waits: fd_waits.cpp).
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
// With kRead/kWrite: the wait may be moved to another descriptor (Hub::move_fd_waits), which
// the caller then finds in `fd` on return.
inline constexpr int kMovable = 0x100;

class Hub;
struct Carrier;
// The calling thread's hub (initial-exec TLS: one load from %fs).
extern thread_local Hub* tls_hub __attribute__((tls_model("initial-exec")));
// The task the calling OS thread runs (its hub's, or, after a hand-off, the one it kept).
extern thread_local Task* tls_task __attribute__((tls_model("initial-exec")));

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

    // The task the calling code runs in (a task of this hub).
    Task* running() const noexcept { return tls_task; }
    // For the stall monitor, from another thread (a diagnostic: a stale value is harmless).
    const Task* running_relaxed() const noexcept { return __atomic_load_n(&current_, __ATOMIC_RELAXED); }
    uint64_t switches_relaxed() const noexcept { return __atomic_load_n(&switches_, __ATOMIC_RELAXED); }
    bool in_loop_relaxed() const noexcept { return running_relaxed() == hub_task_; }
    // Live tasks, root included; whether the hub waits in the kernel for I/O, timers or wakes
    // (hand-off hubs only: the monitor sleeps while every such hub does).
    uint32_t live_tasks_relaxed() const noexcept { return live_count_.load(std::memory_order_relaxed); }
    bool polling() const noexcept { return polling_.load(std::memory_order_seq_cst); }
    bool handoff_on() const noexcept { return handoff_steal_.load(std::memory_order_relaxed); }
    // The kernel's id of the OS thread this hub runs on.
    pid_t os_tid() const noexcept { return os_tid_; }
    // The OS thread that made the hub, as the root task's pthread_self() and gettid() must stay
    // when a hand-off lets the root task run on another one.
    pthread_t root_thread() const noexcept { return reinterpret_cast<pthread_t>(root_thread_tcb_); }
    pid_t root_tid() const noexcept { return root_tid_; }
    // State a layer above keeps per hub (the preload's name-lookup channel); owned by that layer.
    void* user = nullptr;
    Task* root() const noexcept { return root_; }
    // Whether the root only serves the hub's tasks (a hub of a group other than the first).
    bool serving() const noexcept { return serving_; }

    // Queue a new task to start on the next switch. Any thread: from another one the task starts
    // once this hub has taken the request (it is on its way: see HubGroup's deadlock test).
    void schedule(Task* t);
    // Tasks scheduled here and not yet ended, root included (HubGroup::pick; any thread, a hint).
    uint32_t load_relaxed() const noexcept {
        return live_count_.load(std::memory_order_relaxed) + remote_starts_.load(std::memory_order_relaxed);
    }
    // The root task of a hub that only runs tasks placed on it (HubGroup): serve them for ever.
    [[noreturn]] void serve();
    // Let every other ready task run once (sleep(0)). `movable`: the task may resume on another hub
    // of the group (share_ready); only for a caller that holds nothing of this hub across the
    // call (a layer's outermost entry: the preload's sched_yield, outside signal handlers).
    void yield(bool movable = false);
    // A movable yield that offers the task to an idle hub of the group now: through the hub task,
    // which gives it away if a hub sleeps with nothing to run and this one has other tasks ready
    // (else it resumes in its turn). For the end of a call that waited (the preload's hooks),
    // where the waker's hub would otherwise resume the task directly from the next one.
    void yield_to_idle_hub();
    // Fairness for code the hub cannot preempt: a layer above counts the calls it intercepts that
    // return without parking; once kFairnessBudget of them ran since the last switch, the task
    // lets the hub poll I/O and the other ready tasks run (Go preempts at function calls alike).
    static constexpr unsigned kFairnessBudget = 4096;
    bool count_busy_call() noexcept {
        unsigned n = busy_calls_.load(std::memory_order_relaxed) + 1;
        busy_calls_.store(n, std::memory_order_relaxed);
        return n >= kFairnessBudget;
    }
    // Switch to the hub with the running task put back on the ready queue; never throws.
    void fairness_yield() noexcept;

    // ---- the wait interface: every layer above waits through these -------------------------
    // The running task's next park, before it registers anywhere: the Waker goes into the wait
    // list (or wherever the waker will find it), then park(waker, spec). A task that finds its
    // condition met after all simply does not park: the Waker becomes stale.
    Waker prepare_park() noexcept {
        Task* self = tls_task;
        uint64_t epoch = self->seq_ + 1;
        __atomic_store_n(&self->seq_, epoch, __ATOMIC_RELAXED);  // read by the hub's OS thread
        return {self, epoch};
    }
    // Park the running task until its waker is used, spec.timeout passes, a signal handler that
    // spec.interrupt accepts runs, or an exception is pending for it (kill, Timeout). Does not
    // throw: the caller inspects the reason (see throw_pending). `w` must be the task's latest.
    Wake park(const Waker& w, const ParkSpec& spec);
    Wake park(const ParkSpec& spec) { return park(prepare_park(), spec); }
    // park(w, spec) that first wakes `to` (a waker of a task of this hub) with `why` and, if that
    // ends its park, hands the hub straight to it, ahead of the ready queue (greenlet's switch:
    // no queue, no scheduling decision), while the round budget lasts; else `to` runs after the
    // tasks already ready. The caller holds the hub (Hold).
    Wake park_handing_to(const Waker& w, const ParkSpec& spec, const Waker& to, Wake why);
    // The running task, one of this hub's, has the hub to itself while a Hold lives: with hand-off
    // on, a task back from a system call runs beside the hub's other tasks until it holds the hub,
    // so state confined to one hub (a coroutine's switch state) is touched only under a Hold.
    class Hold;
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
    // End t's park with Wake::Signal if that park accepts signals (pthread_kill, pthread_cancel);
    // `restart`: the handler has SA_RESTART, which read, write, accept and the like then go on
    // through (kInterruptUnlessRestart), as the kernel restarts them. Any thread.
    static void wake_for_signal(Task* t, bool restart = false) noexcept;
    // Whether t's current park would end for a handler with (or without) SA_RESTART. Any thread:
    // a hint, as t may be woken meanwhile (wake_for_signal then finds that park over).
    static bool takes_signal_wake(const Task* t, bool restart) noexcept;
    // Make t run on_deliver(t, ...) in its own context, as the kernel runs a signal handler on the
    // thread it interrupts: at once if t is parked (in any wait, which then ends or goes on as
    // on_deliver says), else when it next comes back from a switch (a park, a yield). Any thread;
    // the caller keeps t alive.
    static void deliver(Task* t) noexcept;
    // Only mark t as having something delivered (no wake): it runs it at its next park or resume;
    // async-signal-safe. A deliver() later wakes it if it is parked meanwhile.
    static void mark_due(Task* t) noexcept { t->due_.store(true, std::memory_order_release); }
    // Set by a layer above (the preload's signal handlers): runs in t's context (t is the caller);
    // returns whether what it ran ends a wait of interrupt level `interrupt` (kInterrupt*).
    static bool (*on_deliver)(Task* t, uint8_t interrupt) noexcept;
    // Make `e` be thrown at t's current or next wait point (kill, Timeout). Hub thread only.
    void interrupt(Task* t, std::exception_ptr e);
    // Wake every task of this hub waiting on `fd` with Wake::Closed, and make libev forget the
    // descriptor: call it before the number can be reused (close, dup2 onto it, or a descriptor
    // the program made behind the runtime's back).
    void cancel_fd(int fd) noexcept;
    // Run fn(*this, arg) on this hub's OS thread, between its tasks, and return once it ran (the
    // calling task parks meanwhile; on this hub's own thread it runs at once). For work on another
    // hub's tables: a descriptor closed on one hub of a group while another waits on it.
    void call(void (*fn)(Hub&, void*), void* arg) noexcept;
    // Whether this hub may have waited on `fd` (any thread; false means certainly not).
    bool may_know_fd(int fd) const noexcept { return fd < fd_slots_size_.load(std::memory_order_relaxed); }
    // Waits on `from` made with kMovable: how many there are; move them to `to` (a duplicate of
    // the same open file, about to outlive `from`), returning how many moved. Hub thread only.
    int movable_fd_waits(int from) const noexcept;
    int move_fd_waits(int from, int to) noexcept;
    // A signal handler ran: wake the root task with Wake::Signal if it is in an interruptible
    // wait that this signal ends (kInterruptAlways, or kInterruptUnlessRestart when the handler
    // lacks SA_RESTART). Async-signal-safe.
    void note_signal(bool restart) noexcept;
    // A process-directed signal whose handler ran here while neither the root task nor the running
    // one takes it (each blocks it): the wait it ends is that of another task that takes it, which
    // on_process_signal finds, outside the handler, at this hub's next loop iteration (the kernel
    // picks a thread that does not block the signal). Async-signal-safe.
    void note_process_signal(int sig, bool restart) noexcept;
    // Set by a layer above that keeps a signal mask per task (the preload's green threads).
    static void (*on_process_signal)(int sig, bool restart) noexcept;
    // Every hub of the process calls on_traces(itself) at its next loop iteration, on the OS thread
    // that runs it then, holding it: its suspended tasks may be looked into there (a diagnostic
    // dump's backtraces, Context::backtrace_suspended). Async-signal-safe.
    static void request_traces() noexcept;
    static void (*on_traces)(Hub& hub) noexcept;
    // The stack overflow report's advice (overflow_report.cpp), from a layer above that knows how
    // the task was made: where it started and how to give it `bigger` bytes of stack (`text`: the
    // same as GREEN_STACK_SIZE writes it, "128K"). From a SIGSEGV handler: no allocation. Unset,
    // the API's advice (spawn_with, GREEN_STACK_SIZE).
    static void (*overflow_advice)(const Task* t, size_t bigger, const char* text, char* out, size_t n) noexcept;

    // A one-shot timer calling cb(arg) on the hub; stop_timer() cancels and frees it (call it
    // exactly once, fired or not).
    void* start_timer(double seconds, void (*cb)(void*), void* arg);
    void stop_timer(void* timer) noexcept;

    // ---- hand-off (handoff.cpp) ------------------------------------------------------------
    // From now on, when a task of this hub keeps its OS thread for `threshold` seconds without
    // switching (a system call no hook sees, a spin-wait, a long computation) while other tasks
    // live, the hub goes on on another OS thread; the task keeps its own until it comes back to
    // the runtime, and then waits for the hub to come back to it. Call it from a task of the hub.
    // Tasks with TCBs of their own need sync_tcb set, and `first_carrier_tcb`: a TCB for the
    // calling OS thread's runtime code from now on (the root task, the caller, keeps the thread's
    // own TCB and takes it along when it moves).
    void enable_handoff(double threshold, void* first_carrier_tcb = nullptr) noexcept;
    // Set by a layer above that gives tasks TCBs: make `task_tcb`'s per-OS-thread words (malloc's
    // cache, the runtime's own TLS) those of `carrier_tcb`, before the task runs on that carrier.
    static void (*sync_tcb)(void* task_tcb, const void* carrier_tcb) noexcept;
    bool handoff_enabled() const noexcept { return handoff_; }
    // The kernel signal mask an OS thread takes when it starts carrying this hub (a layer above
    // that keeps a mask per task sets the one their union calls for).
    void set_program_mask(const sigset_t& m) noexcept { program_mask_ = m; }
    // The same from any thread, for a hub whose OS thread the caller is not on: that thread takes
    // `bits` (bit sig-1 for each signal to block) at the hub's next loop iteration.
    void post_program_mask(uint64_t bits) noexcept;
    // Hand-offs so far, and tasks moved from one hub of a group to another (for stats).
    static std::atomic<uint64_t> handoffs;
    static std::atomic<uint64_t> moves;

    // Outstanding cross-thread work whose completion will wake a task here (ThreadPool jobs):
    // while non-zero, an empty loop is not a deadlock.
    void add_external() noexcept { external_.fetch_add(1); }
    void remove_external() noexcept;

    uint64_t switches() const noexcept { return switches_; }
    uint64_t iterations() const noexcept { return iterations_; }
    uint64_t iterations_relaxed() const noexcept { return __atomic_load_n(&iterations_, __ATOMIC_RELAXED); }
    // Live tasks, root included (for reports).
    template <class F> void for_each_task(F&& f) {
        for (Task* t = live_head_; t; t = t->live_next_) f(t);
    }
    // Hub thread only: whether a task is ready to run; whether `t` is the hub's only live task.
    bool has_ready() const noexcept { return ready_head_ != nullptr; }
    // Tasks on the ready queue; any thread (a hint).
    uint64_t ready_relaxed() const noexcept { return __atomic_load_n(&ready_count_, __ATOMIC_RELAXED); }
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
    friend struct Handoff;
    friend class HubGroup;
    // The hold word: (generation << 1) | kTaskPhase. A generation is one stretch of the hub on
    // one OS thread; kTaskPhase is set while a task runs its own code (the monitor may then take
    // the hub away: generation + 1), clear while the hub's own code runs. A task enters the
    // runtime with a CAS that fails only if the hub was taken meanwhile (then it rejoins).
    static constexpr uint64_t kTaskPhase = 1;
    enum class Entry { Entered, Inside, Elsewhere };  // Elsewhere: a hand-off took the hub away
    Entry try_enter(Task* self) noexcept {
        if (__builtin_expect(!handoff_, 1)) return Entry::Inside;  // no one else runs this hub
        const uint64_t held = self->gen_ << 1;
        // Already inside (a park within a descriptor wait): a plain load, not a failing locked
        // compare-exchange. The word says `held` only while this task holds the hub: the monitor
        // takes it only from the task phase, and a generation has one running task.
        if (hold_.load(std::memory_order_relaxed) == held) return Entry::Inside;
        uint64_t want = held | kTaskPhase;
        if (__builtin_expect(hold_.compare_exchange_strong(want, held, std::memory_order_acquire), 1))
            return Entry::Entered;
        return want == held ? Entry::Inside : Entry::Elsewhere;
    }
    bool enter(Task* self) noexcept {  // true: entered (leave() when done); false: already inside
        Entry e = try_enter(self);
        if (__builtin_expect(e == Entry::Elsewhere, 0)) rejoin(self);
        return e != Entry::Inside;
    }
    void leave(Task* self) noexcept { hold_.store(self->gen_ << 1 | kTaskPhase, std::memory_order_release); }
    struct Inside {
        Hub* h;
        Task* t;
        bool entered;
        Inside(Hub* hub, Task* task) noexcept : h(hub), t(task), entered(hub->enter(task)) {}
        ~Inside() {
            if (entered) h->leave(t);
        }
    };
    void rejoin(Task* self) noexcept;
    // In the hub task: a task that kept its OS thread is back and waits for the hub.
    void serve_requests() noexcept;
    void after_fork_carrier() noexcept;  // the calling thread's carrier record, in a fork child
    static void fork_child() noexcept;   // the atfork child handler
    void fork_child_remote() noexcept;   // in a fork child: the remote queue's lock, unlocked
    void kick() noexcept;                // wake the loop (any thread)
    void resume_loop() noexcept;         // switch from the running context to the hub task
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
    void make_loop();
    void need_loop() {
        if (__builtin_expect(loop_ == nullptr, 0)) make_loop();
    }
    void wake_loop() noexcept;  // from any thread: the loop's ev_async, if it has a loop
    void switch_out();
    Wake park_then(const Waker& w, const ParkSpec& spec, const Waker* to, Wake why);
    // After a park's switch back with t->due_ set: run what was delivered, then end the park or
    // park again under the same waker (hub.cpp).
    void run_delivered(Task* self, const Waker& waker, const ParkSpec& spec) noexcept;
    // At a park's start with t->due_ set (delivered while it ran): run it first; returns the
    // wake of this wait if it came meanwhile (the park then ends at once), else Wake::None.
    Wake run_before_wait(Task* self, const Waker& waker) noexcept;
    // After a yield's switch back (no wait to end).
    static void run_delivered_now(Task* self) noexcept {
        if (__builtin_expect(self->due_.load(std::memory_order_acquire), 0)) {
            self->due_.store(false, std::memory_order_relaxed);
            if (on_deliver) on_deliver(self, kInterruptNever);
        }
    }
    double precise_add(double timeout);  // a short wait's deadline, 0 if not kept
    void precise_remove(double deadline) noexcept;
    void start_context(Task* t);
    // Install the TCB `next` runs with, if it is not the installed one (a system call without
    // wrfsbase: never pay it when the two tasks share a TCB).
    void install_tcb(Task* next) noexcept {
        void* want = next->tcb;
        if (!want && next != hub_task_) want = carrier_tcb_;  // no TCB of its own: its OS thread's
        else if (want && __builtin_expect(next->tcb_carrier_ != carrier_serial_, 0)) {
            sync_tcb(want, carrier_tcb_);  // it last ran on another OS thread (a hand-off)
            next->tcb_carrier_ = carrier_serial_;
        }
        if (want && want != installed_tcb_) {
            set_thread_pointer(want);
            installed_tcb_ = want;
        }
    }
    // The hub task, running on the TCB of a task about to run elsewhere (given to another hub, or
    // ended with its stack), goes on on its OS thread's own. tls_task lives in the TCB: the one
    // there is whatever last ran with it (the root), and the hub task must read itself there.
    void hub_task_to_carrier_tcb() noexcept {
        set_thread_pointer(carrier_tcb_);
        installed_tcb_ = carrier_tcb_;
        tls_task = hub_task_;
    }
    void local_wake(Task* t, uint64_t seq, Wake why) noexcept;
    void start_local(Task* t) noexcept;  // schedule() on the hub's own thread
    void post_remote(Task* t, uint64_t seq, Wake why, std::exception_ptr error) noexcept;
    // local_wake if the calling code may touch this hub now; false if the wake must be posted.
    bool wake_here(Task* t, uint64_t epoch, Wake why) noexcept;
    void drain_remote() noexcept;
    void finish_current(Task* t);
    bool deadlocked();

    // A wake meant for whatever park its task is in when it arrives (signals, interrupts).
    static constexpr uint64_t kAnyEpoch = ~uint64_t(0);
    // A remote item that is no wake: the task is new, to start here (schedule from another thread).
    static constexpr uint64_t kStartEpoch = ~uint64_t(0) - 1;
    static constexpr uint64_t kCallEpoch = ~uint64_t(0) - 2;  // no wake: a call to run (call())
    // No wake: a ready task moved here from another hub of the group (share_ready).
    static constexpr uint64_t kAdoptEpoch = ~uint64_t(0) - 3;
    // Whether a task about to go on the ready queue from a yield(movable) may be moved to another
    // hub: it must have a TCB of its own that can take another OS thread's words (sync_tcb).
    // (fairness_yield never moves a task: it is called from hooks at any depth, whose callers
    // may hold this hub across it.)
    bool may_move(const Task* t) const noexcept { return t->tcb && sync_tcb && t != root_; }
    // In the hub task, with ready tasks: give half of the movable ones to a hub of the group that
    // sleeps with nothing to run (work sharing: the busy hub gives, the idle one need not look).
    void share_ready() noexcept;
    // After a yield: leave the runtime of the hub the task resumed on (see yield).
    void leave_where_resumed(Task* self, bool entered) noexcept;
    struct Call;
    void run_call(Call* c) noexcept;
    // Any thread: queue an item for this hub's thread (a wake for t, or `call` to run) and wake
    // its loop; counted as on its way (HubGroup::posted) before it can be seen.
    void enqueue_remote(Task* t, uint64_t seq, Wake why, std::exception_ptr error, Call* call) noexcept;

    Task* current_ = nullptr;
    Task* root_ = nullptr;
    Task* hub_task_ = nullptr;
    Task* ready_head_ = nullptr;
    Task* ready_tail_ = nullptr;
    uint64_t ready_count_ = 0;  // tasks on the ready queue
    Task* live_head_ = nullptr;
    Task* exited_ = nullptr;  // a task whose fiber just ended: released by whoever runs next
    unsigned budget_ = 0;
    std::atomic<unsigned> busy_calls_{0};  // see count_busy_call(); relaxed (a task kept after a
                                           // hand-off may count while the hub runs elsewhere)
    uint64_t switches_ = 0;
    uint64_t iterations_ = 0;
    ev_loop* loop_ = nullptr;  // made at the first wait (make_loop); read by other threads only in wake_loop
    pid_t os_tid_ = 0;
    void* installed_tcb_ = nullptr;  // what FS points at now
    static ptrdiff_t errno_offset_;  // errno's place in every TCB's static TLS
    void* async_ = nullptr;          // ev_async
    void* precise_ = nullptr;        // the timerfd that ends short waits on time (hub.cpp)
    void* fd_waits_ = nullptr;       // per-fd watchers and their parked waits
    Remote* remote_ = nullptr;
    std::atomic<int> external_{0};
    std::atomic<uint32_t> remote_starts_{0};  // scheduled from another thread, not yet started
    bool serving_ = false;                    // the root only serves (serve()): never LoopExit
    // In start_context, the task that was running on the hub's OS thread (hooks reached from there
    // go straight to libc); a task a hand-off left on another OS thread is not concerned.
    const Task* starting_from_ = nullptr;
    bool starting() const noexcept {
        const Task* from = __atomic_load_n(&starting_from_, __ATOMIC_RELAXED);
        return from && from == tls_task;
    }
    std::atomic<bool> sleeping_{false};    // in a group, blocked in the poll with nothing ready
    std::atomic<double> asleep_since_{0};  // when it last went to sleep so (monotonic seconds)
    std::atomic<int> kept_{0};             // tasks a hand-off left running on their own OS thread
    bool idle_ = false;                    // counted idle by HubGroup (a group's hub, in its poll)
    void leave_idle() noexcept;
    std::atomic<int> fd_slots_size_{0};  // see may_know_fd
    std::atomic<bool> signalled_{false};
    std::atomic<uint64_t> process_signals_{0};  // note_process_signal: bit sig-1
    std::atomic<bool> traces_wanted_{false};    // request_traces
    std::atomic<uint64_t> process_restart_{0};  // the same bits, for handlers with SA_RESTART
    std::atomic<bool> mask_posted_{false};      // see post_program_mask
    std::atomic<uint64_t> posted_mask_{0};
    std::string loop_exit_message_;
    void* altstack_ = nullptr;
    // hand-off (see enter()):
    bool handoff_ = false;  // the hold protocol is on (set once)
    std::atomic<bool> handoff_steal_{false};
    std::atomic<uint64_t> hold_{0};
    uint64_t gen_ = 0;                 // the generation this OS thread holds
    void* root_thread_tcb_ = nullptr;  // glibc's pthread_t is its TCB's address
    pid_t root_tid_ = 0;
    bool on_main_thread_ = false;                         // made on the process's main thread (kept at its exit)
    void* carrier_tcb_ = nullptr;                         // the holding OS thread's own TCB (tasks without one use it)
    struct Carrier* carrier_ = nullptr;                   // the holding OS thread's record
    uint64_t carrier_serial_;                             // its number (every carrier has its own, the first one's
                                                          // given when the hub is made)
    std::atomic<bool> polling_{false};                    // in the loop's blocking poll (hand-off hubs only)
    std::atomic<uint32_t> live_count_{0};                 // live tasks, root included (the monitor reads it)
    std::atomic<struct HoldRequest*> requests_{nullptr};  // tasks back from a hand-off
    sigset_t program_mask_{};                             // the signal mask OS threads carrying the hub take
};

class Hub::Hold {
public:
    explicit Hold(Hub& hub, Task* running = tls_task) noexcept : in_(&hub, running) {}
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

private:
    Inside in_;
};

// Count of libgreen's own idle worker threads (not a source of wake-ups) and of threads a layer
// above knows may wake tasks; used by the deadlock test.
extern std::atomic<int> idle_internal_threads;
// The carriers' pool lock, held across fork by the forking thread (hub/handoff.cpp).
void handoff_fork_lock(bool take) noexcept;
// A number for a new carrier (hub/hub.cpp).
uint64_t new_carrier_serial() noexcept;
// pthread_create as the runtime must call it for its own threads, never turned into green threads,
// and sigaction for its own SIGSEGV handler (the stack-overflow report): libc's from the start
// (context/libc.hpp), never the preload's hooks. (The preload sets them to its REAL() ones too.)
extern int (*native_pthread_create)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
extern int (*native_sigaction)(int, const struct sigaction*, struct sigaction*);

}  // namespace green::detail
