/* threads_handoff: two threads pass control back and forth through two normal
 * mutexes only (each waits by re-locking a mutex it holds; the other thread
 * releases it: glibc's normal mutexes allow that), 20000 round trips = 40000
 * contended mutex hand-offs; then the same through two semaphores and through
 * a mutex + condition variable pair. stdout carries counts only; the cost of
 * one hand-off goes to stderr (natively: between two OS threads; preloaded:
 * between two green threads on one OS thread). */
#include "t.h"
#include <pthread.h>
#include <semaphore.h>

#define ROUNDS 20000
static pthread_mutex_t m0 = PTHREAD_MUTEX_INITIALIZER, m1 = PTHREAD_MUTEX_INITIALIZER;
static int mutex_rounds;

static void *mutex_partner(void *p)
{
    (void)p;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&m1); /* waits for main's unlock(m1) */
        mutex_rounds++;
        pthread_mutex_unlock(&m0); /* lets main's lock(m0) through */
    }
    return NULL;
}

static sem_t s0, s1;
static int sem_rounds;
static void *sem_partner(void *p)
{
    (void)p;
    for (int i = 0; i < ROUNDS; i++) {
        sem_wait(&s1);
        sem_rounds++;
        sem_post(&s0);
    }
    return NULL;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, cond_rounds;
static void *cond_partner(void *p)
{
    (void)p;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < ROUNDS; i++) {
        while (turn != 1) pthread_cond_wait(&cv, &mu);
        cond_rounds++;
        turn = 0;
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int main(void)
{
    t_init();
    pthread_t th;
    /* mutexes */
    pthread_mutex_lock(&m0);
    pthread_mutex_lock(&m1);
    pthread_create(&th, NULL, mutex_partner, NULL);
    double t0 = now_s();
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_unlock(&m1); /* partner's lock(m1) goes through */
        pthread_mutex_lock(&m0);   /* until the partner unlocks m0 */
    }
    double el_mutex = now_s() - t0;
    pthread_join(th, NULL);
    pthread_mutex_unlock(&m0);
    printf("mutex round trips: %d\n", mutex_rounds);
    CHECK(mutex_rounds == ROUNDS);

    /* semaphores */
    sem_init(&s0, 0, 0);
    sem_init(&s1, 0, 0);
    pthread_create(&th, NULL, sem_partner, NULL);
    t0 = now_s();
    for (int i = 0; i < ROUNDS; i++) {
        sem_post(&s1);
        sem_wait(&s0);
    }
    double el_sem = now_s() - t0;
    pthread_join(th, NULL);
    printf("semaphore round trips: %d\n", sem_rounds);
    CHECK(sem_rounds == ROUNDS);

    /* mutex + condition variable */
    pthread_create(&th, NULL, cond_partner, NULL);
    t0 = now_s();
    pthread_mutex_lock(&mu);
    for (int i = 0; i < ROUNDS; i++) {
        turn = 1;
        pthread_cond_signal(&cv);
        while (turn != 0) pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    double el_cond = now_s() - t0;
    pthread_join(th, NULL);
    printf("condvar round trips: %d\n", cond_rounds);
    CHECK(cond_rounds == ROUNDS);

    fprintf(stderr,
            "one hand-off (half a round trip): mutex %.0f ns, semaphore %.0f ns, mutex+condvar %.0f ns\n",
            el_mutex / (2.0 * ROUNDS) * 1e9, el_sem / (2.0 * ROUNDS) * 1e9, el_cond / (2.0 * ROUNDS) * 1e9);
    return t_done();
}
