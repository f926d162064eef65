// hub/hub.cpp: the scheduler: switches, parks, wakes, timers and the loop (libev; with fd_waits.cpp).
#include "hub.hpp"

#include "../context/libc.hpp"
#include "../context/once.hpp"
#include "../context/raw_syscall.hpp"
#include "hub_group.hpp"
#include "hub_parts.hpp"
#include "../context/stack_pool.hpp"
#include "stall_monitor.hpp"

#include <green/errors.hpp>

#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

namespace green::detail {

thread_local Hub* tls_hub __attribute__((tls_model("initial-exec"))) = nullptr;
thread_local Task* tls_task __attribute__((tls_model("initial-exec"))) = nullptr;
std::atomic<uint64_t> Hub::tasks_created{0};
std::atomic<uint64_t> Hub::tasks_peak{0};
std::atomic<uint64_t> Hub::tasks_alive{0};
std::atomic<uint64_t> Hub::retired_switches{0};
std::atomic<uint64_t> Hub::retired_iterations{0};
void (*Hub::on_deadlock)(Hub&) = nullptr;
void (*Hub::on_process_signal)(int, bool) noexcept = nullptr;
void (*Hub::on_traces)(Hub&) noexcept = nullptr;
void (*Hub::overflow_advice)(const Task*, size_t, const char*, char*, size_t) noexcept = nullptr;
void (*Hub::sync_tcb)(void*, const void*) noexcept = nullptr;
std::atomic<uint64_t> Hub::moves{0};
std::atomic<int> idle_internal_threads{0};
thread_local bool tls_hub_gone __attribute__((tls_model("initial-exec"))) = false;

// Carriers (OS threads that run hubs) are numbered across all hubs: a task's TCB copies the
// per-OS-thread words of the carrier with the number it last ran on (Hub::install_tcb).
uint64_t new_carrier_serial() noexcept {
    static std::atomic<uint64_t> serials{0};
    return serials.fetch_add(1, std::memory_order_relaxed) + 1;
}
// libc's, not by name: in the preload the names are its hooks (context/libc.hpp).
int (*native_pthread_create)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*) = libc::pthread_create;
int (*native_sigaction)(int, const struct sigaction*, struct sigaction*) = libc::sigaction;

namespace {

thread_local bool tls_worker __attribute__((tls_model("initial-exec"))) = false;
std::atomic<bool> main_thread_only{false};  // see implicit_hub_main_thread_only()
thread_local bool tls_constructing __attribute__((tls_model("initial-exec"))) = false;
// Set while the runtime calls code that reaches libc through the preload's hooks (libev's
// eventfd write in ev_async_send): such a call must pass straight through. Taking the hook, a
// waker's write could count as a busy call, yield, rejoin a hub taken by a hand-off and wait for a
// kick that libev then skips, its "write pending" flag already set by the suspended write.
thread_local bool tls_runtime_call __attribute__((tls_model("initial-exec"))) = false;

// Wake `loop` from any thread (and from a signal handler).
void send_async(struct ev_loop* loop, void* async) noexcept {
    const bool outer = tls_runtime_call;
    tls_runtime_call = true;
    ev_async_send(loop, static_cast<ev_async*>(async));
    tls_runtime_call = outer;
}

// Destroys the thread's hub at thread exit, unless tasks other than the root still live: their
// stacks and wait registrations would dangle, so the hub is deliberately leaked instead.
struct HubOwner {
    ~HubOwner() { Hub::on_thread_exit(); }
};
thread_local HubOwner tls_owner;

struct RootTask final : Task {
    RootTask() noexcept : Task(Uncounted{}) {}
    void run() override {}
};
struct HubTask final : Task {
    HubTask() noexcept : Task(Uncounted{}) {}
    void run() override {}
};

struct TimerWait {
    ev_timer w;
    Task* task;
    uint64_t seq;
};

}  // namespace

void Hub::on_timer(struct ev_loop* loop, ev_timer* w, int) {
    auto* tw = reinterpret_cast<TimerWait*>(w);
    static_cast<Hub*>(ev_userdata(loop))->local_wake(tw->task, tw->seq, Wake::TimedOut);
}

void Hub::on_async(struct ev_loop* loop, ev_async*, int) { static_cast<Hub*>(ev_userdata(loop))->drain_remote(); }

namespace {

// ---- short timeouts -----------------------------------------------------------------------
//
// libev's epoll backend waits in whole milliseconds (usleep(10) would take 1.1 ms). A wait shorter
// than kPreciseBelow also arms the hub's timerfd for its deadline: epoll then returns on time and
// libev, seeing the time, runs the timer. The deadlines pending are kept so that the next one is
// armed when the earliest fires.
constexpr double kPreciseBelow = 2e-3;

struct PreciseTimer {
    ev_io w;
    int fd = -1;
    std::multiset<double> deadlines;  // monotonic seconds
    double armed = 0;                 // deadline the timerfd is set for; 0: none
};

void precise_arm(PreciseTimer& p, double deadline) {
    itimerspec its{};
    its.it_value.tv_sec = time_t(deadline);
    its.it_value.tv_nsec = long((deadline - double(time_t(deadline))) * 1e9);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    timerfd_settime(p.fd, TFD_TIMER_ABSTIME, &its, nullptr);
    p.armed = deadline;
}

void precise_cb(struct ev_loop*, ev_io* w, int) {
    auto* p = reinterpret_cast<PreciseTimer*>(w);
    uint64_t n;
    raw_syscall(SYS_read, p->fd, long(&n), long(sizeof n));
    p->armed = 0;
    double now = monotonic_now();
    auto it = p->deadlines.upper_bound(now);
    if (it != p->deadlines.end()) precise_arm(*p, *it);
}

int os_thread_count() {
    char buf[1024];
    if (raw_read_file("/proc/self/stat", buf, sizeof buf) < 0) return -1;
    // Field 20 (num_threads), counted after the parenthesised command name, which may hold spaces.
    char* p = strrchr(buf, ')');
    if (!p) return -1;
    int field = 2;
    for (++p; *p && field < 20; ++p)
        if (*p == ' ') ++field;
    return atoi(p);
}

}  // namespace

