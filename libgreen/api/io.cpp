// api/io.cpp: "try the call; on EAGAIN park until ready; retry" for new code.
#include <green/io.hpp>
#include <green/thread_pool.hpp>

#include "../hub/deadline.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <tuple>

namespace green {
namespace {

// Wait for `events` on fd until `deadline`; false (errno set) if the wait failed or timed out.
bool await(int fd, bool for_write, double deadline) {
    double left = -1;
    if (deadline >= 0) {
        left = deadline - detail::monotonic_now();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return false;
        }
    }
    try {
        bool ready = for_write ? wait_writable(fd, left) : wait_readable(fd, left);
        if (!ready) errno = ETIMEDOUT;
        return ready;
    } catch (const std::system_error& e) {
        errno = e.code().value();
        return false;
    }
}

template <class Call> auto retry(int fd, bool for_write, Seconds timeout, Call call) {
    // green's convention is the helper's: forever (-1) or any negative is none, 0 tries once.
    double deadline = detail::deadline_after(timeout.value);
    for (;;) {
        auto r = call();
        if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return r;
        if (!await(fd, for_write, deadline)) return decltype(r)(-1);
    }
}

}  // namespace

int set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fl & O_NONBLOCK ? 0 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

ssize_t read(int fd, void* buf, size_t n, Seconds timeout) {
    return retry(fd, false, timeout, [&] { return ::read(fd, buf, n); });
}
ssize_t write(int fd, const void* buf, size_t n, Seconds timeout) {
    return retry(fd, true, timeout, [&] { return ::write(fd, buf, n); });
}
ssize_t recv(int fd, void* buf, size_t n, int flags, Seconds timeout) {
    return retry(fd, false, timeout, [&] { return ::recv(fd, buf, n, flags); });
}
ssize_t send(int fd, const void* buf, size_t n, int flags, Seconds timeout) {
    return retry(fd, true, timeout, [&] { return ::send(fd, buf, n, flags); });
}

ssize_t write_all(int fd, const void* buf, size_t n, Seconds timeout) {
    double deadline = detail::deadline_after(timeout.value);
    size_t done = 0;
    while (done < n) {
        double left = deadline < 0 ? -1 : std::max(0.0, deadline - detail::monotonic_now());
        ssize_t r = write(fd, static_cast<const char*>(buf) + done, n - done, left);
        if (r < 0) return done ? ssize_t(done) : -1;
        done += size_t(r);
    }
    return ssize_t(done);
}

int accept(int fd, sockaddr* addr, socklen_t* len, Seconds timeout) {
    return retry(fd, false, timeout, [&] { return ::accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC); });
}

int connect(int fd, const sockaddr* addr, socklen_t len, Seconds timeout) {
    if (::connect(fd, addr, len) == 0) return 0;
    if (errno != EINPROGRESS) return -1;
    if (!await(fd, true, detail::deadline_after(timeout.value))) return -1;
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) return -1;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int listen_tcp(const std::string& host, uint16_t port, int backlog) {
    sockaddr_storage ss{};
    socklen_t len;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof *v6;
    } else {
        errno = EINVAL;
        return -1;
    }
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || ::listen(fd, backlog) < 0) {
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

namespace {

using AddrList = std::shared_ptr<addrinfo>;  // freed with freeaddrinfo

// host:port's addresses; null with errno set if there are none. A numeric host is converted in
// place; a name goes to a worker thread, as getaddrinfo waits for the name servers and the hub
// must go on meanwhile. The job owns what it resolves: if the caller is killed while it runs,
// the result is freed with the job's AsyncResult.
AddrList resolve_tcp(const std::string& host, uint16_t port) {
    const std::string service = std::to_string(port);
    auto lookup = [host, service](int flags) -> std::pair<int, AddrList> {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = flags;
        addrinfo* res = nullptr;
        int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
        if (rc == EAI_SYSTEM) rc = -errno;  // (errno is the worker's own)
        return {rc, AddrList(rc == 0 ? res : nullptr, [](addrinfo* a) {
                    if (a) freeaddrinfo(a);
                })};
    };
    auto [rc, list] = lookup(AI_NUMERICHOST);
    if (rc == EAI_NONAME) {
        static ThreadPool* resolvers = new ThreadPool(2);  // never destroyed: lookups may run at exit
        std::tie(rc, list) = resolvers->apply([lookup] { return lookup(0); });
    }
    if (rc != 0) errno = rc < 0 ? -rc : EHOSTUNREACH;
    return rc == 0 ? list : nullptr;
}

}  // namespace

int connect_tcp(const std::string& host, uint16_t port, Seconds timeout) {
    AddrList res = resolve_tcp(host, port);
    if (!res) return -1;
    int fd = -1, err = ECONNREFUSED;
    for (addrinfo* ai = res.get(); ai; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen, timeout) == 0) break;
        err = errno;
        ::close(fd);
        fd = -1;
    }
    if (fd < 0) errno = err;
    return fd;
}

StreamServer::StreamServer(int listen_fd, Handler handler, Pool* pool)
    : fd_(listen_fd), handler_(std::move(handler)), pool_(pool) {
    if (!pool_) group_ = std::make_unique<Group>();
    set_nonblocking(fd_);
}

StreamServer::~StreamServer() { stop(); }

void StreamServer::serve_forever() {
    Group& members = pool_ ? static_cast<Group&>(*pool_) : *group_;
    serving_ = getcurrent();
    while (!stopping_) {
        int c = accept(fd_);
        if (c < 0) {
            if (stopping_ || errno == EBADF) break;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                sleep(0.05);  // out of descriptors: let handlers finish and close some
            }
            continue;
        }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        SpawnOptions where;
        where.hub = any_hub;  // this hub while it is the only one
        members.spawn_with(where, [this, c] {
            struct Closer {
                int fd;
                ~Closer() { ::close(fd); }
            } closer{c};
            handler_(c);
        });
    }
}

void StreamServer::start() {
    acceptor_ = green::spawn([this] { serve_forever(); });
}

void StreamServer::stop() {
    if (stopping_) return;
    stopping_ = true;
    // Wherever serve_forever runs, end its wait in accept (unless stop() is called from it).
    if (serving_ && !serving_.dead() && !(serving_ == getcurrent())) serving_.kill();
    if (acceptor_ && !acceptor_.dead()) acceptor_.kill();
}

uint16_t StreamServer::port() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace green
