// tests/core/test_util.hpp: small helpers shared by the core tests (clocks, fork children,
// socket pairs, RSS). The Makefile's dependency files (-MMD) rebuild the tests that include it
// when it changes.
#pragma once

#include <green/green.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>

namespace tu {

// Seconds on the monotonic clock (the clock of every libgreen timeout).
inline double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Timers may be reported a hair early by clock granularity; every "waited at least" check allows this.
constexpr double kEps = 0.005;

struct Stopwatch {
    double t0 = now();
    double elapsed() const { return now() - t0; }
};

// Burn CPU without any green call: the hub cannot run meanwhile (used to make timers come due
// before they can be processed, deterministically).
inline void spin_until(double t) {
    while (now() < t) {}
}
inline void spin_for(double s) { spin_until(now() + s); }

// A connected, non-blocking AF_UNIX stream pair, closed on scope exit.
struct SockPair {
    int a = -1, b = -1;
    SockPair() {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        a = sv[0];
        b = sv[1];
    }
    ~SockPair() {
        if (a >= 0) ::close(a);
        if (b >= 0) ::close(b);
    }
    SockPair(const SockPair&) = delete;
    SockPair& operator=(const SockPair&) = delete;
    // Read and drop whatever is buffered on `a`.
    void drain_a() const {
        char buf[4096];
        while (::read(a, buf, sizeof buf) > 0) {}
    }
};

// Resident set size of this process, in bytes (second field of /proc/self/statm).
inline long rss_bytes() {
    long size = 0, resident = 0;
    if (FILE* f = fopen("/proc/self/statm", "r")) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

// Number of mappings of this process (lines of /proc/self/maps).
inline long map_count() {
    long n = 0;
    if (FILE* f = fopen("/proc/self/maps", "r")) {
        for (int c; (c = fgetc(f)) != EOF;)
            if (c == '\n') ++n;
        fclose(f);
    }
    return n;
}

// Number of OS threads of this process (/proc/self/status "Threads:").
inline int thread_count() {
    int n = -1;
    if (FILE* f = fopen("/proc/self/status", "r")) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "Threads: %d", &n) == 1) break;
        fclose(f);
    }
    return n;
}

// The outcome of a forked child: how it ended and everything it wrote to stdout and stderr.
struct Child {
    int status = 0;
    bool timed_out = false;
    std::string output;
    bool exited_with(int code) const { return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == code; }
    bool killed_by(int sig) const { return !timed_out && WIFSIGNALED(status) && WTERMSIG(status) == sig; }
    bool has(const char* text) const { return output.find(text) != std::string::npos; }
    std::string describe() const {
        std::string s = timed_out ? "timed out; " : "";
        if (WIFEXITED(status)) s += "exit " + std::to_string(WEXITSTATUS(status));
        else if (WIFSIGNALED(status)) s += std::string("signal ") + strsignal(WTERMSIG(status));
        return s + "; output:\n" + output;
    }
};

// Run body() in a fork()ed child whose stdout and stderr go to a pipe; its return value is the
// exit code (99 if it threw). The child never returns into doctest: it _exit()s. A child still
// running after `timeout` seconds is SIGKILLed (timed_out). Blocking calls here are plain
// syscalls: the parent's hub does not run meanwhile, which is fine for these tests.
inline Child run_in_child(const std::function<int()>& body, double timeout = 20.0) {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = ::fork();
    if (pid == 0) {
        // doctest's crash handlers would print a second report from the child: die plainly.
        for (int sig : {SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTERM}) ::signal(sig, SIG_DFL);
        ::dup2(p[1], 1);
        ::dup2(p[1], 2);
        ::close(p[0]);
        int rc = 99;
        try {
            rc = body();
        } catch (const std::exception& e) {
            printf("run_in_child: the body threw: %s\n", e.what());  // (in the Child's output)
        } catch (...) {
            printf("run_in_child: the body threw something not a std::exception\n");
        }
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    ::close(p[1]);
    if (pid < 0) ::close(p[0]);
    REQUIRE(pid > 0);
    Child c;
    double deadline = now() + timeout;
    for (;;) {
        double left = deadline - now();
        if (left <= 0) {
            c.timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        pollfd pfd{p[0], POLLIN, 0};
        int r = ::poll(&pfd, 1, int(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(p[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        c.output.append(buf, size_t(n));
    }
    ::close(p[0]);
    while (::waitpid(pid, &c.status, 0) < 0 && errno == EINTR) {}
    return c;
}

}  // namespace tu
