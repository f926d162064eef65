// core_bench.cpp - libgreen's core micro-benchmarks, each measured next to its reference.
//
// Usage: core_bench                 run everything (the RSS figures in child processes)
//        core_bench MODE [ARGS]     one part:
//          switch | spawn | event | queue       in this process
//          rss N STACK_BYTES                    N sleeping greenlets (STACK_BYTES 0 = default)
//          rss-pthread N                        N idle pthreads (the reference for rss)
// Env:   BENCH_SCALE (default 1)   multiplies the iteration counts (e.g. 0.2 for a quick run)
//
// Output: "RESULT key value" lines (parsed by bench/run.sh, which prints the table), each followed
// by nothing else on the line; human-readable notes start with "#".
//
// Every timed figure is the best of 5 runs (the least disturbed by the rest of the machine), and a
// figure and its reference are measured in alternation, so that a burst of load elsewhere on the
// machine hits both alike.
#include <green/green.hpp>

#include <boost/context/fiber.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ctx = boost::context;

namespace {

double scale = 1.0;
constexpr int kReps = 5;

long iters(double base) { return std::max(1000L, long(base * scale)); }

double now() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

void result(const char* key, double value) {
    printf("RESULT %s %.6g\n", key, value);
    fflush(stdout);
}

// Runs a() and b() alternately kReps times; the least of each (or the most, for rates).
template <class A, class B> std::pair<double, double> paired(A a, B b, bool higher_is_better = false) {
    double ba = higher_is_better ? 0 : 1e300, bb = ba;
    for (int r = 0; r < kReps; ++r) {
        double x = a(), y = b();
        ba = higher_is_better ? std::max(ba, x) : std::min(ba, x);
        bb = higher_is_better ? std::max(bb, y) : std::min(bb, y);
    }
    return {ba, bb};
}

// ---- (a) switches ----------------------------------------------------------------------------

// Two greenlets ping-ponging green::sleep(0): every call is one switch, through the hub's ready
// queue (and, every 256 switches, one non-blocking poll of the loop). ns per switch.
double green_switch_ns(long n) {
    auto body = [n] {
        for (long i = 0; i < n; ++i) green::sleep(0);
    };
    double t0 = now();
    auto a = green::spawn(body);
    auto b = green::spawn(body);
    a.join();
    b.join();
    return (now() - t0) / double(2 * n) * 1e9;
}

// The same, the two greenlets running different code (each its own loop, calling sleep(0) from
// its own call site), as real green threads resume at many different sites. ns per switch.
__attribute__((noinline)) void sleep_from_a() { green::sleep(0); }
__attribute__((noinline)) void sleep_from_b() {
    green::sleep(0);
    asm volatile("" ::: "memory");
}
double green_switch_distinct_ns(long n) {
    double t0 = now();
    auto a = green::spawn([n] {
        for (long i = 0; i < n; ++i) sleep_from_a();
    });
    auto b = green::spawn([n] {
        for (long i = 0; i < n; ++i) {
            sleep_from_b();
            asm volatile("" ::: "memory");
        }
    });
    a.join();
    b.join();
    return (now() - t0) / double(2 * n) * 1e9;
}

// A raw boost::context::fiber resumed back and forth: ns per one-way resume.
double raw_switch_ns(long n) {
    ctx::fiber f{[n](ctx::fiber&& main) {
        for (long i = 0; i < n; ++i) main = std::move(main).resume();
        return std::move(main);
    }};
    double t0 = now();
    for (long i = 0; i < n; ++i) f = std::move(f).resume();
    double t = now() - t0;
    f = std::move(f).resume();  // let it end
    return t / double(2 * n) * 1e9;
}

// Two green::Coroutine<long> switching to each other explicitly (greenlet's switch): the main
// greenlet switches to the coroutine, which switches back to its parent. ns per one-way switch.
double coroutine_switch_ns(long n) {
    double t = 0;
    green::spawn([n, &t] {
        green::Coroutine<long> echo([](long v) -> long {
            const auto up = green::Coroutine<long>::current().parent();
            for (;;) v = up.switch_to(v + 1);
        });
        long v = 0;
        double t0 = now();
        for (long i = 0; i < n; ++i) v = echo.switch_to(v);
        t = (now() - t0) / double(2 * n) * 1e9;
        if (v != n) fprintf(stderr, "core_bench: coroutine switches lost a value (%ld)\n", v);
    }).join();
    return t;
}

// Go's channel micro-benchmarks, on the API: the reference is bench/chan_bench.go, the same
// programs in Go, run by bench/run.sh when Go is installed.
// Two greenlets ping-pong over two unbuffered green::Channel<int>: ns per one-way message.
double channel_pingpong_ns(long n) {
    double t = 0;
    green::spawn([n, &t] {
        green::Channel<int> ping, pong;
        auto echo = green::spawn([&] {
            for (long i = 0; i < n; ++i) pong.put(ping.get() + 1);
        });
        double t0 = now();
        int v = 0;
        for (long i = 0; i < n; ++i) {
            ping.put(v);
            v = pong.get();
        }
        t = (now() - t0) / double(2 * n) * 1e9;
        echo.join();
        if (v != int(n)) fprintf(stderr, "core_bench: channel ping-pong lost a value (%d)\n", v);
    }).join();
    return t;
}

// A producer puts into 8 unbuffered channels in turn; the consumer takes each item with a select
// over all 8 (Go's select). ns per item.
double select8_ns(long n) {
    double t = 0;
    green::spawn([n, &t] {
        green::Channel<int> c[8];
        auto producer = green::spawn([&] {
            for (long i = 0; i < n; ++i) c[i % 8].put(int(i));
        });
        long sum = 0;
        auto take = [&](int v) { sum += v; };
        double t0 = now();
        for (long i = 0; i < n; ++i)
            green::select(green::forever, green::on_get(c[0], take), green::on_get(c[1], take),
                          green::on_get(c[2], take), green::on_get(c[3], take), green::on_get(c[4], take),
                          green::on_get(c[5], take), green::on_get(c[6], take), green::on_get(c[7], take));
        t = (now() - t0) / double(n) * 1e9;
        producer.join();
        if (sum != n * (n - 1) / 2) fprintf(stderr, "core_bench: select lost an item\n");
    }).join();
    return t;
}

// The raw fiber's reference for green_switch_distinct_ns: each side resumes the other from its
// own function, called from its own loop (the same two levels of user frames to return through
// after each switch, whose return addresses the CPU predicts from the other side's calls).
__attribute__((noinline)) ctx::fiber hop_from_main(ctx::fiber&& f) { return std::move(f).resume(); }
__attribute__((noinline)) ctx::fiber hop_from_fiber(ctx::fiber&& f) {
    ctx::fiber r = std::move(f).resume();
    asm volatile("" ::: "memory");
    return r;
}
double raw_switch_distinct_ns(long n) {
    ctx::fiber f{[n](ctx::fiber&& main) {
        for (long i = 0; i < n; ++i) {
            main = hop_from_fiber(std::move(main));
            asm volatile("" ::: "memory");
        }
        return std::move(main);
    }};
    double t0 = now();
    for (long i = 0; i < n; ++i) f = hop_from_main(std::move(f));
    double t = now() - t0;
    f = std::move(f).resume();  // let it end
    return t / double(2 * n) * 1e9;
}

// ---- (b) spawn + join ------------------------------------------------------------------------

double green_spawn_join_ns(long n) {
    double t0 = now();
    for (long i = 0; i < n; ++i) {
        auto g = green::spawn([] {});
        g.join();
    }
    return (now() - t0) / double(n) * 1e9;
}

// The same, 1000 at a time: spawn 1000, then join them all.
double green_spawn_batch_ns(long n) {
    std::vector<green::Greenlet<void>> gs;
    gs.reserve(1000);
    long done = 0;
    double t0 = now();
    while (done < n) {
        gs.clear();
        for (int i = 0; i < 1000; ++i) gs.push_back(green::spawn([] {}));
        green::joinall(gs);
        done += 1000;
    }
    return (now() - t0) / double(done) * 1e9;
}

// Stacks for raw fibers from a free list, as the runtime's StackPool does (minus its locking).
struct SimpleStackPool {
    size_t size = 64 << 10;
    std::vector<void*> free;
    void* get() {
        if (!free.empty()) {
            void* p = free.back();
            free.pop_back();
            return p;
        }
        void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) abort();
        return p;
    }
    void put(void* p) { free.push_back(p); }
};

