/* proc_wait: fork and the wait family from threads, with other threads running:
 *  - fork (and _Fork, which runs no atfork handlers) in a thread that is not
 *    main, while a sibling thread ticks: the child has only the forking
 *    thread (the sibling never runs in it, even while the child sleeps), and
 *    the blocking waitpid in the parent does not stop the sibling;
 *  - a child forked by a thread that then returns from its start routine
 *    ends with status 0 (the last thread exited);
 *  - wait() for any child reports exits in the order they happen, promptly,
 *    and 20 short-lived children are reaped quickly;
 *  - waitpid(0) / waitpid(-pgid) select by process group;
 *  - WUNTRACED and WCONTINUED (stop and continue are not exits), waitid with
 *    WSTOPPED, P_PIDFD (blocking and O_NONBLOCK pidfds), WNOWAIT, a NULL
 *    infop; a SIGCHLD handler without SA_RESTART does not turn a wait for
 *    the exiting child into EINTR. */
#include "t.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static pid_t child_exit(int code, int ms)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        msleep(ms);
        _exit(code);
    }
    return pid;
}

/* ---- fork from a thread ---- */
struct forked {
    int status;
    pid_t r, pid;
};
static void *fork_in_thread(void *arg)
{
    struct forked *f = arg;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* Only this thread exists here: the sibling's counter must not move. */
        int before = atomic_load(&ticks);
        for (int i = 0; i < 10; i++) usleep(20000);
        _exit(atomic_load(&ticks) == before ? 42 : 1);
    }
    f->pid = pid;
    f->r = waitpid(pid, &f->status, 0);
    return NULL;
}

/* the same with _Fork (no atfork handlers run) */
static void *underscore_fork_in_thread(void *arg)
{
    struct forked *f = arg;
    fflush(stdout);
    pid_t pid = _Fork();
    if (pid == 0) {
        int before = atomic_load(&ticks);
        for (int i = 0; i < 10; i++) usleep(20000);
        _exit(atomic_load(&ticks) == before ? 43 : 1);
    }
    f->pid = pid;
    f->r = waitpid(pid, &f->status, 0);
    return NULL;
}

static void *fork_and_return(void *arg)
{
    pid_t *out = arg;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(20000);
        return NULL; /* the child's only thread ends: exit(0) */
    }
    *out = pid;
    return NULL;
}

static volatile sig_atomic_t chld;
static void on_chld(int s)
{
    (void)s;
    chld++;
}