// ---- Hub ----------------------------------------------------------------------------------

struct Hub::Remote {
    struct Item {
        Task* task;
        uint64_t seq;
        Wake why;
        std::exception_ptr error;
        struct Call* call = nullptr;  // seq == kCallEpoch: run it here (Hub::call)
    };
    SpinLock lock;
    std::vector<Item> items;
    std::vector<Item> spare;
    uint64_t signal_seq = 0;
};

double monotonic_now() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

Hub& Hub::create_current() {
    if (tls_hub_gone) {
        fprintf(stderr, "green: a green call was made during this thread's exit, after its hub was destroyed\n");
        abort();
    }
    (void)&tls_owner;  // odr-use: registers the thread-exit destructor
    tls_hub = new Hub;
    return *tls_hub;
}

Hub* Hub::for_hooks() noexcept {
    if (__builtin_expect(tls_runtime_call, 0)) return nullptr;
    Hub* h = tls_hub;
    if (__builtin_expect(h != nullptr, 1)) return tls_task == h->hub_task_ || h->starting() ? nullptr : h;
    if (tls_hub_gone || tls_worker) return nullptr;
    if (main_thread_only.load(std::memory_order_relaxed) && raw_syscall(SYS_gettid) != raw_syscall(SYS_getpid)) {
        tls_worker = true;  // decided once per thread
        return nullptr;
    }
    try {
        return &current();
    } catch (...) {
        return nullptr;
    }
}

void Hub::mark_worker_thread() noexcept { tls_worker = true; }
void Hub::implicit_hub_main_thread_only() noexcept { main_thread_only.store(true); }
bool Hub::constructing() noexcept { return tls_constructing; }

bool Hub::in_runtime() noexcept {
    Hub* h = tls_hub;
    return tls_runtime_call || (h && (tls_task == h->hub_task_ || h->starting()));
}

// Set once, when the library is loaded (static TLS offsets are the same in every thread), never
// written by a hub: hubs of other threads read it on every switch.
ptrdiff_t Hub::errno_offset_ = reinterpret_cast<char*>(__errno_location()) - static_cast<char*>(thread_pointer());

// A fork child's side of the hubs (pthread_atfork): it has one thread, the caller's.
void Hub::fork_child() noexcept {
    handoff_fork_lock(false);
    // The runtime's idle threads counted (a ThreadPool's workers, the monitor, name lookups) are
    // not in the child, and must not make its deadlock test see fewer OS threads than there are.
    idle_internal_threads.store(0);
    HubGroup::after_fork();  // the group's other hubs' threads are not in the child
    if (tls_hub) tls_hub->fork_child_remote();
    if (tls_hub) tls_hub->after_fork();
}

Hub::Hub() {
    // errno is a word of static TLS: at the same offset from every TCB's thread pointer.
    carrier_tcb_ = installed_tcb_ = root_thread_tcb_ = thread_pointer();
    carrier_serial_ = new_carrier_serial();
    fd_waits_ = new_fd_waits();
    remote_ = new Remote;

    root_ = new RootTask;
    root_->hub = this;
    root_->state_ = Task::State::Running;
    root_->name = "main";
    root_->ctx.adopt_running_thread();
    link_live(root_);
    current_ = root_;
    tls_task = root_;

    hub_task_ = new HubTask;  // its fiber starts on the first switch to it
    hub_task_->hub = this;
    hub_task_->name = "hub";

    install_segv_handler();
    altstack_ = install_altstack();
    os_tid_ = root_tid_ = pid_t(raw_syscall(SYS_gettid));
    on_main_thread_ = root_tid_ == pid_t(raw_syscall(SYS_getpid));
    register_hub(this, os_tid_);
    // A forked child has one thread, the caller's: its hub must forget the others and re-make
    // libev's kernel state, whoever forks (the preload's fork hook does the same, harmlessly).
    static Once atfork_once;
    atfork_once([] {
        // The locks its child path takes are held across fork by the forking thread: another OS
        // thread (a carrier, a task a hand-off left behind) could hold one, which the child,
        // with one thread, would wait for for ever.
        // (Not the remote queue's lock: a thread that holds a lock of a layer above, the preload's
        // wait buckets, takes it to post a wake, and the two would wait for each other; the child
        // resets it instead: fork_child_remote.)
        pthread_atfork([] { handoff_fork_lock(true); }, [] { handoff_fork_lock(false); }, fork_child);
    });
}

// The libev loop and the runtime's descriptors under it (epoll, eventfd, timerfd) are made at the
// hub's first wait, not with the hub: a program whose calls all complete at once (ls, a child that
// lists its open descriptors) never has them. Made by the thread that runs the hub; other threads
// read loop_ only to post a wake-up (wake_loop), which a hub without a loop does not need: it
// drains its remote queue before it first sleeps.
void Hub::make_loop() {
    // Made on a task's stack now, not in the constructor: the hooks libev reaches (fcntl, close)
    // must see the runtime, not the task, or one of them could yield back into this hub's loop,
    // which would make a second loop. And these descriptors are the runtime's (the preload keeps
    // them out of the program's numbers).
    const bool outer = tls_runtime_call;
    tls_runtime_call = true;
    tls_constructing = true;
    struct ev_loop* loop = ev_loop_new(unsigned(EVBACKEND_EPOLL) | unsigned(EVFLAG_NOSIGMASK) | unsigned(EVFLAG_NOENV));
    if (!loop) loop = ev_loop_new(unsigned(EVFLAG_AUTO) | unsigned(EVFLAG_NOSIGMASK));
    if (!loop) {
        fprintf(stderr, "green: cannot create a libev loop: %s\n", strerror(errno));
        abort();
    }
    ev_set_userdata(loop, this);
    auto* async = new ev_async;
    ev_async_init(async, &Hub::on_async);
    ev_async_start(loop, async);
    ev_unref(loop);  // a hub with nothing but its wake-up channel has nothing to wait for
    async_ = async;
    auto* precise = new PreciseTimer;
    // By name, through the preload's hook: it keeps the runtime's descriptors out of the program's.
    precise->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (precise->fd >= 0) {
        ev_io_init(&precise->w, precise_cb, precise->fd, EV_READ);
        ev_io_start(loop, &precise->w);
        ev_unref(loop);  // not a reason for the loop to live
    }
    precise_ = precise;
    tls_constructing = false;
    tls_runtime_call = outer;
    __atomic_store_n(&loop_, loop, __ATOMIC_RELEASE);
}

