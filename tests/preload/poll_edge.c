/* poll_edge: argument corner cases of the multiplexing calls, which must give
 * the kernel's answers (most of them without waiting):
 *  - invalid timeouts: ppoll/pselect/epoll_pwait2 with tv_nsec out of range
 *    or a negative tv_sec, select with a negative tv_usec -> EINVAL at once;
 *  - select normalises tv_usec >= 1 s and writes back the time left; it
 *    also writes it back on EBADF; poll with nfds over RLIMIT_NOFILE fails
 *    with EINVAL;
 *  - select with nfds beyond the kernel's descriptor table (the bits above
 *    it are not looked at), and with a descriptor above FD_SETSIZE in a
 *    larger, program-allocated set, woken by another thread;
 *  - epoll_wait on a non-epoll descriptor (EINVAL) and a closed one (EBADF);
 *  - poll with 0 descriptors and a timeout, and a negative timeout other
 *    than -1 (infinite) woken by a thread. */
#include "t.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>

static void *late_write(void *p)
{
    msleep(100);
    write(*(int *)p, "x", 1);
    return NULL;
}

#define IMMEDIATE_ERR(label, call, err)                                                                      \
    do {                                                                                                     \
        double t0_ = now_s();                                                                                \
        errno = 0;                                                                                           \
        long r_ = (long)(call);                                                                              \
        int e_ = errno;                                                                                      \
        printf("%s = %ld %s immediate: %s\n", label, r_, en(e_), now_s() - t0_ < 0.05 ? "yes" : "no");       \
        CHECK(r_ == -1 && e_ == (err) && now_s() - t0_ < 0.05);                                              \
    } while (0)

