// hub/handoff.cpp: a hub goes on on another OS thread while one of its tasks keeps its own.
//
// A task that blocks where no hook sees it (a raw system call, a spin-wait, a long computation)
// holds its hub's OS thread. The monitor (stall_monitor.cpp) notices the hub has not switched for
// the threshold while in the task phase of its hold word (hub.hpp), takes the hub with one CAS,
// and gives it to another OS thread: a task waiting to get the hub back, else an idle carrier of
// the pool, else a new one. The task that was left keeps its OS thread; at its next entry into the
// runtime its CAS fails, it asks for the hub back (rejoin) and its OS thread waits until the hub's
// current carrier hands the hub over at the top of its loop (serve_requests). So a task never moves
// while it runs; the hub's other tasks go where the hub goes, as Go's Ps go from M to M.
//
// Carriers are OS threads that can run a hub: the hub's first thread, and the pool's. A carrier
// that gives a hub away goes home (a pool thread's own stack; for the hub's first thread, whose
// stack is the root task's, a small fiber) and waits there to be given a hub again.
#include "hub.hpp"

#include "../context/raw_syscall.hpp"
#include "stall_monitor.hpp"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <utility>

namespace green::detail {

std::atomic<uint64_t> Hub::handoffs{0};

struct HomeTask final : Task {
    HomeTask() noexcept : Task(Uncounted{}) {}
    void run() override {}
};

struct Carrier {
    pid_t tid = 0;
    void* tcb = nullptr;            // its own thread pointer
    HomeTask* home = nullptr;       // where it waits between hubs
    bool pool = false;              // a pool thread (ends after kIdleExit at home)
    uint64_t serial = 0;            // Hub::carrier_serial_ while it carries a hub
    std::atomic<uint32_t> wake{0};  // futex word: set when `assigned` is
    Hub* assigned = nullptr;        // a hub to take up (set by the monitor)
    HoldRequest* grant = nullptr;   // to grant once home (set by serve_requests)
    Hub* grant_hub = nullptr;
    Carrier* next_idle = nullptr;
    Carrier* next_all = nullptr;  // every carrier, for the stall report
    // Set while the task its hub was taken from runs on here, outside the runtime: what the
    // stall report says of it (copied: the task may end as soon as it is back).
    std::atomic<bool> out{false};
    bool out_reported = false;
    double out_since = 0;
    uint64_t out_id = 0;
    char out_name[32] = {};
};

// A task back from a hand-off, waiting on its own OS thread for its hub; on that thread's stack.
struct HoldRequest {
    Task* task;
    Carrier* carrier;
    HoldRequest* next = nullptr;
    std::atomic<uint32_t> granted{0};
};

namespace {

thread_local Carrier* tls_carrier __attribute__((tls_model("initial-exec"))) = nullptr;

SpinLock g_pool_lock;
Carrier* g_idle = nullptr;  // carriers waiting at home
Carrier* g_all = nullptr;   // every carrier
int g_pool_threads = 0;
constexpr int kPoolMax = 64;  // OS threads the pool may start (each holds a task left behind)
constexpr size_t kHomeStack = 64 << 10;
constexpr long kIdleExitSeconds = 10;  // a pool thread idle this long ends (started again on need)

void futex_wait(std::atomic<uint32_t>* word, uint32_t val, const timespec* timeout = nullptr) noexcept {
    raw_syscall(SYS_futex, long(word), FUTEX_WAIT_PRIVATE, long(val), long(timeout));
}
void futex_wake(std::atomic<uint32_t>* word) noexcept { raw_syscall(SYS_futex, long(word), FUTEX_WAKE_PRIVATE, 1); }

// A carrier at home takes no signal: the program's go to the OS threads running its code.
void block_all_signals() noexcept {
    sigset_t all;
    sigfillset(&all);
    raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&all), 0, long(sizeof(long)));
}

void carrier_loop(Carrier* c) noexcept;

Context* home_entry(void* arg) {
    carrier_loop(static_cast<Carrier*>(arg));  // the hub's first OS thread: returns never
    abort();
}

void add_carrier(Carrier* c) noexcept {
    std::lock_guard g(g_pool_lock);
    c->next_all = g_all;
    g_all = c;
}

// A pool thread's end: off both lists (it is not on the idle one: the caller took it off).
void remove_carrier(Carrier* c) noexcept {
    std::lock_guard g(g_pool_lock);
    for (Carrier** p = &g_all; *p; p = &(*p)->next_all)
        if (*p == c) {
            *p = c->next_all;
            break;
        }
    --g_pool_threads;
}

