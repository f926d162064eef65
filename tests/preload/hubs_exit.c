/* hubs_exit: thread-local storage stays per thread, and a process whose main thread left with
 * pthread_exit lives until its last (detached) thread ends, for GREEN_HUBS where threads run on
 * several OS threads at once and move between them.
 *  1. 64 threads each write their index into _Thread_local variables, all meet at a barrier
 *     (so all are alive with their values set), sleep 1 ms or yield, and read them back: each
 *     must read its own.
 *  2. main creates 16 detached threads and calls pthread_exit(NULL); the threads print one
 *     line each, in turn (a turn counter under a mutex + condition variable), and the process
 *     exits 0 after the last line. */
#include "t.h"

#include <pthread.h>
#include <sched.h>

enum { kTls = 64, kDetached = 16 };

static _Thread_local int tl_index = -1;
static _Thread_local char tl_name[16];
static pthread_barrier_t barrier;
static atomic_int tls_bad;

static void *tls_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (tl_index != -1 || tl_name[0] != 0) /* a new thread starts with the initial values */
        atomic_fetch_add(&tls_bad, 1);
    tl_index = i;
    snprintf(tl_name, sizeof tl_name, "worker-%d", i);
    pthread_barrier_wait(&barrier);
    for (int k = 0; k < 5; k++) {
        if (i % 2) usleep(1000);
        else sched_yield();
        char want[16];
        snprintf(want, sizeof want, "worker-%d", i);
        if (tl_index != i || strcmp(tl_name, want) != 0) atomic_fetch_add(&tls_bad, 1);
    }
    return NULL;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn = -1; /* main sets it to 0 just before it leaves */

static void *detached(void *arg)
{
    int i = (int)(intptr_t)arg;
    tl_index = 100 + i;
    pthread_mutex_lock(&mu);
    while (turn != i) pthread_cond_wait(&cv, &mu);
    printf("detached thread %d: turn %d, own thread-local %s\n", i, turn, tl_index == 100 + i ? "yes" : "NO");
    int ok = tl_index == 100 + i;
    turn++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    if (!ok) exit(1);
    if (i == kDetached - 1) printf("RESULT: ok\n"); /* the process exits 0 when this thread returns */
    return NULL;
}

int main(void)
{
    t_init();
    alarm(20);

    pthread_t th[kTls];
    CHECK(pthread_barrier_init(&barrier, NULL, kTls) == 0);
    tl_index = 1000;
    for (int i = 0; i < kTls; i++) CHECK(pthread_create(&th[i], NULL, tls_worker, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < kTls; i++) CHECK(pthread_join(th[i], NULL) == 0);
    pthread_barrier_destroy(&barrier);
    printf("1. %d threads, thread-local mismatches: %d, main's own: %s\n", kTls, atomic_load(&tls_bad),
           tl_index == 1000 && tl_name[0] == 0 ? "yes" : "NO");
    CHECK(atomic_load(&tls_bad) == 0 && tl_index == 1000 && tl_name[0] == 0);
    if (t_failed) return t_done();

    pthread_attr_t attr;
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0);
    for (int i = 0; i < kDetached; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, &attr, detached, (void *)(intptr_t)i) == 0);
    }
    pthread_attr_destroy(&attr);
    if (t_failed) return t_done();
    printf("2. main leaves with pthread_exit\n");
    pthread_mutex_lock(&mu);
    turn = 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_exit(NULL);
}
