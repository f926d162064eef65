/* dump_hang.c (for sigquit_dump.sh): three threads that wait for ever (a mutex locked twice by
 * its owner, a read of an empty pipe, a join of the first), until a SIGQUIT ends the process. */
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static int fds[2];

static void *relocker(void *a)
{
    (void)a;
    pthread_mutex_lock(&m);
    pthread_mutex_lock(&m);
    return 0;
}

static void *reader(void *a)
{
    (void)a;
    char c;
    read(fds[0], &c, 1);
    return 0;
}

int main(void)
{
    pthread_t a, b;
    pipe(fds);
    pthread_create(&a, 0, relocker, 0);
    pthread_create(&b, 0, reader, 0);
    pthread_join(a, 0);
    return 0;
}
