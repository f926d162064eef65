// echo_load.cpp - closed-loop load generator for the echo servers of the demo.
//
// Opens --conns TCP connections to --host:--port spread over --threads
// epoll-driven OS threads (all pinned to --cpu if given).  Connect phase
// (<= 10 s): a connection counts as up once one verified echo came back.
// Then every connection repeatedly sends --size bytes of per-connection
// pseudo-random payload, waits for the full echo, verifies every byte, and
// immediately sends the next request (closed loop, one request in flight per
// connection).  After --warmup seconds it measures for --seconds: round trips
// per second, p50/p99 latency (log-linear histogram, ~3% resolution), errors,
// and, with --pid, the server's CPU time per round trip (utime+stime delta
// over the window), RSS and OS thread count (sampled at the end of the
// window, before any connection is closed).
// With --reconnect, each measured round trip is one connection: connect, send,
// take the echo, close (the client closes first; loopback's default
// tcp_tw_reuse=2 lets the port be used again at once), the way a
// connection-per-request client (HTTP/1.0) drives a thread-per-connection
// server; the round trip's latency includes the connect.
//
// Output (stdout):
//   RESULT label=.. conns=.. rt_per_s=.. p50_us=.. p99_us=.. errors=..
//          server_us_per_rt=.. server_threads=.. server_rss_mib=.. stalled=..
//   (one line; fields that could not be measured are "na"; stalled = live
//   connections that completed no round trip in the whole window)
// followed by one human-readable line.  Errors (connect failures/timeouts,
// resets, EOF, short or wrong echoes) are counted, the first 10 printed on
// stderr.  Exit status: 0 iff errors == 0 and at least one round trip was
// measured.
//
// Self-contained: nothing from libgreen.  Build:
//   g++ -std=c++20 -O2 -Wall -Wextra -pthread -o echo_load echo_load.cpp

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

// ---------------------------------------------------------------- options

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    int conns = 100;
    int threads = 1;
    double seconds = 3;
    double warmup = 1;
    size_t size = 64;
    long pid = -1;
    int cpu = -1;
    std::string label = "echo";
    bool reconnect = false;  // a new connection per round trip
};

constexpr double kConnectPhaseLimit = 10.0;  // seconds to get all conns up
constexpr int kMaxPendingConnects = 256;     // per thread, in flight at once

[[noreturn]] void usage(const char* argv0, const char* msg = nullptr) {
    if (msg) std::fprintf(stderr, "echo_load: %s\n", msg);
    std::fprintf(stderr,
                 "usage: %s --port P [--host 127.0.0.1] [--conns 100] [--threads 1]\n"
                 "       [--seconds 3] [--warmup 1] [--size 64] [--pid SERVER_PID]\n"
                 "       [--cpu N] [--label NAME] [--reconnect]\n",
                 argv0);
    std::exit(2);
}

Options parse_args(int argc, char** argv) {
    Options o;
    auto num = [&](int& i, double lo, double hi) -> double {
        if (i + 1 >= argc) usage(argv[0], "missing value");
        const char* s = argv[++i];
        char* end = nullptr;
        errno = 0;
        double v = std::strtod(s, &end);
        if (errno || end == s || *end || !(v >= lo && v <= hi)) {
            std::fprintf(stderr, "echo_load: bad value '%s' for %s\n", s, argv[i - 1]);
            std::exit(2);
        }
        return v;
    };
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--host") {
            if (i + 1 >= argc) usage(argv[0], "missing value");
            o.host = argv[++i];
        } else if (a == "--label") {
            if (i + 1 >= argc) usage(argv[0], "missing value");
            o.label = argv[++i];
        } else if (a == "--port") o.port = int(num(i, 1, 65535));
        else if (a == "--conns") o.conns = int(num(i, 1, 1e7));
        else if (a == "--threads") o.threads = int(num(i, 1, 1024));
        else if (a == "--seconds") o.seconds = num(i, 0.01, 86400);
        else if (a == "--warmup") o.warmup = num(i, 0, 86400);
        else if (a == "--size") o.size = size_t(num(i, 1, 1 << 24));
        else if (a == "--pid") o.pid = long(num(i, 1, 1e9));
        else if (a == "--cpu") o.cpu = int(num(i, 0, CPU_SETSIZE - 1));
        else if (a == "--reconnect") o.reconnect = true;
        else if (a == "-h" || a == "--help") usage(argv[0]);
        else usage(argv[0], ("unknown argument: " + a).c_str());
    }
    if (o.port == 0) usage(argv[0], "--port is required");
    o.threads = std::min(o.threads, o.conns);
    return o;
}

