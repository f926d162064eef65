// sleepers.cpp - two greenlets sleep one second each, concurrently: about 1 s in total, not 2.
//
// green::sleep parks only the calling greenlet; the hub runs the other one meanwhile.
#include <green/green.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

int main() {
    auto t0 = std::chrono::steady_clock::now();
    auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

    auto sleeper = [&](const char* name) {
        printf("%-8s falls asleep at %.3f s\n", name, since());
        green::sleep(1.0);
        printf("%-8s wakes up at     %.3f s\n", name, since());
    };
    std::vector<green::Greenlet<void>> gs{green::spawn(sleeper, "sleeper1"), green::spawn(sleeper, "sleeper2")};
    green::joinall(gs);

    double total = since();
    printf("two 1 s sleeps took %.3f s in total (%s)\n", total, total < 1.5 ? "concurrent" : "SEQUENTIAL?");
    return total < 1.5 ? 0 : 1;
}
