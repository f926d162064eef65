// handoff_tls: green threads with TLS of their own (C++ thread_local) that only a hand-off lets
// run together. Three workers pass a token round-robin by spinning on an atomic (no call the
// preload sees), so each one's spin holds its OS thread until the hub goes on elsewhere; between
// turns they allocate and free (malloc's per-thread cache must follow them from OS thread to OS
// thread) and check that their thread_local values are still their own. main's TLS, too, must
// be its own after the hub has moved. The output is the same natively and preloaded.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace
{

constexpr int kWorkers = 3;
constexpr int kRounds = 40;

std::atomic<int> turn{0};
thread_local int tls_id = -1;
thread_local std::string tls_log; // grows with each turn: allocations owned by this thread
std::atomic<int> tls_errors{0};

void worker(int id)
{
    tls_id = id;
    for (int r = 0; r < kRounds; ++r) {
        while (turn.load(std::memory_order_acquire) % kWorkers != id) __builtin_ia32_pause();
        std::vector<std::string> garbage; // churn the allocator on whichever OS thread this is
        for (int i = 0; i < 200; ++i) garbage.emplace_back(64 + i % 200, char('a' + id));
        tls_log += char('0' + id);
        if (tls_id != id) tls_errors.fetch_add(1);
        turn.fetch_add(1, std::memory_order_release);
    }
    if (tls_log.size() != size_t(kRounds) || tls_log.find_first_not_of(char('0' + id)) != std::string::npos)
        tls_errors.fetch_add(1);
}

} // namespace

int main()
{
    tls_id = 100;
    tls_log = "main";
    std::vector<std::thread> threads;
    for (int i = 0; i < kWorkers; ++i) threads.emplace_back(worker, i);
    for (auto &t : threads) t.join();
    std::printf("turns: %d\n", turn.load());
    std::printf("worker TLS errors: %d\n", tls_errors.load());
    std::printf("main TLS: %s\n", tls_id == 100 && tls_log == "main" ? "its own" : "LOST");
    return 0;
}