// ---------------------------------------------------------------- time

inline int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void sleep_until(int64_t t_ns) {
    timespec ts{time_t(t_ns / 1000000000), long(t_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {}
}

// ---------------------------------------------------------------- histogram

// Log-linear latency histogram over nanoseconds (HDR-style): values < 64 get
// their own bucket, above that each power of two is split into 32 sub-buckets,
// i.e. <= ~3% relative error, fixed 16 KiB per thread whatever the run length.
class Histogram {
public:
    static constexpr int kSubBits = 5;
    static constexpr int kSub = 1 << kSubBits;  // 32
    static constexpr int kBuckets = 2 * kSub + 64 * kSub;

    void add(uint64_t v) {
        ++counts_[index(v)];
        ++total_;
    }
    void merge(const Histogram& o) {
        for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
        total_ += o.total_;
    }
    uint64_t total() const { return total_; }

    // Value (ns) at quantile q in [0,1]; midpoint of the containing bucket.
    double quantile(double q) const {
        if (total_ == 0) return 0;
        uint64_t rank = uint64_t(std::ceil(q * double(total_)));
        rank = std::clamp<uint64_t>(rank, 1, total_);
        uint64_t seen = 0;
        for (int i = 0; i < kBuckets; ++i) {
            seen += counts_[i];
            if (seen >= rank) return midpoint(i);
        }
        return midpoint(kBuckets - 1);
    }

private:
    static int index(uint64_t v) {
        if (v < uint64_t(2 * kSub)) return int(v);
        int msb = 63 - __builtin_clzll(v);  // >= 6
        int shift = msb - kSubBits;         // >= 1; v >> shift in [32, 63]
        return 2 * kSub + (shift - 1) * kSub + int((v >> shift) - kSub);
    }
    static double midpoint(int i) {
        if (i < 2 * kSub) return i;
        int shift = (i - 2 * kSub) / kSub + 1;
        uint64_t top = uint64_t((i - 2 * kSub) % kSub + kSub);
        double lo = double(top << shift), hi = double((top + 1) << shift);
        return (lo + hi - 1) / 2;
    }

    uint64_t counts_[kBuckets] = {};
    uint64_t total_ = 0;
};

// ---------------------------------------------------------------- shared state

struct Shared {
    sockaddr_in addr{};
    int64_t connect_deadline = 0;      // absolute, ns
    std::atomic<int> ready{0};         // threads done with the connect phase
    std::atomic<bool> go{false};       // set once window times are known
    std::atomic<bool> sampled{false};  // server /proc figures read: may close
    int64_t window_start = 0;          // written before go=true
    int64_t window_end = 0;
    std::atomic<uint64_t> errors{0};
};

// Print the first few errors of each kind only, but count all of them.
void report_error(Shared& sh, const char* what, int err) {
    static std::atomic<int> printed{0};
    sh.errors.fetch_add(1, std::memory_order_relaxed);
    if (printed.fetch_add(1, std::memory_order_relaxed) < 10)
        std::fprintf(stderr, "echo_load: %s%s%s\n", what, err ? ": " : "", err ? std::strerror(err) : "");
}

// ---------------------------------------------------------------- connection

enum class State { Connecting, Idle, Busy, Dead };

struct Conn {
    int fd = -1;
    State state = State::Dead;
    bool want_out = false;  // EPOLLOUT currently in the interest set
    bool primed = false;    // first echo received: the server really serves us
    uint64_t rng = 0;       // xorshift64* state, seeded per connection
    std::vector<unsigned char> wbuf, rbuf;
    size_t wpos = 0, rpos = 0;
    int64_t t_send = 0;      // when the current request started
    uint64_t in_window = 0;  // round trips completed in the measured window
};

uint64_t xorshift64s(uint64_t& s) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
}

class Worker {
public:
    Worker(Shared& sh, const Options& o, int first_id, int nconns)
        : sh_(sh), conns_(size_t(nconns)), reconnect_(o.reconnect) {
        for (int i = 0; i < nconns; ++i) {
            Conn& c = conns_[size_t(i)];
            // splitmix-ish seed; never zero (xorshift fixed point).
            c.rng = (uint64_t(first_id + i) + 1) * 0x9E3779B97F4A7C15ULL | 1;
            c.wbuf.resize(o.size);
            c.rbuf.resize(o.size);
        }
    }

    void run() {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) {
            for (size_t i = 0; i < conns_.size(); ++i) report_error(sh_, "epoll_create1", errno);
            conns_.clear();
        }
        connect_phase();
        sh_.ready.fetch_add(1);
        sh_.ready.notify_all();
        sh_.go.wait(false);
        window_start_ = sh_.window_start;
        window_end_ = sh_.window_end;
        load_phase();
        // Keep every connection open until main has sampled the server's
        // /proc figures: closing them makes the server's threads exit and
        // would skew the thread count and CPU time.
        sh_.sampled.wait(false);
        for (Conn& c : conns_) {
            // A live connection that completed no round trip in the whole
            // window is starved or lost (e.g. a missed wakeup in the server).
            // Reported separately; not counted as an error.
            if (c.state != State::Dead && c.in_window == 0 && window_end_ > window_start_) ++stalled;
            if (c.fd >= 0) close(c.fd);
            c.fd = -1;
        }
        if (ep_ >= 0) close(ep_);
    }

    Histogram hist;
    uint64_t completed = 0;  // round trips completed inside the window
    uint64_t stalled = 0;

private:
    void fail(Conn& c, const char* what, int err) {
        // Failures after the window are shutdown noise, not errors.
        if (window_end_ == 0 || now_ns() < window_end_) report_error(sh_, what, err);
        if (c.state != State::Dead && !c.primed) --pending_;  // was connecting/priming
        if (c.fd >= 0) close(c.fd);                           // close() also removes it from epoll
        c.fd = -1;
        c.state = State::Dead;
    }

    void set_out(Conn& c, bool on) {
        if (c.want_out == on) return;
        epoll_event ev{};
        ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
        ev.data.ptr = &c;
        if (epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev) < 0) return fail(c, "epoll_ctl", errno);
        c.want_out = on;
    }

    // ---- connect phase.  A connection is "up" only once one verified echo
    // came back: a TCP handshake completing says nothing about the server
    // having accept()ed it (the kernel completes handshakes for the accept
    // queue).  Priming every connection this way keeps a slow accept loop
    // out of the measured window.  At most kMaxPendingConnects connections
    // per thread are in flight (connecting or priming): this stays below the
    // listen backlog, because on accept-queue overflow Linux drops SYNs/ACKs
    // and the retransmit backoff (1 s, 3 s, 7 s...) would dominate.  Bounded
    // by the shared deadline; anything not up by then is an error.
    void connect_phase() {
        size_t next = 0;
        epoll_event evs[256];
        while (now_ns() < sh_.connect_deadline) {
            while (next < conns_.size() && pending_ < kMaxPendingConnects) start_connect(conns_[next++]);
            if (next == conns_.size() && pending_ == 0) break;
            int timeout_ms = int(std::clamp<int64_t>((sh_.connect_deadline - now_ns()) / 1000000, 1, 50));
            int n = epoll_wait(ep_, evs, 256, timeout_ms);
            if (n < 0 && errno != EINTR) {
                report_error(sh_, "epoll_wait", errno);
                break;
            }
            for (int i = 0; i < n; ++i) {
                Conn& c = *static_cast<Conn*>(evs[i].data.ptr);
                if (c.state != State::Connecting) {
                    // Priming echo in progress, or EOF/reset on an idle
                    // connection (the server dropped us): handle it now
                    // rather than spin on a level-triggered event.
                    handle_io(c, evs[i].events);
                    continue;
                }
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
                if (err) {
                    fail(c, "connect", err);
                    continue;
                }
                connected(c);
            }
        }
        for (; next < conns_.size(); ++next) report_error(sh_, "connect: not attempted before deadline", 0);
        for (Conn& c : conns_) {
            if (c.state == State::Connecting) fail(c, "connect: timed out", 0);
            else if (c.state == State::Busy) fail(c, "connected, but no echo before the connect deadline", 0);
        }
    }

    void start_connect(Conn& c) {
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            report_error(sh_, "socket", errno);
            return;
        }
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.state = State::Connecting;
        ++pending_;
        int rc = connect(c.fd, reinterpret_cast<const sockaddr*>(&sh_.addr), sizeof sh_.addr);
        if (rc < 0 && errno != EINPROGRESS && errno != EINTR) return fail(c, "connect", errno);
        epoll_event ev{};
        ev.events = rc == 0 ? EPOLLIN : EPOLLOUT;
        ev.data.ptr = &c;
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) < 0) return fail(c, "epoll_ctl", errno);
        c.want_out = rc != 0;
        if (rc == 0) connected(c);
    }

    void connected(Conn& c) {
        c.state = State::Idle;
        set_out(c, false);
        if (c.state != State::Dead) send_request(c, now_ns());  // priming request
    }

    void handle_io(Conn& c, uint32_t e) {
        if (c.state == State::Dead) return;
        if (c.state == State::Connecting && c.primed) return reconnected(c);
        if ((e & EPOLLOUT) && c.state == State::Busy) {
            flush(c);
            if (c.state == State::Dead) return;
        }
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
    }

    // ---- load phase

    void load_phase() {
        for (Conn& c : conns_)
            if (c.state == State::Idle) send_request(c, now_ns());
        std::vector<epoll_event> evs(std::min<size_t>(std::max<size_t>(conns_.size(), 1), 1024));
        for (;;) {
            int64_t now = now_ns();
            if (now >= window_end_) break;
            // Short timeout so a silent server cannot keep us past the end.
            int timeout_ms = int(std::clamp<int64_t>((window_end_ - now + 999999) / 1000000, 1, 50));
            int n = epoll_wait(ep_, evs.data(), int(evs.size()), timeout_ms);
            if (n < 0) {
                if (errno == EINTR) continue;
                report_error(sh_, "epoll_wait", errno);
                break;
            }
            for (int i = 0; i < n; ++i) handle_io(*static_cast<Conn*>(evs[i].data.ptr), evs[i].events);
        }
    }

    void send_request(Conn& c, int64_t now) {
        // Fresh pseudo-random payload per request so a server that echoes
        // stale or foreign data is caught.
        unsigned char* p = c.wbuf.data();
        size_t n = c.wbuf.size();
        while (n >= 8) {
            uint64_t r = xorshift64s(c.rng);
            std::memcpy(p, &r, 8);
            p += 8;
            n -= 8;
        }
        if (n) {
            uint64_t r = xorshift64s(c.rng);
            std::memcpy(p, &r, n);
        }
        c.wpos = c.rpos = 0;
        c.t_send = now;
        c.state = State::Busy;
        flush(c);
    }

    void flush(Conn& c) {
        while (c.wpos < c.wbuf.size()) {
            ssize_t n = send(c.fd, c.wbuf.data() + c.wpos, c.wbuf.size() - c.wpos, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return set_out(c, true);
                return fail(c, "write", errno);
            }
            c.wpos += size_t(n);
        }
        set_out(c, false);
    }

    void on_readable(Conn& c) {
        if (c.state != State::Busy) {
            // Data (or EOF) while no request is outstanding.
            char junk[256];
            ssize_t n = recv(c.fd, junk, sizeof junk, 0);
            if (n == 0) return fail(c, "server closed connection", 0);
            if (n > 0) return fail(c, "unsolicited data from server", 0);
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail(c, "read", errno);
            return;
        }
        for (;;) {
            size_t want = c.rbuf.size() - c.rpos;
            ssize_t n = recv(c.fd, c.rbuf.data() + c.rpos, want, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                return fail(c, "read", errno);
            }
            if (n == 0) return fail(c, "server closed connection", 0);
            // More echoed bytes than sent so far = the server invented data.
            if (c.rpos + size_t(n) > c.wpos) return fail(c, "server echoed more than was sent", 0);
            c.rpos += size_t(n);
            if (c.rpos < c.rbuf.size()) continue;

            if (std::memcmp(c.rbuf.data(), c.wbuf.data(), c.rbuf.size()) != 0) return fail(c, "echo mismatch", 0);
            int64_t now = now_ns();
            if (!c.primed) {  // connect phase: connection is up
                c.primed = true;
                --pending_;
                c.state = State::Idle;
                return;
            }
            if (now >= window_start_ && now < window_end_) {
                hist.add(uint64_t(now - c.t_send));
                ++completed;
                ++c.in_window;
            }
            if (now >= window_end_) {
                c.state = State::Idle;
                return;
            }
            if (reconnect_) return reconnect(c, now);
            send_request(c, now);
            return;
        }
    }

    // --reconnect: the next round trip on a new connection, timed from its connect.
    void reconnect(Conn& c, int64_t now) {
        close(c.fd);  // also leaves the epoll set
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) return fail(c, "socket", errno);
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.state = State::Connecting;
        c.t_send = now;
        int rc = connect(c.fd, reinterpret_cast<const sockaddr*>(&sh_.addr), sizeof sh_.addr);
        if (rc < 0 && errno != EINPROGRESS && errno != EINTR) return fail(c, "connect", errno);
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.ptr = &c;
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) < 0) return fail(c, "epoll_ctl", errno);
        c.want_out = true;
    }
    void reconnected(Conn& c) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err) return fail(c, "connect", err);
        c.state = State::Idle;
        set_out(c, false);
        if (c.state != State::Dead) send_request(c, c.t_send);
    }

    Shared& sh_;
    std::vector<Conn> conns_;
    bool reconnect_;
    int ep_ = -1;
    int pending_ = 0;
    int64_t window_start_ = 0, window_end_ = 0;
};