struct PoolAlloc {
    SimpleStackPool* pool;
    ctx::stack_context allocate() {
        ctx::stack_context sc;
        sc.sp = static_cast<char*>(pool->get()) + pool->size;
        sc.size = pool->size;
        return sc;
    }
    void deallocate(ctx::stack_context& sc) noexcept { pool->put(static_cast<char*>(sc.sp) - sc.size); }
};

double raw_fiber_create_ns(long n) {
    static SimpleStackPool pool;
    double t0 = now();
    for (long i = 0; i < n; ++i) {
        ctx::fiber f{std::allocator_arg, PoolAlloc{&pool}, [](ctx::fiber&& main) { return std::move(main); }};
        f = std::move(f).resume();  // runs to its end; the stack goes back to the pool
    }
    return (now() - t0) / double(n) * 1e9;
}

void* trivial_thread(void*) { return nullptr; }

double pthread_create_join_ns(long n) {
    double t0 = now();
    for (long i = 0; i < n; ++i) {
        pthread_t t;
        if (pthread_create(&t, nullptr, trivial_thread, nullptr) != 0) abort();
        pthread_join(t, nullptr);
    }
    return (now() - t0) / double(n) * 1e9;
}

// ---- (c) Event ping-pong ---------------------------------------------------------------------

// A sets ping and waits for pong, B waits for ping and sets pong: ns per hand-off (2 per round).
double event_pingpong_ns(long n) {
    green::Event ping, pong;
    double t0 = now();
    auto a = green::spawn([&] {
        for (long i = 0; i < n; ++i) {
            ping.set();
            pong.wait();
            pong.clear();
        }
    });
    auto b = green::spawn([&] {
        for (long i = 0; i < n; ++i) {
            ping.wait();
            ping.clear();
            pong.set();
        }
    });
    a.join();
    b.join();
    return (now() - t0) / double(2 * n) * 1e9;
}

