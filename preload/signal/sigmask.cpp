// preload/signal/sigmask.cpp: a signal mask per green thread (pthread_sigmask, sigprocmask, sigpending,
// and pthread_kill's side of it).
//
// The kernel keeps one mask per OS thread, which all green threads of a hub share. Each green
// thread (and the root) gets its own mask here, and the hub's OS thread blocks exactly the signals
// that every one of them blocks: a process-directed signal is then delivered while any green thread
// would take it (natively: while any thread does not block it), and stays pending for the process
// (for sigwait, or until one unblocks it) when all block it. So workers that block SIGTERM no
// longer make the whole process deaf to it. The handler of a process-directed signal runs in
// whatever context the hub's OS thread is in; the wait it ends (EINTR) is that of a thread that
// does not block it, main first, as the kernel chooses (process_signal_arrived). A signal sent
// with pthread_kill to a green thread that blocks it waits, pending on that thread, until it
// unblocks it (sigpending shows it); sent to one that does not, the handler runs at once and the
// target's interruptible wait (sleep, read, pause...) ends with EINTR, or goes on if the handler
// has SA_RESTART and the call is one the kernel restarts (read, accept...).
#include "../core/hook.hpp"
#include "../threads/green_thread.hpp"
#include "../process/process.hpp"
#include "../core/real.hpp"
#include "../../libgreen/hub/hub_group.hpp"

#include <signal.h>

#include <cerrno>
#include <mutex>

namespace green::preload {

namespace {

using detail::Hub;

constexpr int kMaxSig = 64;
uint64_t bit(int sig) { return uint64_t(1) << (sig - 1); }

// The signals a program can never block (the kernel ignores them in a mask), and glibc's own
// (SIGCANCEL, SIGSETXID: its pthread_sigmask leaves them out).
constexpr uint64_t kUnblockable = (uint64_t(1) << (SIGKILL - 1)) | (uint64_t(1) << (SIGSTOP - 1)) |
                                  (uint64_t(1) << (32 - 1)) | (uint64_t(1) << (33 - 1));

uint64_t to_bits(const sigset_t& s) {
    uint64_t b = 0;
    for (int sig = 1; sig <= kMaxSig; ++sig)
        if (sigismember(&s, sig) == 1) b |= bit(sig);
    return b;
}
void to_set(uint64_t b, sigset_t* s) {
    sigemptyset(s);
    for (int sig = 1; sig <= kMaxSig; ++sig)
        if (b & bit(sig)) sigaddset(s, sig);
}

// Green threads and the root, per signal, that do not block it; the hub's OS thread blocks a
// signal when none is left. Active from the first green thread on.
detail::SpinLock g_lock;
const bool g_lock_fork_reset = reset_in_fork_child(g_lock);
bool g_active = false;
int g_unblocked[kMaxSig + 1];
std::atomic<uint64_t> g_root_blocked{0};
std::atomic<uint64_t> g_root_pending{0};
std::atomic<uint64_t> g_root_due{0};  // as GreenThread::sig_due, for main
bool g_root_delivering = false;

// Process-directed signals on their way to the context that takes them: the siginfo each came
// with (one per signal: the kernel, too, keeps one pending instance of a standard signal).
// Written in the trampoline, taken where the handler runs.
siginfo_t g_process_info[kMaxSig + 1];
std::atomic<bool> g_process_info_set[kMaxSig + 1];
// Process-directed signals given to main from the trampoline itself (main's due bits set there:
// main runs them at its next park or resume, however soon); the hub's loop only wakes main.
std::atomic<uint64_t> g_given_to_root{0};

// The calling thread's mask and pending words: a green thread's, the root's, or none (a native
// thread, the runtime's own code, or before the first green thread: the kernel's mask then).
struct Mine {
    std::atomic<uint64_t>* blocked;
    std::atomic<uint64_t>* pending;
};
Mine mine() noexcept {
    if (!g_active) return {nullptr, nullptr};
    Hub* h = Hub::current_or_null();
    if (!h || Hub::in_runtime()) return {nullptr, nullptr};
    if (GreenThread* g = current_green()) return {&g->sig_blocked, &g->sig_pending};
    if (h->running() == h->root()) return {&g_root_blocked, &g_root_pending};
    return {nullptr, nullptr};
}

// g_lock held: block in the kernel what no green thread takes (the calling OS thread, and any
// OS thread that carries the hub from now on).
void apply_kernel_mask() noexcept {
    uint64_t k = 0;
    for (int sig = 1; sig <= kMaxSig; ++sig)
        if (g_unblocked[sig] == 0) k |= bit(sig);
    // With several hubs, process-directed signals go to the first one's OS thread alone: the
    // others block them for good (sigmask_group_hub), and the first takes the mask when it can.
    Hub* first = detail::HubGroup::first();
    Hub* h = Hub::current_or_null();
    if (first && h != first) return first->post_program_mask(k & ~kUnblockable);
    sigset_t s;
    to_set(k & ~kUnblockable, &s);
    REAL(pthread_sigmask)(SIG_SETMASK, &s, nullptr);
    if (h) h->set_program_mask(s);
}

// g_lock held: a context with mask `b` comes (+1) or goes (-1); true if the kernel mask changes.
bool count(uint64_t b, int d) noexcept {
    bool changed = false;
    for (int sig = 1; sig <= kMaxSig; ++sig)
        if (!(b & bit(sig))) {
            int before = g_unblocked[sig];
            g_unblocked[sig] += d;
            changed |= (before == 0) != (g_unblocked[sig] == 0);
        }
    return changed;
}

// Deliver now the signals sent to the calling thread that it no longer blocks.
void deliver_unblocked(Mine m) noexcept {
    uint64_t ready = m.pending->load(std::memory_order_acquire) & ~m.blocked->load(std::memory_order_relaxed);
    while (ready) {
        int sig = __builtin_ctzll(ready) + 1;
        ready &= ready - 1;
        m.pending->fetch_and(~bit(sig), std::memory_order_acq_rel);
        signal_directed(sig);
    }
}

int set_mask(int how, const sigset_t* set, sigset_t* old) noexcept {
    // A vfork child shares the parent's memory: its mask is its own kernel's, nothing of ours.
    if (in_vfork_child()) return REAL(pthread_sigmask)(how, set, old);
    Mine m = mine();
    if (!m.blocked) return REAL(pthread_sigmask)(how, set, old);
    uint64_t cur = m.blocked->load(std::memory_order_relaxed);
    if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) return EINVAL;
    if (old) to_set(cur, old);
    if (!set) return 0;
    uint64_t b = to_bits(*set) & ~kUnblockable;
    uint64_t next = how == SIG_BLOCK ? cur | b : how == SIG_UNBLOCK ? cur & ~b : b;
    {
        std::lock_guard lk(g_lock);
        count(cur, -1);
        count(next, +1);
        m.blocked->store(next, std::memory_order_relaxed);
        // Always, as the kernel's call would: a child made with clone(CLONE_VM) behind the
        // preload's back may have changed the counts in this memory but not this thread's mask
        // (Python's subprocess: the process was left blocking every signal).
        apply_kernel_mask();  // a signal pending for the process may arrive here
    }
    deliver_unblocked(m);
    return 0;
}

}  // namespace