int main(void)
{
    t_init();
    int p[2];
    CHECK(pipe(p) == 0);
    struct pollfd pf = {p[0], POLLIN, 0};
    fd_set rs;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out[4];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);

    /* ---- invalid timeouts ---- */
    struct timespec bad_ns = {1, 1000000000L}, neg = {-1, 0};
    IMMEDIATE_ERR("ppoll(tv_nsec = 1e9)", ppoll(&pf, 1, &bad_ns, NULL), EINVAL);
    IMMEDIATE_ERR("ppoll(tv_sec = -1)", ppoll(&pf, 1, &neg, NULL), EINVAL);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    IMMEDIATE_ERR("pselect(tv_nsec = 1e9)", pselect(p[0] + 1, &rs, NULL, NULL, &bad_ns, NULL), EINVAL);
    IMMEDIATE_ERR("epoll_pwait2(tv_sec = -1)", epoll_pwait2(ep, out, 4, &neg, NULL), EINVAL);
    struct timeval tv = {1, -1};
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    IMMEDIATE_ERR("select(tv_usec = -1)", select(p[0] + 1, &rs, NULL, NULL, &tv), EINVAL);
    printf("  timeout untouched: %s\n", tv.tv_sec == 1 && tv.tv_usec == -1 ? "yes" : "no");
    CHECK(tv.tv_sec == 1 && tv.tv_usec == -1);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    IMMEDIATE_ERR("poll(nfds > RLIMIT_NOFILE)", poll(&pf, (nfds_t)rl.rlim_cur + 1, 100), EINVAL);

    /* ---- select's timeout ---- */
    tv = (struct timeval){0, 1500000};
    write(p[1], "a", 1);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    int r = select(p[0] + 1, &rs, NULL, NULL, &tv);
    printf("select(ready, tv_usec = 1.5 s) = %d left: %ld s and over 0.4 s: %s\n", r, (long)tv.tv_sec,
           tv.tv_usec > 400000 ? "yes" : "no");
    CHECK(r == 1 && tv.tv_sec == 1 && tv.tv_usec > 400000 && tv.tv_usec < 1000000);
    char c;
    read(p[0], &c, 1);
    int dead[2];
    pipe(dead);
    close(dead[0]);
    close(dead[1]);
    FD_ZERO(&rs);
    FD_SET(dead[0], &rs);
    tv = (struct timeval){3, 0};
    errno = 0;
    r = select(dead[0] + 1, &rs, NULL, NULL, &tv);
    printf("select(closed fd) = %d %s left > 2 s: %s set kept: %d\n", r, en(errno),
           tv.tv_sec >= 2 ? "yes" : "no", FD_ISSET(dead[0], &rs));
    CHECK(r == -1 && errno == EBADF && tv.tv_sec == 2 && FD_ISSET(dead[0], &rs));
    tv = (struct timeval){0, 100000};
    double t0 = now_s();
    r = select(0, NULL, NULL, NULL, &tv);
    printf("select(0, 100 ms) = %d waited: %s left %ld.%06ld\n", r, now_s() - t0 >= 0.099 ? "yes" : "no",
           (long)tv.tv_sec, (long)tv.tv_usec);
    CHECK(r == 0 && tv.tv_sec == 0 && tv.tv_usec == 0);

    /* ---- nfds beyond the descriptor table, descriptors beyond FD_SETSIZE ---- */
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    tv = (struct timeval){0, 50000};
    r = select(1 << 20, &rs, NULL, NULL, &tv);
    printf("select(nfds = 1M, idle, 50 ms) = %d\n", r);
    CHECK(r == 0);
    int hi = 1500;
    if (rl.rlim_cur > 1600) {
        CHECK(dup2(p[0], hi) == hi);
        size_t words = (hi + 1 + 63) / 64;
        unsigned long *big = calloc(words, sizeof *big);
        big[hi / 64] |= 1UL << (hi % 64);
        pthread_t th;
        pthread_create(&th, NULL, late_write, &p[1]);
        t0 = now_s();
        r = select(hi + 1, (fd_set *)big, NULL, NULL, &(struct timeval){3, 0});
        double el = now_s() - t0;
        pthread_join(th, NULL);
        printf("select(fd 1500 in a program-allocated set) = %d set: %s waited: %s\n", r,
               (big[hi / 64] >> (hi % 64)) & 1 ? "yes" : "no", el >= 0.09 ? "yes" : "no");
        CHECK(r == 1 && ((big[hi / 64] >> (hi % 64)) & 1) && el >= 0.09 && el < 2);
        read(p[0], &c, 1);
        close(hi);
        free(big);
    } else {
        printf("select(fd 1500 in a program-allocated set) = 1 set: yes waited: yes\n");
    }

    /* ---- epoll_wait on the wrong descriptors ---- */
    IMMEDIATE_ERR("epoll_wait(pipe fd)", epoll_wait(p[0], out, 4, 1000), EINVAL);
    IMMEDIATE_ERR("epoll_wait(closed fd)", epoll_wait(dead[0], out, 4, 1000), EBADF);

    /* ---- odd timeouts ---- */
    t0 = now_s();
    r = poll(NULL, 0, 100);
    printf("poll(NULL, 0, 100) = %d waited: %s\n", r, now_s() - t0 >= 0.099 ? "yes" : "no");
    CHECK(r == 0 && now_s() - t0 >= 0.099);
    pthread_t th;
    pthread_create(&th, NULL, late_write, &p[1]);
    r = poll(&pf, 1, -5);
    pthread_join(th, NULL);
    printf("poll(timeout -5) woken by a thread = %d revents=%#x\n", r, pf.revents);
    CHECK(r == 1 && pf.revents == POLLIN);
    read(p[0], &c, 1);
    pthread_create(&th, NULL, late_write, &p[1]);
    r = epoll_wait(ep, out, 4, -7);
    pthread_join(th, NULL);
    printf("epoll_wait(timeout -7) woken by a thread = %d\n", r);
    CHECK(r == 1);
    close(ep);
    close(p[0]);
    close(p[1]);
    return t_done();
}
