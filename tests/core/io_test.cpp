// tests/core/io_test.cpp: descriptor waits (wait_readable/wait_writable/cancel_wait), the
// read/write/accept/connect helpers, and StreamServer. Loopback only.
#include "test_util.hpp"

#include <dirent.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>

#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

using tu::kEps;
using tu::SockPair;
using tu::Stopwatch;

namespace {

// Fill the socket's send buffer until write() would block.
size_t fill(int fd) {
    static char junk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = ::write(fd, junk, sizeof junk);
        if (n <= 0) break;
        total += size_t(n);
    }
    REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
    return total;
}

// Read exactly n bytes (or fewer at EOF / error).
std::string read_exactly(int fd, size_t n, double timeout) {
    std::string out(n, '\0');
    size_t got = 0;
    double deadline = tu::now() + timeout;
    while (got < n) {
        ssize_t r = green::read(fd, out.data() + got, n - got, std::max(0.0, deadline - tu::now()));
        if (r <= 0) break;
        got += size_t(r);
    }
    out.resize(got);
    return out;
}

uint16_t port_of(int fd) {
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    return ntohs(sa.sin_port);
}

void echo_handler(int fd) {
    char buf[4096];
    for (;;) {
        ssize_t n = green::read(fd, buf, sizeof buf);
        if (n <= 0) return;
        if (green::write_all(fd, buf, size_t(n)) != n) return;
    }
}

}  // namespace

// ---- descriptor waits ---------------------------------------------------------------------------

TEST_CASE("wait_readable(fd, 1.0) on a socketpair: true once the peer writes, false on timeout") {
    SockPair sp;
    Stopwatch sw;
    CHECK_FALSE(green::wait_readable(sp.a, 0.05));
    CHECK(sw.elapsed() >= 0.05 - kEps);
    auto writer = green::spawn([&] {
        green::sleep(0.02);
        return ::write(sp.b, "hi", 2);
    });
    Stopwatch s2;
    CHECK(green::wait_readable(sp.a, 1.0));
    CHECK(s2.elapsed() >= 0.02 - kEps);
    CHECK(s2.elapsed() < 0.5);
    CHECK(writer.get() == 2);
    char buf[2];
    CHECK(::read(sp.a, buf, 2) == 2);
    // Readable at EOF too.
    ::close(sp.b);
    sp.b = -1;
    CHECK(green::wait_readable(sp.a, 1.0));
    CHECK(::read(sp.a, buf, 2) == 0);
}

TEST_CASE("wait_writable: at once on a fresh socket; waits while the buffer is full") {
    SockPair sp;
    Stopwatch sw;
    CHECK(green::wait_writable(sp.a, 1.0));
    CHECK(sw.elapsed() < 0.1);
    size_t filled = fill(sp.a);
    CHECK(filled > 0);
    CHECK_FALSE(green::wait_writable(sp.a, 0.05));
    auto reader = green::spawn([&] {
        green::sleep(0.02);
        char buf[65536];
        size_t got = 0;
        while (got < filled) {
            ssize_t n = ::read(sp.b, buf, sizeof buf);
            if (n <= 0) break;
            got += size_t(n);
        }
        return got;
    });
    CHECK(green::wait_writable(sp.a, 1.0));
    CHECK(reader.get() == filled);
}

TEST_CASE("many greenlets wait on different descriptors at once") {
    constexpr int kPairs = 50;
    std::vector<std::unique_ptr<SockPair>> pairs;
    for (int i = 0; i < kPairs; ++i) pairs.push_back(std::make_unique<SockPair>());
    int ready = 0;
    std::vector<green::Greenlet<void>> gs;
    for (int i = 0; i < kPairs; ++i)
        gs.push_back(green::spawn([&, i] {
            if (green::wait_readable(pairs[i]->a, 2.0)) ++ready;
        }));
    green::sleep(0.01);
    for (int i = kPairs - 1; i >= 0; --i) CHECK(::write(pairs[i]->b, "x", 1) == 1);
    CHECK(green::joinall(gs, 2.0));
    CHECK(ready == kPairs);
}

