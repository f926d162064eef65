/* poll_select: poll/ppoll/select/pselect as fiber waits with exact results:
 * timeout 0 (no wait), 100 ms expiry (returns 0 after >= 100 ms), ready fds
 * (revents / fd_set contents), an fd made readable by another thread while
 * waiting, negative fds ignored, POLLNVAL for closed fds, POLLHUP after the
 * peer closed, select() updating the timeout (Linux), pselect not, EBADF and
 * EINVAL, and nfds=0 used as a sleep. */
#include "t.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>

static void *late_write(void *p)
{
    msleep(100);
    write(*(int *)p, "x", 1);
    return NULL;
}

static const char *ev(short e)
{
    static char bufs[4][128];
    static int n;
    char *b = bufs[n++ % 4];
    b[0] = 0;
    if (!e) return "0";
    if (e & POLLIN) strcat(b, "IN|");
    if (e & POLLPRI) strcat(b, "PRI|");
    if (e & POLLOUT) strcat(b, "OUT|");
    if (e & POLLRDHUP) strcat(b, "RDHUP|");
    if (e & POLLERR) strcat(b, "ERR|");
    if (e & POLLHUP) strcat(b, "HUP|");
    if (e & POLLNVAL) strcat(b, "NVAL|");
    b[strlen(b) - 1] = 0;
    return b;
}

#define EXPIRY(label, call, lo)                                                                              \
    do {                                                                                                     \
        double t0_ = now_s();                                                                                \
        int r_ = (call);                                                                                     \
        double el_ = now_s() - t0_;                                                                          \
        printf("%s = %d expired after timeout: %s\n", label, r_, el_ >= (lo) && el_ < 1.5 ? "yes" : "no");   \
        CHECK(r_ == 0 && el_ >= (lo) && el_ < 1.5);                                                          \
    } while (0)