void Hub::wake_loop() noexcept {
    if (struct ev_loop* loop = __atomic_load_n(&loop_, __ATOMIC_ACQUIRE)) send_async(loop, async_);
}

Hub::~Hub() {
    // Only reached when no task but the root lives (see HubOwner).
    unregister_hub(this);
    if (loop_) {
        tls_constructing = true;  // libev closing its descriptors is the runtime's business too
        ev_async_stop(loop_, static_cast<ev_async*>(async_));
        auto* precise = static_cast<PreciseTimer*>(precise_);
        if (precise->fd >= 0) {
            ev_ref(loop_);
            ev_io_stop(loop_, &precise->w);
            close(precise->fd);  // by name: the preload's hook forgets it as the runtime's descriptor
        }
        delete precise;
        ev_loop_destroy(loop_);
        tls_constructing = false;
        delete static_cast<ev_async*>(async_);
    }
    delete_fd_waits(fd_waits_);
    delete remote_;
    if (altstack_) remove_altstack(altstack_);
    // hub_task_ is suspended inside its loop: its fiber is abandoned, not unwound; its stack goes
    // back to the pool.
    if (hub_task_->ctx.started()) StackPool::release(hub_task_->stack);
    StackPool::flush_thread_cache();
    delete hub_task_;
    unlink_live(root_);
    root_->release();
}

void Hub::schedule(Task* t) {
    t->hub = this;
    Task* me = tls_task;
    if (me && me->hub == this) {
        Inside in(this, me);
        start_local(t);
    } else {
        // From another hub's thread (HubGroup): counted at once, for pick() to see it.
        remote_starts_.fetch_add(1, std::memory_order_relaxed);
        post_remote(t, kStartEpoch, Wake::None, nullptr);
    }
}

void Hub::start_local(Task* t) noexcept {
    t->state_ = Task::State::Ready;
    t->add_ref();  // the hub's reference, dropped when its fiber ends
    link_live(t);
    push_ready(t);
}

void Hub::serve() {
    serving_ = true;
    root_->name = "hub";
    for (;;) park(ParkSpec{-1, {"tasks to run", nullptr, -1}});
}

__attribute__((always_inline)) inline void Hub::switch_to(Task* next) {
    Task* prev = current_;
    if (next == prev) {
        prev->state_ = Task::State::Running;
        prev->movable_ = false;
        return;
    }
    if (__builtin_expect(!StackPool::canary_ok(prev->stack), 0)) report_overflow(prev, "canary overwritten");
    current_ = next;
    next->state_ = Task::State::Running;
    next->movable_ = false;
    next->gen_ = gen_;
    ++switches_;
    if (!next->ctx.started()) start_context(next);
    // errno is per TCB, and fibers share TCBs (greenlets their hub's, the hub fiber whichever is
    // installed): each keeps its own across switches.
    int saved_errno = tls_int_at(errno_offset_);
    busy_calls_.store(0, std::memory_order_relaxed);
    install_tcb(next);
    tls_task = next;
    prev->ctx.switch_to(&next->ctx);
    set_tls_int_at(errno_offset_, saved_errno);
    // prev resumes here, on the hub that runs it now: another one if it was moved (share_ready).
    Hub* h = prev->hub;
    if (h->exited_) {
        Task* e = std::exchange(h->exited_, nullptr);
        e->release();
    }
}

__attribute__((always_inline)) inline void Hub::switch_out() {
    Task* next;
    // A task back from a hand-off waits for the hub: only the hub task gives it away.
    if (budget_ < kRoundBudget && ready_head_ && !requests_.load(std::memory_order_relaxed)) {
        next = pop_ready();
        ++budget_;
    } else {
        next = hub_task_;
    }
    switch_to(next);
}

void Hub::local_wake(Task* t, uint64_t seq, Wake why) noexcept {
    if (__builtin_expect(t->outer_epoch_ != 0, 0) && seq == t->outer_epoch_) {
        // For the wait t set aside to run what was delivered: kept for when that has run.
        if (t->outer_wake_ == Wake::None) t->outer_wake_ = why;
        return;
    }
    if (t->state_ != Task::State::Parked) {
        // Queued only to run what was delivered: the wake it parked for is what it returns next.
        if (t->state_ == Task::State::Ready && t->wake_ == Wake::Deliver && seq != kAnyEpoch &&
            (seq == t->seq_ || seq == t->alias_epoch_)) {
            t->wake_ = why;
            return;
        }
        // Not parked yet with the epoch it handed out: it runs on an OS thread a hand-off left it,
        // and parks when the hub comes back to it. That park must not sleep.
        if (handoff_ && seq != kAnyEpoch && t->state_ == Task::State::Running &&
            seq == __atomic_load_n(&t->seq_, __ATOMIC_RELAXED) && why != Wake::Signal) {
            t->early_epoch_ = seq;
            t->early_wake_ = why;
        }
        return;  // else stale: that wait is over
    }
    if (seq != kAnyEpoch && t->seq_ != seq && (seq != t->alias_epoch_ || seq == 0)) return;  // stale: a later wait
    if (why == Wake::Signal && !t->interrupt_) return;
    t->state_ = Task::State::Ready;
    t->wake_ = why;
    push_ready(t);
}

