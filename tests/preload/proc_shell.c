/* proc_shell: system, popen/pclose and vfork, with another thread running:
 *  - system("sleep 0.3; exit 3") from a thread: status 3 while a sibling
 *    thread's usleep loop keeps ticking; "kill -TERM $$" (signaled status),
 *    an unknown command (127), system(NULL);
 *  - system ignores SIGINT in the caller while the command runs (the shell
 *    sends one to its parent: the program's handler does not run), and the
 *    program's handler is back afterwards;
 *  - popen: reading a slow child's output and pclose waiting for a slow
 *    child do not stop the sibling; write mode with an exit status; a child
 *    killed by a signal;
 *  - vfork: the child's write to memory is seen by the parent, exec works
 *    from a thread, a child calling blocking functions (usleep, write) and
 *    closing its copy of a descriptor before _exit leaves the parent intact. */
#include "t.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

static int sys_status;
static void *run_system(void *arg)
{
    fflush(stdout);
    sys_status = system((const char *)arg);
    return NULL;
}

static volatile sig_atomic_t ints;
static void on_int(int s)
{
    (void)s;
    ints++;
}

static volatile int vfork_flag;

int main(void)
{
    t_init();
    int rc, n;
    pthread_t th;

    /* ---- system ---- */
    ticker_start();
    pthread_create(&th, NULL, run_system, "sleep 0.3; exit 3");
    pthread_join(th, NULL);
    n = ticker_stop();
    printf("system in a thread: exited %d status %d; sibling ran meanwhile: %s\n", WIFEXITED(sys_status),
           WEXITSTATUS(sys_status), n >= 10 ? "yes" : "no");
    CHECK(WIFEXITED(sys_status) && WEXITSTATUS(sys_status) == 3 && n >= 10);
    rc = system("kill -TERM $$");
    printf("system(kill -TERM $$): signaled %d by %s\n", WIFSIGNALED(rc),
           WIFSIGNALED(rc) ? sigabbrev_np(WTERMSIG(rc)) : "-");
    CHECK(WIFSIGNALED(rc) && WTERMSIG(rc) == SIGTERM);
    rc = system("/nonexistent/command 2>/dev/null");
    printf("system(unknown command) = exited %d status %d\n", WIFEXITED(rc), WEXITSTATUS(rc));
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 127);
    printf("system(NULL) = %d\n", system(NULL));

    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_int;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    rc = system("kill -INT $PPID; exit 0");
    sigaction(SIGINT, NULL, &cur);
    printf("SIGINT during system: handler ran %d times; status %d; handler back: %s\n", (int)ints,
           WEXITSTATUS(rc), cur.sa_handler == on_int ? "yes" : "no");
    CHECK(ints == 0 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0 && cur.sa_handler == on_int);
    signal(SIGINT, SIG_DFL);

    /* ---- popen / pclose ---- */
    ticker_start();
    FILE *f = popen("sleep 0.2; echo late", "r");
    char line[64] = "";
    char *got = fgets(line, sizeof line, f);
    int during_read = atomic_load(&ticks);
    rc = pclose(f);
    n = ticker_stop();
    printf("popen read of a slow child: %s", got ? line : "(nothing)\n");
    printf("  pclose = %d; sibling ran while reading: %s\n", rc, during_read >= 10 ? "yes" : "no");
    CHECK(got && !strcmp(line, "late\n") && rc == 0 && during_read >= 10);

    ticker_start();
    f = popen("sleep 0.3; exit 6", "r");
    double t0 = now_s();
    rc = pclose(f);
    double el = now_s() - t0;
    n = ticker_stop();
    printf("pclose of a slow child = exited %d status %d after it: %s; sibling ran meanwhile: %s\n",
           WIFEXITED(rc), WEXITSTATUS(rc), el >= 0.25 ? "yes" : "no", n >= 10 ? "yes" : "no");
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 6 && el >= 0.25 && n >= 10);

    fflush(stdout);
    f = popen("cat; exit 4", "w");
    fputs("popen write line\n", f);
    rc = pclose(f);
    printf("pclose(write) = exited %d status %d\n", WIFEXITED(rc), WEXITSTATUS(rc));
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 4);
    f = popen("kill -KILL $$", "r");
    rc = pclose(f);
    printf("pclose(killed child) = signaled %d by %s\n", WIFSIGNALED(rc),
           WIFSIGNALED(rc) ? sigabbrev_np(WTERMSIG(rc)) : "-");
    CHECK(WIFSIGNALED(rc) && WTERMSIG(rc) == SIGKILL);
    errno = 0;
    f = popen("true", "x");
    printf("popen(bad mode) = %s %s\n", f ? "FILE" : "NULL", en(errno));
    CHECK(!f && errno == EINVAL);

    /* ---- vfork ---- */
    int st;
    vfork_flag = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        vfork_flag = 1;
        _exit(5);
    }
    waitpid(pid, &st, 0);
    printf("vfork: status %d, child's write seen: %s\n", WEXITSTATUS(st), vfork_flag ? "yes" : "no");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5 && vfork_flag == 1);

    int p[2];
    pipe(p);
    ticker_start();
    fflush(stdout);
    pid = vfork();
    if (pid == 0) {
        close(p[0]);
        write(p[1], "v", 1);
        usleep(20000);
        _exit(7);
    }
    waitpid(pid, &st, 0);
    char c = 0;
    ssize_t k = read(p[0], &c, 1);
    printf("vfork child blocking and closing: status %d, parent's descriptor intact: %s\n", WEXITSTATUS(st),
           k == 1 && c == 'v' ? "yes" : "no");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7 && k == 1 && c == 'v');
    fflush(stdout);
    pid = vfork();
    if (pid == 0) {
        execlp("sh", "sh", "-c", "exit 8", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    n = ticker_stop();
    printf("vfork + exec: status %d\n", WEXITSTATUS(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 8);
    close(p[0]);
    close(p[1]);
    return t_done();
}
