/* pt_tls: errno must stay per (green) thread on a single OS thread: errno set
 * by a failing call survives other threads running and failing with different
 * errnos while this one blocks. (__thread variables are per OS thread, so green
 * threads on one hub share them: a documented limit, not checked here.) */
#include "t.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>

/* returns 1 if errno always survived */
static void *worker(void *p)
{
    int id = (int)(intptr_t)p, errno_ok = 1;
    for (int i = 0; i < 20; i++) {
        /* each thread fails with a different errno, then blocks */
        if (id % 3 == 0) close(-1);                                    /* EBADF */
        else if (id % 3 == 1) open("/nonexistent/libgreen", O_RDONLY); /* ENOENT */
        else socket(12345, SOCK_STREAM, 0);                            /* EAFNOSUPPORT */
        int want = id % 3 == 0 ? EBADF : id % 3 == 1 ? ENOENT : EAFNOSUPPORT;
        int saved = errno;
        usleep(2000); /* other threads run, fail, set their errno */
        if (errno != saved || saved != want) errno_ok = 0;
    }
    return (void *)(intptr_t)errno_ok;
}

int main(void)
{
    t_init();
    pthread_t th[12];
    for (int i = 0; i < 12; i++) pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
    int errno_ok = 0;
    for (int i = 0; i < 12; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        errno_ok += (int)(intptr_t)rv & 1;
    }
    printf("threads whose errno survived blocking: %d/12\n", errno_ok);
    CHECK(errno_ok == 12);

    /* errno set before a blocking wait in which other threads fail */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_create(&th[0], NULL, worker, (void *)(intptr_t)1);
    errno = 0;
    close(-1);
    char c;
    struct timeval tv = {0, 100000};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t r = read(sv[0], &c, 1); /* times out (EAGAIN) while the worker fails with ENOENT */
    printf("main's read = %zd %s (worker failing meanwhile)\n", r, en(errno));
    CHECK(r == -1 && errno == EAGAIN);
    pthread_join(th[0], NULL);
    return t_done();
}
