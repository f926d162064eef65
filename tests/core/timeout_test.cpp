// tests/core/timeout_test.cpp: green::Timeout, and the timeout contract every waiting primitive
// shares (written once, run for each fixture of wait_fixtures.hpp):
//   (a) its own timeout: returns "not woken" after the timeout, not early, not much later;
//   (b) an outer green::Timeout shorter than the primitive's own timeout is not lost;
//   (c) a wake racing the timeout (from a greenlet, or from another OS thread, at the deadline)
//       ends the wait exactly once: no lost wake (Level/Consume kinds keep it), no double wake
//       (one unit consumed once; no stale wake-up cuts a later wait short).
#include "wait_fixtures.hpp"

#include "../../libgreen/hub/deadline.hpp"  // white-box: the one relative-to-deadline rule

#include <cmath>
#include <cstdlib>
#include <limits>
#include <thread>

using tu::kEps;
using tu::now;
using tu::Stopwatch;

TEST_CASE("Timeout: { Timeout t(0.05); sleep(1); } throws Expired at about 0.05 s") {
    Stopwatch sw;
    const green::Timeout* armed = nullptr;
    bool thrown = false;
    try {
        green::Timeout t(0.05);
        armed = &t;
        green::sleep(1);
    } catch (const green::Timeout::Expired& e) {
        thrown = true;
        CHECK(e.timeout == armed);  // tells which Timeout fired
        CHECK(e.seconds == doctest::Approx(0.05));
    }
    CHECK(thrown);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(sw.elapsed() < 0.5);
}

TEST_CASE("Timeout: Expired is not a std::exception, so catch(std::exception&) does not swallow it") {
    bool reached_std_handler = false, expired = false;
    try {
        try {
            green::Timeout t(0.01);
            green::sleep(1);
        } catch (const std::exception&) {
            reached_std_handler = true;
        }
    } catch (const green::Timeout::Expired&) {
        expired = true;
    }
    CHECK(expired);
    CHECK_FALSE(reached_std_handler);
}

TEST_CASE("Timeout: a block that ends in time throws nothing, then or later") {
    {
        green::Timeout t(0.05);
        green::sleep(0.01);
        CHECK_FALSE(t.expired());
    }
    Stopwatch sw;
    green::sleep(0.1);  // past the cancelled deadline: nothing may fire now
    CHECK(sw.elapsed() >= 0.1 - kEps);
}

TEST_CASE("Timeout: cancel() disarms it; a negative Timeout never fires; chrono durations work") {
    {
        green::Timeout t(0.02);
        t.cancel();
        green::sleep(0.05);
    }
    {
        green::Timeout t(green::forever);
        green::sleep(0.02);
        CHECK_FALSE(t.expired());
    }
    Stopwatch sw;
    CHECK_THROWS_AS(([] {
                        green::Timeout t(std::chrono::milliseconds(20));
                        green::sleep(std::chrono::seconds(1));
                    }()),
                    green::Timeout::Expired);
    CHECK(sw.elapsed() < 0.5);
}

TEST_CASE("Timeout: nested, the shorter one fires and names itself") {
    const green::Timeout* outer_p = nullptr;
    const green::Timeout* inner_p = nullptr;
    // Outer shorter: the outer fires through the inner block.
    try {
        green::Timeout outer(0.03);
        outer_p = &outer;
        green::Timeout inner(1.0);
        inner_p = &inner;
        green::sleep(2);
        FAIL("no Timeout fired");
    } catch (const green::Timeout::Expired& e) {
        CHECK(e.timeout == outer_p);
    }
    // Inner shorter: the inner fires, is handled, and the outer still fires later.
    int inner_fired = 0;
    Stopwatch sw;
    try {
        green::Timeout outer(0.1);
        outer_p = &outer;
        try {
            green::Timeout inner(0.02);
            inner_p = &inner;
            green::sleep(2);
        } catch (const green::Timeout::Expired& e) {
            CHECK(e.timeout == inner_p);
            ++inner_fired;
        }
        green::sleep(2);
        FAIL("outer Timeout did not fire");
    } catch (const green::Timeout::Expired& e) {
        CHECK(e.timeout == outer_p);
    }
    CHECK(inner_fired == 1);
    CHECK(sw.elapsed() >= 0.1 - kEps);
    CHECK(sw.elapsed() < 1.0);
}

TEST_CASE("Timeout: per greenlet; one greenlet's Timeout does not touch another") {
    auto a = green::spawn([] {
        try {
            green::Timeout t(0.02);
            green::sleep(1);
        } catch (const green::Timeout::Expired&) {
            return 1;
        }
        return 0;
    });
    auto b = green::spawn([] {
        green::sleep(0.1);  // spans a's deadline
        return 2;
    });
    CHECK(a.get() == 1);
    CHECK(b.get() == 2);
}

// ---- the shared contract ----------------------------------------------------------------------

