/* threads_join_at_exit: code that runs during exit() (an atexit handler, a library destructor, as
 * libuv's thread pool cleanup and C++ global thread pools do) wakes worker threads and joins them.
 * The main thread's hub was once destroyed with its thread_local destructors, the first thing
 * exit() runs: the joins then blocked the OS thread for ever. */
#include "t.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int stop;
static pthread_t for_atexit, for_destructor;

static void *run(void *a)
{
    pthread_mutex_lock(&m);
    while (!stop) pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    usleep(1000);
    return a;
}

static void wake_all(void)
{
    pthread_mutex_lock(&m);
    stop = 1;
    pthread_cond_broadcast(&c);
    pthread_mutex_unlock(&m);
}

static void at_exit(void)
{
    wake_all();
    void *r = NULL;
    int rc = pthread_join(for_atexit, &r);
    printf("atexit handler joined its worker: %s\n", rc == 0 && r == (void *)1 ? "yes" : "no");
    fflush(stdout);
}

__attribute__((destructor)) static void fini(void)
{
    wake_all();
    void *r = NULL;
    int rc = pthread_join(for_destructor, &r);
    printf("destructor joined its worker: %s\n", rc == 0 && r == (void *)2 ? "yes" : "no");
    fflush(stdout);
}

int main(void)
{
    t_init();
    CHECK(pthread_create(&for_atexit, NULL, run, (void *)1) == 0);
    CHECK(pthread_create(&for_destructor, NULL, run, (void *)2) == 0);
    atexit(at_exit);
    usleep(10000);
    printf("main returns\n");
    return t_done();
}
