// wait_tasks.cpp - the seeds' asyncio example: tasks with done callbacks, and
// loop.run_until_complete(asyncio.wait(tasks)), as greenlets.
//
//   tasks = [hello(), hello()]; loop.run_until_complete(asyncio.wait(tasks))
//   task.add_done_callback(callback)
//
// Three tasks "download" for 0.3, 0.1 and 0.2 s; each has a done callback (link_value). First
// green::wait(tasks, 1) returns the first one done; then green::iwait yields the rest as they end
// (asyncio.as_completed). All in about 0.3 s, on one thread.
#include <green/green.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main() {
    auto t0 = std::chrono::steady_clock::now();
    auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

    std::vector<green::Greenlet<std::string>> tasks;
    for (double secs : {0.3, 0.1, 0.2}) {
        auto task = green::spawn(
            [&since](double s) {
                printf("%.2f s  task: downloading for %.1f s\n", since(), s);
                green::sleep(s);
                return "page after " + std::to_string(s).substr(0, 3) + " s";
            },
            secs);
        task.link_value([&since](green::GreenletBase g) {  // add_done_callback
            printf("%.2f s  callback: greenlet #%llu is done\n", since(), static_cast<unsigned long long>(g.id()));
        });
        tasks.push_back(task);
    }
    auto first = green::wait(tasks, 1);  // asyncio.wait(tasks, return_when=FIRST_COMPLETED)
    printf("%.2f s  main: first done: %s\n", since(), tasks[first[0]].get().c_str());
    int done = 1;
    for (size_t i : green::iwait(tasks)) {  // asyncio.as_completed(tasks)
        if (i == first[0]) continue;
        printf("%.2f s  main: then: %s\n", since(), tasks[i].get().c_str());
        ++done;
    }
    double total = since();
    printf("%d tasks in %.2f s (%s)\n", done, total, total < 0.45 ? "concurrent" : "SEQUENTIAL?");
    return done == 3 && total < 0.45 ? 0 : 1;
}