void Hub::post_remote(Task* t, uint64_t seq, Wake why, std::exception_ptr error) noexcept {
    t->add_ref();  // keeps t alive until this hub has looked at the item
    enqueue_remote(t, seq, why, std::move(error), nullptr);
}

void Hub::enqueue_remote(Task* t, uint64_t seq, Wake why, std::exception_ptr error, Call* call) noexcept {
    HubGroup::posted(1);  // before the item is seen: its drain must not count it first
    {
        std::lock_guard g(remote_->lock);
        remote_->items.push_back({t, seq, why, std::move(error), call});
    }
    wake_loop();
}

bool Hub::wake_here(Task* t, uint64_t epoch, Wake why) noexcept {
    Task* me = tls_task;
    if (!me || me->hub != this) return false;
    // A task of this hub only if it holds the hub right now (not one a hand-off left behind); the
    // hub task runs only on the OS thread holding the hub.
    Entry e = me == hub_task_ ? Entry::Inside : try_enter(me);
    if (e == Entry::Elsewhere) return false;
    local_wake(t, epoch, why);
    if (e == Entry::Entered) leave(me);
    return true;
}

bool (*Hub::on_deliver)(Task* t, uint8_t interrupt) noexcept = nullptr;

void Hub::deliver(Task* t) noexcept {
    t->due_.store(true, std::memory_order_release);
    Hub* target = __atomic_load_n(&t->hub, __ATOMIC_ACQUIRE);
    if (target->wake_here(t, kAnyEpoch, Wake::Deliver)) return;
    target->post_remote(t, kAnyEpoch, Wake::Deliver, nullptr);
}

void Hub::wake(const Waker& w, Wake why) noexcept {
    if (!w.task) return;  // never handed out
    Hub* target = w.task->hub;
    if (target->wake_here(w.task, w.epoch, why)) return;
    target->post_remote(w.task, w.epoch, why, nullptr);
}

bool Hub::takes_signal_wake(const Task* t, bool restart) noexcept {
    // (Through its byte: clang's __atomic builtins take no enum.)
    const auto* state = reinterpret_cast<const uint8_t*>(&t->state_);
    if (__atomic_load_n(state, __ATOMIC_ACQUIRE) != uint8_t(Task::State::Parked)) return false;
    uint8_t how = __atomic_load_n(&t->interrupt_, __ATOMIC_RELAXED);
    return how == kInterruptAlways || (how == kInterruptUnlessRestart && !restart);
}

void Hub::wake_for_signal(Task* t, bool restart) noexcept {
    // A handler with SA_RESTART: the call goes on (read, accept...), unless it is one the kernel
    // never restarts (sleep, poll: kInterruptAlways). Without: any interruptible park ends.
    uint64_t epoch = kAnyEpoch;
    if (restart) {
        epoch = __atomic_load_n(&t->seq_, __ATOMIC_ACQUIRE);
        if (!takes_signal_wake(t, true) || epoch != __atomic_load_n(&t->seq_, __ATOMIC_ACQUIRE)) return;
    }
    Hub* target = t->hub;
    if (target->wake_here(t, epoch, Wake::Signal)) return;
    target->post_remote(t, epoch, Wake::Signal, nullptr);
}

struct Hub::Call {
    void (*fn)(Hub&, void*);
    void* arg;
    Waker waker;  // the caller's park, if it parks
    std::atomic<bool> done{false};
};

void Hub::call(void (*fn)(Hub&, void*), void* arg) noexcept {
    Task* me = tls_task;
    if (me && me->hub == this) {
        Inside in(this, me);
        fn(*this, arg);
        return;
    }
    Call c{fn, arg, {}};
    Hub* mine = for_hooks();  // a task that may park; else (a hub task, a native thread) it spins
    if (mine) c.waker = mine->prepare_park();
    enqueue_remote(nullptr, kCallEpoch, Wake::None, nullptr, &c);
    if (mine) mine->park(c.waker, ParkSpec{-1, {"another hub", this, -1}});
    while (!c.done.load(std::memory_order_acquire)) raw_syscall(SYS_sched_yield);
}

void Hub::run_call(Call* c) noexcept {
    c->fn(*this, c->arg);
    // Once done is set the caller may return and its task end: hold the task for the wake.
    const Waker w = c->waker;
    if (w.task) w.task->add_ref();
    c->done.store(true, std::memory_order_release);
    if (w.task) {
        wake(w, Wake::Notified);
        w.task->release();
    }
}

void Hub::post_program_mask(uint64_t bits) noexcept {
    posted_mask_.store(bits, std::memory_order_relaxed);
    mask_posted_.store(true, std::memory_order_release);
    wake_loop();
}

void Hub::leave_idle() noexcept {
    if (!idle_) return;
    idle_ = false;
    HubGroup::idle_leave();
}

