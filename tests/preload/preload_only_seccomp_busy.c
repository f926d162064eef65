/* preload_only_seccomp_busy: what libgreen does with a seccomp filter installed while other green
 * threads share the OS thread (preloaded only: natively those are other threads, unaffected).
 *
 * Under a filter the process may make only the calls the program makes natively, so the preload
 * stops translating and the hub never runs again: green threads other than the caller could never
 * run. So the install fails with EBUSY, before the kernel sees it, and the program goes on green
 * (the ticker keeps ticking). Calls that install nothing pass through even then: a NULL program
 * (a probe, EFAULT), SECCOMP_GET_ACTION_AVAIL. A child forked meanwhile has one green thread: its
 * filter is installed, and its sleeps and writes are then plain system calls (no epoll_wait, no
 * sendto: the filter allows neither). */
#include "t.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static atomic_int ticks;
static atomic_int stop;

static void *ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        msleep(5);
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

/* Everything allowed but epoll_wait, epoll_pwait, sendto: what the preload's translations use. */
static struct sock_filter insns[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_epoll_wait, 3, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_epoll_pwait, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};
static struct sock_fprog prog = {sizeof insns / sizeof insns[0], insns};

int main(void)
{
    t_init();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, ticker, NULL) == 0);
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);

    errno = 0;
    long l;
    int r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL);
    printf("null program: %d %s\n", r, en(errno));
    CHECK(r == -1 && errno == EFAULT);
    unsigned action = SECCOMP_RET_KILL_PROCESS;
    l = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
    printf("action available: %ld\n", l);
    CHECK(l == 0);

    errno = 0;
    r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
    printf("prctl with a ticker alive: %d %s\n", r, en(errno));
    CHECK(r == -1 && errno == EBUSY);
    errno = 0;
    l = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
    printf("seccomp() with a ticker alive: %ld %s\n", l, en(errno));
    CHECK(l == -1 && errno == EBUSY);
    int before = atomic_load(&ticks);
    msleep(50);
    printf("ticker still ticks: %s\n", atomic_load(&ticks) > before + 2 ? "yes" : "no");
    CHECK(atomic_load(&ticks) > before + 2);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(3);
        msleep(10);
        (void)!write(sv[1], "child: sandboxed\n", 17);
        _exit(0);
    }
    close(sv[1]);
    char buf[64] = {0};
    ssize_t n = read(sv[0], buf, sizeof buf - 1);
    printf("%s", n > 0 ? buf : "child: nothing\n");
    CHECK(n == 17);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    printf("child: %s %d\n", WIFEXITED(st) ? "exited" : "killed by",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return t_failed;
}