namespace {

enum class Waker {
    Thread,        // another OS thread spins to deadline+offset, then wakes
    GreenletSpin,  // a greenlet spins past the deadline (hub blocked), then wakes: the waiter's
                   // timer is due but not yet processed when the wake arrives
    GreenletTick,  // the waker's and the waiter's timers come due in the same loop tick (a third
                   // greenlet blocks the hub across the deadline); offset < 0: waker first
};

const char* waker_name(Waker w) {
    switch (w) {
    case Waker::Thread: return "thread";
    case Waker::GreenletSpin: return "greenlet (spin)";
    case Waker::GreenletTick: return "greenlet (same tick)";
    }
    return "?";
}

// One race: wait(T) while a wake lands at deadline + offset.
template <class F> void race_once(F& f, Waker how, double offset) {
    constexpr double T = 0.015;
    const double deadline = now() + T;
    std::thread th;
    green::Greenlet<void> waker, blocker;
    switch (how) {
    case Waker::Thread:
        th = std::thread([&f, deadline, offset] {
            tu::spin_until(deadline + offset);
            f.wake();
        });
        break;
    case Waker::GreenletSpin:
        waker = green::spawn([&f, deadline, offset] {
            green::sleep(deadline - 0.005 - now());
            tu::spin_until(deadline + offset);
            f.wake();
        });
        break;
    case Waker::GreenletTick:
        blocker = green::spawn([deadline] {
            green::sleep(deadline - 0.004 - now());
            tu::spin_until(deadline + 0.003);
        });
        waker = green::spawn([&f, deadline, offset] {
            green::sleep(std::max(0.001, deadline + offset - now()));
            f.wake();
        });
        break;
    }
    Stopwatch sw;
    bool woken = f.wait(T);
    double took = sw.elapsed();
    if (th.joinable()) th.join();
    if (waker) waker.join();
    if (blocker) blocker.join();
    CHECK(took < T + 0.5);
    if (!woken) CHECK(took >= T - kEps);  // a "timed out" answer never comes early

    // Exactly once: the one wake is neither lost nor delivered twice.
    if constexpr (F::kind == fx::Kind::Level) {
        CHECK(f.available(1.0));  // whoever won the race, the wake is there now
    } else if constexpr (F::kind == fx::Kind::Consume) {
        if (woken) CHECK_FALSE(f.available(0.02));  // the unit was taken by this wait, once
        else CHECK(f.available(1.0));               // the wait timed out: the unit is still there
    }
    f.reset();

    // No stale wake-up of that race may end a later park early.
    Stopwatch s2;
    green::sleep(0.01);
    CHECK(s2.elapsed() >= 0.01 - kEps);
    Stopwatch s3;
    CHECK_FALSE(f.wait(0.01));
    CHECK(s3.elapsed() >= 0.01 - kEps);
}

}  // namespace

TEST_CASE_TEMPLATE("timeout contract (a): the primitive's own timeout", F, GREEN_WAIT_FIXTURES) {
    INFO(std::string(F::name));
    F f;
    Stopwatch sw;
    CHECK_FALSE(f.wait(0.1));
    CHECK(sw.elapsed() >= 0.1 - kEps);
    CHECK(sw.elapsed() < 1.0);  // well under 10x
    // A zero timeout polls without waiting.
    Stopwatch z;
    CHECK_FALSE(f.wait(0.0));
    CHECK(z.elapsed() < 0.05);
    fx::check_works_normally(f);
}

TEST_CASE_TEMPLATE("timeout contract (b): an outer green::Timeout is not lost", F, GREEN_WAIT_FIXTURES) {
    INFO(std::string(F::name));
    F f;
    const green::Timeout* armed = nullptr;
    bool expired = false, returned = false;
    Stopwatch sw;
    try {
        green::Timeout t(0.05);
        armed = &t;
        f.wait(1.0);
        returned = true;
    } catch (const green::Timeout::Expired& e) {
        expired = true;
        CHECK(e.timeout == armed);
    }
    CHECK(expired);
    CHECK_FALSE(returned);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(sw.elapsed() < 0.5);
    fx::check_works_normally(f);

    // The other way round: the primitive's own, shorter timeout wins, and the outer Timeout,
    // cancelled at the end of its block, never fires later.
    {
        green::Timeout t(0.1);
        CHECK_FALSE(f.wait(0.02));
    }
    Stopwatch later;
    green::sleep(0.15);
    CHECK(later.elapsed() >= 0.15 - kEps);
}

TEST_CASE_TEMPLATE("timeout contract (c): a wake racing the timeout wakes exactly once", F, GREEN_WAIT_FIXTURES) {
    INFO(std::string(F::name));
    F f;
    auto run = [&](Waker how, double offset) {
        INFO("waker: " << waker_name(how) << ", offset " << offset * 1000 << " ms");
        race_once(f, how, offset);  // either outcome is right; exactly-once is checked inside
    };
    for (double off : {-0.001, -0.0005, 0.0, 0.00025, 0.0005, 0.001}) run(Waker::Thread, off);
    run(Waker::GreenletSpin, 0.001);
    run(Waker::GreenletTick, -0.001);  // waker's timer first: the waiter is woken although due
    run(Waker::GreenletTick, +0.001);  // the waiter's timer first: it times out, wake comes after
    fx::check_works_normally(f);
}