void Hub::drain_remote() noexcept {
    if (mask_posted_.load(std::memory_order_relaxed) && mask_posted_.exchange(false, std::memory_order_acquire)) {
        uint64_t bits = posted_mask_.load(std::memory_order_relaxed);
        sigemptyset(&program_mask_);
        memcpy(&program_mask_, &bits, sizeof bits);  // the kernel's layout: bit sig-1 of word 0
        raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&program_mask_), 0, long(sizeof bits));
    }
    if (signalled_.exchange(false, std::memory_order_acquire)) local_wake(root_, remote_->signal_seq, Wake::Signal);
    if (process_signals_.load(std::memory_order_relaxed)) {
        uint64_t sigs = process_signals_.exchange(0, std::memory_order_acquire);
        uint64_t restart = process_restart_.exchange(0, std::memory_order_relaxed);
        for (; sigs && on_process_signal; sigs &= sigs - 1) {
            int sig = __builtin_ctzll(sigs) + 1;
            on_process_signal(sig, restart & (uint64_t(1) << (sig - 1)));
        }
    }
    if (traces_wanted_.load(std::memory_order_relaxed) && traces_wanted_.exchange(false) && on_traces) on_traces(*this);
    std::vector<Remote::Item>& batch = remote_->spare;
    {
        std::lock_guard g(remote_->lock);
        if (remote_->items.empty()) return;
        batch.swap(remote_->items);
    }
    // No longer idle before the items stop counting as on their way (HubGroup::posted below): the
    // first hub must never see this one idle with nothing in flight while it has a task to run.
    leave_idle();
    for (auto& it : batch) {
        if (it.seq == kCallEpoch) {
            run_call(it.call);
            continue;
        }
        if (it.seq == kStartEpoch) {
            start_local(it.task);
            remote_starts_.fetch_sub(1, std::memory_order_relaxed);
        } else if (it.seq == kAdoptEpoch) {
            link_live(it.task);  // still Ready: it runs here from now on
            push_ready(it.task);
            remote_starts_.fetch_sub(1, std::memory_order_relaxed);
        } else if (it.task->hub != this) {
            // Posted to the hub the task was on: it has been moved since (share_ready).
            Hub* now = __atomic_load_n(&it.task->hub, __ATOMIC_ACQUIRE);
            now->post_remote(it.task, it.seq, it.why, std::move(it.error));
        } else if (it.error) {
            interrupt(it.task, it.error);
        } else {
            local_wake(it.task, it.seq, it.why);
        }
        it.task->release();
    }
    HubGroup::posted(-int(batch.size()));
    batch.clear();
}

void Hub::note_signal(bool restart) noexcept {
    // Runs in a signal handler on this hub's thread: only the root task can be "the thread" whose
    // blocking call a signal interrupts, and only if it is parked right now.
    if (root_->state_ != Task::State::Parked) return;
    if (root_->interrupt_ != kInterruptAlways && (root_->interrupt_ != kInterruptUnlessRestart || restart)) return;
    remote_->signal_seq = root_->seq_;
    signalled_.store(true, std::memory_order_release);
    wake_loop();
}

void Hub::request_traces() noexcept {
    const int n = HubGroup::size();
    for (int i = 0; i < n; ++i) {
        Hub* h = n > 1 ? HubGroup::at(i) : tls_hub;
        if (!h) continue;
        h->traces_wanted_.store(true, std::memory_order_release);
        h->wake_loop();
    }
}

void Hub::note_process_signal(int sig, bool restart) noexcept {
    uint64_t b = uint64_t(1) << (sig - 1);
    if (restart) process_restart_.fetch_or(b, std::memory_order_relaxed);
    else process_restart_.fetch_and(~b, std::memory_order_relaxed);
    process_signals_.fetch_or(b, std::memory_order_release);
    wake_loop();
}

void Hub::interrupt(Task* t, std::exception_ptr e) {
    if (t->hub != this) return t->hub->post_remote(t, 0, Wake::Interrupted, std::move(e));
    if (t->state_ == Task::State::Dead) return;
    // A kill outranks a Timeout: never let a later exception replace a pending GreenletExit.
    if (t->pending) {
        try {
            std::rethrow_exception(t->pending);
        } catch (const GreenletExit&) {
            return;
        } catch (...) {}
    }
    t->pending = std::move(e);
    local_wake(t, kAnyEpoch, Wake::Interrupted);
}

namespace {
struct CallbackTimer {
    ev_timer w;
    void (*cb)(void*);
    void* arg;
};
void callback_timer_cb(struct ev_loop*, ev_timer* w, int) {
    auto* t = reinterpret_cast<CallbackTimer*>(w);
    t->cb(t->arg);
}
}  // namespace

void* Hub::start_timer(double seconds, void (*cb)(void*), void* arg) {
    need_loop();
    auto* t = new CallbackTimer{{}, cb, arg};
    ev_now_update(loop_);
    ev_timer_init(&t->w, callback_timer_cb, std::max(0.0, seconds), 0.);
    ev_timer_start(loop_, &t->w);
    return t;
}

void Hub::stop_timer(void* timer) noexcept {
    auto* t = static_cast<CallbackTimer*>(timer);
    ev_timer_stop(loop_, &t->w);
    delete t;
}

void Hub::resume_loop() noexcept { switch_to(hub_task_); }

void Hub::kick() noexcept { wake_loop(); }

void Hub::remove_external() noexcept {
    // Wake the hub first, then drop the count: once it is zero, the hub's thread may exit and
    // destroy it (HubOwner keeps a hub with outstanding work alive).
    wake_loop();
    external_.fetch_sub(1);
}

double Hub::precise_add(double timeout) {
    auto* p = static_cast<PreciseTimer*>(precise_);
    if (p->fd < 0) return 0;
    double deadline = monotonic_now() + timeout;
    try {
        p->deadlines.insert(deadline);
    } catch (...) {
        return 0;  // then the wait ends on libev's millisecond
    }
    if (p->armed == 0 || deadline < p->armed) precise_arm(*p, deadline);
    return deadline;
}

void Hub::precise_remove(double deadline) noexcept {
    auto* p = static_cast<PreciseTimer*>(precise_);
    auto it = p->deadlines.find(deadline);
    if (it != p->deadlines.end()) p->deadlines.erase(it);
}

void Hub::fairness_yield() noexcept {
    Task* self = tls_task;
    busy_calls_.store(0, std::memory_order_relaxed);
    if (self == hub_task_) return;
    {
        Inside in(this, self);
        self->state_ = Task::State::Ready;
        push_ready(self);
        switch_to(hub_task_);
    }
    run_delivered_now(self);
}

// A movable yield may resume on another hub of the group: after the switch it touches only the
// hub the task is on then (leave_where_resumed), never `this`.
void Hub::yield(bool movable) {
    Task* self = tls_task;
    if (self->pending) throw_pending(Wake::Interrupted);
    const bool entered = enter(self);
    self->state_ = Task::State::Ready;
    push_ready(self);
    self->movable_ = movable && may_move(self);
    switch_out();
    leave_where_resumed(self, entered);
    run_delivered_now(self);
    if (self->pending) throw_pending(Wake::Interrupted);
}