TEST_CASE("two greenlets waiting on the same descriptor are both woken") {
    SockPair sp;
    int woken = 0;
    auto g1 = green::spawn([&] { woken += green::wait_readable(sp.a, 1.0); });
    auto g2 = green::spawn([&] { woken += green::wait_readable(sp.a, 1.0); });
    green::sleep(0.01);
    CHECK(::write(sp.b, "x", 1) == 1);
    CHECK(green::joinall(std::vector<green::GreenletBase>{g1, g2}, 1.0));
    CHECK(woken == 2);
}

TEST_CASE("cancel_wait(fd): waiters get std::system_error(EBADF)") {
    SockPair sp;
    int code = 0;
    auto g = green::spawn([&] {
        try {
            green::wait_readable(sp.a);
        } catch (const std::system_error& e) {
            code = e.code().value();
        }
    });
    green::sleep(0.01);
    green::cancel_wait(sp.a);
    CHECK(g.join(1.0));
    CHECK(code == EBADF);
    // The descriptor itself is fine: a later wait works.
    CHECK(::write(sp.b, "x", 1) == 1);
    CHECK(green::wait_readable(sp.a, 1.0));
    green::cancel_wait(sp.b);  // nobody waiting: a no-op
}

TEST_CASE("kill of a greenlet blocked in wait_readable leaves the descriptor usable") {
    SockPair sp;
    auto g = green::spawn([&] { green::wait_readable(sp.a); });
    green::sleep(0.01);
    CHECK(g.kill(1.0));
    CHECK(g.killed());
    auto g2 = green::spawn([&] { return green::wait_readable(sp.a, 1.0); });
    green::sleep(0.01);
    CHECK(::write(sp.b, "x", 1) == 1);
    CHECK(g2.get());
}

// ---- read/write helpers -------------------------------------------------------------------------

TEST_CASE("green::read waits for data; -1/ETIMEDOUT after its timeout; 0 at EOF") {
    SockPair sp;
    char buf[16];
    Stopwatch sw;
    errno = 0;
    CHECK(green::read(sp.a, buf, sizeof buf, 0.05) == -1);
    CHECK(errno == ETIMEDOUT);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    auto writer = green::spawn([&] {
        green::sleep(0.01);
        CHECK(green::write(sp.b, "abc", 3) == 3);
        green::sleep(0.01);
        ::shutdown(sp.b, SHUT_WR);
    });
    CHECK(green::read(sp.a, buf, sizeof buf, 1.0) == 3);
    CHECK(std::string(buf, 3) == "abc");
    CHECK(green::read(sp.a, buf, sizeof buf, 1.0) == 0);
    writer.join();
}

TEST_CASE("green::read returns -1/EBADF when cancel_wait is called while it waits") {
    SockPair sp;
    auto g = green::spawn([&] {
        char buf[4];
        ssize_t r = green::read(sp.a, buf, sizeof buf);
        return std::make_pair(r, errno);
    });
    green::sleep(0.01);
    green::cancel_wait(sp.a);
    auto [r, err] = g.get(1.0);
    CHECK(r == -1);
    CHECK(err == EBADF);
}

