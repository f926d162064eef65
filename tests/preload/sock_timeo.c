/* sock_timeo: SO_RCVTIMEO / SO_SNDTIMEO must be honoured by the runtime's
 * fiber waits: getsockopt returns what was set; recv/read/recvfrom/recvmsg and
 * accept on an idle socket fail with EAGAIN after >= the timeout; data that
 * arrives earlier is returned at once; a send/write into a full buffer fails
 * with EAGAIN after the send timeout, or returns a partial count if some
 * bytes went out; timeout 0 means "block forever"; bad tv_usec -> EDOM. */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>

static void set_to(int fd, int opt, long usec)
{
    struct timeval tv = {usec / 1000000, usec % 1000000};
    CHECK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0);
}

/* lower bound allows one 4 ms kernel tick of slack natively */
#define TIMED(label, call, lo)                                                                               \
    do {                                                                                                     \
        double t0_ = now_s();                                                                                \
        errno = 0;                                                                                           \
        ssize_t r_ = (call);                                                                                 \
        int e_ = errno;                                                                                      \
        double el_ = now_s() - t0_;                                                                          \
        printf("%s = %zd %s after timeout: %s\n", label, r_, en(e_),                                         \
               el_ >= (lo) && el_ < (lo) + 1.5 ? "yes" : "no");                                              \
        CHECK(r_ == -1 && e_ == EAGAIN && el_ >= (lo) && el_ < (lo) + 1.5);                                  \
    } while (0)

struct late {
    int fd;
    int ms;
    int nread;
};
static void *late_write(void *p)
{
    struct late *l = p;
    msleep(l->ms);
    write(l->fd, "data!", 5);
    return NULL;
}
static void *late_read(void *p)
{
    struct late *l = p;
    static char buf[8192];
    msleep(l->ms);
    l->nread = (int)read(l->fd, buf, sizeof buf);
    return NULL;
}

int main(void)
{
    t_init();
    int sv[2];
    char buf[256];
    ssize_t r;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);

    set_to(sv[0], SO_RCVTIMEO, 200000);
    struct timeval tv;
    socklen_t tl = sizeof tv;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &tl) == 0);
    printf("getsockopt SO_RCVTIMEO = %ld.%06ld len=%u\n", (long)tv.tv_sec, (long)tv.tv_usec, (unsigned)tl);
    CHECK(tv.tv_sec == 0 && tv.tv_usec == 200000);

    TIMED("recv", recv(sv[0], buf, sizeof buf, 0), 0.19);
    TIMED("read", read(sv[0], buf, sizeof buf), 0.19);
    TIMED("recvfrom", recvfrom(sv[0], buf, sizeof buf, 0, NULL, NULL), 0.19);
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    TIMED("recvmsg", recvmsg(sv[0], &m, 0), 0.19);

    /* data arriving before the timeout is returned */
    pthread_t th;
    struct late lw = {sv[1], 50, 0};
    double t0 = now_s();
    pthread_create(&th, NULL, late_write, &lw);
    r = recv(sv[0], buf, sizeof buf, 0);
    double el = now_s() - t0;
    pthread_join(th, NULL);
    printf("recv with data at 50ms = %zd before timeout: %s\n", r, el < 0.19 ? "yes" : "no");
    CHECK(r == 5 && el < 0.19);

    /* timeout 0 = no timeout: waits for data written at 300 ms */
    set_to(sv[0], SO_RCVTIMEO, 0);
    lw.ms = 300;
    t0 = now_s();
    pthread_create(&th, NULL, late_write, &lw);
    r = recv(sv[0], buf, sizeof buf, 0);
    el = now_s() - t0;
    pthread_join(th, NULL);
    printf("recv with timeout 0 = %zd waited past 200ms: %s\n", r, el >= 0.29 ? "yes" : "no");
    CHECK(r == 5 && el >= 0.29);

    /* invalid timeval */
    struct timeval badtv = {0, 1000000};
    errno = 0;
    int rc = setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &badtv, sizeof badtv);
    printf("setsockopt SO_RCVTIMEO usec=1e6 = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == EDOM);

    /* SO_SNDTIMEO on a full socket buffer */
    set_to(sv[1], SO_SNDTIMEO, 200000);
    tl = sizeof tv;
    getsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, &tl);
    printf("getsockopt SO_SNDTIMEO = %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
    CHECK(tv.tv_sec == 0 && tv.tv_usec == 200000);
    long filled = 0;
    while ((r = send(sv[1], buf, sizeof buf, MSG_DONTWAIT)) > 0) filled += r;
    printf("filled buffer: %s (%s)\n", filled > 0 ? "yes" : "no", en(errno));
    TIMED("send on full buffer", send(sv[1], "x", 1, 0), 0.19);
    TIMED("write on full buffer", write(sv[1], "x", 1), 0.19);
    /* partial: a reader frees ~8 KiB at 50 ms, a 1 MiB send returns what fit */
    static char big[1 << 20];
    struct late lr = {sv[0], 50, 0};
    t0 = now_s();
    pthread_create(&th, NULL, late_read, &lr);
    r = send(sv[1], big, sizeof big, 0);
    el = now_s() - t0;
    pthread_join(th, NULL);
    printf("send(1 MiB) with timeout after partial drain: partial count: %s\n",
           r > 0 && r < (ssize_t)sizeof big ? "yes" : "no");
    CHECK(r > 0 && r < (ssize_t)sizeof big && el >= 0.19 && el < 2);
    close(sv[0]);
    close(sv[1]);

    /* accept honours SO_RCVTIMEO */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    listen(l, 4);
    set_to(l, SO_RCVTIMEO, 200000);
    TIMED("accept", accept(l, NULL, NULL), 0.19);
    close(l);

    /* UDP recvfrom with timeout */
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    bind(u, (struct sockaddr *)&a, sizeof a);
    set_to(u, SO_RCVTIMEO, 150000);
    TIMED("udp recvfrom", recvfrom(u, buf, sizeof buf, 0, NULL, NULL), 0.14);
    close(u);
    return t_done();
}
