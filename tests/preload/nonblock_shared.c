/* nonblock_shared: O_NONBLOCK belongs to the open file description, not the
 * fd: setting it via one fd shows (F_GETFL, EAGAIN) on its dup() and in a
 * forked child; a child setting it on an inherited socket is visible to the
 * parent; clearing it via the dup makes the original block again.
 * A runtime that tracks "user asked for non-blocking" per fd or per process
 * gets these wrong. */
#include "t.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

static int nb(int fd)
{
    return !!(fcntl(fd, F_GETFL) & O_NONBLOCK);
}

static void *late_write(void *p)
{
    msleep(100);
    write(*(int *)p, "x", 1);
    return NULL;
}

int main(void)
{
    t_init();
    int sv[2];
    char buf[16];
    ssize_t r;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int d = dup(sv[0]);

    CHECK(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) == 0);
    errno = 0;
    r = read(d, buf, sizeof buf);
    printf("dup sees O_NONBLOCK=%d, read on dup = %zd %s\n", nb(d), r, en(errno));
    CHECK(nb(d) == 1 && r == -1 && errno == EAGAIN);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        errno = 0;
        r = read(sv[0], buf, sizeof buf);
        int ok = nb(sv[0]) == 1 && r == -1 && errno == EAGAIN;
        /* child makes the peer end non-blocking */
        fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child saw inherited O_NONBLOCK + EAGAIN: %s\n",
           WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("parent sees O_NONBLOCK set by child on peer: %d\n", nb(sv[1]));
    CHECK(nb(sv[1]) == 1);
    /* fill the peer: its writes must now fail with EAGAIN at once instead of
     * blocking (SO_SNDTIMEO bounds the wait if the flag is not honoured) */
    struct timeval tv = {2, 0};
    setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static char chunk[4096];
    double t0 = now_s();
    while ((r = write(sv[1], chunk, sizeof chunk)) > 0)
        ;
    int e = errno;
    double el = now_s() - t0;
    printf("write on child-made-nonblocking peer until full = %zd %s immediate: %s\n", r, en(e),
           el < 1.0 ? "yes" : "no");
    CHECK(r == -1 && e == EAGAIN && el < 1.0);
    while (read(sv[0], chunk, sizeof chunk) > 0)
        ;
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) & ~O_NONBLOCK);

    /* clear via the dup: original blocks again */
    CHECK(fcntl(d, F_SETFL, fcntl(d, F_GETFL) & ~O_NONBLOCK) == 0);
    pthread_t th;
    t0 = now_s();
    pthread_create(&th, NULL, late_write, &sv[1]);
    r = read(sv[0], buf, sizeof buf);
    el = now_s() - t0;
    pthread_join(th, NULL);
    printf("original after clearing via dup: nonblock=%d read = %zd waited: %s\n", nb(sv[0]), r,
           el >= 0.09 ? "yes" : "no");
    CHECK(nb(sv[0]) == 0 && r == 1 && el >= 0.09);
    return t_done();
}
