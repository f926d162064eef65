/* timeout_conventions: each call's own meaning of a zero, negative or huge
 * timeout, which the runtime maps onto its one deadline rule: SO_RCVTIMEO of
 * 0 is no timeout (recv waits for data written at 100 ms), a negative one
 * expires at once (EAGAIN, for recv and for send into a full buffer);
 * poll/ppoll/epoll_wait/select/pselect with a zero timeout return at once,
 * poll with INT_MAX ms and select with a huge timeval wait for data as with
 * none; recvmmsg with a huge timeout returns its datagram and writes back a
 * time left that is still huge (never negative). */
#include "t.h"
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>

static void *late_write(void *p)
{
    msleep(100);
    write(*(int *)p, "data!", 5);
    return NULL;
}

static void *late_drain(void *p)
{
    static char sink[1 << 16];
    msleep(100);
    while (recv(*(int *)p, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
    return NULL;
}

static void set_to(int fd, int opt, long sec, long usec)
{
    struct timeval tv = {sec, usec};
    CHECK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0);
}

/* `call` returns `want` at once (well before the 100 ms a wait would take) */
#define AT_ONCE(label, call, want)                                                                           \
    do {                                                                                                     \
        double t0_ = now_s();                                                                                \
        errno = 0;                                                                                           \
        long r_ = (long)(call);                                                                              \
        int e_ = errno;                                                                                      \
        double el_ = now_s() - t0_;                                                                          \
        printf("%s = %ld %s at once: %s\n", label, r_, en(e_), el_ < 0.05 ? "yes" : "no");                   \
        CHECK(r_ == (want) && el_ < 0.05);                                                                   \
    } while (0)

/* `call` is woken by the byte written at 100 ms: returns `want` after >= 90 ms */
#define WOKEN(label, wfd, call, want)                                                                        \
    do {                                                                                                     \
        pthread_t th_;                                                                                       \
        double t0_ = now_s();                                                                                \
        pthread_create(&th_, NULL, late_write, &(wfd));                                                      \
        long r_ = (long)(call);                                                                              \
        double el_ = now_s() - t0_;                                                                          \
        pthread_join(th_, NULL);                                                                             \
        printf("%s = %ld woken by the write at 100 ms: %s\n", label, r_,                                     \
               el_ >= 0.09 && el_ < 5 ? "yes" : "no");                                                       \
        CHECK(r_ == (want) && el_ >= 0.09 && el_ < 5);                                                       \
    } while (0)

int main(void)
{
    t_init();
    int sv[2];
    char buf[256];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int a = sv[0], b = sv[1];

    /* ---- SO_RCVTIMEO / SO_SNDTIMEO ---- */
    set_to(a, SO_RCVTIMEO, 0, 0);
    WOKEN("recv, SO_RCVTIMEO 0 (none)", b, recv(a, buf, sizeof buf, 0), 5);
    /* (with data on its way at 100 ms: a wait would end then, not as a deadlock) */
    pthread_t th;
    pthread_create(&th, NULL, late_write, &b);
    set_to(a, SO_RCVTIMEO, -1, 0);
    AT_ONCE("recv, SO_RCVTIMEO -1 s", recv(a, buf, sizeof buf, 0), -1);
    AT_ONCE("read, SO_RCVTIMEO -1 s", read(a, buf, sizeof buf), -1);
    set_to(a, SO_RCVTIMEO, -1, 500000);
    AT_ONCE("recv, SO_RCVTIMEO -0.5 s", recv(a, buf, sizeof buf, 0), -1);
    pthread_join(th, NULL);
    set_to(a, SO_RCVTIMEO, 0, 0);
    CHECK(recv(a, buf, sizeof buf, 0) == 5);
    long filled = 0;
    ssize_t r;
    while ((r = send(b, buf, sizeof buf, MSG_DONTWAIT)) > 0) filled += r;
    printf("filled buffer: %s\n", filled > 0 ? "yes" : "no");
    /* (with room made at 100 ms) */
    pthread_create(&th, NULL, late_drain, &a);
    set_to(b, SO_SNDTIMEO, -1, 0);
    AT_ONCE("send on full buffer, SO_SNDTIMEO -1 s", send(b, "x", 1, 0), -1);
    pthread_join(th, NULL);
    close(a);
    close(b);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    a = sv[0], b = sv[1];

    /* ---- zero timeouts: no wait ---- */
    struct pollfd p = {a, POLLIN, 0};
    AT_ONCE("poll(idle, 0)", poll(&p, 1, 0), 0);
    AT_ONCE("poll(NULL, 0, 0)", poll(NULL, 0, 0), 0);
    struct timespec ts0 = {0, 0};
    AT_ONCE("ppoll(idle, {0, 0})", ppoll(&p, 1, &ts0, NULL), 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = a}, out[2];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) == 0);
    AT_ONCE("epoll_wait(idle, 0)", epoll_wait(ep, out, 2, 0), 0);
    fd_set rs;
    struct timeval tv0 = {0, 0};
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    AT_ONCE("select(idle, zeroed timeval)", select(a + 1, &rs, NULL, NULL, &tv0), 0);
    AT_ONCE("select(0 fds, zeroed timeval)", select(0, NULL, NULL, NULL, &tv0), 0);
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    AT_ONCE("pselect(idle, {0, 0})", pselect(a + 1, &rs, NULL, NULL, &ts0, NULL), 0);

    /* ---- huge timeouts: as good as none ---- */
    WOKEN("poll(idle, INT_MAX)", b, poll(&p, 1, INT_MAX), 1);
    read(a, buf, sizeof buf);
    WOKEN("epoll_wait(idle, INT_MAX)", b, epoll_wait(ep, out, 2, INT_MAX), 1);
    read(a, buf, sizeof buf);
    struct timeval tvbig = {LONG_MAX / 2, 0};
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    WOKEN("select(idle, LONG_MAX/2 s)", b, select(a + 1, &rs, NULL, NULL, &tvbig), 1);
    printf("select time left still huge: %s\n", tvbig.tv_sec > 1000000 ? "yes" : "no");
    CHECK(tvbig.tv_sec > 1000000);
    read(a, buf, sizeof buf);
    close(ep);
    close(a);
    close(b);

    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    struct iovec iov = {buf, sizeof buf};
    struct mmsghdr m = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    struct timespec tsbig = {LONG_MAX, 0};
    WOKEN("recvmmsg(1, {LONG_MAX, 0})", sv[1], recvmmsg(sv[0], &m, 1, 0, &tsbig), 1);
    printf("recvmmsg time left still huge: %s\n", tsbig.tv_sec > 100000000 ? "yes" : "no");
    CHECK(tsbig.tv_sec > 100000000);
    close(sv[0]);
    close(sv[1]);
    return t_done();
}
