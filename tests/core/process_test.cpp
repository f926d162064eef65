// tests/core/process_test.cpp: Process and run (child processes; waits park only the greenlet).
#include "test_util.hpp"

#include <signal.h>

#include <string>
#include <system_error>

TEST_CASE("Process: stdout through a pipe, the exit status, a death by signal as -N") {
    green::Process echo({"echo", "hi there"}, {.out = true});
    CHECK(echo.out().read_all() == "hi there\n");
    CHECK(echo.wait() == 0);
    CHECK(echo.wait() == 0);  // reaped once, the same code after
    CHECK(green::run({"sh", "-c", "exit 3"}).returncode == 3);
    green::Process sleeper({"sleep", "5"});
    CHECK_FALSE(sleeper.poll());
    sleeper.kill();
    CHECK(sleeper.wait(2.0) == -SIGKILL);
}

TEST_CASE("Process: wait parks only the greenlet; a timeout gives nullopt and the child goes on") {
    int ticks = 0;
    auto ticker = green::spawn([&] {
        for (;;) {
            green::sleep(0.005);
            ++ticks;
        }
    });
    green::Process p({"sleep", "0.1"});
    tu::Stopwatch sw;
    CHECK_FALSE(p.wait(0.02));
    CHECK(sw.elapsed() >= 0.02 - tu::kEps);
    CHECK(p.wait(5.0) == 0);
    CHECK(ticks >= 5);  // the ticker ran while this greenlet waited
    ticker.kill();
}

TEST_CASE("Process: communicate feeds stdin and reads stdout and stderr together, large or not") {
    auto r = green::run({"sh", "-c", "sort; echo done >&2"}, "b\nc\na\n");
    CHECK(r.returncode == 0);
    CHECK(r.out == "a\nb\nc\n");
    CHECK(r.err == "done\n");
    // 1 MiB each way: neither pipe may fill up while the other is waited on.
    std::string big(1 << 20, 'x');
    auto r2 = green::run({"sh", "-c", "cat; head -c 1048576 /dev/zero >&2"}, big);
    CHECK(r2.out.size() == big.size());
    CHECK(r2.err.size() == (1u << 20));
}

TEST_CASE("Process: a program that cannot start is std::system_error; run's timeout kills the child") {
    try {
        green::Process p({"/nonexistent/program"});
        FAIL("started");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == ENOENT);
    }
    CHECK_THROWS_AS(green::Process({}), std::invalid_argument);
    tu::Stopwatch sw;
    CHECK_THROWS_AS(green::run({"sleep", "5"}, {}, 0.05), green::TimeoutExpired);
    CHECK(sw.elapsed() < 2.0);
}

TEST_CASE("Process: line by line from a child's stdout as it writes; close_in ends its input") {
    green::Process p({"sh", "-c", "while read l; do echo \"got $l\"; done"}, {.in = true, .out = true});
    p.in().write("one\n");
    CHECK(p.out().read_line() == "got one\n");
    p.in().write("two\n");
    CHECK(p.out().read_line() == "got two\n");
    p.close_in();
    CHECK(p.out().read_line() == "");
    CHECK(p.wait() == 0);
    CHECK_THROWS_AS(p.in(), std::logic_error);
}
