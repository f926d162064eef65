// tests/core/stream_test.cpp: Stream (buffered reads and writes over a descriptor).
#include "test_util.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <system_error>
#include <vector>

namespace {
// A connected pair of stream sockets: [0] for the Stream, [1] for the test's peer (non-blocking).
struct Pair {
    int fd[2];
    Pair() {
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0);
        green::set_nonblocking(fd[1]);
    }
    ~Pair() {
        if (fd[1] >= 0) close(fd[1]);
    }
    void send(const std::string& s) { REQUIRE(green::write_all(fd[1], s.data(), s.size()) == ssize_t(s.size())); }
    void end() { close(std::exchange(fd[1], -1)); }
    // A greenlet sending `pieces` 10 ms apart (each read must wait for the next), then the end.
    green::Greenlet<void> send_in_pieces(std::vector<std::string> pieces) {
        return green::spawn([this, pieces = std::move(pieces)] {
            for (size_t i = 0; i < pieces.size(); ++i) {
                if (i) green::sleep(0.01);
                send(pieces[i]);
            }
            end();
        });
    }
};
}  // namespace

TEST_CASE("Stream: read_line across writes, the last line without a newline, then \"\" at the end") {
    Pair p;
    green::Stream s(p.fd[0]);
    auto writer = p.send_in_pieces({"hello\nwor", "ld\nlast"});
    CHECK(s.read_line() == "hello\n");
    CHECK(s.read_line() == "world\n");  // waited for the rest of the line
    CHECK(s.read_line() == "last");
    CHECK(s.read_line() == "");
    CHECK(s.at_eof());
    writer.get();
}

TEST_CASE("Stream: read_until with a delimiter split across reads, read_exactly, read_some, read_all") {
    Pair p;
    green::Stream s(p.fd[0]);
    auto writer = p.send_in_pieces({"HEAD\r", "\n\r\nbody12345rest", " and more"});
    CHECK(s.read_until("\r\n\r\n") == "HEAD\r\n\r\n");
    CHECK(s.read_exactly(4) == "body");
    CHECK(s.read_some(3) == "123");  // buffered: at once
    CHECK(s.read_all() == "45rest and more");
    CHECK(s.read_some() == "");
    writer.get();
}

TEST_CASE("Stream: the end before a read has what it needs is IncompleteRead with what came") {
    Pair p;
    green::Stream s(p.fd[0]);
    p.send("abc");
    p.end();
    try {
        s.read_exactly(10);
        FAIL("no IncompleteRead");
    } catch (const green::IncompleteRead& e) {
        CHECK(e.partial == "abc");
        CHECK(e.expected == 10);
    }
    CHECK_THROWS_AS(s.read_until("\n"), green::IncompleteRead);  // nothing left
}

TEST_CASE("Stream: no delimiter within the limit is LimitOverrun and consumes nothing") {
    Pair p;
    green::Stream s(p.fd[0]);
    p.send(std::string(100, 'x') + "\n");
    CHECK_THROWS_AS(s.read_line(50), green::LimitOverrun);
    CHECK(s.read_line(200) == std::string(100, 'x') + "\n");
}

TEST_CASE("Stream: a read timeout is std::system_error ETIMEDOUT, and the stream goes on") {
    Pair p;
    green::Stream s(p.fd[0]);
    tu::Stopwatch sw;
    try {
        s.read_line(green::Stream::kDefaultLimit, 0.02);
        FAIL("no timeout");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == ETIMEDOUT);
    }
    CHECK(sw.elapsed() >= 0.02 - tu::kEps);
    p.send("late\n");
    CHECK(s.read_line() == "late\n");
}

TEST_CASE("Stream: a megabyte written while the peer reads slowly; EPIPE, not SIGPIPE, once it is gone") {
    Pair p;
    green::Stream s(p.fd[0]);
    std::string big(1 << 20, 'z');
    auto reader = green::spawn([&] {
        green::Stream peer(p.fd[1], false);
        return peer.read_exactly(big.size()).size();
    });
    s.write(big);
    CHECK(reader.get() == big.size());
    p.end();
    try {
        for (int i = 0; i < 100; ++i) s.write("x");  // the first may still be buffered by the kernel
        FAIL("no error writing to a closed peer");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == EPIPE);
    }
}

TEST_CASE("Stream::connect to a StreamServer: an echo of lines, write_eof ends the server's loop") {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    REQUIRE(lfd >= 0);
    green::StreamServer server(lfd, [](int fd) {
        green::Stream conn(fd, false);  // the server closes fd
        for (std::string line; !(line = conn.read_line()).empty();) conn.write("echo: " + line);
    });
    server.start();
    green::Stream c = green::Stream::connect("127.0.0.1", server.port(), 2.0);
    c.write("one\ntwo\n");
    CHECK(c.read_line() == "echo: one\n");
    CHECK(c.read_line() == "echo: two\n");
    c.write_eof();
    CHECK(c.read_line() == "");  // the server's handler returned and closed
    const uint16_t port = server.port();
    server.stop();
    close(lfd);
    try {
        green::Stream::connect("127.0.0.1", port, 2.0);  // nothing listens there now
        FAIL("connected");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == ECONNREFUSED);
    }
}