void sigmask_thread_created(GreenThread* g) noexcept {
    std::lock_guard lk(g_lock);
    if (!g_active) {
        // From the first green thread on, the kernel's mask is the root's.
        sigset_t s;
        REAL(pthread_sigmask)(SIG_BLOCK, nullptr, &s);
        g_root_blocked.store(to_bits(s) & ~kUnblockable, std::memory_order_relaxed);
        count(g_root_blocked.load(std::memory_order_relaxed), +1);
        g_active = true;
    }
    // A new thread takes its creator's mask (the creator is the caller).
    Mine m;
    {
        // mine() without the lock's recursion: the creator is a green thread or the root.
        GreenThread* cur = current_green();
        m = cur ? Mine{&cur->sig_blocked, &cur->sig_pending} : Mine{&g_root_blocked, &g_root_pending};
    }
    uint64_t b = m.blocked->load(std::memory_order_relaxed);
    g->sig_blocked.store(b, std::memory_order_relaxed);
    if (count(b, +1)) apply_kernel_mask();
}

void sigmask_group_hub(Hub& h) noexcept {
    // Every signal but those the kernel raises for a fault of the running code (a SEGV handler
    // must run where the fault is) and glibc's own (setuid's SIGSETXID reaches every thread).
    uint64_t b = ~uint64_t(0) & ~kUnblockable;
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) b &= ~bit(sig);
    sigset_t s;
    to_set(b, &s);
    REAL(pthread_sigmask)(SIG_SETMASK, &s, nullptr);
    h.set_program_mask(s);
}

void sigmask_thread_ending(GreenThread* g) noexcept {
    std::lock_guard lk(g_lock);
    if (!g_active) return;
    // Signals still pending for it are lost with it, as natively.
    if (count(g->sig_blocked.load(std::memory_order_relaxed), -1)) apply_kernel_mask();
}

