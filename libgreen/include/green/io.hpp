// green/io.hpp: socket I/O for new code, and StreamServer (gevent.server.StreamServer).
//
// Contract: these functions take descriptors in non-blocking mode (set_nonblocking; StreamServer
// hands its handlers such descriptors). Each tries the call and, on EAGAIN, parks the greenlet
// until the descriptor is ready, then retries: libc results and errno otherwise, -1/ETIMEDOUT once
// `timeout` passes, -1/EBADF if cancel_wait(fd) is called while waiting. Partial reads and writes
// stay partial, except in write_all.
#pragma once

#include <green/group.hpp>

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace green {

int set_nonblocking(int fd);  // 0, or -1/errno
ssize_t read(int fd, void* buf, size_t n, Seconds timeout = forever);
ssize_t write(int fd, const void* buf, size_t n, Seconds timeout = forever);
ssize_t recv(int fd, void* buf, size_t n, int flags = 0, Seconds timeout = forever);
ssize_t send(int fd, const void* buf, size_t n, int flags = MSG_NOSIGNAL, Seconds timeout = forever);
// Writes all n bytes unless an error or the timeout stops it; returns the bytes written (< n then,
// with errno set) like a blocking write.
ssize_t write_all(int fd, const void* buf, size_t n, Seconds timeout = forever);
// Returns a non-blocking, close-on-exec descriptor.
int accept(int fd, sockaddr* addr = nullptr, socklen_t* len = nullptr, Seconds timeout = forever);
// Connects a non-blocking socket: 0, or -1 with the connection's error in errno.
int connect(int fd, const sockaddr* addr, socklen_t len, Seconds timeout = forever);
// A non-blocking TCP listening socket on host:port (port 0: any free port); -1/errno on failure.
int listen_tcp(const std::string& host, uint16_t port, int backlog = 1024);
// A connected non-blocking TCP socket to host:port (numeric host or a name resolved with
// getaddrinfo on the calling thread); -1/errno on failure.
int connect_tcp(const std::string& host, uint16_t port, Seconds timeout = forever);

// Accepts connections on a listening socket and runs handler(fd) in a new greenlet for each (in
// `pool` if given, which then bounds the concurrency). The descriptor is closed when the handler
// returns or throws. With several hubs (start_hubs), each handler runs on the hub with the fewest
// live greenlets at its accept (any_hub): connections spread over the cores; the handler must
// then share what it touches with other hubs' greenlets only through green's sync objects.
class StreamServer {
public:
    using Handler = std::function<void(int fd)>;
    StreamServer(int listen_fd, Handler handler, Pool* pool = nullptr);
    ~StreamServer();
    // Accept in the calling greenlet until stop().
    void serve_forever();
    // Accept in a new greenlet.
    void start();
    void stop();
    uint16_t port() const;
    size_t connections() const { return group_ ? group_->size() : pool_->size(); }

private:
    int fd_;
    Handler handler_;
    Pool* pool_;
    std::unique_ptr<Group> group_;
    Greenlet<void> acceptor_;
    GreenletBase serving_;  // the greenlet inside serve_forever
    bool stopping_ = false;
};

}  // namespace green
