// hub/task_lifecycle.cpp: a task from its making to its end, and the hub's end with its thread.
#include "hub_parts.hpp"

#include "hub.hpp"
#include "../context/libc.hpp"
#include "../context/stack_pool.hpp"

#include <green/errors.hpp>

#include <pthread.h>

#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <utility>
#include <vector>

namespace green::detail {

namespace {

std::atomic<uint64_t> next_task_id{1};

}  // namespace

// ---- Task ----------------------------------------------------------------------------------

Task::Task() : id(next_task_id.fetch_add(1, std::memory_order_relaxed)) {
    Hub::tasks_created.fetch_add(1, std::memory_order_relaxed);
    uint64_t alive = Hub::tasks_alive.fetch_add(1, std::memory_order_relaxed) + 1;
    uint64_t peak = Hub::tasks_peak.load(std::memory_order_relaxed);
    while (alive > peak && !Hub::tasks_peak.compare_exchange_weak(peak, alive, std::memory_order_relaxed)) {}
}

Task::Task(Uncounted) noexcept : id(next_task_id.fetch_add(1, std::memory_order_relaxed)), counted(false) {}

Task::~Task() {
    if (counted) Hub::tasks_alive.fetch_sub(1, std::memory_order_relaxed);
    if (error && !error_observed && !killed) {
        // Like asyncio's "Task exception was never retrieved": a failure nobody looked at.
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            fprintf(stderr, "green: greenlet #%" PRIu64 " died with an exception nobody retrieved: %s\n", id, e.what());
        } catch (const TimeoutExpired&) {
            fprintf(stderr, "green: greenlet #%" PRIu64 " died of an expired green::Timeout nobody retrieved\n", id);
        } catch (...) {
            fprintf(stderr, "green: greenlet #%" PRIu64 " died with a non-standard exception nobody retrieved\n", id);
        }
    }
}

// ---- the hub's live tasks (root included) --------------------------------------------------

