/* proc_vfork: a vfork child runs on its parent's memory until exec/_exit, so
 * nothing of a runtime may run there (dash, Debian's /bin/sh, does exactly
 * this for every command it runs):
 *  - the very first blocking-capable calls of the program happen in a vfork
 *    child (write to a pipe, close, dup2, a short usleep); the parent then
 *    sleeps, polls and runs a thread normally;
 *  - a vfork child's dup2 onto a descriptor number and its close of another
 *    do not change what the parent's descriptors are (a blocking read on a
 *    socket still waits, a non-blocking one still fails with EAGAIN);
 *  - 50 rounds of system() of a command dash runs through vfork, with its
 *    error output redirected. */
#include "t.h"
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>

static void *late_write(void *p)
{
    msleep(50);
    write(*(int *)p, "t", 1);
    return NULL;
}

int main(void)
{
    t_init();
    int p[2], sv[2], st;
    char c;
    CHECK(pipe(p) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int nb[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, nb) == 0);

    /* ---- first calls in a vfork child ---- */
    pid_t pid = vfork();
    if (pid == 0) {
        write(p[1], "v", 1);
        usleep(10000);
        dup2(p[0], sv[0]); /* the child's sv[0] becomes a pipe; the parent's stays a socket */
        dup2(p[0], nb[0]); /* a blocking pipe here; a non-blocking socket in the parent */
        close(sv[1]);
        _exit(3);
    }
    CHECK(waitpid(pid, &st, 0) == pid);
    printf("vfork child status %d\n", WEXITSTATUS(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    double t0 = now_s();
    usleep(20000);
    struct pollfd pf = {p[0], POLLIN, 0};
    int r = poll(&pf, 1, 1000);
    CHECK(read(p[0], &c, 1) == 1 && c == 'v');
    printf("parent after the child: slept %s, poll = %d, read the child's byte\n",
           now_s() - t0 >= 0.019 ? "yes" : "no", r);
    CHECK(r == 1);

    /* the parent's socket pair is intact: a blocking read woken by a thread */
    pthread_t th;
    pthread_create(&th, NULL, late_write, &sv[1]);
    ssize_t k = read(sv[0], &c, 1);
    pthread_join(th, NULL);
    printf("parent's socket after the child's dup2/close: read %zd '%c'\n", k, k == 1 ? c : '?');
    CHECK(k == 1 && c == 't');
    struct pollfd sp = {sv[0], POLLIN, 0};
    r = poll(&sp, 1, 100);
    printf("poll on it, idle = %d\n", r);
    CHECK(r == 0);

    /* the parent's non-blocking socket still says EAGAIN at once (a thread writes 200 ms later,
     * in case the read waits) */
    pthread_t th2;
    int wfd = nb[1];
    pthread_create(&th2, NULL, late_write, &wfd);
    t0 = now_s();
    errno = 0;
    k = read(nb[0], &c, 1);
    int e = errno;
    printf("parent's non-blocking socket after the child's dup2: read %zd %s at once: %s\n", k, en(e),
           now_s() - t0 < 0.04 ? "yes" : "no");
    CHECK(k == -1 && e == EAGAIN);
    pthread_join(th2, NULL);

    /* ---- dash runs commands through vfork ---- */
    int bad = 0;
    for (int i = 0; i < 50; i++) {
        int rc = system("/nonexistent/command 2>/dev/null");
        if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 127) bad++;
    }
    printf("50 x system(unknown command): all 127: %s\n", bad ? "no" : "yes");
    CHECK(bad == 0);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    close(nb[0]);
    close(nb[1]);
    return t_done();
}
