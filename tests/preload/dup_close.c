/* dup_close: fd lifecycle vs. the runtime's per-fd state: EBADF for
 * read/write/close/dup on closed fds, dup/dup2/dup3/F_DUPFD(_CLOEXEC) results
 * and flags, a blocking read through a dup (also after closing the original),
 * dup2 replacing a socket fd by a pipe (reads must now come from the pipe),
 * a recycled fd number that was non-blocking before being closed (must be
 * blocking now), and close_range. Stale per-fd state shows up as wrong
 * results, EAGAIN, or hangs here. */
#include "t.h"
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sys/socket.h>

struct late {
    int fd;
    const char *msg;
};
static void *late_write(void *p)
{
    struct late *l = p;
    msleep(100);
    write(l->fd, l->msg, strlen(l->msg));
    return NULL;
}

/* blocking read on rfd; another thread writes msg to wfd after 100 ms */
static void blocking_read(const char *label, int rfd, int wfd, const char *msg)
{
    char buf[64];
    pthread_t th;
    struct late l = {wfd, msg};
    double t0 = now_s();
    pthread_create(&th, NULL, late_write, &l);
    errno = 0;
    ssize_t r = read(rfd, buf, sizeof buf);
    double el = now_s() - t0;
    pthread_join(th, NULL);
    printf("%s: read = %zd '%.*s' errno=%s waited: %s\n", label, r, (int)(r > 0 ? r : 0), buf,
           en(r < 0 ? errno : 0), el >= 0.09 ? "yes" : "no");
    CHECK(r == (ssize_t)strlen(msg) && !memcmp(buf, msg, strlen(msg)) && el >= 0.09);
}

int main(void)
{
    t_init();
    int sv[2], p[2];
    char buf[16];
    ssize_t r;
    int rc;

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int x = sv[0];
    close(sv[0]);
    errno = 0;
    r = read(x, buf, sizeof buf);
    printf("read on closed fd = %zd %s\n", r, en(errno));
    CHECK(r == -1 && errno == EBADF);
    errno = 0;
    r = write(x, "x", 1);
    printf("write on closed fd = %zd %s\n", r, en(errno));
    errno = 0;
    rc = close(x);
    printf("close twice = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == EBADF);
    errno = 0;
    rc = close(-1);
    printf("close(-1) = %d %s\n", rc, en(errno));
    errno = 0;
    rc = dup(x);
    printf("dup(closed) = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == EBADF);
    close(sv[1]);

    /* dup of a socket, blocking read through it */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int d = dup(sv[0]);
    printf("dup: new fd: %s cloexec=%d\n", d >= 0 && d != sv[0] ? "yes" : "no", fcntl(d, F_GETFD));
    blocking_read("read via dup", d, sv[1], "via-dup");
    blocking_read("read via original", sv[0], sv[1], "via-orig");
    close(sv[0]);
    blocking_read("read via dup after closing original", d, sv[1], "dup-alone");
    int d2 = dup2(d, 100);
    printf("dup2(d, 100) = %d\n", d2);
    CHECK(d2 == 100);
    close(d);
    blocking_read("read via dup2'd fd 100", 100, sv[1], "fd100");
    printf("dup2(100, 100) = %d\n", dup2(100, 100));
    errno = 0;
    rc = dup3(100, 100, 0);
    printf("dup3(100, 100) = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == EINVAL);
    rc = dup3(100, 101, O_CLOEXEC);
    printf("dup3(100, 101, O_CLOEXEC) = %d FD_CLOEXEC=%d\n", rc, fcntl(101, F_GETFD) & FD_CLOEXEC);
    CHECK(rc == 101 && (fcntl(101, F_GETFD) & FD_CLOEXEC));
    errno = 0;
    rc = dup3(100, 102, 12345);
    printf("dup3 bad flags = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == EINVAL);
    rc = fcntl(100, F_DUPFD, 200);
    int rc2 = fcntl(100, F_DUPFD_CLOEXEC, 200);
    printf("F_DUPFD(200) = %d F_DUPFD_CLOEXEC(200) = %d cloexec=%d,%d\n", rc, rc2, fcntl(rc, F_GETFD),
           fcntl(rc2, F_GETFD));
    blocking_read("read via F_DUPFD_CLOEXEC fd", rc2, sv[1], "dupfd");
    close(rc);
    close(rc2);
    close(101);

    /* dup2 replaces socket fd 100 by a pipe's read end */
    CHECK(pipe(p) == 0);
    int keep = dup(100); /* keeps the socket alive */
    CHECK(dup2(p[0], 100) == 100);
    blocking_read("fd 100 now a pipe", 100, p[1], "from-pipe");
    write(sv[1], "sock-data", 9); /* must NOT show up on fd 100 */
    blocking_read("fd 100 still the pipe", 100, p[1], "pipe-again");
    r = read(keep, buf, sizeof buf);
    printf("socket data arrived on the kept socket fd instead: %zd\n", r);
    CHECK(r == 9);
    close(keep);
    close(100);
    close(p[0]);
    close(p[1]);
    close(sv[1]);

    /* recycled fd number: was non-blocking, now a fresh blocking socket */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    int old = sv[0];
    errno = 0;
    r = read(old, buf, sizeof buf);
    printf("non-blocking socket read = %zd %s\n", r, en(errno));
    close(sv[0]);
    close(sv[1]);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    printf("recycled fd number: %s nonblock=%d\n", sv[0] == old ? "yes" : "no",
           !!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    blocking_read("recycled fd blocks", sv[0], sv[1], "fresh");

    /* close_range */
    int a = dup(sv[0]), b = dup(sv[0]);
    int lo = a < b ? a : b, hi = a < b ? b : a;
    rc = close_range((unsigned)lo, (unsigned)hi, 0);
    errno = 0;
    r = read(a, buf, sizeof buf);
    printf("close_range = %d; read on closed = %zd %s\n", rc, r, en(errno));
    CHECK(rc == 0 && r == -1 && errno == EBADF);
    int n1 = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("fd reused after close_range: %s\n", n1 == lo ? "yes" : "no");
    close(n1);
    blocking_read("original still fine after close_range of its dups", sv[0], sv[1], "still");
    close(sv[0]);
    close(sv[1]);
    return t_done();
}
