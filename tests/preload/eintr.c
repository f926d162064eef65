/* eintr: signal interaction of blocking calls (process-directed SIGALRM from
 * setitimer, single-threaded so native delivery is deterministic):
 *  - read (socket, pipe), write on a full socket, accept, waitpid: without
 *    SA_RESTART -> -1/EINTR; with SA_RESTART -> transparently restarted and
 *    completes when the data/child arrives (from a forked child);
 *  - calls Linux never restarts (signal(7)): poll, select, epoll_wait,
 *    recv with SO_RCVTIMEO -> EINTR even with SA_RESTART (sem_wait: EINTR
 *    without SA_RESTART; with it glibc's futex wait is restarted, not tested);
 *  - pause/sigsuspend return EINTR after the handler; sigtimedwait on a
 *    blocked signal returns it, and times out with EAGAIN.
 * The runtime must run the handler and deliver EINTR to the waiting fiber. */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

static volatile sig_atomic_t hits;
static void on_alrm(int s)
{
    (void)s;
    if (++hits > 200) { /* bound: a wait that never ends */
        write(1, "FAIL: runaway wait\n", 19);
        _exit(3);
    }
}

static void handler(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    hits = 0;
}

/* first SIGALRM after 100 ms, then every 100 ms if repeat */
static void timer_ms(int first, int repeat)
{
    struct itimerval it = {{0, repeat ? first * 1000 : 0}, {0, first * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}
static void timer_off(void)
{
    struct itimerval z = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &z, NULL);
}

/* child that writes `n` bytes to fd after ms, then exits */
static pid_t later_write(int fd, int ms)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        msleep(ms);
        write(fd, "late", 4);
        _exit(0);
    }
    return pid;
}

#define EXPECT_EINTR(label, call)                                                                            \
    do {                                                                                                     \
        timer_ms(100, 0);                                                                                    \
        double t0_ = now_s();                                                                                \
        errno = 0;                                                                                           \
        long r_ = (long)(call);                                                                              \
        int e_ = errno;                                                                                      \
        double el_ = now_s() - t0_;                                                                          \
        timer_off();                                                                                         \
        printf("%s = %ld %s hits=%d\n", label, r_, en(e_), (int)hits);                                       \
        CHECK(r_ == -1 && e_ == EINTR && hits == 1 && el_ >= 0.09 && el_ < 1.5);                             \
        hits = 0;                                                                                            \
    } while (0)

int main(void)
{
    t_init();
    /* ITIMER_REAL is used below, so instead of alarm(30) a POSIX timer
     * delivers SIGKILL after 30 s */
    alarm(0);
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGKILL};
    timer_t wd;
    struct itimerspec wdt = {{0, 0}, {30, 0}};
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &wd) == 0 && timer_settime(wd, 0, &wdt, NULL) == 0);
    int sv[2], p[2], st;
    char buf[64];
    pid_t pid;
    long r;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(pipe(p) == 0);

    /* ---- without SA_RESTART ---- */
    handler(0);
    EXPECT_EINTR("read(socket) no-restart", read(sv[0], buf, sizeof buf));
    EXPECT_EINTR("read(pipe) no-restart", read(p[0], buf, sizeof buf));
    EXPECT_EINTR("recv no-restart", recv(sv[0], buf, sizeof buf, 0));
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(l, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    listen(l, 4);
    EXPECT_EINTR("accept no-restart", accept(l, NULL, NULL));
    pid = later_write(sv[1], 400);
    EXPECT_EINTR("waitpid no-restart", waitpid(pid, &st, 0));
    waitpid(pid, &st, 0);
    read(sv[0], buf, sizeof buf);
    /* full socket buffer: blocking write interrupted before sending anything */
    while (send(sv[1], buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    EXPECT_EINTR("write(full socket) no-restart", write(sv[1], "x", 1));
    while (recv(sv[0], buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    sem_t sem;
    sem_init(&sem, 0, 0);
    EXPECT_EINTR("sem_wait no-restart", sem_wait(&sem));
    EXPECT_EINTR("pause", pause());
    sigset_t empty;
    sigemptyset(&empty);
    EXPECT_EINTR("sigsuspend", sigsuspend(&empty));

    /* ---- with SA_RESTART: restarted, completes when the child writes ---- */
    handler(SA_RESTART);
    pid = later_write(sv[1], 350);
    timer_ms(100, 1);
    r = read(sv[0], buf, sizeof buf);
    timer_off();
    printf("read(socket) SA_RESTART = %ld restarted across >=2 signals: %s\n", r, hits >= 2 ? "yes" : "no");
    CHECK(r == 4 && hits >= 2);
    waitpid(pid, &st, 0);
    hits = 0;
    pid = later_write(p[1], 350);
    timer_ms(100, 1);
    r = read(p[0], buf, sizeof buf);
    timer_off();
    printf("read(pipe) SA_RESTART = %ld restarted: %s\n", r, hits >= 2 ? "yes" : "no");
    CHECK(r == 4 && hits >= 2);
    hits = 0;
    timer_ms(100, 1);
    r = waitpid(pid, &st, 0);
    timer_off();
    printf("waitpid SA_RESTART (child already gone or exits) = child: %s\n", r == pid ? "yes" : "no");
    CHECK(r == pid);
    hits = 0;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        msleep(350);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        connect(c, (struct sockaddr *)&a, sizeof a);
        _exit(0);
    }
    timer_ms(100, 1);
    int s = accept(l, NULL, NULL);
    timer_off();
    printf("accept SA_RESTART = fd: %s restarted: %s\n", s >= 0 ? "yes" : "no", hits >= 2 ? "yes" : "no");
    CHECK(s >= 0 && hits >= 2);
    close(s);
    waitpid(pid, &st, 0);
    hits = 0;
    pid = later_write(sv[1], 350);
    timer_ms(100, 1);
    r = waitpid(pid, &st, 0);
    timer_off();
    printf("waitpid SA_RESTART = child: %s restarted: %s\n", r == pid ? "yes" : "no",
           hits >= 2 ? "yes" : "no");
    CHECK(r == pid && hits >= 2);
    read(sv[0], buf, sizeof buf);
    hits = 0;

    /* ---- never restarted, even with SA_RESTART ---- */
    struct pollfd pf = {sv[0], POLLIN, 0};
    EXPECT_EINTR("poll SA_RESTART", poll(&pf, 1, 5000));
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(sv[0], &rs);
    struct timeval tv = {5, 0};
    EXPECT_EINTR("select SA_RESTART", select(sv[0] + 1, &rs, NULL, NULL, &tv));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
    EXPECT_EINTR("epoll_wait SA_RESTART", epoll_wait(ep, &out, 1, 5000));
    close(ep);
    struct timeval rto = {5, 0};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &rto, sizeof rto);
    EXPECT_EINTR("recv with SO_RCVTIMEO SA_RESTART", recv(sv[0], buf, sizeof buf, 0));

    /* ---- sigtimedwait ---- */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct timespec to = {0, 100000000};
    double t0 = now_s();
    errno = 0;
    r = sigtimedwait(&set, NULL, &to);
    printf("sigtimedwait(idle, 100ms) = %ld %s waited: %s\n", r, en(errno),
           now_s() - t0 >= 0.09 ? "yes" : "no");
    CHECK(r == -1 && errno == EAGAIN);
    kill(getpid(), SIGUSR1);
    siginfo_t si;
    r = sigtimedwait(&set, &si, &to);
    printf("sigtimedwait(pending SIGUSR1) = %s\n", r > 0 ? sigabbrev_np((int)r) : "?");
    CHECK(r == SIGUSR1);

    return t_done();
}
