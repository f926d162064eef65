/*
 * memcache_load.c - closed-loop load generator for memcached's text protocol (bench/event_loop.sh).
 *
 * Usage: memcache_load [--host 127.0.0.1] --port P [--conns 50] [--seconds 3] [--keys 1000]
 *                      [--value 100] [--set-every 10]
 *
 * Opens --conns TCP connections, all driven from one epoll loop (one OS thread: pin it with taskset).
 * Each connection has one request in flight at a time: `get KEY`, or every --set-every'th request
 * `set KEY 0 0 VALUE` with --value bytes (so 1 in 10 by default), over --keys keys picked at random
 * per connection (gets of a key not set yet are misses, answered "END": valid replies). As soon as a
 * reply is complete the next request goes out. Runs for --seconds, counting the replies completed
 * in that time.
 *
 * Output (stdout), "RESULT KEY VALUE" lines: requests (replies completed), seconds (the measured
 * time), rps, errors, conns (connected at the start), gets, hits, sets. Errors: a connection that
 * could not be made, was closed or reset by the server, or a reply that is not a valid one (ERROR,
 * CLIENT_ERROR, SERVER_ERROR, NOT_STORED, garbage); the connection is then dropped, the first 5
 * errors are printed on stderr. Exit status 0 iff no error and at least one reply; 2 on a usage
 * error. Self-contained: nothing from libgreen.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF 65536
#define WBUF 65536

enum { IDLE, WAIT_GET, WAIT_SET };

struct conn {
    int fd;
    int state;
    uint64_t rng;
    long sent;        /* requests sent on this connection */
    size_t rlen;      /* bytes in rbuf */
    size_t wlen, wof; /* request in wbuf, bytes of it written */
    char rbuf[RBUF];
    char wbuf[WBUF];
};