// ---- [[nodiscard]] Timeout, with_timeout (issue 16) ---------------------------------------------

namespace {
// Compile `body` inside a function against this tree's headers (found from the test binary:
// BUILD/core_tests -> libgreen/include) with -Werror; the exit status, the diagnostics in *out.
int compile_snippet(const std::string& body, std::string* out) {
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    REQUIRE(n > 0);
    exe[n] = 0;
    std::string dir(exe);
    dir = dir.substr(0, dir.rfind('/'));
    std::string src = "/tmp/green_snippet_" + std::to_string(::getpid()) + ".cpp";
    std::string log = src + ".log";
    FILE* f = fopen(src.c_str(), "w");
    REQUIRE(f);
    fprintf(f, "#include <green/greenlet.hpp>\nvoid f() { %s }\n", body.c_str());
    fclose(f);
    const char* cxx = getenv("CXX");
    std::string cmd = std::string(cxx && *cxx ? cxx : "c++") + " -std=c++20 -fsyntax-only -Werror -I" + dir +
                      "/../libgreen/include " + src + " > " + log + " 2>&1";
    int rc = std::system(cmd.c_str());
    out->clear();
    if (FILE* l = fopen(log.c_str(), "r")) {
        char buf[4096];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, l)) > 0) out->append(buf, got);
        fclose(l);
    }
    ::unlink(src.c_str());
    ::unlink(log.c_str());
    return rc;
}
}  // namespace

TEST_CASE("Timeout is [[nodiscard]]: a temporary green::Timeout{0.05}; does not compile under -Werror") {
    std::string diag;
    int named = compile_snippet("green::Timeout t{0.05}; (void)t.seconds();", &diag);
    INFO(diag);
    REQUIRE(named == 0);  // the headers and the compiler work: the next failure is the attribute's
    CHECK(compile_snippet("green::Timeout{0.05};", &diag) != 0);
    INFO(diag);
    CHECK(diag.find("nodiscard") != std::string::npos);
    CHECK(compile_snippet("green::Timeout(std::chrono::milliseconds(50));", &diag) != 0);
}

TEST_CASE("with_timeout: f's result in time; Timeout::Expired (timeout null) when f overruns") {
    CHECK(green::with_timeout(
              0.5,
              [](int x) {
                  green::sleep(0.01);
                  return x * 2;
              },
              21) == 42);
    green::with_timeout(std::chrono::milliseconds(100), [] { green::sleep(0.01); });  // void
    Stopwatch sw;
    bool expired = false;
    try {
        green::with_timeout(0.05, [] {
            green::sleep(1);
            return 1;
        });
    } catch (const green::Timeout::Expired& e) {
        expired = true;
        CHECK(e.timeout == nullptr);  // its Timeout is gone by now
        CHECK(e.seconds == doctest::Approx(0.05));
    }
    CHECK(expired);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(sw.elapsed() < 0.5);
    green::sleep(0.06);  // nothing left armed: a later wait is not cut short
    // f's own exceptions pass through.
    CHECK_THROWS_WITH_AS(green::with_timeout(1.0, [] { throw std::runtime_error("own"); }), "own", std::runtime_error);
}

TEST_CASE("with_timeout: an outer Timeout shorter than its own is not lost, and keeps its identity") {
    const green::Timeout* outer_ptr = nullptr;
    const green::Timeout* thrown = nullptr;
    Stopwatch sw;
    try {
        green::Timeout outer(0.03);
        outer_ptr = &outer;
        green::with_timeout(1.0, [] { green::sleep(2); });
    } catch (const green::Timeout::Expired& e) {
        thrown = e.timeout;
    }
    CHECK(thrown != nullptr);
    CHECK(thrown == outer_ptr);
    CHECK(sw.elapsed() < 0.5);
}

TEST_CASE("deadline_after: negative and NaN are none (-1); 0 is now; huge and +inf stop at kMaxTimeout") {
    using green::detail::deadline_after;
    using green::detail::kMaxTimeout;
    using green::detail::monotonic_now;
    CHECK(deadline_after(-1) == -1);
    CHECK(deadline_after(-0.001) == -1);
    CHECK(deadline_after(-std::numeric_limits<double>::infinity()) == -1);
    CHECK(deadline_after(std::nan("")) == -1);
    // now + s, read between two readings of the clock.
    for (double s : {0.0, 0.25}) {
        const double before = monotonic_now();
        const double d = deadline_after(s);
        const double after = monotonic_now();
        CHECK(d >= before + s);
        CHECK(d <= after + s);
    }
    for (double s : {kMaxTimeout, 1e300, std::numeric_limits<double>::max(), std::numeric_limits<double>::infinity()}) {
        const double before = monotonic_now();
        const double d = deadline_after(s);
        CHECK(std::isfinite(d));
        CHECK(d >= before + kMaxTimeout);
        CHECK(d <= monotonic_now() + kMaxTimeout);
        // What is left of it fits a time_t and int64 nanoseconds.
        CHECK((d - before) * 1e9 < double(std::numeric_limits<int64_t>::max()));
    }
}