int main(void)
{
    t_init();
    int st;
    pid_t r;
    double t0, el;

    /* ---- fork in a thread, sibling running ---- */
    ticker_start();
    struct forked f = {0, 0, 0};
    pthread_t th;
    t0 = now_s();
    pthread_create(&th, NULL, fork_in_thread, &f);
    pthread_join(th, NULL);
    el = now_s() - t0;
    int n = ticker_stop();
    printf(
        "fork in a thread: waitpid same pid: %s, child saw no other thread: %s, sibling ran meanwhile: %s\n",
        f.r == f.pid ? "yes" : "no", WIFEXITED(f.status) && WEXITSTATUS(f.status) == 42 ? "yes" : "no",
        n >= 10 ? "yes" : "no");
    CHECK(f.r == f.pid && WIFEXITED(f.status) && WEXITSTATUS(f.status) == 42 && n >= 10 && el >= 0.19);

    ticker_start();
    memset(&f, 0, sizeof f);
    pthread_create(&th, NULL, underscore_fork_in_thread, &f);
    pthread_join(th, NULL);
    n = ticker_stop();
    printf(
        "_Fork in a thread: waitpid same pid: %s, child saw no other thread: %s, sibling ran meanwhile: %s\n",
        f.r == f.pid ? "yes" : "no", WIFEXITED(f.status) && WEXITSTATUS(f.status) == 43 ? "yes" : "no",
        n >= 10 ? "yes" : "no");
    CHECK(f.r == f.pid && WIFEXITED(f.status) && WEXITSTATUS(f.status) == 43 && n >= 10);

    /* ---- the child's only thread returns ---- */
    pid_t rp = 0;
    pthread_create(&th, NULL, fork_and_return, &rp);
    pthread_join(th, NULL);
    r = 0;
    for (int i = 0; i < 300 && r == 0; i++) {
        r = waitpid(rp, &st, WNOHANG);
        if (r == 0) msleep(10);
    }
    if (r == 0) {
        kill(rp, SIGKILL);
        waitpid(rp, &st, 0);
    }
    printf("child whose thread returned: ended: %s status=%d\n", r == rp ? "yes" : "no",
           r == rp && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    CHECK(r == rp && WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* ---- wait() for any child, in exit order ---- */
    ticker_start();
    /* The clock starts before the forks: forking the later children may take a while under
       load, and c100 sleeps its 100 ms from its own fork. */
    t0 = now_s();
    pid_t c300 = child_exit(3, 300), c100 = child_exit(1, 100), c200 = child_exit(2, 200);
    pid_t w1 = wait(&st);
    int s1 = WEXITSTATUS(st);
    double e1 = now_s() - t0;
    pid_t w2 = wait(&st);
    int s2 = WEXITSTATUS(st);
    double e2 = now_s() - t0;
    pid_t w3 = wait(&st);
    int s3 = WEXITSTATUS(st);
    double e3 = now_s() - t0;
    n = ticker_stop();
    printf("wait() x3: order ok: %s statuses %d %d %d prompt: %s sibling ran: %s\n",
           w1 == c100 && w2 == c200 && w3 == c300 ? "yes" : "no", s1, s2, s3,
           e1 < 0.25 && e2 < 0.35 && e3 < 0.45 ? "yes" : "no", n >= 10 ? "yes" : "no");
    CHECK(w1 == c100 && w2 == c200 && w3 == c300 && s1 == 1 && s2 == 2 && s3 == 3);
    CHECK(e1 >= 0.09 && e1 < 0.25 && e2 < 0.35 && e3 < 0.45 && n >= 10);

    enum { NC = 20 };
    t0 = now_s();
    for (int i = 0; i < NC; i++) child_exit(i, 20);
    int sum = 0, got = 0;
    while ((r = wait(&st)) > 0) {
        got++;
        sum += WEXITSTATUS(st);
    }
    el = now_s() - t0;
    printf("20 short children: reaped %d, status sum %d, then %s, quick: %s\n", got, sum, en(errno),
           el < 1.0 ? "yes" : "no");
    CHECK(got == NC && sum == NC * (NC - 1) / 2 && errno == ECHILD && el < 1.0);

    /* ---- by process group ---- */
    fflush(stdout);
    pid_t ga = fork();
    if (ga == 0) {
        setpgid(0, 0);
        msleep(100);
        _exit(11);
    }
    setpgid(ga, ga);
    pid_t gb = child_exit(12, 200);
    r = waitpid(-ga, &st, 0);
    printf("waitpid(-pgid) = the group's child: %s status=%d\n", r == ga ? "yes" : "no", WEXITSTATUS(st));
    CHECK(r == ga && WEXITSTATUS(st) == 11);
    r = waitpid(0, &st, 0);
    printf("waitpid(0) = our group's child: %s status=%d\n", r == gb ? "yes" : "no", WEXITSTATUS(st));
    CHECK(r == gb && WEXITSTATUS(st) == 12);

    /* ---- stop and continue ---- */
    fflush(stdout);
    pid_t sp = fork();
    if (sp == 0) {
        msleep(100);
        raise(SIGSTOP);
        msleep(50);
        _exit(13);
    }
    t0 = now_s();
    r = waitpid(sp, &st, WUNTRACED);
    printf("waitpid(WUNTRACED) = child: %s stopped by %s prompt: %s\n", r == sp ? "yes" : "no",
           WIFSTOPPED(st) ? sigabbrev_np(WSTOPSIG(st)) : "?", now_s() - t0 < 0.5 ? "yes" : "no");
    CHECK(r == sp && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    kill(sp, SIGCONT);
    r = waitpid(sp, &st, WCONTINUED);
    printf("waitpid(WCONTINUED) = continued: %s\n", r == sp && WIFCONTINUED(st) ? "yes" : "no");
    CHECK(r == sp && WIFCONTINUED(st));
    r = waitpid(sp, &st, 0);
    printf("then exited %d\n", WEXITSTATUS(st));
    CHECK(r == sp && WIFEXITED(st) && WEXITSTATUS(st) == 13);

    fflush(stdout);
    sp = fork();
    if (sp == 0) {
        msleep(100);
        raise(SIGSTOP);
        _exit(14);
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc = waitid(P_PID, (id_t)sp, &si, WSTOPPED);
    printf("waitid(WSTOPPED) = %d code %s sig %s\n", rc, si.si_code == CLD_STOPPED ? "CLD_STOPPED" : "?",
           sigabbrev_np(si.si_status));
    CHECK(rc == 0 && si.si_code == CLD_STOPPED && si.si_status == SIGSTOP && si.si_pid == sp);
    kill(sp, SIGCONT);
    memset(&si, 0, sizeof si);
    rc = waitid(P_ALL, 0, &si, WEXITED);
    printf("waitid(P_ALL, WEXITED) = %d code %s status %d\n", rc,
           si.si_code == CLD_EXITED ? "CLD_EXITED" : "?", si.si_status);
    CHECK(rc == 0 && si.si_code == CLD_EXITED && si.si_status == 14 && si.si_pid == sp);

    /* ---- pidfds ---- */
    pid_t pp = child_exit(15, 100);
    int pfd = (int)syscall(SYS_pidfd_open, pp, 0);
    memset(&si, 0, sizeof si);
    t0 = now_s();
    rc = waitid(P_PIDFD, (id_t)pfd, &si, WEXITED);
    printf("waitid(P_PIDFD) = %d status %d waited: %s\n", rc, si.si_status,
           now_s() - t0 >= 0.05 ? "yes" : "no");
    CHECK(rc == 0 && si.si_status == 15 && si.si_pid == pp);
    close(pfd);
    pp = child_exit(16, 100);
    pfd = (int)syscall(SYS_pidfd_open, pp, O_NONBLOCK);
    errno = 0;
    rc = waitid(P_PIDFD, (id_t)pfd, &si, WEXITED);
    printf("waitid(P_PIDFD non-blocking, running) = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == EAGAIN);
    close(pfd);

    /* ---- WNOWAIT, NULL infop ---- */
    memset(&si, 0, sizeof si);
    rc = waitid(P_PID, (id_t)pp, &si, WEXITED | WNOWAIT);
    r = waitpid(pp, &st, WNOHANG);
    printf("waitid(WNOWAIT) = %d status %d, still there to reap: %s\n", rc, si.si_status,
           r == pp ? "yes" : "no");
    CHECK(rc == 0 && si.si_status == 16 && r == pp && WEXITSTATUS(st) == 16);
    pp = child_exit(17, 50);
    rc = waitid(P_ALL, 0, NULL, WEXITED);
    errno = 0;
    r = waitpid(pp, &st, WNOHANG);
    printf("waitid(NULL infop) = %d, child reaped by it: %s\n", rc,
           r == -1 && errno == ECHILD ? "yes" : "no");
    CHECK(rc == 0 && r == -1 && errno == ECHILD);

    /* ---- SIGCHLD handler without SA_RESTART ---- */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    pp = child_exit(18, 100);
    errno = 0;
    r = waitpid(pp, &st, 0);
    printf("waitpid with a SIGCHLD handler (no SA_RESTART) = child: %s %s status %d handler ran: %s\n",
           r == pp ? "yes" : "no", en(errno), WEXITSTATUS(st), chld == 1 ? "yes" : "no");
    CHECK(r == pp && WEXITSTATUS(st) == 18 && chld == 1);
    signal(SIGCHLD, SIG_DFL);
    return t_done();
}