TEST_CASE("write_all pushes 4 MiB through a socketpair while a greenlet reads it") {
    SockPair sp;
    std::string data(4 << 20, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = char(i * 131 + (i >> 12));
    auto reader = green::spawn([&] { return read_exactly(sp.b, data.size(), 10.0); });
    CHECK(green::write_all(sp.a, data.data(), data.size(), 10.0) == ssize_t(data.size()));
    CHECK(reader.get() == data);
}

TEST_CASE("write_all with a timeout and nobody reading: partial count, errno ETIMEDOUT") {
    SockPair sp;
    std::string data(8 << 20, 'x');
    errno = 0;
    Stopwatch sw;
    ssize_t n = green::write_all(sp.a, data.data(), data.size(), 0.05);
    CHECK(n > 0);
    CHECK(n < ssize_t(data.size()));
    CHECK(errno == ETIMEDOUT);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    CHECK(sw.elapsed() < 1.0);
}

TEST_CASE("green::send/recv") {
    SockPair sp;
    auto g = green::spawn([&] {
        char buf[8];
        ssize_t n = green::recv(sp.b, buf, sizeof buf, 0, 1.0);
        return std::string(buf, size_t(std::max<ssize_t>(n, 0)));
    });
    green::sleep(0.01);
    CHECK(green::send(sp.a, "ping", 4) == 4);
    CHECK(g.get() == "ping");
}

// ---- TCP: listen_tcp, accept, connect ----------------------------------------------------------

TEST_CASE("listen_tcp + accept + connect_tcp on loopback; accept's descriptor is non-blocking") {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    REQUIRE(lfd >= 0);
    uint16_t port = port_of(lfd);
    CHECK(port != 0);
    auto server = green::spawn([&] {
        int c = green::accept(lfd, nullptr, nullptr, 2.0);
        if (c < 0) return std::string("accept failed");
        bool nonblocking = ::fcntl(c, F_GETFL) & O_NONBLOCK;
        std::string got = read_exactly(c, 5, 2.0);
        green::write_all(c, "world", 5);
        ::close(c);
        return nonblocking ? got : std::string("blocking fd");
    });
    int cfd = green::connect_tcp("127.0.0.1", port, 2.0);
    REQUIRE(cfd >= 0);
    CHECK(green::write_all(cfd, "hello", 5) == 5);
    CHECK(read_exactly(cfd, 5, 2.0) == "world");
    CHECK(server.get() == "hello");
    ::close(cfd);
    ::close(lfd);
}

TEST_CASE("accept with nobody connecting: -1/ETIMEDOUT after the timeout") {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    REQUIRE(lfd >= 0);
    Stopwatch sw;
    errno = 0;
    CHECK(green::accept(lfd, nullptr, nullptr, 0.05) == -1);
    CHECK(errno == ETIMEDOUT);
    CHECK(sw.elapsed() >= 0.05 - kEps);
    ::close(lfd);
}

TEST_CASE("green::connect on a raw non-blocking socket; connection refused is reported") {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    REQUIRE(lfd >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port_of(lfd));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(s >= 0);
    CHECK(green::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa, 2.0) == 0);
    ::close(s);
    ::close(lfd);  // nothing listens on that port now
    errno = 0;
    CHECK(green::connect_tcp("127.0.0.1", ntohs(sa.sin_port), 2.0) == -1);
    CHECK(errno == ECONNREFUSED);
}

TEST_CASE("listen_tcp rejects a host that is not a numeric address") {
    errno = 0;
    CHECK(green::listen_tcp("not-an-address", 0) == -1);
    CHECK(errno == EINVAL);
}

// ---- StreamServer -------------------------------------------------------------------------------

namespace {
// A client greenlet body: connect, send `rounds` messages, expect each echoed back.
bool echo_client(uint16_t port, int id, int rounds) {
    int fd = green::connect_tcp("127.0.0.1", port, 2.0);
    if (fd < 0) return false;
    bool ok = true;
    for (int r = 0; r < rounds && ok; ++r) {
        std::string msg = "client " + std::to_string(id) + " round " + std::to_string(r) + "\n";
        ok = green::write_all(fd, msg.data(), msg.size(), 2.0) == ssize_t(msg.size()) &&
             read_exactly(fd, msg.size(), 2.0) == msg;
    }
    ::close(fd);
    return ok;
}

void wait_no_connections(const green::StreamServer& s) {
    Stopwatch sw;
    while (s.connections() > 0 && sw.elapsed() < 2.0) green::sleep(0.005);
}
}  // namespace

TEST_CASE("StreamServer: echo to 30 concurrent clients") {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    REQUIRE(lfd >= 0);
    {
        green::StreamServer server(lfd, echo_handler);
        CHECK(server.port() == port_of(lfd));
        server.start();
        std::vector<green::Greenlet<bool>> clients;
        for (int i = 0; i < 30; ++i) clients.push_back(green::spawn(echo_client, server.port(), i, 5));
        for (auto& c : clients) CHECK(c.get(5.0));
        wait_no_connections(server);
        CHECK(server.connections() == 0);  // each handler's descriptor was closed when it returned
        server.stop();
    }
    ::close(lfd);
}

TEST_CASE("StreamServer with a Pool: concurrency bounded by the pool") {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    REQUIRE(lfd >= 0);
    green::Pool pool(3);
    int inside = 0, most = 0;
    {
        green::StreamServer server(
            lfd,
            [&](int fd) {
                most = std::max(most, ++inside);
                green::sleep(0.02);
                echo_handler(fd);
                --inside;
            },
            &pool);
        server.start();
        std::vector<green::Greenlet<bool>> clients;
        for (int i = 0; i < 10; ++i) clients.push_back(green::spawn(echo_client, server.port(), i, 1));
        for (auto& c : clients) CHECK(c.get(5.0));
        CHECK(pool.join(2.0));
        server.stop();
    }
    CHECK(most == 3);
    ::close(lfd);
}