void Hub::yield_to_idle_hub() {
    Task* self = tls_task;
    if (self->pending) throw_pending(Wake::Interrupted);
    const bool entered = enter(self);
    self->state_ = Task::State::Ready;
    push_ready(self);
    self->movable_ = may_move(self);
    switch_to(hub_task_);  // whose loop shares ready tasks before it resumes one (loop_main)
    leave_where_resumed(self, entered);
    run_delivered_now(self);
    if (self->pending) throw_pending(Wake::Interrupted);
}

void Hub::leave_where_resumed(Task* self, bool entered) noexcept {
    Hub* now = self->hub;
    // Back to the task's own code: leave the runtime of the hub it runs on (Inside's destructor,
    // for a hub that may have changed; a new hub's hold protocol is on if its hand-off is).
    if (now == this ? entered : now->handoff_) now->leave(self);
}

void Hub::share_ready() noexcept {
    Hub* to = HubGroup::sleeping_hub(this);
    if (!to) return;
    uint64_t give = ready_count_ / 2;
    uint64_t n = ready_count_;
    // Take the movable ones from the front (they waited longest), keep the rest in order.
    for (uint64_t i = 0; i < n; ++i) {
        Task* t = pop_ready();
        if (give == 0 || !t->movable_) {
            push_ready(t);
            continue;
        }
        --give;
        t->movable_ = false;
        // The hub task runs with the TCB last installed, which may be this task's: the task may run
        // on the other hub's OS thread as soon as it is posted, so this one must not keep using it
        // (its runtime words would then name the other hub, and both OS threads would write them).
        if (t->tcb == installed_tcb_) hub_task_to_carrier_tcb();
        // Its TCB's runtime words name this hub; the other hub's carrier may be the OS thread they
        // were last taken from (carriers roam between hubs), so a matching number is no proof.
        t->tcb_carrier_ = 0;
        unlink_live(t);
        __atomic_store_n(&t->hub, to, __ATOMIC_RELEASE);
        to->remote_starts_.fetch_add(1, std::memory_order_relaxed);  // for pick(), as a start
        to->post_remote(t, kAdoptEpoch, Wake::None, nullptr);
        moves.fetch_add(1, std::memory_order_relaxed);
    }
}

// park() and park_handing_to(): `to` null for a plain park.
__attribute__((always_inline)) inline Wake Hub::park_then(const Waker& waker, const ParkSpec& spec, const Waker* to,
                                                          Wake why) {
    Task* self = tls_task;
    if (__builtin_expect(self == hub_task_, 0)) {
        fprintf(stderr, "green: a blocking call was made inside the hub (a libev callback): %s\n",
                spec.what.what ? spec.what.what : "?");
        abort();
    }
    if (__builtin_expect(waker.task != self || waker.epoch != self->seq_, 0)) {
        fprintf(stderr, "green: park with a stale waker (%s): a newer one was handed out\n",
                spec.what.what ? spec.what.what : "?");
        abort();
    }
    Inside in(this, self);
    if (self->pending) {
        if (to) local_wake(to->task, to->epoch, why);
        return Wake::Interrupted;
    }
    // Only once the hub is held: a hand-off may have given it to another OS thread, whose hub task
    // makes the loop at its first run; made here too, two loops would split the watchers.
    need_loop();
    if (__builtin_expect(self->early_wake_ != Wake::None, 0)) {
        Wake early = std::exchange(self->early_wake_, Wake::None);
        if (self->early_epoch_ == waker.epoch) {
            if (to) local_wake(to->task, to->epoch, why);
            return early;
        }
    }
    if (__builtin_expect(self->due_.load(std::memory_order_acquire), 0)) {
        // Delivered while it ran its own code: the handlers run before the wait, as the kernel's
        // would have, and the wait starts after them (unless what it waits for came meanwhile).
        if (Wake came = run_before_wait(self, waker); came != Wake::None) {
            if (to) local_wake(to->task, to->epoch, why);
            return came;
        }
    }
    // Field by field (the empty asm keeps the compiler from merging the loads): a ParkSpec its
    // caller just wrote field by field, read back as one 16-byte load, stalls store forwarding.
    const char* what = spec.what.what;
    asm("" : "+r"(what));
    self->waiting_.what = what;
    self->waiting_.object = spec.what.object;
    self->waiting_.arg = spec.what.arg;
    self->interrupt_ = spec.interrupt;  // before the state: takes_signal_wake reads them so
    self->wake_ = Wake::None;
    __atomic_store_n(reinterpret_cast<uint8_t*>(&self->state_), uint8_t(Task::State::Parked), __ATOMIC_RELEASE);
    const double timeout = spec.timeout;
    TimerWait tw;
    bool timed = timeout >= 0;
    double precise_deadline = 0;
    if (timed) {
        ev_now_update(loop_);  // the cached loop time may be stale after a long run of fibers
        ev_timer_init(&tw.w, &Hub::on_timer, timeout, 0.);
        tw.task = self;
        tw.seq = waker.epoch;
        ev_timer_start(loop_, &tw.w);
        if (timeout > 0 && timeout < kPreciseBelow) precise_deadline = precise_add(timeout);
    }
    Task* next = to ? to->task : nullptr;
    if (next && next->state_ == Task::State::Parked && next->seq_ == to->epoch && budget_ < kRoundBudget &&
        !requests_.load(std::memory_order_relaxed)) {
        next->wake_ = why;  // its park ends here: no queue, straight to it
        ++budget_;
        switch_to(next);
    } else {
        if (next) local_wake(next, to->epoch, why);
        switch_out();
    }
    if (__builtin_expect(self->due_.load(std::memory_order_acquire), 0)) run_delivered(self, waker, spec);
    if (timed) ev_timer_stop(loop_, &tw.w);
    if (precise_deadline) precise_remove(precise_deadline);
    self->waiting_ = {};
    self->interrupt_ = kInterruptNever;
    self->alias_epoch_ = 0;
    if (self->pending && self->wake_ != Wake::LoopExit) return Wake::Interrupted;
    return self->wake_;
}

