// switch_rate.cpp - how many switches per second between two greenlets.
//
// Two greenlets call green::yield() (== green::sleep(0)) in a loop: each call switches to the
// other one, through the hub's ready queue.
#include <green/green.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    long n = argc > 1 ? atol(argv[1]) : 10'000'000;  // yields per greenlet
    auto body = [n] {
        for (long i = 0; i < n; ++i) green::yield();
    };
    // Warm up (stacks, caches).
    {
        auto a = green::spawn([] {
            for (int i = 0; i < 10000; ++i) green::yield();
        });
        auto b = green::spawn([] {
            for (int i = 0; i < 10000; ++i) green::yield();
        });
        a.join();
        b.join();
    }
    auto t0 = std::chrono::steady_clock::now();
    auto a = green::spawn(body);
    auto b = green::spawn(body);
    a.join();
    b.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double switches = 2.0 * double(n);
    printf("%.0f switches in %.3f s: %.1f million switches per second (%.1f ns per switch)\n", switches, s,
           switches / s / 1e6, s / switches * 1e9);
    return 0;
}