// The same hand-off between two OS threads with std::mutex + std::condition_variable.
double os_condvar_pingpong_ns(long n) {
    std::mutex m;
    std::condition_variable cv;
    int turn = 0;
    auto body = [&](int me) {
        for (long i = 0; i < n; ++i) {
            std::unique_lock lk(m);
            cv.wait(lk, [&] { return turn == me; });
            turn = 1 - me;
            cv.notify_one();
        }
    };
    double t0 = now();
    std::thread a(body, 0), b(body, 1);
    a.join();
    b.join();
    return (now() - t0) / double(2 * n) * 1e9;
}

// ---- (d) Queue throughput --------------------------------------------------------------------

double green_queue_items_per_s(long n) {
    green::Queue<long> q(1024);
    long sum = 0;
    double t0 = now();
    auto p = green::spawn([&] {
        for (long i = 0; i < n; ++i) q.put(i);
    });
    auto c = green::spawn([&] {
        for (long i = 0; i < n; ++i) sum += q.get();
    });
    p.join();
    c.join();
    double t = now() - t0;
    if (sum != n * (n - 1) / 2) fprintf(stderr, "core_bench: queue lost items\n");
    return double(n) / t;
}

// Reference: a bounded (1024) std::deque + std::mutex + 2 condition variables, 2 OS threads.
double os_queue_items_per_s(long n) {
    std::mutex m;
    std::condition_variable not_full, not_empty;
    std::deque<long> items;
    long sum = 0;
    double t0 = now();
    std::thread prod([&] {
        for (long i = 0; i < n; ++i) {
            std::unique_lock lk(m);
            not_full.wait(lk, [&] { return items.size() < 1024; });
            items.push_back(i);
            not_empty.notify_one();
        }
    });
    std::thread cons([&] {
        for (long i = 0; i < n; ++i) {
            std::unique_lock lk(m);
            not_empty.wait(lk, [&] { return !items.empty(); });
            sum += items.front();
            items.pop_front();
            not_full.notify_one();
        }
    });
    prod.join();
    cons.join();
    double t = now() - t0;
    if (sum != n * (n - 1) / 2) fprintf(stderr, "core_bench: os queue lost items\n");
    return double(n) / t;
}

