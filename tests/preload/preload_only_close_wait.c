/* preload_only_close_wait: one thread blocks in read() on a socket, another
 * closes that fd 100 ms later. Under the preload the blocked reader must be
 * woken with -1/EBADF (the runtime cancels waits on a closed fd, like gevent).
 * Natively Linux keeps the reader blocked (the in-flight read holds the file),
 * which is why this case runs ONLY preloaded. To stay bounded anyway, the
 * socketpair peer is shut down after 2 s (native result: read returns 0). */
#include "t.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

static int sv[2];
static atomic_int done;
static ssize_t result;
static int result_errno;

static void *reader(void *p)
{
    (void)p;
    char buf[16];
    errno = 0;
    result = read(sv[0], buf, sizeof buf);
    result_errno = errno;
    atomic_store(&done, 1);
    return NULL;
}

int main(void)
{
    t_init();
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);
    msleep(100);
    double t0 = now_s();
    CHECK(close(sv[0]) == 0);
    while (!atomic_load(&done) && now_s() - t0 < 2.0)
        usleep(10000);
    double el = now_s() - t0;
    if (!atomic_load(&done))
        shutdown(sv[1], SHUT_RDWR); /* native behaviour: unblocks with 0 */
    pthread_join(th, NULL);
    printf("reader woken by close: read = %zd %s promptly: %s\n", result, en(result_errno), el < 1.0 ? "yes" : "no");
    CHECK(result == -1 && result_errno == EBADF && el < 1.0);
    close(sv[1]);
    return t_done();
}
