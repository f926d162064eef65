/* poll_green: poll/ppoll/select/pselect/epoll_wait/epoll_pwait2 wait for the
 * calling thread only:
 *  - 20 threads, each waiting 300 ms on its own idle pipe with one of the six
 *    calls, all finish in < 1.5 s (6 s if each wait blocked the process);
 *  - a thread's usleep ticker keeps running while main waits in poll;
 *  - two threads polling the same pipe are both woken by one write;
 *  - readiness the event loop reports but the call does not (POLLPRI and
 *    exceptfds on a TCP socket that only has normal data; events == 0 on a
 *    readable socket) neither spins nor ends the wait early; the real
 *    condition (urgent data, hang-up) still ends it;
 *  - a regular file (always ready) mixed with pipes, duplicate descriptors,
 *    200 descriptors of which one becomes ready. */
#include "t.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>

#define NT 20

static int idle_wait(int kind, int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    struct timespec ts = {0, 300000000};
    struct timeval tv = {0, 300000};
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(fd, &rs);
    switch (kind) {
    case 0: return poll(&p, 1, 300);
    case 1: return ppoll(&p, 1, &ts, NULL);
    case 2: return select(fd + 1, &rs, NULL, NULL, &tv);
    case 3: return pselect(fd + 1, &rs, NULL, NULL, &ts, NULL);
    case 4: {
        int ep = epoll_create1(0);
        struct epoll_event e = {.events = EPOLLIN}, out;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        int r = epoll_wait(ep, &out, 1, 300);
        close(ep);
        return r;
    }
    default: {
        int ep = epoll_create1(0);
        struct epoll_event e = {.events = EPOLLIN}, out;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        int r = epoll_pwait2(ep, &out, 1, &ts, NULL);
        close(ep);
        return r;
    }
    }
}

static int results[NT];
static double took[NT];
static void *idle_worker(void *arg)
{
    int i = (int)(intptr_t)arg, p[2];
    pipe(p);
    double t0 = now_s();
    results[i] = idle_wait(i % 6, p[0]);
    took[i] = now_s() - t0;
    close(p[0]);
    close(p[1]);
    return NULL;
}

struct shared {
    int fd;
    int r;
    short rev;
};
static void *poll_shared(void *arg)
{
    struct shared *s = arg;
    struct pollfd p = {s->fd, POLLIN, 0};
    s->r = poll(&p, 1, 3000);
    s->rev = p.revents;
    return NULL;
}

struct late {
    int fd;
    int ms;
    int how;
};
static void *late_act(void *arg)
{
    struct late *l = arg;
    msleep(l->ms);
    if (l->how == 0) write(l->fd, "x", 1);
    else if (l->how == 1) send(l->fd, "!", 1, MSG_OOB);
    else close(l->fd);
    return NULL;
}
static pthread_t later(struct late *l)
{
    pthread_t th;
    pthread_create(&th, NULL, late_act, l);
    return th;
}

