/* pt_rwlock: reader-writer locks on green threads: readers hold the lock
 * concurrently (max simultaneous readers >= 2 while each sleeps 50 ms holding
 * it), writers are exclusive (no reader or second writer while a writer
 * holds it; 4 writers x 200 + 4 readers mixed), tryrdlock/trywrlock EBUSY,
 * timedrdlock/timedwrlock/clockwrlock ETIMEDOUT, wrlock relock EDEADLK. */
#include "t.h"
#include <pthread.h>
#include <stdatomic.h>

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static atomic_int readers, writers, max_readers, violations;
static long shared_value;
static int op;

static void note_reader(void)
{
    int n = atomic_fetch_add(&readers, 1) + 1;
    int m = atomic_load(&max_readers);
    while (n > m && !atomic_compare_exchange_weak(&max_readers, &m, n))
        ;
    if (atomic_load(&writers)) atomic_fetch_add(&violations, 1);
}

static void *sleepy_reader(void *p)
{
    (void)p;
    pthread_rwlock_rdlock(&rw);
    note_reader();
    usleep(50000);
    atomic_fetch_sub(&readers, 1);
    pthread_rwlock_unlock(&rw);
    return NULL;
}

static void *writer(void *p)
{
    (void)p;
    for (int i = 0; i < 200; i++) {
        pthread_rwlock_wrlock(&rw);
        if (atomic_fetch_add(&writers, 1) != 0 || atomic_load(&readers)) atomic_fetch_add(&violations, 1);
        long v = shared_value;
        if (i % 50 == 0) usleep(1000);
        shared_value = v + 1;
        atomic_fetch_sub(&writers, 1);
        pthread_rwlock_unlock(&rw);
        if (i % 20 == 0) usleep(100);
    }
    return NULL;
}

static void *reader(void *p)
{
    (void)p;
    for (int i = 0; i < 200; i++) {
        pthread_rwlock_rdlock(&rw);
        note_reader();
        if (i % 50 == 0) usleep(1000);
        atomic_fetch_sub(&readers, 1);
        pthread_rwlock_unlock(&rw);
    }
    return NULL;
}

static void *try_rd(void *p)
{
    (void)p;
    op = pthread_rwlock_tryrdlock(&rw);
    if (!op) pthread_rwlock_unlock(&rw);
    return NULL;
}
static void *try_wr(void *p)
{
    (void)p;
    op = pthread_rwlock_trywrlock(&rw);
    if (!op) pthread_rwlock_unlock(&rw);
    return NULL;
}
static double timed_el;
static void *timed_rd(void *p)
{
    (void)p;
    struct timespec ts = abs_in(CLOCK_REALTIME, 100);
    double t0 = now_s();
    op = pthread_rwlock_timedrdlock(&rw, &ts);
    timed_el = now_s() - t0;
    return NULL;
}
static void *timed_wr(void *p)
{
    (void)p;
    struct timespec ts = abs_in(CLOCK_REALTIME, 100);
    double t0 = now_s();
    op = pthread_rwlock_timedwrlock(&rw, &ts);
    timed_el = now_s() - t0;
    return NULL;
}
static void *clock_wr(void *p)
{
    (void)p;
    struct timespec ts = abs_in(CLOCK_MONOTONIC, 100);
    double t0 = now_s();
    op = pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &ts);
    timed_el = now_s() - t0;
    return NULL;
}
static void run(void *(*fn)(void *))
{
    pthread_t t;
    pthread_create(&t, NULL, fn, NULL);
    pthread_join(t, NULL);
}

int main(void)
{
    t_init();
    pthread_t th[8];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, sleepy_reader, NULL);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    printf("max simultaneous readers >= 2: %s\n", atomic_load(&max_readers) >= 2 ? "yes" : "no");
    CHECK(atomic_load(&max_readers) >= 2);

    for (int i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, writer, NULL);
        pthread_create(&th[4 + i], NULL, reader, NULL);
    }
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    printf("writers: value=%ld exclusion violations=%d\n", shared_value, atomic_load(&violations));
    CHECK(shared_value == 800 && atomic_load(&violations) == 0);

    pthread_rwlock_wrlock(&rw);
    run(try_rd);
    printf("tryrdlock while write-locked = %s\n", en(op));
    CHECK(op == EBUSY);
    run(timed_rd);
    printf("timedrdlock while write-locked = %s after timeout: %s\n", en(op),
           timed_el >= 0.099 && timed_el < 1.5 ? "yes" : "no");
    CHECK(op == ETIMEDOUT && timed_el >= 0.099);
    int rl = pthread_rwlock_wrlock(&rw);
    printf("wrlock relock by owner = %s\n", en(rl));
    CHECK(rl == EDEADLK);
    pthread_rwlock_unlock(&rw);

    pthread_rwlock_rdlock(&rw);
    run(try_wr);
    printf("trywrlock while read-locked = %s\n", en(op));
    CHECK(op == EBUSY);
    run(try_rd);
    printf("tryrdlock while read-locked = %s\n", en(op));
    CHECK(op == 0);
    run(timed_wr);
    printf("timedwrlock while read-locked = %s after timeout: %s\n", en(op),
           timed_el >= 0.099 && timed_el < 1.5 ? "yes" : "no");
    CHECK(op == ETIMEDOUT && timed_el >= 0.099);
    run(clock_wr);
    printf("clockwrlock(MONOTONIC) while read-locked = %s after timeout: %s\n", en(op),
           timed_el >= 0.099 && timed_el < 1.5 ? "yes" : "no");
    CHECK(op == ETIMEDOUT && timed_el >= 0.099);
    pthread_rwlock_unlock(&rw);
    run(try_wr);
    printf("trywrlock when free = %s\n", en(op));
    CHECK(op == 0);
    return t_done();
}
