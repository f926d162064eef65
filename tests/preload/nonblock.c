/* nonblock: fds the PROGRAM made non-blocking (fcntl O_NONBLOCK, ioctl FIONBIO,
 * SOCK_NONBLOCK on socket/socketpair/accept4, pipe2 O_NONBLOCK, eventfd
 * EFD_NONBLOCK, per-call MSG_DONTWAIT) must return -1/EAGAIN immediately, and
 * F_GETFL must show O_NONBLOCK exactly when the program set it: never on a
 * blocking socket/pipe the runtime has used for blocking (fiber) waits, and
 * not any more after the program cleared it (reads block again). */
#include "t.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int nb(int fd)
{
    return !!(fcntl(fd, F_GETFL) & O_NONBLOCK);
}

static void expect_eagain(const char *label, int fd)
{
    char buf[64];
    double t0 = now_s();
    errno = 0;
    ssize_t r = read(fd, buf, sizeof buf);
    int e = errno;
    double el = now_s() - t0;
    printf("%s: read = %zd %s immediate: %s F_GETFL nonblock=%d\n", label, r, en(e), el < 0.05 ? "yes" : "no",
           nb(fd));
    CHECK(r == -1 && e == EAGAIN && el < 0.05 && nb(fd) == 1);
}

struct late {
    int fd;
    int ms;
};
static void *late_write(void *p)
{
    struct late *l = p;
    msleep(l->ms);
    if (l->fd >= 0) {
        uint64_t one = 1; /* 8 bytes: works for eventfd, pipes and sockets */
        write(l->fd, &one, sizeof one);
    }
    return NULL;
}

/* blocking read that must wait ~100 ms for another thread's write */
static void expect_blocks(const char *label, int rfd, int wfd)
{
    char buf[64];
    pthread_t th;
    struct late l = {wfd, 100};
    double t0 = now_s();
    pthread_create(&th, NULL, late_write, &l);
    errno = 0;
    ssize_t r = read(rfd, buf, sizeof buf);
    double el = now_s() - t0;
    pthread_join(th, NULL);
    printf("%s: blocking read = %zd waited: %s F_GETFL nonblock=%d (peer %d)\n", label, r,
           el >= 0.09 ? "yes" : "no", nb(rfd), nb(wfd));
    CHECK(r == 8 && el >= 0.09 && nb(rfd) == 0 && nb(wfd) == 0);
}

int main(void)
{
    t_init();
    int sv[2], p[2];
    char buf[64];

    /* plain blocking socketpair: used for a blocking wait, flags stay clear */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    printf("fresh socketpair nonblock=%d,%d\n", nb(sv[0]), nb(sv[1]));
    expect_blocks("socketpair", sv[0], sv[1]);
    expect_blocks("socketpair again", sv[0], sv[1]);
    int fl = fcntl(sv[0], F_GETFL);
    printf("F_GETFL access mode O_RDWR: %s\n", (fl & O_ACCMODE) == O_RDWR ? "yes" : "no");

    /* MSG_DONTWAIT on a blocking socket: EAGAIN, socket stays blocking */
    errno = 0;
    ssize_t r = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
    printf("recv(MSG_DONTWAIT) = %zd %s nonblock after=%d\n", r, en(errno), nb(sv[0]));
    CHECK(r == -1 && errno == EAGAIN && nb(sv[0]) == 0);

    /* fcntl O_NONBLOCK on, then off again */
    CHECK(fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) == 0);
    expect_eagain("fcntl O_NONBLOCK", sv[0]);
    CHECK(fcntl(sv[0], F_SETFL, fl & ~O_NONBLOCK) == 0);
    expect_blocks("after clearing O_NONBLOCK", sv[0], sv[1]);

    /* ioctl FIONBIO on, then off */
    int on = 1, off = 0;
    CHECK(ioctl(sv[0], FIONBIO, &on) == 0);
    expect_eagain("ioctl FIONBIO=1", sv[0]);
    CHECK(ioctl(sv[0], FIONBIO, &off) == 0);
    expect_blocks("ioctl FIONBIO=0", sv[0], sv[1]);
    close(sv[0]);
    close(sv[1]);

    /* socketpair(SOCK_NONBLOCK) */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    expect_eagain("socketpair(SOCK_NONBLOCK)", sv[0]);
    /* non-blocking write into a full buffer: bytes, then EAGAIN */
    long total = 0;
    while ((r = write(sv[1], buf, sizeof buf)) > 0) total += r;
    printf("non-blocking write until full: wrote some: %s then %zd %s\n", total > 0 ? "yes" : "no", r,
           en(errno));
    CHECK(r == -1 && errno == EAGAIN);
    close(sv[0]);
    close(sv[1]);

    /* socket(SOCK_NONBLOCK): accept -> EAGAIN, connect -> 0 or EINPROGRESS */
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    listen(l, 4);
    errno = 0;
    int s = accept(l, NULL, NULL);
    printf("accept on SOCK_NONBLOCK listener = %d %s nonblock=%d\n", s, en(errno), nb(l));
    CHECK(s == -1 && errno == EAGAIN);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int rc = connect(c, (struct sockaddr *)&a, sizeof a);
    int started = rc == 0 || errno == EINPROGRESS;
    struct pollfd pf = {c, POLLOUT, 0};
    poll(&pf, 1, 2000);
    int soerr = -1;
    socklen_t sl = sizeof soerr;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    printf("non-blocking connect started: %s, writable: %s, SO_ERROR=%s\n", started ? "yes" : "no",
           (pf.revents & POLLOUT) ? "yes" : "no", en(soerr));
    CHECK(started && soerr == 0);
    expect_eagain("connected SOCK_NONBLOCK client", c);
    s = accept(l, NULL, NULL);
    printf("accepted socket (plain accept) nonblock=%d\n", nb(s));
    CHECK(s >= 0 && nb(s) == 0);
    close(s);
    close(c);
    close(l);

    /* pipe2(O_NONBLOCK), then clear it and block */
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    expect_eagain("pipe2(O_NONBLOCK)", p[0]);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) & ~O_NONBLOCK);
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) & ~O_NONBLOCK);
    expect_blocks("pipe after clearing O_NONBLOCK", p[0], p[1]);
    close(p[0]);
    close(p[1]);
    CHECK(pipe(p) == 0);
    expect_blocks("plain pipe", p[0], p[1]);
    close(p[0]);
    close(p[1]);

    /* eventfd */
    int ev = eventfd(0, EFD_NONBLOCK);
    expect_eagain("eventfd(EFD_NONBLOCK)", ev);
    close(ev);
    ev = eventfd(0, 0);
    expect_blocks("blocking eventfd", ev, ev);
    close(ev);
    return t_done();
}
