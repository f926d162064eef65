// A program built against the installed libgreen (pkg-config or CMake), with the README's
// example: 100 greenlets sleeping 0.1 s at once finish in about 0.1 s, a Queue and a Pool.
#include <green/green.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

int main() {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<green::Greenlet<int>> gs;
    for (int i = 0; i < 100; ++i)
        gs.push_back(green::spawn([i] {
            green::sleep(0.1);
            return i;
        }));
    green::joinall(gs);
    int sum = 0;
    for (auto& g : gs) sum += g.get();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    green::Queue<int> q(4);
    auto total = green::spawn([&q] {
        int t = 0;
        for (int i = 0; i < 20; ++i) t += q.get();
        return t;
    });
    green::Pool pool(3);
    for (int i = 0; i < 20; ++i) pool.spawn([&q, i] { q.put(i); });
    pool.join();
    std::printf("c++: sum %d, %s, queue total %d\n", sum, s < 1.0 ? "concurrent" : "SERIAL", total.get());
    return 0;
}
