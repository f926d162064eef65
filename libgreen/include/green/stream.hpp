// green/stream.hpp: a buffered byte stream over a descriptor (asyncio's StreamReader and
// StreamWriter in one, gevent's socket.makefile()).
//
//   green::Stream s = green::Stream::connect("example.org", 80);   // asyncio.open_connection
//   s.write("GET / HTTP/1.0\r\nHost: example.org\r\n\r\n");
//   for (std::string line; !(line = s.read_line()).empty();) std::cout << line;
//
// Contract:
//  - A Stream owns its descriptor (closed by close() or the destructor) unless made with
//    owns = false; it puts it in non-blocking mode. Moves, does not copy. One greenlet reads and
//    one writes at a time.
//  - Reads park the calling greenlet until enough data came, the peer ended the stream (EOF), or
//    `timeout` passed; what was read but not returned stays buffered for the next read.
//  - Errors throw std::system_error with the errno (ETIMEDOUT after a timeout, EBADF after
//    cancel_wait); a stream that ended early throws IncompleteRead where the read needs more,
//    LimitOverrun where a delimiter is not within `limit` bytes (asyncio's errors); both leave
//    the stream usable. A write to a peer that is gone is EPIPE, never SIGPIPE.
#pragma once

#include <green/greenlet.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace green {

// The stream ended before a read had what it needed: `partial` holds what it got (consumed).
class IncompleteRead : public std::runtime_error {
public:
    IncompleteRead(std::string got, size_t wanted)
        : std::runtime_error("green::Stream: the stream ended after " + std::to_string(got.size()) + " of " +
                             std::to_string(wanted) + " bytes"),
          partial(std::move(got)),
          expected(wanted) {}
    std::string partial;
    size_t expected;  // bytes wanted (read_exactly), or 0 (a delimiter never came)
};

// read_until / read_line: no delimiter within `limit` bytes (nothing is consumed).
class LimitOverrun : public std::runtime_error {
public:
    explicit LimitOverrun(size_t limit)
        : std::runtime_error("green::Stream: no delimiter within " + std::to_string(limit) + " bytes"), limit(limit) {}
    size_t limit;
};

class Stream {
public:
    static constexpr size_t kDefaultLimit = 64 << 10;  // asyncio's default line limit

    explicit Stream(int fd, bool owns = true);
    // A TCP connection to host:port (a name is resolved with getaddrinfo); std::system_error if
    // it cannot be made within `timeout`.
    static Stream connect(const std::string& host, uint16_t port, Seconds timeout = forever);
    Stream(Stream&& o) noexcept;
    Stream& operator=(Stream&& o) noexcept;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    ~Stream();

    // Up to and including the next '\n'; at EOF what is left without one ("" once all is read).
    std::string read_line(size_t limit = kDefaultLimit, Seconds timeout = forever);
    // Up to and including the next `delim`; IncompleteRead if the stream ends first.
    std::string read_until(std::string_view delim, size_t limit = kDefaultLimit, Seconds timeout = forever);
    // Exactly n bytes; IncompleteRead if the stream ends first.
    std::string read_exactly(size_t n, Seconds timeout = forever);
    // What is buffered, or else at least one byte as soon as some come (at most `max`); "" at EOF.
    std::string read_some(size_t max = kDefaultLimit, Seconds timeout = forever);
    // Everything until EOF.
    std::string read_all(Seconds timeout = forever);
    // All of `data` (the timeout covers the whole write).
    void write(std::string_view data, Seconds timeout = forever);
    // No more writes: the peer reads EOF (a socket's shutdown(SHUT_WR)); reads go on.
    void write_eof();
    // Whether the peer ended the stream and everything was read.
    bool at_eof() const noexcept { return eof_ && buf_.size() == pos_; }
    int fd() const noexcept { return fd_; }
    void close();

private:
    // One read from the descriptor into the buffer; false at EOF. `deadline`: monotonic, < 0: none.
    bool fill(double deadline);
    std::string take(size_t n);
    size_t buffered() const noexcept { return buf_.size() - pos_; }
    int fd_;
    bool owns_;
    bool eof_ = false;
    std::string buf_;
    size_t pos_ = 0;  // the first unread byte of buf_
};

}  // namespace green