// ---- (e) RSS per idle greenlet (child processes) ---------------------------------------------

long statm_resident_pages() {
    FILE* f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long size = 0, res = 0;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
    fclose(f);
    return res;
}

long status_kib(const char* field) {  // e.g. "VmPTE:" from /proc/self/status, in KiB
    FILE* f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0) {
            v = atol(line + n);
            break;
        }
    fclose(f);
    return v;
}

// N greenlets that each green::sleep() for an hour: RSS before and after they all parked.
int mode_rss(long n, size_t stack) {
    const double page_kib = double(sysconf(_SC_PAGESIZE)) / 1024.0;
    green::sleep(0);  // create the hub and its stack before the baseline
    long before = statm_resident_pages(), pte_before = status_kib("VmPTE:");
    green::SpawnOptions opts;
    opts.stack_size = stack;
    double t0 = now();
    for (long i = 0; i < n; ++i) green::spawn_with(opts, [] { green::sleep(3600); });  // handles dropped
    green::sleep(0);  // every new greenlet runs once, up to its sleep
    double t = now() - t0;
    long after = statm_resident_pages(), pte_after = status_kib("VmPTE:");
    std::string key = "rss." + std::to_string(n);
    result((key + ".per_kib").c_str(), double(after - before) * page_kib / double(n));
    result((key + ".total_mib").c_str(), double(after) * page_kib / 1024.0);
    result((key + ".pte_per_kib").c_str(), double(pte_after - pte_before) / double(n));
    result((key + ".spawn_park_ns").c_str(), t / double(n) * 1e9);
    fflush(stdout);
    _exit(0);  // no need to unwind a million parked greenlets
}

void* idle_thread(void* arg) {
    auto* gate = static_cast<pthread_barrier_t*>(arg);
    pthread_barrier_wait(gate);
    pause();
    return nullptr;
}

// N idle pthreads (default attributes): the reference for RSS per idle greenlet.
int mode_rss_pthread(long n) {
    const double page_kib = double(sysconf(_SC_PAGESIZE)) / 1024.0;
    pthread_barrier_t gate;
    pthread_barrier_init(&gate, nullptr, unsigned(n + 1));
    long before = statm_resident_pages();
    for (long i = 0; i < n; ++i) {
        pthread_t t;
        if (pthread_create(&t, nullptr, idle_thread, &gate) != 0) {
            fprintf(stderr, "core_bench: pthread_create failed at %ld\n", i);
            _exit(1);
        }
    }
    pthread_barrier_wait(&gate);  // all of them started
    long after = statm_resident_pages();
    result("rss_pthread.per_kib", double(after - before) * page_kib / double(n));
    fflush(stdout);
    _exit(0);
}

// Run this binary with `args` in a child process (fork + exec), sharing stdout; kill it by PID
// if it takes longer than `limit` seconds.
void run_child(const std::vector<std::string>& args, double limit) {
    std::vector<char*> argv;
    static char self[] = "/proc/self/exe";
    argv.push_back(self);
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("core_bench: fork");
        return;
    }
    if (pid == 0) {
        unsetenv("GREEN_STACK_SIZE");  // "default stacks" must mean the runtime's default
        execv("/proc/self/exe", argv.data());
        _exit(127);
    }
    double deadline = now() + limit;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0) return;
        if (now() > deadline) {
            fprintf(stderr, "core_bench: child '%s' took over %.0f s: killed\n", args[0].c_str(), limit);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        usleep(20000);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "core_bench: child '%s %s' failed (status %d)\n", args[0].c_str(),
                args.size() > 1 ? args[1].c_str() : "", status);
}

// ---- drivers ---------------------------------------------------------------------------------