static void tcp_pair(int sv[2])
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(l, (struct sockaddr *)&a, sizeof a);
    getsockname(l, (struct sockaddr *)&a, &al);
    listen(l, 1);
    sv[0] = socket(AF_INET, SOCK_STREAM, 0);
    connect(sv[0], (struct sockaddr *)&a, sizeof a);
    sv[1] = accept(l, NULL, NULL);
    close(l);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(void)
{
    t_init();
    pthread_t th[NT];
    double t0, el;
    int r;

    /* ---- 20 idle waits at once ---- */
    t0 = now_s();
    for (int i = 0; i < NT; i++) pthread_create(&th[i], NULL, idle_worker, (void *)(intptr_t)i);
    for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
    el = now_s() - t0;
    int zeros = 0, timed = 0;
    for (int i = 0; i < NT; i++) {
        zeros += results[i] == 0;
        timed += took[i] >= 0.29;
    }
    printf("20 concurrent idle waits: all returned 0: %s, each waited its timeout: %s, concurrent: %s\n",
           zeros == NT ? "yes" : "no", timed == NT ? "yes" : "no", el < 1.5 ? "yes" : "no");
    CHECK(zeros == NT && timed == NT && el < 1.5);

    /* ---- a ticker runs while main polls ---- */
    int p[2];
    pipe(p);
    ticker_start();
    struct pollfd pf = {p[0], POLLIN, 0};
    r = poll(&pf, 1, 300);
    int during = ticker_stop();
    printf("poll(300) = %d; other thread ran meanwhile: %s\n", r, during >= 10 ? "yes" : "no");
    CHECK(r == 0 && during >= 10);

    /* ---- two pollers, one write ---- */
    struct shared s1 = {p[0], -9, 0}, s2 = {p[0], -9, 0};
    pthread_t a, b;
    pthread_create(&a, NULL, poll_shared, &s1);
    pthread_create(&b, NULL, poll_shared, &s2);
    msleep(100);
    write(p[1], "x", 1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("two pollers on one pipe: %d/%#x %d/%#x\n", s1.r, s1.rev, s2.r, s2.rev);
    CHECK(s1.r == 1 && s2.r == 1 && s1.rev == POLLIN && s2.rev == POLLIN);
    char c;
    read(p[0], &c, 1);

    /* ---- unconfirmed readiness: POLLPRI with only normal data ---- */
    int tcp[2];
    tcp_pair(tcp);
    write(tcp[1], "normal", 6);
    msleep(20);
    struct pollfd pp = {tcp[0], POLLPRI, 0};
    double c0 = cpu_s();
    t0 = now_s();
    r = poll(&pp, 1, 300);
    el = now_s() - t0;
    double cpu = cpu_s() - c0;
    printf("poll(POLLPRI, normal data only, 300) = %d revents=%#x waited: %s, no spinning: %s\n", r,
           pp.revents, el >= 0.29 && el < 1.5 ? "yes" : "no", cpu < 0.15 ? "yes" : "no");
    CHECK(r == 0 && el >= 0.29 && el < 1.5 && cpu < 0.15);
    /* urgent data from another thread ends it */
    struct late oob = {tcp[1], 100, 1};
    pthread_t lt = later(&oob);
    t0 = now_s();
    r = poll(&pp, 1, 3000);
    el = now_s() - t0;
    pthread_join(lt, NULL);
    printf("poll(POLLPRI) then urgent data = %d revents has PRI: %s after the write: %s\n", r,
           (pp.revents & POLLPRI) ? "yes" : "no", el >= 0.09 && el < 1.0 ? "yes" : "no");
    CHECK(r == 1 && (pp.revents & POLLPRI) && el >= 0.09 && el < 1.0);
    /* the same through select's exceptfds */
    fd_set es;
    FD_ZERO(&es);
    FD_SET(tcp[0], &es);
    r = select(tcp[0] + 1, NULL, NULL, &es, &(struct timeval){1, 0});
    printf("select(exceptfds) with urgent data pending = %d set: %d\n", r, FD_ISSET(tcp[0], &es));
    CHECK(r == 1 && FD_ISSET(tcp[0], &es));
    char buf[64];
    recv(tcp[0], buf, 1, MSG_OOB);
    FD_ZERO(&es);
    FD_SET(tcp[0], &es);
    c0 = cpu_s();
    t0 = now_s();
    r = select(tcp[0] + 1, NULL, NULL, &es, &(struct timeval){0, 300000});
    el = now_s() - t0;
    cpu = cpu_s() - c0;
    printf("select(exceptfds, normal data only, 300ms) = %d waited: %s, no spinning: %s\n", r,
           el >= 0.29 && el < 1.5 ? "yes" : "no", cpu < 0.15 ? "yes" : "no");
    CHECK(r == 0 && el >= 0.29 && el < 1.5 && cpu < 0.15);

    close(tcp[0]);
    close(tcp[1]);

    /* ---- events == 0 on a readable socket: only a hang-up ends it ---- */
    int u[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, u);
    write(u[1], "data", 4);
    struct pollfd pz = {u[0], 0, 0};
    struct late hup = {u[1], 150, 2};
    lt = later(&hup);
    c0 = cpu_s();
    t0 = now_s();
    r = poll(&pz, 1, 3000);
    el = now_s() - t0;
    cpu = cpu_s() - c0;
    pthread_join(lt, NULL);
    printf("poll(events 0) on readable socket, peer closes = %d revents=%#x waited: %s, no spinning: %s\n", r,
           pz.revents, el >= 0.14 && el < 1.0 ? "yes" : "no", cpu < 0.15 ? "yes" : "no");
    CHECK(r == 1 && (pz.revents & POLLHUP) && el >= 0.14 && el < 1.0 && cpu < 0.15);
    close(u[0]);

    /* ---- a regular file is always ready ---- */
    int f = open("/proc/self/exe", O_RDONLY);
    struct pollfd pr[2] = {{p[0], POLLIN, 0}, {f, POLLIN | POLLOUT, 0}};
    t0 = now_s();
    r = poll(pr, 2, 2000);
    printf("poll(pipe, regular file) = %d revents=%#x,%#x immediate: %s\n", r, pr[0].revents, pr[1].revents,
           now_s() - t0 < 0.1 ? "yes" : "no");
    CHECK(r == 1 && pr[1].revents == (POLLIN | POLLOUT));
    /* ...but never urgent: the wait goes on for the pipe */
    pr[1].events = POLLPRI;
    struct late w = {p[1], 100, 0};
    lt = later(&w);
    t0 = now_s();
    r = poll(pr, 2, 3000);
    el = now_s() - t0;
    pthread_join(lt, NULL);
    printf("poll(pipe, regular file POLLPRI) = %d revents=%#x,%#x after the write: %s\n", r, pr[0].revents,
           pr[1].revents, el >= 0.09 && el < 1.0 ? "yes" : "no");
    CHECK(r == 1 && pr[0].revents == POLLIN && pr[1].revents == 0 && el >= 0.09 && el < 1.0);
    read(p[0], &c, 1);
    fd_set rs, ws;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_SET(p[0], &rs);
    FD_SET(f, &ws);
    r = select((f > p[0] ? f : p[0]) + 1, &rs, &ws, NULL, &(struct timeval){2, 0});
    printf("select(pipe, regular file) = %d pipe %d file %d\n", r, FD_ISSET(p[0], &rs), FD_ISSET(f, &ws));
    CHECK(r == 1 && !FD_ISSET(p[0], &rs) && FD_ISSET(f, &ws));
    close(f);

    /* ---- the same descriptor twice ---- */
    struct pollfd pd[3] = {{p[0], POLLIN, 0}, {p[0], POLLIN, 0}, {p[1], 0, 0}};
    lt = later(&w);
    r = poll(pd, 3, 3000);
    pthread_join(lt, NULL);
    printf("poll(same fd twice) = %d revents=%#x,%#x,%#x\n", r, pd[0].revents, pd[1].revents, pd[2].revents);
    CHECK(r == 2 && pd[0].revents == POLLIN && pd[1].revents == POLLIN && pd[2].revents == 0);
    read(p[0], &c, 1);

    /* ---- 200 descriptors, the last becomes ready ---- */
    enum { N = 100 };
    int pipes[N][2];
    struct pollfd many[2 * N];
    fd_set mr;
    FD_ZERO(&mr);
    int maxfd = 0;
    for (int i = 0; i < N; i++) {
        pipe(pipes[i]);
        many[2 * i] = (struct pollfd){pipes[i][0], POLLIN, 0};
        many[2 * i + 1] = (struct pollfd){pipes[i][1], POLLIN, 0};
        FD_SET(pipes[i][0], &mr);
        if (pipes[i][0] > maxfd) maxfd = pipes[i][0];
    }
    struct late wl = {pipes[N - 1][1], 100, 0};
    lt = later(&wl);
    r = poll(many, 2 * N, 3000);
    pthread_join(lt, NULL);
    int which = -1;
    for (int i = 0; i < 2 * N; i++)
        if (many[i].revents) which = i;
    printf("poll(200 fds) = %d ready index %d revents=%#x\n", r, which, which >= 0 ? many[which].revents : 0);
    CHECK(r == 1 && which == 2 * N - 2);
    read(pipes[N - 1][0], &c, 1);
    wl.fd = pipes[N / 2][1];
    lt = later(&wl);
    r = select(maxfd + 1, &mr, NULL, NULL, NULL);
    pthread_join(lt, NULL);
    int set = 0;
    for (int i = 0; i < N; i++) set += FD_ISSET(pipes[i][0], &mr) ? 1 : 0;
    printf("select(100 fds) = %d sets left: %d the right one: %d\n", r, set, FD_ISSET(pipes[N / 2][0], &mr));
    CHECK(r == 1 && set == 1 && FD_ISSET(pipes[N / 2][0], &mr));
    for (int i = 0; i < N; i++) {
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    close(p[0]);
    close(p[1]);
    return t_done();
}
