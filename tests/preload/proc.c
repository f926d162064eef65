/* proc: process management under the runtime: fork + waitpid (exit status,
 * death by signal, WNOHANG), wait, wait4, waitid, ECHILD, a blocking waitpid
 * that must not stall the program's other threads, fork+exec, posix_spawnp,
 * system("echo hi; exit 3"), popen for reading (fgets) and writing (to cat),
 * and a forked child that itself uses threads + blocking I/O. */
#include "t.h"
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

extern char **environ;
static atomic_int ticks;
static atomic_int stop;

static void *ticker(void *p)
{
    (void)p;
    while (!atomic_load(&stop)) {
        usleep(10000);
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

static void *child_thread(void *p)
{
    msleep(50);
    write(*(int *)p, "from-thread", 11);
    return NULL;
}

static pid_t spawn_exit(int code, int delay_ms)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (delay_ms) msleep(delay_ms);
        _exit(code);
    }
    return pid;
}

int main(void)
{
    t_init();
    int st;
    pid_t pid, r;

    pid = spawn_exit(7, 0);
    r = waitpid(pid, &st, 0);
    printf("waitpid: same pid: %s exited=%d status=%d\n", r == pid ? "yes" : "no", WIFEXITED(st),
           WEXITSTATUS(st));
    CHECK(r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7);

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        raise(SIGTERM);
        _exit(99);
    }
    r = waitpid(pid, &st, 0);
    printf("waitpid signaled=%d sig=%s\n", WIFSIGNALED(st), sigabbrev_np(WTERMSIG(st)));
    CHECK(r == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

    pid = spawn_exit(3, 300);
    r = waitpid(pid, &st, WNOHANG);
    printf("waitpid(WNOHANG) on running child = %d\n", r);
    CHECK(r == 0);
    /* blocking waitpid while another thread keeps running */
    pthread_t th;
    atomic_store(&ticks, 0);
    pthread_create(&th, NULL, ticker, NULL);
    r = waitpid(pid, &st, 0);
    int t_during = atomic_load(&ticks);
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    printf("blocking waitpid = child: %s status=%d; other thread ran meanwhile: %s\n",
           r == pid ? "yes" : "no", WEXITSTATUS(st), t_during >= 5 ? "yes" : "no");
    CHECK(r == pid && WEXITSTATUS(st) == 3 && t_during >= 5);

    pid = spawn_exit(4, 50);
    r = wait(&st);
    printf("wait: same pid: %s status=%d\n", r == pid ? "yes" : "no", WEXITSTATUS(st));
    CHECK(r == pid && WEXITSTATUS(st) == 4);

    pid = spawn_exit(5, 50);
    struct rusage ru;
    r = wait4(pid, &st, 0, &ru);
    printf("wait4: same pid: %s status=%d\n", r == pid ? "yes" : "no", WEXITSTATUS(st));
    CHECK(r == pid && WEXITSTATUS(st) == 5);

    pid = spawn_exit(6, 50);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc = waitid(P_PID, (id_t)pid, &si, WEXITED);
    printf("waitid = %d code=%s status=%d pid matches: %s\n", rc,
           si.si_code == CLD_EXITED ? "CLD_EXITED" : "?", si.si_status, si.si_pid == pid ? "yes" : "no");
    CHECK(rc == 0 && si.si_code == CLD_EXITED && si.si_status == 6);

    errno = 0;
    r = waitpid(-1, &st, 0);
    printf("waitpid with no children = %d %s\n", r, en(errno));
    CHECK(r == -1 && errno == ECHILD);

    /* fork + exec */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execlp("sh", "sh", "-c", "echo exec-child; exit 5", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    printf("fork+exec status=%d\n", WEXITSTATUS(st));
    CHECK(WEXITSTATUS(st) == 5);

    /* posix_spawnp */
    char *argv[] = {"sh", "-c", "echo spawned; exit 4", NULL};
    fflush(stdout);
    rc = posix_spawnp(&pid, "sh", NULL, NULL, argv, environ);
    waitpid(pid, &st, 0);
    printf("posix_spawnp = %d status=%d\n", rc, WEXITSTATUS(st));
    CHECK(rc == 0 && WEXITSTATUS(st) == 4);

    /* system */
    fflush(stdout);
    rc = system("echo hi; exit 3");
    printf("system = exited %d status %d\n", WIFEXITED(rc), WEXITSTATUS(rc));
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 3);
    printf("system(NULL) != 0: %s\n", system(NULL) ? "yes" : "no");

    /* popen read */
    FILE *f = popen("printf 'a\\nb\\n'", "r");
    char line[64];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        printf("popen line %d: %s", ++n, line);
    }
    rc = pclose(f);
    printf("pclose(read) = %d lines=%d\n", rc, n);
    CHECK(rc == 0 && n == 2);

    /* popen write: cat copies our text to (shared) stdout */
    fflush(stdout);
    f = popen("cat", "w");
    fputs("through cat 1\n", f);
    fputs("through cat 2\n", f);
    rc = pclose(f);
    printf("pclose(write) = %d\n", rc);
    CHECK(rc == 0);
    f = popen("exit 9", "r");
    rc = pclose(f);
    printf("pclose(exit 9) status=%d\n", WEXITSTATUS(rc));

    /* forked child using a thread and a blocking read */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        pthread_t t;
        char buf[32];
        pthread_create(&t, NULL, child_thread, &sv[1]);
        ssize_t k = read(sv[0], buf, sizeof buf);
        pthread_join(t, NULL);
        _exit(k == 11 && !memcmp(buf, "from-thread", 11) ? 0 : 1);
    }
    waitpid(pid, &st, 0);
    printf("child with thread + blocking read: status=%d\n", WEXITSTATUS(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return t_done();
}