void sigmask_after_fork() noexcept {
    // The child's one thread keeps the kernel's mask; the caller's own becomes the root's.
    Mine m = mine();
    std::lock_guard lk(g_lock);
    if (!g_active) return;
    uint64_t b = m.blocked ? m.blocked->load(std::memory_order_relaxed) : 0;
    for (int sig = 0; sig <= kMaxSig; ++sig) g_unblocked[sig] = 0;
    g_root_blocked.store(b, std::memory_order_relaxed);
    g_root_pending.store(m.pending ? m.pending->load(std::memory_order_relaxed) : 0, std::memory_order_relaxed);
    count(b, +1);
    apply_kernel_mask();
}

bool green_thread_blocks(GreenThread* g, int sig) noexcept {
    return g_active && sig >= 1 && sig <= kMaxSig && (g->sig_blocked.load(std::memory_order_relaxed) & bit(sig));
}

void mark_pending(GreenThread* g, int sig) noexcept { g->sig_pending.fetch_or(bit(sig), std::memory_order_acq_rel); }

int take_pending(const sigset_t* set) noexcept {
    Mine m = mine();
    if (!m.pending) return 0;
    uint64_t want = to_bits(*set);
    for (;;) {
        uint64_t p = m.pending->load(std::memory_order_acquire), hit = p & want;
        if (!hit) return 0;
        int sig = __builtin_ctzll(hit) + 1;  // the lowest first, as the kernel
        if (m.pending->compare_exchange_weak(p, p & ~bit(sig), std::memory_order_acq_rel)) return sig;
    }
}

void release_pending(const sigset_t* mask) noexcept {
    Mine m = mine();
    if (!m.pending) return;
    uint64_t keep = mask ? to_bits(*mask) : ~uint64_t(0);
    uint64_t go = m.pending->fetch_and(keep, std::memory_order_acq_rel) & ~keep;
    while (go) {
        int sig = __builtin_ctzll(go) + 1;
        go &= go - 1;
        signal_directed(sig);
    }
}

bool root_blocks(int sig) noexcept {
    return g_active && sig >= 1 && sig <= kMaxSig && (g_root_blocked.load(std::memory_order_relaxed) & bit(sig));
}

void mark_root_pending(int sig) noexcept { g_root_pending.fetch_or(bit(sig), std::memory_order_acq_rel); }

thread_local bool tls_taking_signals __attribute__((tls_model("initial-exec"))) = false;

namespace {
// Main's task: the root of the hub that takes process-directed signals (the group's first).
detail::Task* root_task() noexcept {
    Hub* h = detail::HubGroup::first();
    if (!h) h = Hub::current_or_null();
    return h ? h->root() : nullptr;
}

// Whether the running context is where the kernel would run a process-directed `sig`: main if it
// does not block it, else any thread that does not (the running one, then).
bool runs_here(int sig) noexcept {
    if (!g_active || tls_taking_signals) return true;
    Hub* h = Hub::current_or_null();
    if (!h) return true;                  // an OS thread of the program's own: the kernel chose it
    if (Hub::in_runtime()) return false;  // the hub's loop: no program context runs
    GreenThread* g = current_green();
    if (!root_blocks(sig)) return !g && h->running() == root_task();
    return g && !green_thread_blocks(g, sig);
}

// The due word and the delivering flag of task t's context: a green thread's, main's, or none.
struct DueOf {
    std::atomic<uint64_t>* due = nullptr;
    std::atomic<uint64_t>* blocked = nullptr;
    std::atomic<uint64_t>* pending = nullptr;
    bool* delivering = nullptr;
};
DueOf due_of(detail::Task* t) noexcept {
    if (auto* g = static_cast<GreenThread*>(t->user))
        return {&g->sig_due, &g->sig_blocked, &g->sig_pending, &g->sig_delivering};
    if (t == root_task()) return {&g_root_due, &g_root_blocked, &g_root_pending, &g_root_delivering};
    return {};
}

// Hub::on_deliver: in t's context (t runs), raise the signals given to it; each handler runs
// here, on its stack, with its TLS. Those it blocks meanwhile wait, pending on it. Returns
// whether one ends a wait of level `interrupt` (always, or for a handler without SA_RESTART).
bool run_due(detail::Task* t, uint8_t interrupt) noexcept {
    DueOf d = due_of(t);
    // A handler's own wait runs no other handler: the first one's loop takes them after it.
    if (!d.due || *d.delivering) return false;
    *d.delivering = true;
    bool ends = false;
    for (;;) {
        uint64_t bits = d.due->exchange(0, std::memory_order_acq_rel);
        if (!bits) break;
        uint64_t held = bits & d.blocked->load(std::memory_order_relaxed);
        if (held) d.pending->fetch_or(held, std::memory_order_acq_rel);  // delivered when unblocked
        for (uint64_t run = bits & ~held; run; run &= run - 1) {
            int sig = __builtin_ctzll(run) + 1;
            siginfo_t info;
            bool from_process = g_process_info_set[sig].exchange(false, std::memory_order_acq_rel);
            if (from_process) info = g_process_info[sig];
            signal_directed(sig, from_process ? &info : nullptr);
            ends |= interrupt == detail::kInterruptAlways ||
                    (interrupt == detail::kInterruptUnlessRestart && !program_restarts(sig));
        }
    }
    *d.delivering = false;
    return ends;
}

void give(detail::Task* t, int sig) noexcept {
    DueOf d = due_of(t);
    if (!d.due) return;
    d.due->fetch_or(bit(sig), std::memory_order_acq_rel);
    Hub::deliver(t);
}
}  // namespace