void* pool_main(void* arg) {
    auto* c = static_cast<Carrier*>(arg);
    name_os_thread("green-carrier");  // it carries a hub once a hand-off gives it one
    block_all_signals();
    // malloc's cache for this thread now: tasks with TCBs of their own share it while they run
    // here (Hub::sync_tcb), so it must exist before they take its address.
    free(malloc(1));
    c->tid = pid_t(raw_syscall(SYS_gettid));
    c->tcb = thread_pointer();
    tls_carrier = c;
    c->home->ctx.adopt_running_thread();
    add_carrier(c);
    carrier_loop(c);
    remove_carrier(c);
    tls_carrier = nullptr;
    delete c->home;
    delete c;
    return nullptr;
}

// Start a pool thread; it waits at home until the monitor gives it a hub.
void spawn_carrier() noexcept {
    {
        std::lock_guard g(g_pool_lock);
        if (g_pool_threads >= kPoolMax) return;
        ++g_pool_threads;
    }
    auto* c = new (std::nothrow) Carrier;
    HomeTask* home = c ? new (std::nothrow) HomeTask : nullptr;
    if (c && home) {
        c->home = home;
        c->pool = true;
        c->serial = new_carrier_serial();
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 << 10);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);  // (pthread_detach is a hook)
        pthread_t t;
        int rc = native_pthread_create(&t, &attr, pool_main, c);
        pthread_attr_destroy(&attr);
        if (rc == 0) return;
    }
    delete home;
    delete c;
    std::lock_guard g(g_pool_lock);
    --g_pool_threads;
}

// An idle carrier (off the idle list), or null.
Carrier* take_carrier() noexcept {
    std::lock_guard g(g_pool_lock);
    Carrier* c = g_idle;
    if (c) g_idle = c->next_idle;
    return c;
}

// Off the idle list if it still is there (nothing was assigned to it): then it may end.
bool retire_idle(Carrier* c) noexcept {
    std::lock_guard g(g_pool_lock);
    for (Carrier** p = &g_idle; *p; p = &(*p)->next_idle)
        if (*p == c) {
            *p = c->next_idle;
            return true;
        }
    return false;
}

void put_idle(Carrier* c) noexcept {
    std::lock_guard g(g_pool_lock);
    c->next_idle = g_idle;
    g_idle = c;
}

}  // namespace

struct Handoff {
    static HoldRequest* pop_request(Hub* h) noexcept {
        // Take the whole stack and put back all but its oldest (requests are rare: a few at most).
        HoldRequest* all = h->requests_.exchange(nullptr, std::memory_order_acquire);
        if (!all) return nullptr;
        HoldRequest* prev = nullptr;
        HoldRequest* r = all;
        while (r->next) {
            prev = r;
            r = r->next;
        }
        if (prev) {
            prev->next = nullptr;
            push_requests(h, all, prev);
        }
        return r;
    }
    static void push_requests(Hub* h, HoldRequest* first, HoldRequest* last) noexcept {
        HoldRequest* head = h->requests_.load(std::memory_order_relaxed);
        do last->next = head;
        while (!h->requests_.compare_exchange_weak(head, first, std::memory_order_release, std::memory_order_relaxed));
    }

    static void grant(Hub* h, HoldRequest* r) noexcept {
        Task* t = r->task;
        h->current_ = t;
        t->state_ = Task::State::Running;
        t->gen_ = h->gen_;
        h->carrier_ = r->carrier;
        h->carrier_serial_ = r->carrier->serial;
        h->carrier_tcb_ = r->carrier->tcb;
        h->installed_tcb_ = t->tcb ? t->tcb : r->carrier->tcb;  // what its OS thread runs with
        h->os_tid_ = r->carrier->tid;
        h->hold_.store(h->gen_ << 1, std::memory_order_release);
        r->granted.store(1, std::memory_order_release);
        futex_wake(&r->granted);
    }

