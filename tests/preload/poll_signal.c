/* poll_signal: signals and the multiplexing calls (single-threaded, SIGALRM
 * from setitimer, so native delivery is deterministic):
 *  - a handler without SA_RESTART ends poll/ppoll/select/pselect/epoll_wait/
 *    epoll_pwait/epoll_pwait2 with EINTR after ~100 ms; poll's revents are
 *    zeroed, select's sets are left as passed and its timeout holds the time
 *    left (0 < left < 5 s); pselect's timeout is untouched;
 *  - the sigmask argument: a signal blocked outside the call but pending is
 *    delivered at once by ppoll/pselect/epoll_pwait with an empty mask
 *    (EINTR, no wait); one arriving during the wait ends it; a mask that
 *    blocks the signal keeps the wait going (the call times out) and the
 *    handler runs once the program's mask is back;
 *  - poll(NULL, 0, -1) is a pause(): only the signal ends it. */
#include "t.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>

static volatile sig_atomic_t hits;
static void on_alrm(int s)
{
    (void)s;
    hits++;
}

static void timer_ms(int ms)
{
    struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

#define EXPECT_EINTR(label, call)                                                                            \
    do {                                                                                                     \
        hits = 0;                                                                                            \
        timer_ms(100);                                                                                       \
        double t0_ = now_s();                                                                                \
        errno = 0;                                                                                           \
        int r_ = (call);                                                                                     \
        int e_ = errno;                                                                                      \
        double el_ = now_s() - t0_;                                                                          \
        printf("%s = %d %s hits=%d\n", label, r_, en(e_), (int)hits);                                        \
        CHECK(r_ == -1 && e_ == EINTR && hits == 1 && el_ >= 0.09 && el_ < 1.5);                             \
    } while (0)

int main(void)
{
    t_init();
    alarm(0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int a = sv[0];
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev);
    struct timespec ts5 = {5, 0};

    /* ---- EINTR, and what each call leaves behind ---- */
    struct pollfd pf[2] = {{a, POLLIN, 0x7f}, {sv[1], POLLIN, 0x7f}};
    EXPECT_EINTR("poll", poll(pf, 2, 5000));
    printf("poll revents after EINTR: %#x %#x\n", pf[0].revents, pf[1].revents);
    CHECK(pf[0].revents == 0 && pf[1].revents == 0);
    EXPECT_EINTR("ppoll", ppoll(pf, 1, &ts5, NULL));
    EXPECT_EINTR("poll(no fds, -1)", poll(NULL, 0, -1));

    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    FD_SET(sv[1], &rs);
    struct timeval tv = {5, 0};
    EXPECT_EINTR("select", select(sv[1] + 1, &rs, NULL, NULL, &tv));
    printf("select sets after EINTR unchanged: %s; time left between 3.5 and 5 s: %s\n",
           FD_ISSET(a, &rs) && FD_ISSET(sv[1], &rs) ? "yes" : "no",
           tv.tv_sec >= 3 && tv.tv_sec < 5 && (tv.tv_sec > 3 || tv.tv_usec >= 500000) ? "yes" : "no");
    CHECK(FD_ISSET(a, &rs) && FD_ISSET(sv[1], &rs));
    CHECK(tv.tv_sec >= 3 && tv.tv_sec < 5);
    tv = (struct timeval){5, 0};
    EXPECT_EINTR("select(no fds)", select(0, NULL, NULL, NULL, &tv));
    struct timespec pts = {5, 0};
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    EXPECT_EINTR("pselect", pselect(a + 1, &rs, NULL, NULL, &pts, NULL));
    printf("pselect set kept: %d timeout untouched: %s\n", FD_ISSET(a, &rs),
           pts.tv_sec == 5 && pts.tv_nsec == 0 ? "yes" : "no");
    CHECK(FD_ISSET(a, &rs) && pts.tv_sec == 5 && pts.tv_nsec == 0);
    EXPECT_EINTR("epoll_wait", epoll_wait(ep, out, 2, 5000));
    EXPECT_EINTR("epoll_pwait", epoll_pwait(ep, out, 2, 5000, NULL));
    EXPECT_EINTR("epoll_pwait2", epoll_pwait2(ep, out, 2, &ts5, NULL));

    /* ---- the sigmask argument ---- */
    sigset_t alrm, empty, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &alrm, &old);

    /* pending before the call: delivered at once */
    double t0;
#define PENDING(label, call)                                                                                 \
    do {                                                                                                     \
        hits = 0;                                                                                            \
        raise(SIGALRM);                                                                                      \
        t0 = now_s();                                                                                        \
        errno = 0;                                                                                           \
        int r_ = (call);                                                                                     \
        int e_ = errno;                                                                                      \
        printf("%s with a pending signal it unblocks = %d %s hits=%d immediate: %s\n", label, r_, en(e_),    \
               (int)hits, now_s() - t0 < 0.5 ? "yes" : "no");                                                \
        CHECK(r_ == -1 && e_ == EINTR && hits == 1 && now_s() - t0 < 0.5);                                   \
    } while (0)
    PENDING("ppoll", ppoll(pf, 1, &ts5, &empty));
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    PENDING("pselect", pselect(a + 1, &rs, NULL, NULL, &ts5, &empty));
    PENDING("epoll_pwait", epoll_pwait(ep, out, 2, 5000, &empty));
    PENDING("epoll_pwait2", epoll_pwait2(ep, out, 2, &ts5, &empty));

    /* arriving during the wait, unblocked by the call's mask */
    EXPECT_EINTR("ppoll(mask unblocks SIGALRM)", ppoll(pf, 1, &ts5, &empty));
    FD_ZERO(&rs);
    FD_SET(a, &rs);
    EXPECT_EINTR("pselect(mask unblocks SIGALRM)", pselect(a + 1, &rs, NULL, NULL, &ts5, &empty));
    EXPECT_EINTR("epoll_pwait(mask unblocks SIGALRM)", epoll_pwait(ep, out, 2, 5000, &empty));
    EXPECT_EINTR("epoll_pwait2(mask unblocks SIGALRM)", epoll_pwait2(ep, out, 2, &ts5, &empty));
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("program's mask back after the calls: %s\n", sigismember(&now, SIGALRM) ? "yes" : "no");
    CHECK(sigismember(&now, SIGALRM));

    /* blocked by the call's mask: the wait goes on; the handler runs afterwards */
    sigprocmask(SIG_SETMASK, &old, NULL);
    struct timespec ts300 = {0, 300000000};
    hits = 0;
    timer_ms(100);
    t0 = now_s();
    int r = ppoll(pf, 1, &ts300, &alrm);
    double el = now_s() - t0;
    printf("ppoll(mask blocks SIGALRM, 300ms) = %d timed out: %s handler ran once: %s\n", r,
           el >= 0.29 ? "yes" : "no", hits == 1 ? "yes" : "no");
    CHECK(r == 0 && el >= 0.29 && hits == 1);
    hits = 0;
    timer_ms(100);
    t0 = now_s();
    r = epoll_pwait(ep, out, 2, 300, &alrm);
    el = now_s() - t0;
    printf("epoll_pwait(mask blocks SIGALRM, 300) = %d timed out: %s handler ran once: %s\n", r,
           el >= 0.29 ? "yes" : "no", hits == 1 ? "yes" : "no");
    CHECK(r == 0 && el >= 0.29 && hits == 1);

    /* ---- data beats the signal: readiness found before EINTR is reported ---- */
    write(sv[1], "x", 1);
    hits = 0;
    raise(SIGALRM);
    r = poll(pf, 1, 1000);
    printf("poll with data ready after a handler ran = %d\n", r);
    CHECK(r == 1);
    close(ep);
    return t_done();
}
