// api/stream.cpp: Stream (see green/stream.hpp).
#include <green/io.hpp>
#include <green/stream.hpp>

#include "../hub/hub.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

namespace green {

namespace {

double deadline_after(Seconds timeout) { return timeout.value < 0 ? -1 : detail::monotonic_now() + timeout.value; }

double left_until(double deadline) { return deadline < 0 ? -1 : std::max(0.0, deadline - detail::monotonic_now()); }

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

Stream::Stream(int fd, bool owns) : fd_(fd), owns_(owns) {
    if (set_nonblocking(fd) != 0) throw_errno("green::Stream");
}

Stream Stream::connect(const std::string& host, uint16_t port, Seconds timeout) {
    int fd = connect_tcp(host, port, timeout);
    if (fd < 0) throw_errno("green::Stream::connect");
    return Stream(fd);
}

Stream::Stream(Stream&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      owns_(o.owns_),
      eof_(o.eof_),
      buf_(std::move(o.buf_)),
      pos_(std::exchange(o.pos_, 0)) {}

Stream& Stream::operator=(Stream&& o) noexcept {
    if (this != &o) {
        close();
        fd_ = std::exchange(o.fd_, -1);
        owns_ = o.owns_;
        eof_ = o.eof_;
        buf_ = std::move(o.buf_);
        pos_ = std::exchange(o.pos_, 0);
    }
    return *this;
}

Stream::~Stream() { close(); }

void Stream::close() {
    if (fd_ >= 0 && owns_) {
        cancel_wait(fd_);
        ::close(fd_);
    }
    fd_ = -1;
}

bool Stream::fill(double deadline) {
    if (eof_) return false;
    if (fd_ < 0) {
        errno = EBADF;
        throw_errno("green::Stream read");
    }
    // Drop what was consumed before growing the buffer.
    if (pos_ > 0 && pos_ == buf_.size()) buf_.clear(), pos_ = 0;
    else if (pos_ > (64 << 10) && pos_ * 2 > buf_.size()) buf_.erase(0, pos_), pos_ = 0;
    const size_t old = buf_.size();
    buf_.resize(old + (16 << 10));
    ssize_t r = green::read(fd_, buf_.data() + old, 16 << 10, left_until(deadline));
    buf_.resize(old + size_t(std::max<ssize_t>(r, 0)));
    if (r < 0) throw_errno("green::Stream read");
    if (r == 0) eof_ = true;
    return r > 0;
}

std::string Stream::take(size_t n) {
    std::string out = buf_.substr(pos_, n);
    pos_ += n;
    return out;
}

std::string Stream::read_until(std::string_view delim, size_t limit, Seconds timeout) {
    if (delim.empty()) throw std::invalid_argument("green::Stream::read_until: empty delimiter");
    const double deadline = deadline_after(timeout);
    size_t from = 0;  // where the search resumes (a delimiter may straddle two reads)
    for (;;) {
        std::string_view data(buf_.data() + pos_, buffered());
        size_t at = data.find(delim, from);
        if (at != std::string_view::npos) {
            if (at + delim.size() > limit) throw LimitOverrun(limit);
            return take(at + delim.size());
        }
        if (data.size() > limit) throw LimitOverrun(limit);
        from = data.size() >= delim.size() ? data.size() - delim.size() + 1 : 0;
        if (!fill(deadline)) throw IncompleteRead(take(buffered()), 0);
    }
}

std::string Stream::read_line(size_t limit, Seconds timeout) {
    try {
        return read_until("\n", limit, timeout);
    } catch (IncompleteRead& e) {
        return std::move(e.partial);  // the last line without its newline, or "" at the end
    }
}

std::string Stream::read_exactly(size_t n, Seconds timeout) {
    const double deadline = deadline_after(timeout);
    while (buffered() < n)
        if (!fill(deadline)) throw IncompleteRead(take(buffered()), n);
    return take(n);
}

std::string Stream::read_some(size_t max, Seconds timeout) {
    if (max == 0) return {};
    if (buffered() == 0) fill(deadline_after(timeout));
    return take(std::min(max, buffered()));
}

std::string Stream::read_all(Seconds timeout) {
    const double deadline = deadline_after(timeout);
    while (fill(deadline)) {}
    return take(buffered());
}

void Stream::write(std::string_view data, Seconds timeout) {
    const double deadline = deadline_after(timeout);
    size_t done = 0;
    while (done < data.size()) {
        // send() with MSG_NOSIGNAL: a peer that is gone is EPIPE here, not a SIGPIPE; a pipe or
        // a terminal is no socket: write().
        ssize_t r = green::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL, left_until(deadline));
        if (r < 0 && errno == ENOTSOCK)
            r = green::write(fd_, data.data() + done, data.size() - done, left_until(deadline));
        if (r < 0) throw_errno("green::Stream write");
        done += size_t(r);
    }
}

void Stream::write_eof() {
    if (::shutdown(fd_, SHUT_WR) != 0) throw_errno("green::Stream write_eof");
}

}  // namespace green
