/* tls_self: thread identity is per thread. In each of 8 threads pthread_self()
 * equals the pthread_t that pthread_create returned for it, stays the same
 * across yields, and differs between threads (pthread_equal agrees); gettid()
 * differs between threads (and from main's), stays the same across a usleep,
 * and main's gettid() is getpid(). Only verdicts are printed, never ids. */
#include "t.h"
#include <sched.h>

#define NTHREADS 8

static pthread_t created[NTHREADS], seen[NTHREADS];
static pid_t tids[NTHREADS];
static int self_stable[NTHREADS], tid_stable[NTHREADS];
static pthread_barrier_t start, recorded;

static void *worker(void *p)
{
    int id = (int)(intptr_t)p;
    pthread_barrier_wait(&start); /* main has stored every pthread_t */
    seen[id] = pthread_self();
    tids[id] = gettid();
    pthread_barrier_wait(&recorded);
    sched_yield();
    usleep(1000); /* the other threads run in between */
    sched_yield();
    self_stable[id] = pthread_equal(pthread_self(), seen[id]) && pthread_self() == seen[id];
    tid_stable[id] = gettid() == tids[id];
    return NULL;
}

int main(void)
{
    t_init();
    pthread_barrier_init(&start, NULL, NTHREADS + 1);
    pthread_barrier_init(&recorded, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&created[i], NULL, worker, (void *)(intptr_t)i) == 0);
    pthread_barrier_wait(&start);
    for (int i = 0; i < NTHREADS; i++) CHECK(pthread_join(created[i], NULL) == 0);

    int self_is_created = 0, self_kept = 0, tid_kept = 0, self_distinct = 1, tid_distinct = 1;
    int equal_agrees = 1;
    pid_t main_tid = gettid();
    for (int i = 0; i < NTHREADS; i++) {
        self_is_created += pthread_equal(seen[i], created[i]) != 0;
        self_kept += self_stable[i];
        tid_kept += tid_stable[i];
        if (tids[i] == main_tid || tids[i] <= 0) tid_distinct = 0;
        if (pthread_equal(seen[i], pthread_self())) self_distinct = 0;
        for (int j = 0; j < i; j++) {
            if ((pthread_equal(seen[i], seen[j]) != 0) != (seen[i] == seen[j])) equal_agrees = 0;
            if (pthread_equal(seen[i], seen[j])) self_distinct = 0;
            if (tids[i] == tids[j]) tid_distinct = 0;
        }
    }
    printf("pthread_self() in the thread == pthread_create's id: %d/%d\n", self_is_created, NTHREADS);
    printf("pthread_self() stable across yields: %d/%d\n", self_kept, NTHREADS);
    printf("pthread_self() distinct between threads and from main: %s\n", self_distinct ? "yes" : "no");
    printf("pthread_equal agrees with ==: %s\n", equal_agrees ? "yes" : "no");
    printf("gettid() distinct between threads and from main: %s\n", tid_distinct ? "yes" : "no");
    printf("gettid() stable across a usleep: %d/%d\n", tid_kept, NTHREADS);
    printf("main: gettid() == getpid(): %s\n", main_tid == getpid() ? "yes" : "no");
    CHECK(self_is_created == NTHREADS && self_kept == NTHREADS && self_distinct);
    CHECK(equal_agrees && tid_distinct && tid_kept == NTHREADS && main_tid == getpid());
    return t_done();
}