int main(void)
{
    t_init();
    int sv[2];
    char c;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int a = sv[0], b = sv[1];
    pthread_t th;
    double t0, el;
    int r;

    /* ---- poll ---- */
    struct pollfd p1 = {a, POLLIN, 0};
    t0 = now_s();
    r = poll(&p1, 1, 0);
    printf("poll(idle, 0) = %d revents=%s immediate: %s\n", r, ev(p1.revents),
           now_s() - t0 < 0.05 ? "yes" : "no");
    CHECK(r == 0);
    EXPIRY("poll(idle, 100)", poll(&p1, 1, 100), 0.099);
    EXPIRY("poll(NULL, 0, 100) as sleep", poll(NULL, 0, 100), 0.099);
    write(b, "x", 1);
    struct pollfd p2[3] = {{a, POLLIN | POLLOUT, 0}, {-1, POLLIN, 77}, {b, POLLOUT, 0}};
    r = poll(p2, 3, 1000);
    printf("poll(ready) = %d revents=%s,%s,%s\n", r, ev(p2[0].revents), ev(p2[1].revents), ev(p2[2].revents));
    CHECK(r == 2 && p2[0].revents == (POLLIN | POLLOUT) && p2[1].revents == 0 && p2[2].revents == POLLOUT);
    read(a, &c, 1);
    /* readable from another thread while blocked */
    t0 = now_s();
    pthread_create(&th, NULL, late_write, &b);
    p1.revents = 0;
    r = poll(&p1, 1, 5000);
    el = now_s() - t0;
    pthread_join(th, NULL);
    printf("poll woken by thread = %d revents=%s waited: %s\n", r, ev(p1.revents), el >= 0.09 ? "yes" : "no");
    CHECK(r == 1 && p1.revents == POLLIN && el >= 0.09 && el < 2);
    read(a, &c, 1);
    /* infinite timeout woken by thread */
    pthread_create(&th, NULL, late_write, &b);
    r = poll(&p1, 1, -1);
    pthread_join(th, NULL);
    printf("poll(-1) woken by thread = %d revents=%s\n", r, ev(p1.revents));
    read(a, &c, 1);
    /* POLLNVAL for a closed fd */
    int sv2[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv2);
    int dead = sv2[0];
    close(dead);
    struct pollfd pn = {dead, POLLIN, 0};
    r = poll(&pn, 1, 100);
    printf("poll(closed fd) = %d revents=%s\n", r, ev(pn.revents));
    CHECK(r == 1 && pn.revents == POLLNVAL);
    /* peer closed */
    struct pollfd ph = {sv2[1], POLLIN | POLLRDHUP, 0};
    r = poll(&ph, 1, 1000);
    printf("poll(peer closed) = %d revents=%s\n", r, ev(ph.revents));
    CHECK(r == 1 && (ph.revents & POLLHUP));
    close(sv2[1]);

    /* ---- ppoll ---- */
    struct timespec ts0 = {0, 0}, ts100 = {0, 100000000};
    r = ppoll(&p1, 1, &ts0, NULL);
    printf("ppoll(idle, 0) = %d\n", r);
    EXPIRY("ppoll(idle, 100ms)", ppoll(&p1, 1, &ts100, NULL), 0.099);
    printf("ppoll timeout unchanged: %s\n", ts100.tv_nsec == 100000000 ? "yes" : "no");
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    EXPIRY("ppoll(idle, 100ms, sigmask)", ppoll(&p1, 1, &ts100, &mask), 0.099);
    pthread_create(&th, NULL, late_write, &b);
    r = ppoll(&p1, 1, NULL, NULL);
    pthread_join(th, NULL);
    printf("ppoll(NULL timeout) woken by thread = %d revents=%s\n", r, ev(p1.revents));
    CHECK(r == 1 && p1.revents == POLLIN);
    read(a, &c, 1);

    /* ---- select ---- */
    fd_set rs, ws;
    struct timeval tv = {0, 0};
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    r = select(a + 1, &rs, NULL, NULL, &tv);
    printf("select(idle, 0) = %d a set: %d\n", r, FD_ISSET(a, &rs));
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    tv.tv_sec = 0;
    tv.tv_usec = 100000;
    EXPIRY("select(idle, 100ms)", select(a + 1, &rs, NULL, NULL, &tv), 0.099);
    printf("select timeout updated to %ld.%06ld, a set: %d\n", (long)tv.tv_sec, (long)tv.tv_usec,
           FD_ISSET(a, &rs));
    CHECK(tv.tv_sec == 0 && tv.tv_usec == 0 && !FD_ISSET(a, &rs));
    tv.tv_sec = 0;
    tv.tv_usec = 100000;
    EXPIRY("select(0 fds, 100ms) as sleep", select(0, NULL, NULL, NULL, &tv), 0.099);
    write(b, "x", 1);
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    FD_SET(b, &rs);
    FD_ZERO(&ws);
    FD_SET(b, &ws);
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    int hi = (a > b ? a : b) + 1;
    r = select(hi, &rs, &ws, NULL, &tv);
    printf("select(ready) = %d rs{a=%d b=%d} ws{b=%d} time left > 4s: %s\n", r, FD_ISSET(a, &rs),
           FD_ISSET(b, &rs), FD_ISSET(b, &ws), tv.tv_sec >= 4 ? "yes" : "no");
    CHECK(r == 2 && FD_ISSET(a, &rs) && !FD_ISSET(b, &rs) && FD_ISSET(b, &ws));
    read(a, &c, 1);
    t0 = now_s();
    pthread_create(&th, NULL, late_write, &b);
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    r = select(a + 1, &rs, NULL, NULL, NULL);
    el = now_s() - t0;
    pthread_join(th, NULL);
    printf("select(NULL timeout) woken by thread = %d a set: %d waited: %s\n", r, FD_ISSET(a, &rs),
           el >= 0.09 ? "yes" : "no");
    CHECK(r == 1 && FD_ISSET(a, &rs) && el >= 0.09);
    read(a, &c, 1);
    FD_ZERO(&rs);
    FD_SET(dead, &rs);
    tv.tv_sec = 0;
    tv.tv_usec = 100000;
    errno = 0;
    r = select(dead + 1, &rs, NULL, NULL, &tv);
    printf("select(closed fd) = %d %s\n", r, en(errno));
    CHECK(r == -1 && errno == EBADF);
    errno = 0;
    r = select(-1, NULL, NULL, NULL, &tv);
    printf("select(nfds=-1) = %d %s\n", r, en(errno));
    CHECK(r == -1 && errno == EINVAL);

    /* ---- pselect ---- */
    struct timespec pts = {0, 100000000};
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    EXPIRY("pselect(idle, 100ms)", pselect(a + 1, &rs, NULL, NULL, &pts, NULL), 0.099);
    printf("pselect timeout unchanged: %s\n", pts.tv_nsec == 100000000 ? "yes" : "no");
    CHECK(pts.tv_nsec == 100000000);
    pthread_create(&th, NULL, late_write, &b);
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    r = pselect(a + 1, &rs, NULL, NULL, NULL, &mask);
    pthread_join(th, NULL);
    printf("pselect(NULL timeout, sigmask) woken by thread = %d a set: %d\n", r, FD_ISSET(a, &rs));
    CHECK(r == 1 && FD_ISSET(a, &rs));
    read(a, &c, 1);
    close(a);
    close(b);
    return t_done();
}
