/* sock_pair_io: socket I/O over AF_UNIX socketpairs (and a pipe) with exact
 * libc results: partial reads (ask 100, peer wrote 10 -> 10), readv/writev,
 * send/recv/sendto/recvfrom/sendmsg/recvmsg (incl. MSG_PEEK, MSG_WAITALL,
 * SCM_RIGHTS fd passing, SOCK_DGRAM boundaries and MSG_TRUNC), blocking reads
 * woken by another thread, 1 MiB blocking write drained by a reader thread,
 * EOF (read 0), EPIPE (SIGPIPE ignored / MSG_NOSIGNAL / handler runs once). */
#include "t.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct delayed {
    int fd;
    int ms;
    const char *data;
    int times;
};

static void *delayed_writer(void *p)
{
    struct delayed *d = p;
    for (int i = 0; i < d->times; i++) {
        msleep(d->ms);
        if (write(d->fd, d->data, strlen(d->data)) < 0) perror("delayed write");
    }
    return NULL;
}

#define BIG (1 << 20)
static unsigned long drained;
static unsigned long long drained_sum = FNV0;
static void *drain(void *p)
{
    int fd = *(int *)p;
    static char buf[65536];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        drained_sum = fnv(drained_sum, buf, (size_t)r);
        drained += (unsigned long)r;
    }
    return NULL;
}

static volatile sig_atomic_t pipes;
static void on_pipe(int s)
{
    (void)s;
    pipes++;
}

