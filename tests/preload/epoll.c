/* epoll: the program's own epoll instance must work under the runtime:
 * epoll_wait/epoll_pwait with timeout 0, 100 ms expiry, ready fds (events and
 * data.u64 returned), a wait woken by another thread (timeout -1), EPOLLET
 * (no second report without new data), EPOLLONESHOT (disarmed until MOD),
 * ctl errors (EEXIST, ENOENT, EINVAL maxevents), and the epoll fd itself
 * being pollable (nested event loop inside the program). */
#include "t.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static void *late_write(void *p)
{
    msleep(100);
    write(*(int *)p, "x", 1);
    return NULL;
}

#define EXPIRY(label, call)                                                                                  \
    do {                                                                                                     \
        double t0_ = now_s();                                                                                \
        int r_ = (call);                                                                                     \
        double el_ = now_s() - t0_;                                                                          \
        printf("%s = %d expired after timeout: %s\n", label, r_, el_ >= 0.099 && el_ < 1.5 ? "yes" : "no");  \
        CHECK(r_ == 0 && el_ >= 0.099 && el_ < 1.5);                                                         \
    } while (0)

int main(void)
{
    t_init();
    int sv[2], sv2[2];
    char c;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == 0);
    int a = sv[0], b = sv[1];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = 42}, out[8];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &e) == 0);
    errno = 0;
    int r = epoll_ctl(ep, EPOLL_CTL_ADD, a, &e);
    printf("EPOLL_CTL_ADD twice = %d %s\n", r, en(errno));
    errno = 0;
    r = epoll_ctl(ep, EPOLL_CTL_DEL, b, NULL);
    printf("EPOLL_CTL_DEL unregistered = %d %s\n", r, en(errno));
    errno = 0;
    r = epoll_wait(ep, out, 0, 0);
    printf("epoll_wait(maxevents 0) = %d %s\n", r, en(errno));
    CHECK(r == -1 && errno == EINVAL);

    double t0 = now_s();
    r = epoll_wait(ep, out, 8, 0);
    printf("epoll_wait(idle, 0) = %d immediate: %s\n", r, now_s() - t0 < 0.05 ? "yes" : "no");
    CHECK(r == 0);
    EXPIRY("epoll_wait(idle, 100)", epoll_wait(ep, out, 8, 100));
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    EXPIRY("epoll_pwait(idle, 100, sigmask)", epoll_pwait(ep, out, 8, 100, &mask));

    write(b, "x", 1);
    r = epoll_wait(ep, out, 8, 1000);
    printf("epoll_wait(ready) = %d events=%#x data=%llu\n", r, r > 0 ? out[0].events : 0,
           r > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
    CHECK(r == 1 && out[0].events == EPOLLIN && out[0].data.u64 == 42);
    read(a, &c, 1);

    pthread_t th;
    t0 = now_s();
    pthread_create(&th, NULL, late_write, &b);
    r = epoll_wait(ep, out, 8, -1);
    double el = now_s() - t0;
    pthread_join(th, NULL);
    printf("epoll_wait(-1) woken by thread = %d data=%llu waited: %s\n", r,
           r > 0 ? (unsigned long long)out[0].data.u64 : 0ULL, el >= 0.09 ? "yes" : "no");
    CHECK(r == 1 && el >= 0.09 && el < 2);
    read(a, &c, 1);
    pthread_create(&th, NULL, late_write, &b);
    r = epoll_pwait(ep, out, 8, 5000, &mask);
    pthread_join(th, NULL);
    printf("epoll_pwait(5000) woken by thread = %d\n", r);
    CHECK(r == 1);
    read(a, &c, 1);

    /* edge-triggered */
    struct epoll_event et = {.events = EPOLLIN | EPOLLET, .data.u64 = 7};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv2[0], &et) == 0);
    write(sv2[1], "ab", 2);
    r = epoll_wait(ep, out, 8, 1000);
    int r2 = epoll_wait(ep, out, 8, 100);
    write(sv2[1], "c", 1);
    int r3 = epoll_wait(ep, out, 8, 1000);
    printf("EPOLLET: first=%d again without new data=%d after new data=%d data=%llu\n", r, r2, r3,
           (unsigned long long)out[0].data.u64);
    CHECK(r == 1 && r2 == 0 && r3 == 1 && out[0].data.u64 == 7);
    char buf[8];
    read(sv2[0], buf, sizeof buf);

    /* one-shot */
    et.events = EPOLLIN | EPOLLONESHOT;
    et.data.u64 = 9;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, sv2[0], &et) == 0);
    write(sv2[1], "d", 1);
    r = epoll_wait(ep, out, 8, 1000);
    r2 = epoll_wait(ep, out, 8, 100);
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, sv2[0], &et) == 0);
    r3 = epoll_wait(ep, out, 8, 1000);
    printf("EPOLLONESHOT: first=%d while disarmed=%d after MOD=%d\n", r, r2, r3);
    CHECK(r == 1 && r2 == 0 && r3 == 1);
    read(sv2[0], buf, sizeof buf);

    /* the epoll fd is itself pollable */
    struct pollfd pf = {ep, POLLIN, 0};
    r = poll(&pf, 1, 100);
    printf("poll(epfd) idle = %d\n", r);
    CHECK(r == 0);
    pthread_create(&th, NULL, late_write, &b);
    r = poll(&pf, 1, 5000);
    pthread_join(th, NULL);
    printf("poll(epfd) after registered fd ready = %d revents=%#x\n", r, pf.revents);
    CHECK(r == 1 && pf.revents == POLLIN);
    r = epoll_wait(ep, out, 8, 0);
    printf("epoll_wait after poll = %d data=%llu\n", r, (unsigned long long)out[0].data.u64);
    read(a, &c, 1);

    /* several ready fds in one call */
    epoll_ctl(ep, EPOLL_CTL_DEL, sv2[0], NULL);
    et.events = EPOLLIN;
    et.data.u64 = 5;
    epoll_ctl(ep, EPOLL_CTL_ADD, sv2[0], &et);
    write(b, "y", 1);
    write(sv2[1], "z", 1);
    r = epoll_wait(ep, out, 8, 1000);
    unsigned long long sum = 0;
    for (int i = 0; i < r; i++) sum += out[i].data.u64;
    printf("two ready fds = %d data sum=%llu\n", r, sum);
    CHECK(r == 2 && sum == 47);
    read(a, &c, 1);
    read(sv2[0], buf, sizeof buf);

    /* The runtime keeps watching an epoll fd between waits: closed, its number must come back
     * as whatever the program opens next, an epoll instance or a pipe. */
    r = epoll_wait(ep, out, 8, 50); /* a wait that parks: the watcher is left armed */
    CHECK(r == 0);
    close(ep);
    int ep2 = epoll_create1(0);
    e.data.u64 = 77;
    CHECK(ep2 == ep && epoll_ctl(ep2, EPOLL_CTL_ADD, a, &e) == 0);
    pthread_create(&th, NULL, late_write, &b);
    r = epoll_wait(ep2, out, 8, 5000);
    pthread_join(th, NULL);
    printf("a new epoll fd under the closed one's number = %d data=%llu\n", r,
           r > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
    CHECK(r == 1 && out[0].data.u64 == 77);
    read(a, &c, 1);
    CHECK(epoll_wait(ep2, out, 8, 50) == 0);
    close(ep2);
    int pp[2];
    CHECK(pipe(pp) == 0 && pp[0] == ep);
    pthread_create(&th, NULL, late_write, &pp[1]);
    t0 = now_s();
    r = (int)read(pp[0], &c, 1);
    pthread_join(th, NULL);
    printf("a pipe under the closed one's number: read = %d after the write: %s\n", r,
           now_s() - t0 >= 0.09 ? "yes" : "no");
    CHECK(r == 1 && now_s() - t0 >= 0.09);
    close(pp[0]);
    close(pp[1]);
    return t_done();
}