void part_switch() {
    green_switch_ns(iters(2e5));  // warm-up
    raw_switch_ns(iters(1e6));
    auto [g, r] = paired([] { return green_switch_ns(iters(1e6)); }, [] { return raw_switch_ns(iters(4e6)); });
    green_switch_distinct_ns(iters(2e5));
    raw_switch_distinct_ns(iters(1e6));
    auto [d, rd] =
        paired([] { return green_switch_distinct_ns(iters(1e6)); }, [] { return raw_switch_distinct_ns(iters(4e6)); });
    coroutine_switch_ns(iters(2e5));
    auto [c, r2] = paired([] { return coroutine_switch_ns(iters(1e6)); }, [] { return raw_switch_ns(iters(4e6)); });
    result("switch.green_ns", g);
    result("switch.raw_ns", std::min(r, r2));
    result("switch.green_distinct_ns", d);
    result("switch.raw_distinct_ns", rd);
    result("switch.coroutine_ns", c);
}

void part_channel() {
    channel_pingpong_ns(iters(1e5));
    select8_ns(iters(1e5));
    double p = 1e300, s8 = 1e300;
    for (int r = 0; r < kReps; ++r) {
        p = std::min(p, channel_pingpong_ns(iters(1e6)));
        s8 = std::min(s8, select8_ns(iters(5e5)));
    }
    result("channel.green_ns", p);
    result("select8.green_ns", s8);
}

void part_spawn() {
    green_spawn_join_ns(iters(1e5));
    raw_fiber_create_ns(iters(1e5));
    pthread_create_join_ns(200);
    auto [g, r] =
        paired([] { return green_spawn_join_ns(iters(4e5)); }, [] { return raw_fiber_create_ns(iters(1e6)); });
    auto [b, p] =
        paired([] { return green_spawn_batch_ns(iters(4e5)); }, [] { return pthread_create_join_ns(iters(1000)); });
    result("spawn.green_ns", g);
    result("spawn.green_batch_ns", b);
    result("spawn.raw_ns", r);
    result("spawn.pthread_ns", p);
}

void part_event() {
    event_pingpong_ns(iters(1e5));
    auto [g, o] =
        paired([] { return event_pingpong_ns(iters(5e5)); }, [] { return os_condvar_pingpong_ns(iters(2e4)); });
    result("event.green_ns", g);
    result("event.os_ns", o);
}

void part_queue() {
    green_queue_items_per_s(iters(1e5));
    auto [g, o] =
        paired([] { return green_queue_items_per_s(iters(5e6)); }, [] { return os_queue_items_per_s(iters(2e6)); },
               /*higher_is_better=*/true);
    result("queue.green_per_s", g);
    result("queue.os_per_s", o);
}

void part_rss() {
    run_child({"rss", "100000", "0"}, 120);
    run_child({"rss", "1000000", "16384"}, 180);
    run_child({"rss-pthread", "1000"}, 60);
}

}  // namespace

int main(int argc, char** argv) {
    if (const char* s = getenv("BENCH_SCALE")) scale = std::max(0.001, atof(s));
    std::string mode = argc > 1 ? argv[1] : "all";
    if (mode == "rss" && argc == 4) return mode_rss(atol(argv[2]), size_t(atol(argv[3])));
    if (mode == "rss-pthread" && argc == 3) return mode_rss_pthread(atol(argv[2]));
    if (mode == "switch" || mode == "all") part_switch();
    if (mode == "channel" || mode == "all") part_channel();
    if (mode == "spawn" || mode == "all") part_spawn();
    if (mode == "event" || mode == "all") part_event();
    if (mode == "queue" || mode == "all") part_queue();
    if (mode == "rss-all" || mode == "all") part_rss();
    if (mode != "all" && mode != "switch" && mode != "channel" && mode != "spawn" && mode != "event" &&
        mode != "queue" && mode != "rss-all") {
        fprintf(stderr, "usage: core_bench [all|switch|channel|spawn|event|queue|rss-all|rss N STACK|rss-pthread N]\n");
        return 2;
    }
    return 0;
}
