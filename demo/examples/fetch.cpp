// fetch.cpp - 20 HTTP fetches of a slow page: one after another, then from 20 greenlets at once.
//
// The program starts its own tiny HTTP server first: a green::StreamServer in this same process
// and OS thread, on a free port of 127.0.0.1, whose handler answers every request after 200 ms
// (green::sleep, so a slow request does not hold up the others). The clients are ordinary
// blocking-style code: green::connect_tcp (getaddrinfo + connect), green::write_all (send) and
// green::read (recv) until EOF. Each call parks only its greenlet, so 20 concurrent fetches take
// about 200 ms where 20 sequential ones take about 4 s.
#include <green/green.hpp>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kFetches = 20;
constexpr double kDelay = 0.2;  // seconds the server takes per request

// The server's side of one connection: read the request head, wait, answer, close.
void handle_http(int fd) {
    std::string req;
    char buf[1024];
    while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = green::read(fd, buf, sizeof buf, 5.0);
        if (n <= 0) return;
        req.append(buf, size_t(n));
    }
    green::sleep(kDelay);  // the "slow page"
    std::string body = "hello from a greenlet, request line: " + req.substr(0, req.find("\r\n")) + "\n";
    std::string resp = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
    green::write_all(fd, resp.data(), resp.size());
}

// The client: the usual blocking sequence, with each blocking call a green one.
// Returns the body's size, or -1.
long fetch(uint16_t port, int i) {
    int fd = green::connect_tcp("127.0.0.1", port, 10.0);  // getaddrinfo + connect
    if (fd < 0) {
        fprintf(stderr, "fetch %d: connect: %s\n", i, strerror(errno));
        return -1;
    }
    std::string req = "GET /slow/" + std::to_string(i) + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (green::write_all(fd, req.data(), req.size()) != ssize_t(req.size())) {
        close(fd);
        return -1;
    }
    std::string resp;
    char buf[4096];
    for (;;) {
        ssize_t n = green::read(fd, buf, sizeof buf, 10.0);
        if (n < 0) {
            fprintf(stderr, "fetch %d: read: %s\n", i, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0) break;
        resp.append(buf, size_t(n));
    }
    close(fd);
    if (resp.rfind("HTTP/1.0 200", 0) != 0) return -1;
    size_t head = resp.find("\r\n\r\n");
    return head == std::string::npos ? -1 : long(resp.size() - head - 4);
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

int main() {
    int lfd = green::listen_tcp("127.0.0.1", 0);
    if (lfd < 0) {
        perror("fetch: listen_tcp");
        return 1;
    }
    green::StreamServer server(lfd, handle_http);
    server.start();
    uint16_t port = server.port();
    printf("HTTP server (a greenlet StreamServer) on 127.0.0.1:%u, %.0f ms per request\n", unsigned(port),
           kDelay * 1000);

    int failures = 0;

    // 1. Sequential: one fetch after the other, in the main greenlet.
    double t0 = now();
    for (int i = 0; i < kFetches; ++i)
        if (fetch(port, i) < 0) ++failures;
    double sequential = now() - t0;

    // 2. Concurrent: one greenlet per fetch.
    t0 = now();
    std::vector<green::Greenlet<long>> gs;
    for (int i = 0; i < kFetches; ++i) gs.push_back(green::spawn(fetch, port, i));
    green::joinall(gs);
    double concurrent = now() - t0;
    long bytes = 0;
    for (auto& g : gs) {
        long n = g.get();
        if (n < 0) ++failures;
        else bytes += n;
    }

    printf("%d fetches sequentially:        %6.3f s\n", kFetches, sequential);
    printf("%d fetches in %d greenlets:     %6.3f s  (%.1fx faster, %ld body bytes)\n", kFetches, kFetches, concurrent,
           sequential / concurrent, bytes);
    if (failures) printf("%d fetches failed\n", failures);

    server.stop();
    green::cancel_wait(lfd);
    close(lfd);
    return failures ? 1 : 0;
}
