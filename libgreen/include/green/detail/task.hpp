// green/detail/task.hpp: the runtime's core records, shared by the hub and the public templates.
//
// Contract:
//  - A Task is one greenlet: its context, its stack, and the bookkeeping of its wait. Every field
//    marked "hub thread" is touched only by the OS thread that owns the task's Hub.
//  - A task is parked in exactly one wait at a time. Each park bumps `seq`; a wake-up carries the
//    seq it was meant for, so a stale wake (the wait already ended by timeout) is a no-op. This is
//    the one place where the timeout-versus-notify race is settled.
//  - WaitList is the intrusive list every synchronization object keeps its waiters on. Its
//    SpinLock makes it safe to notify from any OS thread; a remote wake goes through the target
//    hub's ev_async, never by touching its ready queue.
#pragma once

#include <atomic>
#include <stop_token>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace green::detail {

class Hub;
struct Task;

// Test-and-test-and-set lock. Waits here are a few instructions long and never span a switch;
// it is used instead of pthread_mutex so that the preload's mutex hooks never see the runtime.
class SpinLock {
public:
    void lock() noexcept {
        if (__builtin_expect(flag_.exchange(true, std::memory_order_acquire), 0)) lock_contended();
    }
    bool try_lock() noexcept { return !flag_.exchange(true, std::memory_order_acquire); }
    void unlock() noexcept { flag_.store(false, std::memory_order_release); }

private:
    // Spins a while, then gives the CPU away: with more OS threads than cores (GREEN_THREADS=native
    // runs thousands), the holder may be preempted, and pure spinning would starve it.
    void lock_contended() noexcept;
    std::atomic<bool> flag_{false};
};

// A runtime lock that other OS threads (hubs of a group, hand-off carriers, the monitor) may hold
// when a thread forks: registered (from a static initializer, or once where the lock is made),
// it is unlocked first thing in every fork child, whose one thread could never see it released
// (glibc resets its own locks alike). Returns true, for `const bool x = reset_in_fork_child(l);`.
bool reset_in_fork_child(SpinLock& lock) noexcept;
void fork_child_reset_locks() noexcept;  // (run by the runtime's first pthread_atfork child step)

// Why a parked task was made runnable again.
enum class Wake : uint8_t {
    None,
    Notified,     // the object it waited on signalled it
    TimedOut,     // its own timeout expired
    Interrupted,  // an exception is pending for it (kill, green::Timeout)
    Closed,       // the descriptor it waited on was closed (EBADF)
    Signal,       // a signal handler ran while it waited (EINTR for the preload)
    LoopExit,     // nothing can ever wake it (only the thread's root task gets this)
    Deliver,      // (internal to Hub::park) something was delivered to run in its context
};

// What a parked task waits on, for LoopExit and deadlock reports.
struct WaitInfo {
    const char* what = nullptr;  // "Event", "read", "sleep", ...
    const void* object = nullptr;
    long arg = -1;  // a descriptor, a pid, ...
};

// How a wait reacts to a signal handler running.
inline constexpr uint8_t kInterruptNever = 0;
inline constexpr uint8_t kInterruptUnlessRestart = 1;  // read, write, accept...: EINTR unless SA_RESTART
inline constexpr uint8_t kInterruptAlways = 2;         // sleep, poll, select, epoll_wait: always EINTR

// One park's wake-up, handed out before the task registers anywhere (Boost.Fiber's create_waker):
// whoever holds it may end that park, from any thread (Hub::wake); once the park is over, or if the
// task never parks with it, it is a no-op. Each Waker a task takes supersedes the previous one.
struct Waker {
    Task* task = nullptr;
    uint64_t epoch = 0;
};

// Everything a park waits for besides its waker: the one description of a wait.
struct ParkSpec {
    double timeout = -1;                  // seconds; < 0: no limit
    WaitInfo what{};                      // for reports
    uint8_t interrupt = kInterruptNever;  // which signal handlers end it (Wake::Signal)
};

// An execution context: a suspended fiber or the thread's own stack. Implemented in context/fiber.cpp,
// the one file that includes Boost.Context.
struct Stack {
    char* lo = nullptr;  // lowest usable byte; the guard page (if any) sits just below
    size_t size = 0;
    uint32_t kind = 0;  // StackPool's bookkeeping
};