static long n_req, n_gets, n_hits, n_sets, n_err;
static int set_every = 10, n_keys = 1000, value_len = 100;
static char* value;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t next_rand(uint64_t* s) { /* xorshift64 */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void error_at(struct conn* c, int epfd, const char* what) {
    if (++n_err <= 5) fprintf(stderr, "memcache_load: connection %d: %s\n", c->fd, what);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = IDLE;
}

/* Writes what is left of the request; waits for EPOLLOUT when the socket is full. */
static void flush(struct conn* c, int epfd) {
    while (c->wof < c->wlen) {
        ssize_t k = send(c->fd, c->wbuf + c->wof, c->wlen - c->wof, MSG_NOSIGNAL);
        if (k > 0) {
            c->wof += (size_t)k;
        } else if (k < 0 && errno == EINTR) {
            continue;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        } else {
            error_at(c, epfd, "send failed");
            return;
        }
    }
}

static void send_next(struct conn* c, int epfd) {
    int key = (int)(next_rand(&c->rng) % (uint64_t)n_keys);
    int n;
    if (set_every > 0 && c->sent % set_every == 0) {
        n = snprintf(c->wbuf, WBUF, "set key:%d 0 0 %d\r\n%s\r\n", key, value_len, value);
        c->state = WAIT_SET;
    } else {
        n = snprintf(c->wbuf, WBUF, "get key:%d\r\n", key);
        c->state = WAIT_GET;
    }
    c->sent++;
    c->wlen = (size_t)n;
    c->wof = 0;
    flush(c, epfd);
}

/* The length of the complete reply at the start of rbuf: 0 if incomplete, -1 if invalid. "hit" is
 * set for a get that found its key. */
static long reply_len(const struct conn* c, int* hit) {
    const char* b = c->rbuf;
    const char* eol = memmem(b, c->rlen, "\r\n", 2);
    *hit = 0;
    if (!eol) return c->rlen > 1024 ? -1 : 0;
    size_t line = (size_t)(eol - b) + 2;
    if (c->state == WAIT_SET) return line == 8 && memcmp(b, "STORED", 6) == 0 ? (long)line : -1;
    if (line == 5 && memcmp(b, "END", 3) == 0) return (long)line;
    if (line < 7 || memcmp(b, "VALUE ", 6) != 0) return -1;
    /* VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n */
    const char* p = eol;
    while (p > b && p[-1] != ' ') p--;
    long bytes = strtol(p, NULL, 10);
    if (bytes < 0) return -1;
    size_t total = line + (size_t)bytes + 2 + 5;
    if (c->rlen < total) return total > RBUF ? -1 : 0;
    if (memcmp(b + total - 5, "END\r\n", 5) != 0) return -1;
    *hit = 1;
    return (long)total;
}

static int parse_int(const char* s, int lo, int hi, int* out) {
    char* end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int usage(void) {
    fprintf(stderr,
            "usage: memcache_load [--host ADDR] --port P [--conns N] [--seconds S] [--keys K] [--value BYTES] "
            "[--set-every N]\n");
    return 2;
}

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    int port = 0, conns = 50, seconds = 3;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (i + 1 >= argc) return usage();
        const char* v = argv[++i];
        int bad = 0;
        if (strcmp(a, "--host") == 0) host = v;
        else if (strcmp(a, "--port") == 0) bad = parse_int(v, 1, 65535, &port);
        else if (strcmp(a, "--conns") == 0) bad = parse_int(v, 1, 10000, &conns);
        else if (strcmp(a, "--seconds") == 0) bad = parse_int(v, 1, 3600, &seconds);
        else if (strcmp(a, "--keys") == 0) bad = parse_int(v, 1, 100000000, &n_keys);
        else if (strcmp(a, "--value") == 0) bad = parse_int(v, 1, 60000, &value_len);
        else if (strcmp(a, "--set-every") == 0) bad = parse_int(v, 0, 1000000, &set_every);
        else bad = 1;
        if (bad) return usage();
    }
    if (port == 0) return usage();
    value = malloc((size_t)value_len + 1);
    if (!value) return 1;
    memset(value, 'v', (size_t)value_len);
    value[value_len] = '\0';

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "memcache_load: bad address %s\n", host);
        return 2;
    }
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct conn* cs = calloc((size_t)conns, sizeof *cs);
    if (epfd < 0 || !cs) return 1;

    /* Blocking connects first (loopback: immediate), then non-blocking for the run. */
    int up = 0;
    for (int i = 0; i < conns; i++) {
        struct conn* c = &cs[i];
        c->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        c->sent = i; /* the sets spread over the connections' first requests */
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr*)&sa, sizeof sa) != 0) {
            if (++n_err <= 5) fprintf(stderr, "memcache_load: connect: %s\n", strerror(errno));
            if (c->fd >= 0) close(c->fd);
            c->fd = -1;
            continue;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
        up++;
    }

    double t0 = now(), end = t0 + seconds, t = t0;
    for (int i = 0; i < conns; i++)
        if (cs[i].fd >= 0) send_next(&cs[i], epfd);
    struct epoll_event evs[256];
    while (t < end) {
        int ms = (int)((end - t) * 1000) + 1;
        int n = epoll_wait(epfd, evs, 256, ms > 100 ? 100 : ms);
        if (n < 0 && errno != EINTR) {
            perror("memcache_load: epoll_wait");
            break;
        }
        for (int e = 0; e < n; e++) {
            struct conn* c = evs[e].data.ptr;
            if (c->fd < 0) continue;
            if (evs[e].events & EPOLLOUT) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                flush(c, epfd);
                if (c->fd < 0) continue;
            }
            if (!(evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            ssize_t k = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
            if (k == 0) {
                error_at(c, epfd, "closed by the server");
                continue;
            }
            if (k < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) error_at(c, epfd, strerror(errno));
                continue;
            }
            c->rlen += (size_t)k;
            int hit;
            long len = reply_len(c, &hit);
            if (len < 0) {
                error_at(c, epfd, c->state == WAIT_SET ? "bad reply to a set" : "bad reply to a get");
                continue;
            }
            if (len == 0) continue;
            if ((size_t)len != c->rlen) { /* one request in flight: nothing may follow its reply */
                error_at(c, epfd, "unexpected bytes after a reply");
                continue;
            }
            c->rlen = 0;
            n_req++;
            if (c->state == WAIT_SET) {
                n_sets++;
            } else {
                n_gets++;
                n_hits += hit;
            }
            send_next(c, epfd);
        }
        t = now();
    }
    double secs = t - t0;
    for (int i = 0; i < conns; i++)
        if (cs[i].fd >= 0) close(cs[i].fd);
    printf("RESULT requests %ld\nRESULT seconds %.3f\nRESULT rps %.0f\nRESULT errors %ld\nRESULT conns %d\n", n_req,
           secs, secs > 0 ? (double)n_req / secs : 0.0, n_err, up);
    printf("RESULT gets %ld\nRESULT hits %ld\nRESULT sets %ld\n", n_gets, n_hits, n_sets);
    return n_err == 0 && n_req > 0 ? 0 : 1;
}