TEST_CASE("StreamServer: a handler that throws closes its connection; the server goes on") {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    REQUIRE(lfd >= 0);
    {
        int calls = 0;
        green::StreamServer server(lfd, [&](int fd) {
            if (++calls == 1) throw std::runtime_error("handler failed");
            echo_handler(fd);
        });
        server.start();
        int fd = green::connect_tcp("127.0.0.1", server.port(), 2.0);
        REQUIRE(fd >= 0);
        char c;
        CHECK(green::read(fd, &c, 1, 2.0) == 0);  // closed by the server
        ::close(fd);
        CHECK(green::spawn(echo_client, server.port(), 1, 2).get(5.0));
        wait_no_connections(server);
        server.stop();
    }
    ::close(lfd);
}

// Regression test (fixed): StreamServer::stop() only kills the greenlet start() created. A
// serve_forever() running in the caller's own greenlet ("accept in the calling greenlet until
// stop()") stays parked in accept() after stop(), until some client happens to connect.
TEST_CASE("StreamServer: stop() ends a serve_forever() running in the calling greenlet") {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    REQUIRE(lfd >= 0);
    {
        green::StreamServer server(lfd, echo_handler);
        auto serving = green::spawn([&] { server.serve_forever(); });
        green::sleep(0.02);
        server.stop();
        CHECK(serving.join(1.0));
        if (!serving.dead()) {  // clean up without relying on the bug being fixed
            green::cancel_wait(lfd);
            serving.join(1.0);
        }
    }
    ::close(lfd);
}

// Regression: a descriptor number closed (plain ::close, no cancel_wait) and reused within one hub
// iteration must be registered with the kernel again. libev trusts a registration it made for the
// old file unless told the descriptor was set anew, and the kernel dropped it at close.
TEST_CASE("a closed and reused descriptor number is watched again") {
    int first;
    {
        SockPair old;
        first = old.a;
        auto writer = green::spawn([&] {
            green::sleep(0.01);
            return ::write(old.b, "x", 1);
        });
        CHECK(green::wait_readable(old.a, 1.0));
        CHECK(writer.get() == 1);
    }  // both closed here, before the hub runs again
    SockPair fresh;
    REQUIRE(fresh.a == first);  // the same number, a new file
    auto writer = green::spawn([&] {
        green::sleep(0.01);
        return ::write(fresh.b, "y", 1);
    });
    CHECK(green::wait_readable(fresh.a, 1.0));
    CHECK(writer.get() == 1);
}

// A number that is not an open descriptor once reached libev: a segfault, an assertion or a hang.
TEST_CASE("wait_readable/wait_writable on a descriptor that is not open throw EBADF at once") {
    for (int fd : {-1, 77, INT_MAX}) {
        CAPTURE(fd);
        Stopwatch sw;
        try {
            green::wait_readable(fd, 0.1);
            FAIL("no exception");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == EBADF);
        }
        try {
            green::wait_writable(fd, 0.1);
            FAIL("no exception");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == EBADF);
        }
        CHECK(sw.elapsed() < 0.05);
    }
}

TEST_CASE("connect_tcp resolves a name on a worker thread (the hub goes on) and connects") {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    REQUIRE(lfd >= 0);
    uint16_t port = port_of(lfd);
    auto os_threads = [] {
        int n = 0;
        if (DIR* d = opendir("/proc/self/task")) {
            while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
            closedir(d);
        }
        return n;
    };
    const int before = os_threads();
    bool others_ran = false;
    auto other = green::spawn([&] { others_ran = true; });
    auto server = green::spawn([&] {
        int c = green::accept(lfd, nullptr, nullptr, 2.0);
        if (c >= 0) ::close(c);
        return c >= 0;
    });
    int fd = green::connect_tcp("localhost", port, 2.0);  // ::1 first, maybe: then 127.0.0.1
    CHECK(fd >= 0);
    CHECK(server.get());
    CHECK(others_ran);
    CHECK(os_threads() > before);  // the resolver workers (made at the first name; no test before uses one)
    if (fd >= 0) ::close(fd);
    ::close(lfd);
    other.join();
}
