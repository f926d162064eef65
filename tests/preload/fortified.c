/* fortified: built with -O2 -D_FORTIFY_SOURCE=2 so that read/recv/recvfrom/
 * poll/ppoll compile to __read_chk/__recv_chk/__recvfrom_chk/__poll_chk/
 * __ppoll_chk (the runner checks with nm -D). These glibc entry points call
 * the syscalls internally, so a runtime that only interposes read/recv/poll
 * would block the single OS thread here: each call below blocks until ANOTHER
 * thread writes 100 ms later. Sizes are runtime values (volatile) with
 * compile-time-known buffer sizes, which is what selects the _chk variants. */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#ifndef _FORTIFY_SOURCE
#error "build with -O2 -D_FORTIFY_SOURCE=2"
#endif

static volatile size_t len = 32;
static volatile nfds_t nfds = 1;

struct late {
    int fd;
    struct sockaddr_in to;
    int udp;
};
static void *late_write(void *p)
{
    struct late *l = p;
    msleep(100);
    ssize_t r;
    if (l->udp) r = sendto(l->fd, "dgram", 5, 0, (struct sockaddr *)&l->to, sizeof l->to);
    else r = write(l->fd, "hello", 5);
    if (r != 5) perror("late_write");
    return NULL;
}

static pthread_t later(struct late *l)
{
    pthread_t th;
    pthread_create(&th, NULL, late_write, l);
    return th;
}

#define WAITED(label, r, expect, t0)                                                                         \
    do {                                                                                                     \
        double el_ = now_s() - (t0);                                                                         \
        printf("%s = %ld waited: %s\n", label, (long)(r), el_ >= 0.09 ? "yes" : "no");                       \
        CHECK((r) == (expect) && el_ >= 0.09 && el_ < 5);                                                    \
    } while (0)

int main(void)
{
    t_init();
    int sv[2];
    char buf[64];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct late l = {sv[1], {0}, 0};
    pthread_t th;
    double t0;
    long r;
    t0 = now_s();
    th = later(&l);
    r = read(sv[0], buf, len);
    pthread_join(th, NULL);
    WAITED("__read_chk", r, 5, t0);
    t0 = now_s();
    th = later(&l);
    r = recv(sv[0], buf, len, 0);
    pthread_join(th, NULL);
    WAITED("__recv_chk", r, 5, t0);

    struct pollfd pf[1] = {{sv[0], POLLIN, 0}};
    t0 = now_s();
    th = later(&l);
    r = poll(pf, nfds, 5000);
    pthread_join(th, NULL);
    WAITED("__poll_chk", r, 1, t0);
    CHECK(read(sv[0], buf, len) == 5);

    struct timespec ts = {5, 0};
    t0 = now_s();
    th = later(&l);
    r = ppoll(pf, nfds, &ts, NULL);
    pthread_join(th, NULL);
    WAITED("__ppoll_chk", r, 1, t0);
    CHECK(read(sv[0], buf, len) == 5);

    /* recvfrom on UDP */
    int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, from;
    bind(u, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(u, (struct sockaddr *)&a, &al);
    struct late lu = {v, a, 1};
    t0 = now_s();
    th = later(&lu);
    socklen_t fl = sizeof from;
    r = recvfrom(u, buf, len, 0, (struct sockaddr *)&from, &fl);
    pthread_join(th, NULL);
    WAITED("__recvfrom_chk", r, 5, t0);
    close(u);
    close(v);
    close(sv[0]);
    close(sv[1]);
    return t_done();
}