bool defer_process_signal(int sig, const siginfo_t* info, bool restart) noexcept {
    if (sig < 1 || sig > kMaxSig || runs_here(sig)) return false;
    Hub* h = Hub::current_or_null();
    if (!h) return false;
    if (info) g_process_info[sig] = *info;
    g_process_info_set[sig].store(info != nullptr, std::memory_order_release);
    if (!root_blocks(sig))
        if (detail::Task* root = root_task()) {
            // Main takes it: given now (atomics only), so that main runs it before it runs on.
            g_root_due.fetch_or(bit(sig), std::memory_order_acq_rel);
            g_given_to_root.fetch_or(bit(sig), std::memory_order_acq_rel);
            Hub::mark_due(root);
        }
    h->note_process_signal(sig, restart);  // deliver_process_signal, at the hub's next iteration
    return true;
}

void deliver_to_thread(GreenThread* g, int sig) noexcept {
    detail::Task* t = g ? g : root_task();
    if (t) give(t, sig);
}

void process_signal_arrived(Hub& h, int sig, bool restart) noexcept {
    if (!root_blocks(sig)) return h.note_signal(restart);
    GreenThread* g = current_green();
    if (g && !green_thread_blocks(g, sig)) return;  // it was running: no wait to end
    h.note_process_signal(sig, restart);
}

namespace {

struct SignalWanted {
    int sig;
    bool restart;
};

// Outside the handler, on the hub's thread: give a deferred process-directed signal to the
// context the kernel would have picked: main if it does not block it; else a green thread, on any
// hub, that does not block it and whose wait it ends, else any that does not block it. None (the
// masks changed since): it stays pending, for main.
void deliver_process_signal(int sig, bool restart) noexcept {
    if (g_given_to_root.fetch_and(~bit(sig), std::memory_order_acq_rel) & bit(sig)) {
        if (detail::Task* root = root_task()) Hub::deliver(root);  // given in the trampoline: wake it
        return;
    }
    if (!root_blocks(sig)) {
        if (detail::Task* root = root_task()) return give(root, sig);
    }
    SignalWanted want{sig, restart};
    auto takes = [](const GreenThread& t, const void* arg) {
        auto* w = static_cast<const SignalWanted*>(arg);
        return !green_thread_blocks(const_cast<GreenThread*>(&t), w->sig) && !t.exited;
    };
    GreenThread* g = find_green_where(
        [](const GreenThread& t, const void* arg) {
            auto* w = static_cast<const SignalWanted*>(arg);
            return !green_thread_blocks(const_cast<GreenThread*>(&t), w->sig) && Hub::takes_signal_wake(&t, w->restart);
        },
        &want);
    if (!g) g = find_green_where(takes, &want);
    if (!g) return mark_root_pending(sig);
    give(g, sig);
    g->release();
}

__attribute__((constructor(103))) void install_process_signal_target() {
    Hub::on_process_signal = deliver_process_signal;
    Hub::on_deliver = run_due;
}

}  // namespace

}  // namespace green::preload

using namespace green::preload;

GREEN_HOOK(int, pthread_sigmask, int how, const sigset_t* set, sigset_t* old) noexcept {
    HOOK_ENTER(pthread_sigmask);
    return set_mask(how, set, old);
}

GREEN_HOOK(int, sigprocmask, int how, const sigset_t* set, sigset_t* old) noexcept {
    HOOK_ENTER(sigprocmask);
    // Per thread on Linux, as pthread_sigmask, but failing with errno.
    int e = set_mask(how, set, old);
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}

GREEN_HOOK(int, sigpending, sigset_t* set) noexcept {
    HOOK_ENTER(sigpending);
    int r = REAL(sigpending)(set);
    Mine m = mine();
    if (r == 0 && m.pending) {
        uint64_t p = m.pending->load(std::memory_order_acquire);
        for (int sig = 1; sig <= 64; ++sig)
            if (p & (uint64_t(1) << (sig - 1))) sigaddset(set, sig);
    }
    return r;
}
