// hub/hub_group.cpp: starting the group's hubs, placing tasks, and what its deadlock test needs.
#include "hub_group.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "../context/raw_syscall.hpp"

namespace green::detail {

namespace {

constexpr int kMaxHubs = 256;

Hub* g_hubs[kMaxHubs];
std::atomic<int> g_size{1};        // hubs in the group (1: no group)
std::atomic<unsigned> g_next{0};   // where the round of ties starts
std::atomic<int> g_idle{0};        // hubs other than the first, idle (see idle_enter)
std::atomic<long> g_in_flight{0};  // posted wake-ups not yet drained

struct Starting {
    void (*on_start)(Hub&);
    int index;
    Hub* hub = nullptr;
    std::atomic<uint32_t> done{0};
};

void* hub_thread(void* arg) {
    auto* s = static_cast<Starting*>(arg);
    char name[16];
    snprintf(name, sizeof name, "green-hub%d", s->index);
    name_os_thread(name);
    Hub& h = Hub::current();
    if (s->on_start) s->on_start(h);
    s->hub = &h;
    s->done.store(1, std::memory_order_release);
    raw_syscall(SYS_futex, long(&s->done), FUTEX_WAKE_PRIVATE, 1);
    h.serve();  // never returns
}

}  // namespace

int HubGroup::start(int n, void (*on_start)(Hub&)) noexcept {
    if (g_size.load(std::memory_order_acquire) > 1 || n <= 1) return size();
    if (n > kMaxHubs) n = kMaxHubs;
    g_hubs[0] = &Hub::current();
    int made = 1;
    for (int i = 1; i < n; ++i) {
        Starting s{on_start, i};
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        int rc = native_pthread_create(&th, &attr, hub_thread, &s);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            fprintf(stderr, "green: cannot start hub %d of %d (%s): going on with %d\n", i + 1, n, strerror(rc), made);
            break;
        }
        while (s.done.load(std::memory_order_acquire) == 0)
            raw_syscall(SYS_futex, long(&s.done), FUTEX_WAIT_PRIVATE, 0, 0);
        g_hubs[made++] = s.hub;
    }
    g_size.store(made, std::memory_order_release);
    return made;
}

int HubGroup::size() noexcept { return g_size.load(std::memory_order_acquire); }
Hub* HubGroup::first() noexcept { return size() > 1 ? g_hubs[0] : nullptr; }
Hub* HubGroup::at(int i) noexcept { return g_hubs[i]; }

Hub& HubGroup::pick(Hub& mine) noexcept {
    int n = size();
    if (n <= 1) return mine;
    unsigned start = g_next.fetch_add(1, std::memory_order_relaxed);
    Hub* best = nullptr;
    uint32_t best_load = ~0u;
    for (int k = 0; k < n; ++k) {
        Hub* h = g_hubs[(start + unsigned(k)) % unsigned(n)];
        uint32_t load = h->load_relaxed();
        if (load < best_load) {
            best = h;
            best_load = load;
        }
    }
    return *best;
}

void HubGroup::after_fork() noexcept {
    g_size.store(1, std::memory_order_relaxed);
    g_idle.store(0, std::memory_order_relaxed);
    g_in_flight.store(0, std::memory_order_relaxed);
    sleepers_.store(0, std::memory_order_relaxed);
}

void HubGroup::idle_enter() noexcept {
    int idle = g_idle.fetch_add(1, std::memory_order_seq_cst) + 1;
    // The last one to go quiet lets the first hub look again: it may be waiting for ever.
    if (idle == size() - 1 && g_in_flight.load(std::memory_order_seq_cst) == 0) g_hubs[0]->kick();
}

void HubGroup::idle_leave() noexcept { g_idle.fetch_sub(1, std::memory_order_seq_cst); }

bool HubGroup::others_quiet() noexcept {
    return g_idle.load(std::memory_order_seq_cst) == size() - 1 && g_in_flight.load(std::memory_order_seq_cst) == 0;
}

void HubGroup::posted(int n) noexcept { g_in_flight.fetch_add(n, std::memory_order_seq_cst); }

std::atomic<int> HubGroup::sleepers_{0};

void HubGroup::sleeping(Hub& h, bool now) noexcept {
    if (now) h.asleep_since_.store(monotonic_now(), std::memory_order_relaxed);
    h.sleeping_.store(now, std::memory_order_relaxed);
    sleepers_.fetch_add(now ? 1 : -1, std::memory_order_relaxed);
}

bool HubGroup::asleep_for(double seconds) noexcept {
    if (!anyone_sleeping()) return false;
    const double before = monotonic_now() - seconds;
    for (int k = 0, n = size(); k < n; ++k) {
        const Hub* h = g_hubs[k];
        if (h->sleeping_.load(std::memory_order_relaxed) && h->asleep_since_.load(std::memory_order_relaxed) <= before)
            return true;
    }
    return false;
}

Hub* HubGroup::sleeping_hub(const Hub* not_this) noexcept {
    int n = size();
    unsigned start = g_next.fetch_add(1, std::memory_order_relaxed);  // spread the gifts
    for (int k = 0; k < n; ++k) {
        Hub* h = g_hubs[(start + unsigned(k)) % unsigned(n)];
        if (h != not_this && h->sleeping_.load(std::memory_order_relaxed)) return h;
    }
    return nullptr;
}

}  // namespace green::detail
