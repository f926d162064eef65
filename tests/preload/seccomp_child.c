/* seccomp_child: a forked child that installs a seccomp filter makes only the system calls it
 * would make natively, while its parent goes on with threads (a ticker).
 *
 * Under libgreen a write on a socket is a send(MSG_DONTWAIT) (sendto), a blocking read or poll
 * waits in the hub's epoll_wait, a sleep too: a filter allowing exactly what the native calls use
 * kills the child (SIGKILL in strict mode, SIGSYS for a filter), as it killed OpenSSH's
 * privilege-separated child.
 *
 * 1. SECCOMP_MODE_STRICT through prctl (read, write, _exit, sigreturn only): the child writes a
 *    line on a socketpair, reads the parent's answer (it waits for it), writes it back, and ends
 *    with the exit system call.
 * 2. SECCOMP_SET_MODE_FILTER through syscall(SYS_seccomp) with a BPF allowlist (read, write, poll,
 *    nanosleep, clock_nanosleep, exit, exit_group, rt_sigreturn; anything else: SIGSYS): the child
 *    sleeps 20 ms, writes a line, polls the socket with a timeout (the parent answers), reads,
 *    writes the answer back, _exit(0).
 * 3. The same filter through prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER), OpenSSH's way, after
 *    prctl(PR_SET_NO_NEW_PRIVS); the child also uses stdio (printf + fflush: write only, its stdout
 *    being the socket) and ends with exit(), whose exit_group is allowed.
 * The parent prints what it received and how each child ended; its ticker keeps ticking (so the
 * parent is still served by its threads, whatever the child did). */
#include "t.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
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

#define ALLOW(name)                                                                                          \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_##name, 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static struct sock_filter insns[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    ALLOW(read),
    ALLOW(write),
    ALLOW(poll),
    ALLOW(nanosleep),
    ALLOW(clock_nanosleep),
    ALLOW(exit),
    ALLOW(exit_group),
    ALLOW(rt_sigreturn),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};
static struct sock_fprog prog = {sizeof insns / sizeof insns[0], insns};

/* Child bodies: no stdio before the filter is on (the parent's buffers are not flushed twice:
 * they are flushed before fork). */
static void put(int fd, const char *s)
{
    (void)!write(fd, s, strlen(s));
}

static void child_strict(int fd)
{
    char buf[64];
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) syscall(SYS_exit, 3);
    put(fd, "strict: hello\n");
    ssize_t n = read(fd, buf, sizeof buf); /* waits for the parent */
    if (n > 0) (void)!write(fd, buf, (size_t)n);
    syscall(SYS_exit, 0); /* strict mode has no exit_group */
}

static void child_filter(int fd, int via_prctl)
{
    char buf[64];
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(3);
    if (via_prctl ? prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)
                  : syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
        _exit(4);
    usleep(20000);
    put(fd, "filter: hello\n");
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 5000); /* the parent answers after reading our line */
    put(fd, r == 1 ? "filter: poll ready\n" : "filter: poll NOT ready\n");
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) (void)!write(fd, buf, (size_t)n);
    if (via_prctl) {
        printf("filter: stdio works\n"); /* stdout is the socket */
        fflush(stdout);
        exit(0);
    }
    _exit(0);
}

static void run(const char *name, int mode)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        if (mode == 3) {
            /* stdout becomes the socket, so the child's printf reaches the parent */
            dup2(sv[1], 1);
        }
        if (mode == 1) child_strict(sv[1]);
        else child_filter(sv[1], mode == 3);
        _exit(5);
    }
    close(sv[1]);
    char buf[256];
    size_t got = 0;
    /* the child's first line */
    while (got < sizeof buf - 1) {
        ssize_t n = read(sv[0], buf + got, 1);
        if (n <= 0) break;
        got += (size_t)n;
        if (buf[got - 1] == '\n') break;
    }
    buf[got] = 0;
    printf("%s: child said: %s", name, got ? buf : "(nothing)\n");
    (void)!write(sv[0], "ping\n", 5);
    /* everything else until EOF */
    got = 0;
    for (;;) {
        ssize_t n = read(sv[0], buf + got, sizeof buf - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    buf[got] = 0;
    printf("%s: then: %s", name, got ? buf : "(nothing)\n");
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFEXITED(st)) printf("%s: child exited %d\n", name, WEXITSTATUS(st));
    else
        printf("%s: child killed by %s\n", name,
               sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
    close(sv[0]);
}

int main(void)
{
    t_init();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, ticker, NULL) == 0);
    msleep(20);
    run("strict", 1);
    run("seccomp()", 2);
    run("prctl filter", 3);
    int before = atomic_load(&ticks);
    msleep(50);
    printf("parent's ticker still ticks: %s\n", atomic_load(&ticks) > before ? "yes" : "no");
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return t_failed;
}