// ---------------------------------------------------------------- /proc

// utime + stime of the whole process (all threads), in clock ticks; -1 if gone.
long long proc_cpu_ticks(long pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE* f = std::fopen(path, "r");
    if (!f) return -1;
    char buf[4096];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
    char* p = std::strrchr(buf, ')');
    if (!p) return -1;
    ++p;
    // Fields after ')' start at field 3 (state); utime/stime are fields 14/15.
    unsigned long long utime = 0, stime = 0;
    int field = 2;
    char* save = nullptr;
    for (char* tok = strtok_r(p, " ", &save); tok; tok = strtok_r(nullptr, " ", &save)) {
        ++field;
        if (field == 14) utime = std::strtoull(tok, nullptr, 10);
        if (field == 15) {
            stime = std::strtoull(tok, nullptr, 10);
            return (long long)(utime + stime);
        }
    }
    return -1;
}

double proc_rss_mib(long pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE* f = std::fopen(path, "r");
    if (!f) return -1;
    char line[256];
    double kb = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "VmRSS:", 6) == 0) {
            kb = std::strtod(line + 6, nullptr);
            break;
        }
    std::fclose(f);
    return kb < 0 ? -1 : kb / 1024.0;
}

long proc_threads(long pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR* d = opendir(path);
    if (!d) return -1;
    long n = 0;
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n;
}