class Context {
public:
    using Entry = Context* (*)(void* arg);  // runs the fiber, returns where to go when it ends
    // Prepare a fiber that runs entry(arg) on `stack`, below its top `reserved_top` bytes (a thread
    // control block may live there). When entry returns, the fiber ends, control goes to the
    // context it returned and `stack` goes back to the pool.
    void create(Stack stack, size_t reserved_top, Entry entry, void* arg);
    // Switch from this (the running context) to `to`; returns when something switches back.
    void switch_to(Context* to);
    // Stand for the stack the calling thread is already running on (a thread's root task).
    void adopt_running_thread() { started_ = true; }
    // The return addresses on the stack of this context, suspended in a switch (never the running
    // one, nor one that another thread may resume meanwhile), innermost first: the unwinder runs on
    // top of that stack, and the context later resumes as if nothing had. 0 if it never ran, has
    // less than 16 KiB of stack left, or in sanitizer builds.
    int backtrace_suspended(void** frames, int max);
    bool started() const { return started_; }

private:
    friend struct ContextAccess;
    void* fctx_ = nullptr;  // where this context resumes (a Boost.Context fcontext_t)
    Entry entry_ = nullptr;
    void* arg_ = nullptr;
    Stack stack_;
    bool started_ = false;
    bool fresh_ = false;              // created, not yet entered
    bool entered_after_end_ = false;  // its first entry comes from a fiber that ended
};

struct Waiter;

// The lock that guards a list is its owner's (an object may keep several lists under one lock).
class WaitList {
public:
    // All below require the owner's lock held.
    void push_back(Waiter* w) noexcept;
    void erase(Waiter* w) noexcept;
    bool empty() const noexcept { return head_ == nullptr; }
    Waiter* front() const noexcept { return head_; }
    // Unlink the first waiter, mark it notified and wake its task. False if none.
    bool notify_one() noexcept;
    size_t notify_all() noexcept;

private:
    Waiter* head_ = nullptr;
    Waiter* tail_ = nullptr;
};

// One waiter on a WaitList; lives on the waiting task's stack for the duration of the wait.
struct Waiter {
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    Waker waker;
    bool linked = false;    // on a list (under the list's lock)
    bool notified = false;  // set by the notifier under the list's lock
};

struct LocalSlot {
    const void* key;
    void* value;
    void (*destroy)(void*);
};

struct Task {
    enum class State : uint8_t { New, Ready, Running, Parked, Dead };

    Task();
    virtual ~Task();
    virtual void run() = 0;  // the body; stores the result in the subclass

protected:
    // The runtime's own records (a hub's root and loop, a carrier's home) are no greenlets: they
    // stay out of the counts GREEN_STATS reports (created, peak alive).
    struct Uncounted {};
    explicit Task(Uncounted) noexcept;

public:
    // std::stop_token support: only greenlets whose body takes a token have a stop source.
    virtual bool request_stop() noexcept { return false; }
    virtual std::stop_token stop_token() const noexcept { return {}; }

    std::atomic<int> refs{1};
    // The hub that runs it: set at spawn; in a group of hubs (HubGroup) a task that yielded may be
    // moved to an idle hub while it waits on the ready queue (written by its hub's thread then).
    Hub* hub = nullptr;
    uint64_t id = 0;
    const bool counted = true;  // in Hub::tasks_created/alive/peak (false: Uncounted)