Wake Hub::park(const Waker& waker, const ParkSpec& spec) { return park_then(waker, spec, nullptr, Wake::None); }

Wake Hub::park_handing_to(const Waker& waker, const ParkSpec& spec, const Waker& to, Wake why) {
    if (__builtin_expect(!to.task || to.task->hub != this, 0)) {  // not this hub's: an ordinary wake
        wake(to, why);
        return park_then(waker, spec, nullptr, Wake::None);
    }
    return park_then(waker, spec, &to, why);
}

Wake Hub::run_before_wait(Task* self, const Waker& waker) noexcept {
    const uint64_t outer_before = self->outer_epoch_;
    const Wake outer_wake_before = self->outer_wake_;
    Wake came = Wake::None;
    while (came == Wake::None && self->due_.load(std::memory_order_acquire)) {
        self->due_.store(false, std::memory_order_relaxed);
        self->outer_epoch_ = waker.epoch;  // wakes of this wait meanwhile are kept (local_wake)
        self->outer_wake_ = Wake::None;
        if (on_deliver) on_deliver(self, kInterruptNever);
        self->outer_epoch_ = outer_before;
        came = self->outer_wake_;
    }
    self->outer_wake_ = outer_wake_before;
    if (came == Wake::None && self->seq_ != waker.epoch) {
        // The handlers waited (under epochs of their own): this wait goes on under its waker's,
        // and a fresh one that nobody holds.
        self->alias_epoch_ = waker.epoch;
        prepare_park();
    }
    return came;
}

void Hub::run_delivered(Task* self, const Waker& waker, const ParkSpec& spec) noexcept {
    // (A handler's own wait may run handlers in turn: each level keeps the one below.)
    const uint64_t outer_before = self->outer_epoch_;
    const Wake outer_wake_before = self->outer_wake_;
    while (self->due_.load(std::memory_order_acquire)) {
        // The handlers run here, on top of the wait, in the task's own context; they may wait
        // themselves (their own epochs): a wake for this wait meanwhile is kept (local_wake).
        const Wake came = self->wake_;  // Deliver, or the wake of the wait itself (it came first)
        self->due_.store(false, std::memory_order_relaxed);
        self->outer_epoch_ = waker.epoch;
        self->outer_wake_ = Wake::None;
        self->alias_epoch_ = 0;
        const bool ends = on_deliver && on_deliver(self, spec.interrupt);
        self->outer_epoch_ = outer_before;
        Wake next = came != Wake::Deliver             ? came
                    : self->outer_wake_ != Wake::None ? self->outer_wake_
                    : ends                            ? Wake::Signal
                    : self->pending                   ? Wake::Interrupted
                                                      : Wake::None;
        if (next != Wake::None) {
            self->wake_ = next;
            break;
        }
        // The wait goes on under its own waker (and timer), and a fresh epoch: wakes left over
        // from the handlers' own waits are stale.
        self->alias_epoch_ = waker.epoch;
        prepare_park();
        self->waiting_ = spec.what;
        self->interrupt_ = spec.interrupt;
        self->wake_ = Wake::None;
        __atomic_store_n(reinterpret_cast<uint8_t*>(&self->state_), uint8_t(Task::State::Parked), __ATOMIC_RELEASE);
        switch_out();
    }
    self->outer_wake_ = outer_wake_before;
}

bool Hub::deadlocked() {
    if (serving_ || external_.load() != 0 || root_->state_ != Task::State::Parked) return false;
    if (kept_.load() != 0) return false;  // a task a hand-off left running may still wake one
    // The group's other hubs may still run tasks that wake one here.
    int group = HubGroup::size();
    if (group > 1 && (this != HubGroup::first() || !HubGroup::others_quiet())) return false;
    // Another OS thread (not one of libgreen's idle workers or hubs) might still wake a task here.
    if (os_thread_count() - idle_internal_threads.load() - (group - 1) > 1) return false;
    // A thread may have posted its wake and exited just before it was counted.
    drain_remote();
    return !ready_head_ && root_->state_ == Task::State::Parked;
}

void Hub::loop_main() {
    // While tasks are ready, libev is polled again only once every task that was ready at the last
    // poll has run (a round), and not more than every kPollInterval: polling while woken tasks still
    // wait to run would make the kernel report (and re-poll) their descriptors again, and a busy
    // set of yielders must still let I/O and timers in.
    constexpr double kPollInterval = 0.0005;
    double last_poll = 0;
    uint64_t round_end = 0;  // switches_ value at which the current round is over
    need_loop();
    for (;;) {
        budget_ = 0;
        ++iterations_;
        if (requests_.load(std::memory_order_relaxed)) serve_requests();
        drain_remote();
        if (ready_count_ > 1 && HubGroup::anyone_sleeping()) share_ready();
        if (ready_head_) {
            if (switches_ >= round_end) {
                double now = monotonic_now();
                if (now - last_poll >= kPollInterval) {
                    ev_run(loop_, EVRUN_NOWAIT);
                    drain_remote();
                    last_poll = now;
                    round_end = switches_ + ready_count_;
                }
            }
        } else {
            int alive = ev_run(loop_, EVRUN_NOWAIT);
            drain_remote();
            // A task back from a hand-off may have asked for the hub since the top of this loop,
            // and the poll above may have taken its kick: serve it before sleeping in the next.
            if (requests_.load(std::memory_order_acquire)) continue;
            if (!ready_head_) {
                if (!alive && deadlocked()) {
                    if (on_deadlock) on_deadlock(*this);
                    loop_exit_message_ = "green::LoopExit: this operation would block forever\n" + describe_waiters();
                    local_wake(root_, kAnyEpoch, Wake::LoopExit);
                } else {
                    if (!alive) ev_ref(loop_);  // only another thread can wake us: wait for its ev_async
                    if (handoff_) polling_.store(true, std::memory_order_relaxed);
                    const bool idle = !alive && serving_ && external_.load() == 0 && kept_.load() == 0;
                    if (idle) {
                        idle_ = true;
                        HubGroup::idle_enter();
                    }
                    const bool grouped = HubGroup::active();
                    if (grouped) HubGroup::sleeping(*this, true);  // ready tasks may be given to it
                    ev_run(loop_, EVRUN_ONCE);
                    if (grouped) HubGroup::sleeping(*this, false);
                    leave_idle();
                    if (handoff_) {
                        // Tasks are about to run: the monitor must look again (see may_sleep).
                        polling_.store(false, std::memory_order_seq_cst);
                        if (monitor_asleep.load(std::memory_order_seq_cst)) wake_monitor();
                    }
                    if (!alive) ev_unref(loop_);
                    drain_remote();
                }
            }
            last_poll = monotonic_now();
            round_end = switches_ + ready_count_;
        }
        if (ready_head_) switch_to(pop_ready());
    }
}

