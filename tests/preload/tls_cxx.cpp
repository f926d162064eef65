// tls_cxx: C++ thread_local objects are per thread, built on first use and
// destroyed at that thread's exit (glibc: __cxa_thread_atexit_impl, run by
// __call_tls_dtors). Checks, with std::thread and 1 ms sleeps so that green
// threads interleave:
//  1. a thread_local object with a constructor and a destructor in 8 threads:
//     8 constructions, 8 destructions, each destructor sees its own thread's
//     value and runs on its own thread;
//  2. two thread_locals in one thread are destroyed in reverse order of
//     construction;
//  3. a thread_local's destructor runs before a pthread key's destructor in
//     the same thread (glibc's start_thread: __call_tls_dtors, then the keys);
//  4. std::uncaught_exceptions() is 1 in a destructor run by unwinding in one
//     thread while, meanwhile, another thread sees 0 before and after a sleep
//     (the count lives in the per-thread __cxa_eh_globals);
//  5. a thread_local std::string cache per std::thread keeps its own contents
//     across sleeps.
// Every thread_local is function-local: g++ constructs all namespace-scope
// thread_locals of a file together on the first use of any of them, which
// would blur which thread built what.
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "t.hpp"

static void sleep_1ms()
{
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// Waits (sleeping 1 ms at a time, at most ~10 s) until flag is set.
static void wait_for(const std::atomic<bool> &flag)
{
    for (int i = 0; i < 10000 && !flag.load(); i++) sleep_1ms();
}

static std::mutex log_mu;

// ---- 1. constructor/destructor per thread
struct Tracked {
    int value = -1;
    std::thread::id owner = std::this_thread::get_id();
    static inline std::atomic<int> constructed{0};
    static inline std::vector<std::pair<int, bool>> log; // (value, destroyed on its owner)
    Tracked()
    {
        constructed++;
    }
    ~Tracked()
    {
        std::lock_guard<std::mutex> g(log_mu);
        log.emplace_back(value, owner == std::this_thread::get_id());
    }
};
static Tracked &tracked()
{
    thread_local Tracked t;
    return t;
}
static std::atomic<int> kept_own_value{0};

static void tracked_thread(int i)
{
    tracked().value = i;
    sleep_1ms();
    sleep_1ms();
    if (tracked().value == i && tracked().owner == std::this_thread::get_id()) kept_own_value++;
}

// ---- 2. destruction order; 3. before the pthread key destructors
static std::vector<std::string> order_log;
struct Named {
    const char *name;
    explicit Named(const char *n) : name(n)
    {
        std::lock_guard<std::mutex> g(log_mu);
        order_log.push_back(std::string("construct ") + name);
    }
    ~Named()
    {
        std::lock_guard<std::mutex> g(log_mu);
        order_log.push_back(std::string("destroy ") + name);
    }
};
static Named &first_tl()
{
    thread_local Named n("first");
    return n;
}
static Named &second_tl()
{
    thread_local Named n("second");
    return n;
}

static pthread_key_t key;
static void key_dtor(void *)
{
    std::lock_guard<std::mutex> g(log_mu);
    order_log.push_back("pthread key destructor");
}

static void order_thread()
{
    pthread_setspecific(key, reinterpret_cast<void *>(1)); // the key's value is set first
    (void)first_tl();                                      // constructs "first"
    sleep_1ms();
    (void)second_tl(); // then "second"
    sleep_1ms();
}

// ---- 4. uncaught_exceptions per thread
static std::atomic<bool> in_unwinding_dtor{false}, other_checked{false};
static int unwinding_before = -1, unwinding_after = -1, after_catch = -1;
static int other_before = -1, other_after = -1;
static bool caught;

struct UnwindProbe {
    ~UnwindProbe()
    {
        unwinding_before = std::uncaught_exceptions();
        in_unwinding_dtor = true;
        wait_for(other_checked); // the other thread checks its own count meanwhile
        unwinding_after = std::uncaught_exceptions();
    }
};

static void thrower()
{
    try {
        UnwindProbe probe;
        throw std::runtime_error("unwinding");
    } catch (const std::runtime_error &) {
        caught = true;
    }
    after_catch = std::uncaught_exceptions();
}

static void observer()
{
    wait_for(in_unwinding_dtor);
    other_before = std::uncaught_exceptions();
    sleep_1ms();
    other_after = std::uncaught_exceptions();
    other_checked = true;
}

// ---- 5. thread_local std::string cache
static std::string &cache()
{
    thread_local std::string s;
    return s;
}
static std::atomic<int> cache_ok{0};

static void cache_thread(int i)
{
    std::string want = "cache of thread " + std::to_string(i) + std::string(40, 'x');
    cache() = want; // longer than the small-string buffer: on the heap
    bool ok = true;
    for (int r = 0; r < 10; r++) {
        sleep_1ms();
        if (cache() != want) ok = false;
        cache() += char('a' + i);
        want += char('a' + i);
    }
    if (ok && cache() == want) cache_ok++;
}

int main()
{
    setvbuf(stdout, nullptr, _IOLBF, 0);
    alarm(30);

    // 1.
    {
        std::vector<std::thread> ts;
        for (int i = 0; i < 8; i++) ts.emplace_back(tracked_thread, i);
        for (auto &t : ts) t.join();
        std::vector<int> values;
        int on_owner = 0;
        for (auto &[v, own] : Tracked::log) {
            values.push_back(v);
            on_owner += own;
        }
        std::sort(values.begin(), values.end());
        bool each_own = values == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7};
        std::printf("thread_local Tracked: constructed %d, destroyed %zu, "
                    "kept own value across sleeps %d/8\n",
                    Tracked::constructed.load(), Tracked::log.size(), kept_own_value.load());
        std::printf("each destructor saw its own thread's value: %s; ran on its own thread: %d/8\n",
                    each_own ? "yes" : "no", on_owner);
        CHECK(Tracked::constructed == 8 && Tracked::log.size() == 8 && kept_own_value == 8);
        CHECK(each_own && on_owner == 8);
    }
    // 2. and 3.
    {
        CHECK(pthread_key_create(&key, key_dtor) == 0);
        std::thread t(order_thread);
        t.join();
        std::printf("one thread's thread_local/key destructor order:\n");
        for (auto &s : order_log) std::printf("  %s\n", s.c_str());
        std::vector<std::string> want = {"construct first", "construct second", "destroy second",
                                         "destroy first", "pthread key destructor"};
        CHECK(order_log == want);
        pthread_key_delete(key);
    }
    // 4.
    {
        std::thread a(thrower), b(observer);
        a.join();
        b.join();
        std::printf("thrower: uncaught_exceptions() in an unwinding destructor %d, "
                    "again after the other thread ran %d, after the catch %d, caught %s\n",
                    unwinding_before, unwinding_after, after_catch, caught ? "yes" : "no");
        std::printf("other thread meanwhile: uncaught_exceptions() %d, after a sleep %d\n", other_before,
                    other_after);
        CHECK(unwinding_before == 1 && unwinding_after == 1 && after_catch == 0 && caught);
        CHECK(other_before == 0 && other_after == 0);
        std::printf("main: uncaught_exceptions() %d\n", std::uncaught_exceptions());
    }
    // 5.
    {
        std::vector<std::thread> ts;
        for (int i = 0; i < 8; i++) ts.emplace_back(cache_thread, i);
        for (auto &t : ts) t.join();
        std::printf("thread_local std::string cache kept its own contents: %d/8; main's empty: %s\n",
                    cache_ok.load(), cache().empty() ? "yes" : "no");
        CHECK(cache_ok == 8 && cache().empty());
    }
    std::printf("%s\n", failed ? "RESULT: FAIL" : "RESULT: ok");
    return failed;
}