void Hub::link_live(Task* t) noexcept {
    live_count_.store(live_count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    t->live_prev_ = nullptr;
    t->live_next_ = live_head_;
    if (live_head_) live_head_->live_prev_ = t;
    live_head_ = t;
}

void Hub::unlink_live(Task* t) noexcept {
    live_count_.store(live_count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    if (t->live_prev_) t->live_prev_->live_next_ = t->live_next_;
    else live_head_ = t->live_next_;
    if (t->live_next_) t->live_next_->live_prev_ = t->live_prev_;
    t->live_prev_ = t->live_next_ = nullptr;
}

// ---- a task's fiber: made at its first switch, ended in task_main --------------------------

Context* Hub::task_main(void* arg) {
    Task* t = static_cast<Task*>(arg);
    Hub* h = t->hub;
    if (h->exited_) {
        Task* e = std::exchange(h->exited_, nullptr);
        e->release();
    }
    if (t == h->hub_task_) h->loop_main();  // never returns
    if (h->handoff_) h->leave(t);           // from here on it runs its own code

    if (!t->pending) {
        try {
            t->run();
        } catch (const GreenletExit&) {
            t->killed = true;
        } catch (...) {
            t->error = std::current_exception();
        }
    } else {
        // Killed before it ever ran: it dies of what was pending without running its body.
        try {
            std::rethrow_exception(std::exchange(t->pending, nullptr));
        } catch (const GreenletExit&) {
            t->killed = true;
        } catch (...) {
            t->error = std::current_exception();
        }
    }
    h->finish_current(t);  // (touches no member of h: it may yield in on_exit)
    h = t->hub;            // it may have been moved to another hub of the group meanwhile (share_ready)
    h->enter(t);           // never leaves: the fiber ends

    // Leave for good: boost releases this stack on the next fiber's stack; the next one to run
    // drops the hub's reference to t.
    h->unlink_live(t);
    t->state_ = Task::State::Dead;
    h->exited_ = t;
    Task* next = (h->budget_ < kRoundBudget && h->ready_head_) ? nullptr : h->hub_task_;
    if (!next) {
        next = h->pop_ready();
        ++h->budget_;
    }
    h->current_ = next;
    next->state_ = Task::State::Running;
    next->movable_ = false;
    next->gen_ = h->gen_;
    ++h->switches_;
    if (!next->ctx.started()) h->start_context(next);
    h->busy_calls_.store(0, std::memory_order_relaxed);
    // From here on this fiber touches no TLS: the next one's TCB may be installed. Its own TCB
    // lives at the top of its stack, which goes back to the pool now: the hub task, which runs
    // with any TCB, must not be left on it.
    if (next == h->hub_task_ && t->tcb && h->installed_tcb_ == t->tcb) h->hub_task_to_carrier_tcb();
    h->install_tcb(next);
    tls_task = next;
    return &next->ctx;
}

void Hub::finish_current(Task* t) {
    // Green-local values die with their greenlet, in its own context (destructors may block).
    while (!t->locals.empty()) {
        LocalSlot s = t->locals.back();
        t->locals.pop_back();
        s.destroy(s.value);
    }
    if (t->on_exit) t->on_exit(t);
    std::vector<std::function<void()>> links;
    {
        std::lock_guard g(t->lock);
        t->dead.store(true, std::memory_order_release);
        t->joiners.notify_all();
        links.swap(t->links);
    }
    for (auto& f : links) {
        try {
            f();
        } catch (...) {
            fprintf(stderr, "green: a link callback of greenlet #%" PRIu64 " threw; ignored\n", t->id);
        }
    }
}

void Hub::start_context(Task* t) {
    // Inside a switch the running task is neither the one leaving nor the one coming: a hook
    // reached from here (a function-local static's guard, contended by another hub's thread,
    // waits with a futex through libc's syscall()) must go straight to libc, never park.
    // (A member, not TLS: the new task's TCB is made from the installed one's words here. It names
    // the task running here: one a hand-off left running on another OS thread meanwhile must not
    // see it, or its pthread_create made native threads: GREEN_HUBS=2, 100,000 threads, 359 OS
    // threads.)
    struct Starting {
        Hub* h;
        ~Starting() { __atomic_store_n(&h->starting_from_, nullptr, __ATOMIC_RELAXED); }
    } starting{this};
    __atomic_store_n(&starting_from_, tls_task, __ATOMIC_RELAXED);
    t->stack = StackPool::acquire(t->stack_size);
    t->tcb_reserved = t->place_tcb ? t->place_tcb(t) : 0;
    t->tcb_carrier_ = carrier_serial_;  // a new TCB copies the installed one's per-thread words
    t->ctx.create(t->stack, t->tcb_reserved, &Hub::task_main, t);
}

// ---- a fork child's other tasks; the hub's end with its thread -----------------------------

void Hub::forget_other_tasks() noexcept {
    for (Task* t = live_head_; t; t = t->live_next_)
        if (t != tls_task) t->state_ = Task::State::Dead;
}

void Hub::on_thread_exit() noexcept {
    // libev's close() calls below are cancellation points: a cancelled thread must not be
    // unwound from inside this destructor. (libc's: the preload's hook sets a green thread's.)
    int old_state;
    libc::pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_state);
    Hub* h = tls_hub;
    if (!h) {
        tls_hub_gone = true;
        return;
    }
    // exit() runs the main thread's thread_local destructors first, then atexit handlers and
    // library destructors, which may still join or wait for green threads (libuv's thread pool
    // does): the process is ending, so its main hub stays for them. (Known from the hub's making:
    // a process under a seccomp filter may not ask the kernel now.)
    if (h->on_main_thread_) return;
    tls_hub_gone = true;
    Hub::retired_switches += h->switches_;
    Hub::retired_iterations += h->iterations_;
    bool others = false;
    h->for_each_task([&](Task* t) { others |= t != h->root(); });
    tls_hub = nullptr;
    // A ThreadPool job may still be about to post to this hub: then it is leaked too.
    if (!others && h->external_.load() == 0) delete h;
}

}  // namespace green::detail
