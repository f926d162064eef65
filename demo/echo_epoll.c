/*
 * echo_epoll.c - a hand-written single-threaded epoll echo server: the reference the demo and the
 * benchmarks compare libgreen with.
 *
 * Usage: echo_epoll PORT      (PORT 0 = let the kernel pick a free port)
 *
 * Binds 127.0.0.1:PORT, prints exactly one line "listening on PORT" to stdout, then runs one
 * level-triggered epoll loop over the listening socket, every (non-blocking) connection and a
 * signalfd for SIGTERM/SIGINT.
 *
 * Per connection: read what is there into one shared buffer and write it straight back. Only a
 * partial write allocates: the rest is copied into the connection's own buffer, the interest
 * switches from EPOLLIN to EPOLLOUT (so that a client that does not read cannot make us buffer
 * without bound) and the write resumes on writability. Nothing from libgreen.
 *
 * Build: gcc -std=gnu11 -O2 -Wall -Wextra -o echo_epoll echo_epoll.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 4096
#define MAX_EVENTS 256

enum kind { K_LISTEN, K_SIGNAL, K_CONN };

struct conn {
    enum kind kind; /* first: the listening and signal records share the layout */
    int fd;
    uint32_t events; /* the interest registered now */
    size_t off, len; /* pending output: pending[off, len) */
    char* pending;   /* NULL unless a write was partial */
};

static char rbuf[BUF_SIZE]; /* one read buffer for every connection */

struct special {
    enum kind kind;
    int fd;
};

static int epfd;

static void raise_nofile(rlim_t want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        struct rlimit up = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) return;
    }
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && rl.rlim_max == RLIM_INFINITY) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void conn_close(struct conn* c) {
    close(c->fd); /* also removes it from the epoll set (no dup of it exists) */
    free(c->pending);
    free(c);
}

static int set_interest(struct conn* c, uint32_t events) {
    if (c->events == events) return 0;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) return -1;
    c->events = events;
    return 0;
}

/* Write buf[off, len). Returns the new off (== len: all written; less: would block), or -1. */
static ssize_t send_from(int fd, const char* buf, size_t off, size_t len) {
    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        off += (size_t)n;
    }
    return (ssize_t)off;
}

static void on_conn(struct conn* c, uint32_t revents) {
    if (c->pending) {
        /* Waiting for writability with output pending. */
        if (!(revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        ssize_t off = send_from(c->fd, c->pending, c->off, c->len);
        if (off < 0) {
            conn_close(c);
            return;
        }
        c->off = (size_t)off;
        if (c->off == c->len) {
            free(c->pending);
            c->pending = NULL;
            if (set_interest(c, EPOLLIN) < 0) conn_close(c);
        }
        return;
    }
    /* Level-triggered: one read per readiness report keeps the loop fair between connections;
     * whatever is left is reported again by the next epoll_wait. */
    for (;;) {
        ssize_t n = read(c->fd, rbuf, BUF_SIZE);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            conn_close(c); /* ECONNRESET etc. */
            return;
        }
        if (n == 0) {
            conn_close(c); /* EOF */
            return;
        }
        ssize_t off = send_from(c->fd, rbuf, 0, (size_t)n);
        if (off < 0) {
            conn_close(c);
            return;
        }
        if (off < n) {
            /* Partial write: keep the rest and wait for writability, reading nothing meanwhile. */
            c->len = (size_t)(n - off);
            c->off = 0;
            c->pending = malloc(c->len);
            if (!c->pending) {
                conn_close(c);
                return;
            }
            memcpy(c->pending, rbuf + off, c->len);
            if (set_interest(c, EPOLLOUT) < 0) conn_close(c);
        }
        return;
    }
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Accept until the backlog is empty. */
static void on_listen(int lfd) {
    static int warned;
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            switch (errno) {
            case EINTR:
            case ECONNABORTED:
            case EPROTO: continue;
            case EAGAIN:
#if EAGAIN != EWOULDBLOCK
            case EWOULDBLOCK:
#endif
                return;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* Out of resources: back off (level-triggered: we are told again). */
                if (!warned++) perror("echo_epoll: accept (backing off)");
                sleep_ms(10);
                return;
            default: perror("echo_epoll: accept"); return;
            }
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn* c = malloc(sizeof *c);
        if (!c) {
            close(cfd);
            continue;
        }
        c->kind = K_CONN;
        c->fd = cfd;
        c->events = EPOLLIN;
        c->off = c->len = 0;
        c->pending = NULL;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ev) != 0) {
            perror("echo_epoll: epoll_ctl(ADD)");
            close(cfd);
            free(c);
        }
    }
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    char* end;
    long port = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
        fprintf(stderr, "echo_epoll: bad port '%s'\n", argv[1]);
        return 2;
    }

    raise_nofile(1 << 17);
    signal(SIGPIPE, SIG_IGN);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        perror("echo_epoll: signalfd");
        return 1;
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        perror("echo_epoll: socket");
        return 1;
    }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr*)&addr, sizeof addr) < 0) {
        perror("echo_epoll: bind");
        return 1;
    }
    if (listen(lfd, 4096) < 0) {
        perror("echo_epoll: listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    if (getsockname(lfd, (struct sockaddr*)&addr, &alen) < 0) {
        perror("echo_epoll: getsockname");
        return 1;
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        perror("echo_epoll: epoll_create1");
        return 1;
    }
    static struct special lrec = {K_LISTEN, -1}, srec = {K_SIGNAL, -1};
    lrec.fd = lfd;
    srec.fd = sfd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &lrec};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.ptr = &srec;
    epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);

    printf("listening on %u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("echo_epoll: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            enum kind k = *(enum kind*)events[i].data.ptr;
            if (k == K_CONN) {
                on_conn(events[i].data.ptr, events[i].events);
            } else if (k == K_LISTEN) {
                on_listen(lfd);
            } else {
                struct signalfd_siginfo si;
                if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si &&
                    (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) {
                    /* Open connections close with the process. */
                    return 0;
                }
            }
        }
    }
}