    // Scheduling state, the hub's alone (layers above wait through Hub::prepare_park and park).
    // These two are for reports: read from the task's own hub thread.
    State state_now() const noexcept { return state_; }
    const WaitInfo& waiting_on() const noexcept { return waiting_; }
    bool parked_interruptibly() const noexcept { return state_ == State::Parked && interrupt_ != kInterruptNever; }
    // The epoch of its latest park (Hub::prepare_park): changed means it prepared to park since.
    uint64_t park_epoch() const noexcept { return __atomic_load_n(&seq_, __ATOMIC_RELAXED); }

private:
    friend class Hub;
    friend struct Handoff;
    // hub thread:
    Task* ready_next_ = nullptr;  // on hub's ready queue
    Task* live_prev_ = nullptr;   // on hub's list of live tasks
    Task* live_next_ = nullptr;
    uint64_t seq_ = 0;  // park epoch: the last Waker handed out
    State state_ = State::New;
    Wake wake_ = Wake::None;
    bool movable_ = false;   // on the ready queue from a yield: another hub may take it
    uint8_t interrupt_ = 0;  // the current park accepts Wake::Signal: kInterrupt*
    WaitInfo waiting_;       // what the current park is for
    uint64_t gen_ = 0;       // the hub's hold generation it last resumed under (hub.hpp)
    // A wake that came before the task parked with that epoch (it was kept on its own OS thread
    // by a hand-off meanwhile): its park returns at once.
    uint64_t early_epoch_ = 0;
    Wake early_wake_ = Wake::None;
    // Hub::deliver: something to run in its context (a signal handler) at its next resume; any
    // thread sets it. While it runs, the wait it interrupted is set aside: a wake for that wait's
    // epoch is kept (outer_wake_) instead of ending the handler's own waits; once it has run, the
    // wait goes on under that epoch too (alias_epoch_). 0: none.
    std::atomic<bool> due_{false};
    uint64_t outer_epoch_ = 0;
    Wake outer_wake_ = Wake::None;
    uint64_t alias_epoch_ = 0;
    // The carrier (OS thread, hub.hpp) whose per-thread words its own TCB last took (Hub::sync_tcb);
    // 0 when they must be taken again at its next run (none yet, or moved to another hub).
    uint64_t tcb_carrier_ = 0;

public:
    std::exception_ptr pending;  // thrown at the next wait point (kill, Timeout); hub thread
    Context ctx;
    Stack stack;
    size_t stack_size = 0;  // requested; 0 = default
    // The thread pointer (FS base: a thread control block and its static TLS) the task runs with.
    // Null: its OS thread's own, unless a layer above gives the task one of its own (the
    // preload's green threads, and its root when hand-off moves the root between OS threads);
    // the hub task runs with whichever is installed (it touches only the runtime's own TLS).
    void* tcb = nullptr;
    // Called once the task's stack exists, before it first runs, in the creator's context: may
    // build a TCB at the top of the stack (setting `tcb`) and returns the bytes it took there.
    size_t (*place_tcb)(Task*) = nullptr;
    size_t tcb_reserved = 0;  // bytes at the top of `stack` that are not the fiber's
    std::string name;
    std::vector<LocalSlot> locals;  // green::local<T> values, destroyed at exit
    // Its green::Coroutine switch state for the value type it switched with last: a shortcut past
    // `locals`, which holds it (the running greenlet's own use; coroutine.hpp).
    const void* switch_key = nullptr;
    void* switch_state = nullptr;
    void* user = nullptr;              // owned by a layer above (the preload's thread record)
    void (*on_exit)(Task*) = nullptr;  // called in the task's context just before it dies
    // any thread (under lock):
    SpinLock lock;
    std::atomic<bool> dead{false};
    bool killed = false;       // died of GreenletExit
    std::exception_ptr error;  // how it died, if by an exception
    bool error_observed = false;
    WaitList joiners;
    std::vector<std::function<void()>> links;

    void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
};

// The running task of the calling thread (creating the thread's hub if needed).
Task* current_task();
// Park the running task on `list` until notified, timed out (seconds; < 0 = never) or interrupted.
// `lock` guards the list and is held by the caller; it is released while parked and held again on
// return. Returns true if notified. On kill/Timeout/LoopExit it unlinks, passes an unconsumed
// notification on to the next waiter, releases the lock and throws.
bool wait_on(SpinLock& lock, WaitList& list, double timeout, WaitInfo info);

// Wait (lock held) until pred() holds or `timeout` seconds pass; false on timeout.
template <class Pred> bool wait_until(SpinLock& lock, WaitList& list, double timeout, WaitInfo info, Pred pred);
// Throw what is pending for the running task, if anything (after a Wake::Interrupted/LoopExit).
void throw_pending(Wake why);

// Seconds from CLOCK_MONOTONIC, the clock of every timeout.
double monotonic_now() noexcept;

template <class Pred> bool wait_until(SpinLock& lock, WaitList& list, double timeout, WaitInfo info, Pred pred) {
    if (pred()) return true;
    if (timeout == 0) return false;
    double deadline = timeout > 0 ? monotonic_now() + timeout : 0;
    for (;;) {
        double left = -1;
        if (timeout > 0) {
            left = deadline - monotonic_now();
            if (left <= 0) return pred();
        }
        wait_on(lock, list, left, info);
        if (pred()) return true;
    }
}

}  // namespace green::detail