int main(void)
{
    t_init();
    int sv[2];
    char buf[256];
    ssize_t r;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);

    /* partial read */
    CHECK(write(sv[1], "0123456789", 10) == 10);
    r = read(sv[0], buf, 100);
    printf("read(100) after 10 written = %zd '%.*s'\n", r, (int)(r > 0 ? r : 0), buf);
    CHECK(r == 10);
    printf("read(0) = %zd write(0) = %zd\n", read(sv[0], buf, 0), write(sv[1], buf, 0));

    /* writev / readv */
    struct iovec wv[3] = {{"hello", 5}, {" ", 1}, {"world", 5}};
    r = writev(sv[1], wv, 3);
    printf("writev = %zd\n", r);
    char a[4], b[100];
    struct iovec rv[2] = {{a, 4}, {b, 100}};
    r = readv(sv[0], rv, 2);
    printf("readv = %zd '%.4s' '%.*s'\n", r, a, (int)(r > 4 ? r - 4 : 0), b);
    CHECK(r == 11);

    /* send/recv, MSG_PEEK */
    CHECK(send(sv[1], "peekaboo", 8, 0) == 8);
    r = recv(sv[0], buf, 4, MSG_PEEK);
    printf("recv(4, MSG_PEEK) = %zd '%.4s'\n", r, buf);
    r = recv(sv[0], buf, sizeof buf, 0);
    printf("recv = %zd '%.*s'\n", r, (int)r, buf);
    CHECK(r == 8);

    /* sendto/recvfrom on a connected stream socket */
    CHECK(sendto(sv[1], "to", 2, 0, NULL, 0) == 2);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    r = recvfrom(sv[0], buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);
    printf("recvfrom = %zd '%.2s' addrlen=%u\n", r, buf, (unsigned)sl);
    CHECK(r == 2);

    /* blocking read woken by another thread after 100 ms */
    struct delayed d = {sv[1], 100, "late", 1};
    pthread_t th;
    double t0 = now_s();
    pthread_create(&th, NULL, delayed_writer, &d);
    r = read(sv[0], buf, sizeof buf);
    double el = now_s() - t0;
    printf("blocking read = %zd '%.*s' waited: %s\n", r, (int)(r > 0 ? r : 0), buf,
           el >= 0.09 ? "yes" : "no");
    CHECK(r == 4 && el >= 0.09 && el < 2);
    pthread_join(th, NULL);

    /* MSG_WAITALL: three 10-byte chunks 50 ms apart, one recv of 30 */
    struct delayed d3 = {sv[1], 50, "abcdefghij", 3};
    pthread_create(&th, NULL, delayed_writer, &d3);
    r = recv(sv[0], buf, 30, MSG_WAITALL);
    printf("recv(30, MSG_WAITALL) = %zd '%.*s'\n", r, (int)(r > 0 ? r : 0), buf);
    CHECK(r == 30);
    pthread_join(th, NULL);

    /* sendmsg/recvmsg with two iovecs and SCM_RIGHTS */
    int p[2];
    CHECK(pipe(p) == 0);
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec siov[2] = {{"fd:", 3}, {"pipe", 4}};
    struct msghdr m = {0};
    m.msg_iov = siov;
    m.msg_iovlen = 2;
    m.msg_control = cm.b;
    m.msg_controllen = sizeof cm.b;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[1], sizeof(int));
    r = sendmsg(sv[1], &m, 0);
    printf("sendmsg = %zd\n", r);
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } rcm;
    struct iovec riov = {buf, sizeof buf};
    struct msghdr rm = {0};
    rm.msg_iov = &riov;
    rm.msg_iovlen = 1;
    rm.msg_control = rcm.b;
    rm.msg_controllen = sizeof rcm.b;
    r = recvmsg(sv[0], &rm, 0);
    int gotfd = -1;
    struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
    if (rc && rc->cmsg_type == SCM_RIGHTS) memcpy(&gotfd, CMSG_DATA(rc), sizeof(int));
    printf("recvmsg = %zd '%.*s' flags=%d got fd: %s\n", r, (int)(r > 0 ? r : 0), buf, rm.msg_flags,
           gotfd >= 0 ? "yes" : "no");
    CHECK(r == 7 && gotfd >= 0);
    if (gotfd >= 0) {
        CHECK(write(gotfd, "via passed fd", 13) == 13);
        r = read(p[0], buf, sizeof buf);
        printf("pipe read via passed fd = %zd '%.*s'\n", r, (int)(r > 0 ? r : 0), buf);
        close(gotfd);
    }

    /* pipe: blocking read woken by another thread */
    struct delayed dp = {p[1], 100, "pipe-data", 1};
    pthread_create(&th, NULL, delayed_writer, &dp);
    r = read(p[0], buf, sizeof buf);
    printf("pipe blocking read = %zd '%.*s'\n", r, (int)(r > 0 ? r : 0), buf);
    CHECK(r == 9);
    pthread_join(th, NULL);
    close(p[1]);
    r = read(p[0], buf, sizeof buf);
    printf("pipe EOF read = %zd\n", r);
    CHECK(r == 0);
    close(p[0]);

    /* 1 MiB blocking write: returns the full length, reader thread drains it */
    char *big = malloc(BIG);
    for (int i = 0; i < BIG; i++) big[i] = (char)(i * 7 + (i >> 12));
    unsigned long long sum = fnv(FNV0, big, BIG);
    int rfd = sv[0];
    pthread_create(&th, NULL, drain, &rfd);
    r = write(sv[1], big, BIG);
    printf("write(1 MiB) = %zd\n", r);
    CHECK(r == BIG);
    shutdown(sv[1], SHUT_WR);
    pthread_join(th, NULL);
    printf("reader got %lu bytes, checksum %s\n", drained, drained_sum == sum ? "matches" : "differs");
    CHECK(drained == BIG && drained_sum == sum);
    free(big);

    /* EOF */
    r = read(sv[0], buf, sizeof buf);
    printf("read after peer shutdown = %zd\n", r);
    CHECK(r == 0);

    /* EPIPE with SIGPIPE ignored */
    close(sv[0]);
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    r = write(sv[1], "x", 1);
    printf("write to closed peer (SIG_IGN) = %zd %s\n", r, en(errno));
    CHECK(r == -1 && errno == EPIPE);
    /* MSG_NOSIGNAL with default disposition: EPIPE, process survives */
    signal(SIGPIPE, SIG_DFL);
    errno = 0;
    r = send(sv[1], "x", 1, MSG_NOSIGNAL);
    printf("send(MSG_NOSIGNAL) to closed peer = %zd %s\n", r, en(errno));
    CHECK(r == -1 && errno == EPIPE);
    /* with a handler: EPIPE and the handler ran exactly once */
    signal(SIGPIPE, on_pipe);
    errno = 0;
    r = write(sv[1], "x", 1);
    printf("write to closed peer (handler) = %zd %s handler runs=%d\n", r, en(errno), (int)pipes);
    CHECK(r == -1 && errno == EPIPE && pipes == 1);
    close(sv[1]);

    /* SOCK_DGRAM socketpair keeps message boundaries; MSG_TRUNC reports real length */
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    send(sv[1], "first-msg", 9, 0);
    send(sv[1], "second", 6, 0);
    send(sv[1], "third-message", 13, 0);
    r = recv(sv[0], buf, sizeof buf, 0);
    printf("dgram recv = %zd '%.*s'\n", r, (int)r, buf);
    r = recv(sv[0], buf, 3, 0);
    printf("dgram recv(3) = %zd\n", r);
    r = recv(sv[0], buf, 5, MSG_TRUNC);
    printf("dgram recv(5, MSG_TRUNC) = %zd\n", r);
    CHECK(r == 13);
    close(sv[0]);
    close(sv[1]);
    return t_done();
}