std::string Hub::describe_waiters() const {
    std::string out;
    char line[256];
    for (Task* t = live_head_; t; t = t->live_next_) {
        const char* state = "running";
        switch (t->state_) {
        case Task::State::New: state = "not started"; break;
        case Task::State::Ready: state = "ready"; break;
        case Task::State::Parked: state = "waiting on"; break;
        case Task::State::Dead: state = "dead"; break;
        default: break;
        }
        int n = snprintf(line, sizeof line, "  greenlet #%" PRIu64 " '%s' %s", t->id,
                         t->name.empty() ? "" : t->name.c_str(), state);
        out.append(line, std::min<size_t>(n, sizeof line - 1));
        if (t->state_ == Task::State::Parked) {
            n = snprintf(line, sizeof line, " %s", t->waiting_.what ? t->waiting_.what : "?");
            out.append(line, std::min<size_t>(n, sizeof line - 1));
            if (t->waiting_.object) {
                n = snprintf(line, sizeof line, " %p", t->waiting_.object);
                out.append(line, std::min<size_t>(n, sizeof line - 1));
            }
            if (t->waiting_.arg >= 0) {
                n = snprintf(line, sizeof line, " (%ld)", t->waiting_.arg);
                out.append(line, std::min<size_t>(n, sizeof line - 1));
            }
        }
        out += '\n';
    }
    return out;
}

void Hub::fork_child_remote() noexcept {
    // Held at the fork by a thread the child does not have: the queue may be mid-change; start
    // an empty one (the old storage is leaked). Its items were for that thread's wake-ups.
    if (!remote_->lock.try_lock()) new (&remote_->items) std::vector<Remote::Item>();
    remote_->lock.unlock();
}

void Hub::after_fork() noexcept {
    // The child of fork() has one thread: the task that called fork. Every other task's stack is
    // still mapped but nothing will ever resume it; forget them (their memory is leaked by design).
    if (loop_) ev_loop_fork(loop_);
    Task* self = tls_task;  // (current_ may name another task if a hand-off left this one behind)
    current_ = self;
    live_count_.store(0, std::memory_order_relaxed);
    // The child's one OS thread holds the hub; nothing hands it off any more (no monitor).
    handoff_steal_.store(false, std::memory_order_relaxed);
    requests_.store(nullptr, std::memory_order_relaxed);
    kept_.store(0, std::memory_order_relaxed);  // the caller holds the hub; no other task runs
    sleeping_.store(false, std::memory_order_relaxed);
    idle_ = false;  // (HubGroup::after_fork counts no hub idle)
    gen_ = self->gen_;
    hold_.store(gen_ << 1 | kTaskPhase, std::memory_order_relaxed);
    carrier_tcb_ = root_thread_tcb_ = installed_tcb_;
    os_tid_ = root_tid_ = pid_t(raw_syscall(SYS_gettid));
    on_main_thread_ = true;  // the child's only thread is its main thread
    serving_ = false;        // (a hub of a group: its root may be the caller now)
    after_fork_carrier();
    for (Task* t = live_head_; t; t = t->live_next_)
        if (t != self) t->state_ = Task::State::Dead;
    // Their fd waits stay armed in libev otherwise: they would keep the loop alive, or spin.
    if (loop_) forget_fd_waits(loop_, fd_waits_);
    ready_head_ = ready_tail_ = nullptr;
    ready_count_ = 0;
    live_head_ = nullptr;
    link_live(self);
    if (self != root_) {
        // The caller becomes the root of the child: nothing else can ever wake the old root. Its
        // TCB is the child's thread's (glibc's fork gave it the child's thread id).
        root_ = self;
    }
    // The timerfd is shared with the parent's hub: the child needs its own.
    auto* precise = static_cast<PreciseTimer*>(precise_);
    if (precise && precise->fd >= 0) {
        ev_ref(loop_);
        ev_io_stop(loop_, &precise->w);
        tls_constructing = true;  // the runtime's own descriptor: the preload lets it close it, and
        close(precise->fd);       // keeps the new one out of the program's numbers
        precise->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        tls_constructing = false;
        precise->deadlines.clear();
        precise->armed = 0;
        if (precise->fd >= 0) {
            ev_io_init(&precise->w, precise_cb, precise->fd, EV_READ);
            ev_io_start(loop_, &precise->w);
            ev_unref(loop_);
        }
    }
    remote_->items.clear();
    external_ = 0;
}

// ---- the primitive the sync objects share ----------------------------------------------------

Task* current_task() { return Hub::current().running(); }

void throw_pending(Wake why) {
    Hub& h = Hub::current();
    Task* self = h.running();
    if (why == Wake::LoopExit) throw LoopExit(h.loop_exit_message());
    if (self->pending) std::rethrow_exception(std::exchange(self->pending, nullptr));
}

}  // namespace green::detail