    // Run `h` on carrier `c` (its home context calls this) until the hub is given away.
    static void carry(Carrier* c, Hub* h) noexcept {
        raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&h->program_mask_), 0, long(sizeof(long)));
        tls_hub = h;
        h->carrier_ = c;
        h->carrier_serial_ = c->serial;
        h->carrier_tcb_ = c->tcb;
        h->installed_tcb_ = c->tcb;
        h->os_tid_ = c->tid;
        HomeTask* home = c->home;
        home->hub = h;
        home->state_ = Task::State::Running;
        home->gen_ = h->gen_;  // inside the runtime: hooks its code reaches pass straight through
        h->current_ = home;
        tls_task = home;
        // Resume the loop where it stopped; the home's context is kept until the hub task comes
        // back here (serve_requests) to give the hub to a task that asked for it.
        h->resume_loop();
        block_all_signals();
    }

    // `since`: when the task holding the hub last switched (for the stall report).
    static bool try_steal(Hub* h, double since) noexcept {
        if (!h->handoff_steal_.load(std::memory_order_relaxed) || h->live_count_.load(std::memory_order_relaxed) < 2)
            return false;
        uint64_t cur = h->hold_.load(std::memory_order_acquire);
        if (!(cur & Hub::kTaskPhase)) return false;
        HoldRequest* r = h->requests_.load(std::memory_order_acquire);
        Carrier* c = r ? nullptr : take_carrier();
        if (!r && !c) {
            // Pool threads start when first needed and end when long idle: a program that never
            // blocks where no hook sees it has no OS thread beyond its own and the monitor.
            int n;
            {
                std::lock_guard g(g_pool_lock);
                n = g_pool_threads;
            }
            if (n >= kPoolMax) {
                static std::atomic<bool> said{false};
                if (!said.exchange(true))
                    fprintf(stderr,
                            "green: a hub is blocked and no OS thread can take it over (%d carry "
                            "hubs already); its green threads wait\n",
                            kPoolMax);
                return false;
            }
            spawn_carrier();  // found idle at home below, within a few hundred microseconds
        }
        const uint64_t gen = (cur >> 1) + 1;
        if (!h->hold_.compare_exchange_strong(cur, gen << 1, std::memory_order_acq_rel)) {
            if (c) put_idle(c);
            return false;
        }
        // The hub is the monitor's now: the task that held it can no longer enter it.
        h->gen_ = gen;
        h->kept_.fetch_add(1, std::memory_order_seq_cst);  // until it rejoins: the hub is not idle
        if (Carrier* left = h->carrier_) {
            const Task* t = h->current_;
            left->out_since = since;
            left->out_id = t->id;
            snprintf(left->out_name, sizeof left->out_name, "%s", t->name.c_str());
            left->out_reported = false;
            left->out.store(true, std::memory_order_release);
        }
        Hub::handoffs.fetch_add(1, std::memory_order_relaxed);
        // A task waiting for the hub comes first (the one seen above stays listed until popped).
        if ((r = pop_request(h))) {
            if (c) put_idle(c);
            grant(h, r);
            return true;
        }
        // The request seen above was served meanwhile: the hub needs a carrier all the same.
        while (!c && !(c = take_carrier())) raw_sleep_us(200);
        {
            c->assigned = h;
            c->wake.store(1, std::memory_order_release);
            futex_wake(&c->wake);
        }
        return true;
    }
};

namespace {

// Until the carrier is retired (pool threads, after kIdleExitSeconds with nothing to carry).
void carrier_loop(Carrier* c) noexcept {
    for (;;) {
        if (HoldRequest* r = std::exchange(c->grant, nullptr)) Handoff::grant(std::exchange(c->grant_hub, nullptr), r);
        block_all_signals();
        if (!c->wake.load(std::memory_order_acquire)) {
            idle_internal_threads.fetch_add(1);
            put_idle(c);
            const double deadline = monotonic_now() + kIdleExitSeconds;
            while (!c->wake.load(std::memory_order_acquire)) {
                if (!c->pool) {
                    futex_wait(&c->wake, 0);
                    continue;
                }
                double left = deadline - monotonic_now();
                if (left <= 0 && retire_idle(c)) {
                    idle_internal_threads.fetch_sub(1);
                    return;
                }
                timespec ts{time_t(left > 0 ? left : 0), long((left > 0 ? left - long(left) : 0.001) * 1e9)};
                futex_wait(&c->wake, 0, &ts);
            }
            idle_internal_threads.fetch_sub(1);
        }
        c->wake.store(0, std::memory_order_relaxed);
        Hub* h = std::exchange(c->assigned, nullptr);
        if (h) Handoff::carry(c, h);
    }
}

}  // namespace