void raise_nofile() {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options opt = parse_args(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    if (opt.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(opt.cpu, &set);
        // Before spawning workers, so they inherit the mask.
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            std::fprintf(stderr, "echo_load: sched_setaffinity(cpu %d): %s (continuing unpinned)\n", opt.cpu,
                         std::strerror(errno));
    }

    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && rlim_t(opt.conns) + 64 > rl.rlim_cur)
        std::fprintf(stderr, "echo_load: warning: RLIMIT_NOFILE=%llu is too low for %d connections\n",
                     (unsigned long long)rl.rlim_cur, opt.conns);

    Shared sh;
    sh.addr.sin_family = AF_INET;
    sh.addr.sin_port = htons(uint16_t(opt.port));
    if (inet_pton(AF_INET, opt.host.c_str(), &sh.addr.sin_addr) != 1) {
        addrinfo hints{}, *res = nullptr;
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(opt.host.c_str(), nullptr, &hints, &res) != 0 || !res) {
            std::fprintf(stderr, "echo_load: cannot resolve host '%s'\n", opt.host.c_str());
            return 2;
        }
        sh.addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
        freeaddrinfo(res);
    }

    const int64_t t_begin = now_ns();
    sh.connect_deadline = t_begin + int64_t(kConnectPhaseLimit * 1e9);

    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::thread> threads;
    int per = opt.conns / opt.threads, extra = opt.conns % opt.threads, first = 0;
    for (int t = 0; t < opt.threads; ++t) {
        int n = per + (t < extra ? 1 : 0);
        workers.push_back(std::make_unique<Worker>(sh, opt, first, n));
        first += n;
    }
    for (auto& w : workers) threads.emplace_back([&w] { w->run(); });

    // Wait for every worker to finish its (bounded) connect phase.
    for (int r = sh.ready.load(); r < opt.threads; r = sh.ready.load()) sh.ready.wait(r);
    const uint64_t connect_errors = sh.errors.load();
    const double connect_s = double(now_ns() - t_begin) / 1e9;

    const int64_t t0 = now_ns();
    sh.window_start = t0 + int64_t(opt.warmup * 1e9);
    sh.window_end = sh.window_start + int64_t(opt.seconds * 1e9);
    if (connect_errors >= uint64_t(opt.conns)) {
        // Nothing connected: do not sit through warmup + window for nothing.
        std::fprintf(stderr, "echo_load: no connection could be established\n");
        sh.window_start = sh.window_end = t0;
    }
    sh.go.store(true);
    sh.go.notify_all();

    long long ticks0 = -1, ticks1 = -1;
    sleep_until(sh.window_start);
    if (opt.pid > 0) ticks0 = proc_cpu_ticks(opt.pid);
    sleep_until(sh.window_end);
    if (opt.pid > 0) ticks1 = proc_cpu_ticks(opt.pid);
    double rss = opt.pid > 0 ? proc_rss_mib(opt.pid) : -1;
    long nthreads = opt.pid > 0 ? proc_threads(opt.pid) : -1;
    sh.sampled.store(true);
    sh.sampled.notify_all();

    for (auto& t : threads) t.join();

    Histogram hist;
    uint64_t completed = 0, stalled = 0;
    for (auto& w : workers) {
        hist.merge(w->hist);
        completed += w->completed;
        stalled += w->stalled;
    }
    const uint64_t errors = sh.errors.load();
    const double window_s = double(sh.window_end - sh.window_start) / 1e9;
    const double rt_per_s = window_s > 0 ? double(completed) / window_s : 0;
    const double p50 = hist.quantile(0.50) / 1e3, p99 = hist.quantile(0.99) / 1e3;

    char us_per_rt[32] = "na", thr[32] = "na", rss_s[32] = "na";
    if (ticks0 >= 0 && ticks1 >= ticks0 && completed > 0) {
        double cpu_us = double(ticks1 - ticks0) * 1e6 / double(sysconf(_SC_CLK_TCK));
        std::snprintf(us_per_rt, sizeof us_per_rt, "%.3f", cpu_us / double(completed));
    }
    if (nthreads >= 0) std::snprintf(thr, sizeof thr, "%ld", nthreads);
    if (rss >= 0) std::snprintf(rss_s, sizeof rss_s, "%.1f", rss);

    std::printf(
        "RESULT label=%s conns=%d rt_per_s=%.0f p50_us=%.1f p99_us=%.1f errors=%llu "
        "server_us_per_rt=%s server_threads=%s server_rss_mib=%s stalled=%llu\n",
        opt.label.c_str(), opt.conns, rt_per_s, p50, p99, (unsigned long long)errors, us_per_rt, thr, rss_s,
        (unsigned long long)stalled);
    std::printf(
        "%s: %d conns (connected in %.2fs, %llu connect errors), %llu round trips in %.2fs = %.0f rt/s, "
        "p50 %.1f us, p99 %.1f us, %llu errors, %llu stalled; server: %s us CPU/rt, %s threads, %s MiB RSS\n",
        opt.label.c_str(), opt.conns, connect_s, (unsigned long long)connect_errors, (unsigned long long)completed,
        window_s, rt_per_s, p50, p99, (unsigned long long)errors, (unsigned long long)stalled, us_per_rt, thr, rss_s);
    std::fflush(stdout);

    if (completed == 0) std::fprintf(stderr, "echo_load: no round trip completed in the measured window\n");
    return errors == 0 && completed > 0 ? 0 : 1;
}