void Hub::enable_handoff(double threshold, void* first_carrier_tcb) noexcept {
    if (handoff_ || threshold <= 0) return;
    Task* self = tls_task;
    if (!self || self->hub != this || self == hub_task_) return;
    if (first_carrier_tcb && (self != root_ || root_->tcb || !sync_tcb)) return;
    auto* c = new (std::nothrow) Carrier;
    if (!c) return;
    c->tid = os_tid_;
    c->serial = carrier_serial_;
    tls_carrier = c;  // (in the thread's own TCB: copied into the carrier TCB below)
    if (first_carrier_tcb) {
        // The root keeps the thread's TLS wherever it runs; this OS thread's runtime code gets
        // a TCB of its own, with the same per-thread words for now.
        sync_tcb(first_carrier_tcb, carrier_tcb_);
        root_->tcb = carrier_tcb_;
        root_->tcb_carrier_ = carrier_serial_;
        carrier_tcb_ = first_carrier_tcb;
    }
    c->tcb = carrier_tcb_;
    carrier_ = c;
    add_carrier(c);
    // The kernel's mask (the preload's pthread_sigmask answers with a green thread's own).
    raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, long(&program_mask_), long(sizeof(long)));
    gen_ = 0;
    for (Task* t = live_head_; t; t = t->live_next_) t->gen_ = 0;
    hub_task_->gen_ = 0;
    hold_.store(kTaskPhase, std::memory_order_release);  // the caller runs its own code
    handoff_ = true;
    handoff_steal_.store(true, std::memory_order_relaxed);
    watch_for_handoff(threshold);
}

bool handoff_try_steal(Hub* h, double since) noexcept { return Handoff::try_steal(h, since); }

void report_tasks_out(double threshold, double now, void (*report)(pid_t, uint64_t, const char*, double)) noexcept {
    std::lock_guard g(g_pool_lock);
    for (Carrier* c = g_all; c; c = c->next_all)
        if (c->out.load(std::memory_order_acquire) && !c->out_reported && now - c->out_since >= threshold) {
            c->out_reported = true;
            report(c->tid, c->out_id, c->out_name, now - c->out_since);
        }
}

void Hub::rejoin(Task* self) noexcept {
    HoldRequest r{self, tls_carrier};
    if (!r.carrier) {
        fprintf(stderr, "green: a task came back to its hub on an OS thread the hub does not know\n");
        abort();
    }
    r.carrier->out.store(false, std::memory_order_release);
    Handoff::push_requests(this, &r, &r);
    kick();
    while (!r.granted.load(std::memory_order_acquire)) futex_wait(&r.granted, 0);
    kept_.fetch_sub(1, std::memory_order_seq_cst);
    tls_task = self;
}

void Hub::serve_requests() noexcept {
    HoldRequest* r = Handoff::pop_request(this);
    if (!r) return;
    Carrier* me = tls_carrier;
    if (!me->home) {
        // The hub's first OS thread: its own stack is the root task's, so its home is a fiber.
        auto* home = new (std::nothrow) HomeTask;
        void* p =
            home ? mmap(nullptr, kHomeStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
        if (p == MAP_FAILED) {
            delete home;
            Handoff::push_requests(this, r, r);  // served when memory allows; the loop goes on
            return;
        }
        home->stack = Stack{static_cast<char*>(p), kHomeStack, 0};
        home->ctx.create(home->stack, 0, &home_entry, me);
        me->home = home;
    }
    ++gen_;
    hold_.store(gen_ << 1, std::memory_order_relaxed);
    me->grant = r;
    me->grant_hub = this;
    // Home runs with this OS thread's own TCB: the installed one may be a task's, and that task
    // may run elsewhere as soon as the hub is granted.
    if (installed_tcb_ != me->tcb) set_thread_pointer(me->tcb);
    // To the carrier's home, which grants the hub once this context is saved; the hub task is
    // resumed later by whichever OS thread then runs the hub.
    hub_task_->ctx.switch_to(&me->home->ctx);
    if (exited_) std::exchange(exited_, nullptr)->release();
}

void handoff_fork_lock(bool take) noexcept {
    if (take) g_pool_lock.lock();
    else g_pool_lock.unlock();
}

void Hub::after_fork_carrier() noexcept {
    Carrier* self = tls_carrier;
    if (self) {
        self->tid = pid_t(raw_syscall(SYS_gettid));
        self->next_all = nullptr;
        self->out.store(false, std::memory_order_relaxed);
    }
    // One thread now: a lock another held at fork (_Fork runs no atfork handler) is abandoned.
    g_pool_lock.unlock();
    g_idle = nullptr;  // the pool's threads are not in the child
    g_all = self;
    g_pool_threads = 0;
}

}  // namespace green::detail
