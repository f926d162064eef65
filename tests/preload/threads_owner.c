/* threads_owner: ownership rules that glibc checks by kernel thread id, which
 * all green threads of one hub share: a recursive mutex held (and re-entered)
 * by one thread while it sleeps must still exclude the others (no "recursive"
 * entry by a sibling), errorcheck EDEADLK/EPERM between siblings, timed and
 * clock locks on a held recursive mutex time out, cond_wait with a recursive
 * mutex locked once, rwlock EDEADLK for the writer but not for others, and a
 * rwlock write-held by a sleeping thread excludes sibling readers. */
#include "t.h"
#include <pthread.h>
#include <stdatomic.h>

static pthread_mutex_t rec, err;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static atomic_int inside, overlap, entries;

static void *rec_worker(void *p)
{
    (void)p;
    for (int i = 0; i < 5; i++) {
        pthread_mutex_lock(&rec);
        pthread_mutex_lock(&rec); /* nested: our own recursion */
        if (atomic_fetch_add(&inside, 1) != 0) atomic_fetch_add(&overlap, 1);
        usleep(2000); /* siblings run and try to lock */
        atomic_fetch_sub(&inside, 1);
        atomic_fetch_add(&entries, 1);
        pthread_mutex_unlock(&rec);
        pthread_mutex_unlock(&rec);
    }
    return NULL;
}

static int r_trylock, r_unlock, r_timed, r_clock, e_trylock, e_unlock, e_lock_self, e_timed_self;

static void *sibling_probe(void *p)
{
    (void)p;
    r_trylock = pthread_mutex_trylock(&rec);
    r_unlock = pthread_mutex_unlock(&rec);
    struct timespec ts = abs_in(CLOCK_REALTIME, 50);
    r_timed = pthread_mutex_timedlock(&rec, &ts);
    ts = abs_in(CLOCK_MONOTONIC, 50);
    r_clock = pthread_mutex_clocklock(&rec, CLOCK_MONOTONIC, &ts);
    e_trylock = pthread_mutex_trylock(&err);
    e_unlock = pthread_mutex_unlock(&err);
    return NULL;
}

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready_flag;
static void *signaller(void *p)
{
    (void)p;
    msleep(30);
    pthread_mutex_lock(&rec); /* only possible if cond_wait released it fully */
    ready_flag = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&rec);
    return NULL;
}

static int rw_rd_other, rw_wr_other, rw_tryrd_other;
static atomic_int rw_reader_saw_writer;
static atomic_int writer_active;
static void *rw_probe(void *p)
{
    (void)p;
    rw_tryrd_other = pthread_rwlock_tryrdlock(&rw);
    struct timespec ts = abs_in(CLOCK_REALTIME, 40);
    rw_rd_other = pthread_rwlock_timedrdlock(&rw, &ts);
    ts = abs_in(CLOCK_REALTIME, 40);
    rw_wr_other = pthread_rwlock_timedwrlock(&rw, &ts);
    return NULL;
}
static void *rw_reader(void *p)
{
    (void)p;
    pthread_rwlock_rdlock(&rw);
    if (atomic_load(&writer_active)) atomic_fetch_add(&rw_reader_saw_writer, 1);
    pthread_rwlock_unlock(&rw);
    return NULL;
}

int main(void)
{
    t_init();
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rec, &a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&err, &a);

    /* 6 threads contend for a recursive mutex, each sleeping inside it */
    pthread_t th[6];
    for (int i = 0; i < 6; i++) pthread_create(&th[i], NULL, rec_worker, NULL);
    for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
    printf("recursive mutex: entries %d, overlapping holders %d\n", atomic_load(&entries),
           atomic_load(&overlap));
    CHECK(entries == 30 && overlap == 0);

    /* main holds both (rec twice); a sibling probes */
    pthread_mutex_lock(&rec);
    pthread_mutex_lock(&rec);
    pthread_mutex_lock(&err);
    e_lock_self = pthread_mutex_lock(&err);
    struct timespec ts = abs_in(CLOCK_REALTIME, 50);
    e_timed_self = pthread_mutex_timedlock(&err, &ts);
    pthread_create(&th[0], NULL, sibling_probe, NULL);
    pthread_join(th[0], NULL);
    printf("recursive held by main, sibling: trylock %s unlock %s timedlock %s clocklock %s\n", en(r_trylock),
           en(r_unlock), en(r_timed), en(r_clock));
    CHECK(r_trylock == EBUSY && r_unlock == EPERM && r_timed == ETIMEDOUT && r_clock == ETIMEDOUT);
    printf("errorcheck: relock by owner %s, timedlock by owner %s, sibling trylock %s, sibling unlock %s\n",
           en(e_lock_self), en(e_timed_self), en(e_trylock), en(e_unlock));
    CHECK(e_lock_self == EDEADLK && e_timed_self == EDEADLK && e_trylock == EBUSY && e_unlock == EPERM);
    int u1 = pthread_mutex_unlock(&err), u2 = pthread_mutex_unlock(&err);
    printf("errorcheck unlock by owner %s, again %s\n", en(u1), en(u2));
    CHECK(u1 == 0 && u2 == EPERM);
    u1 = pthread_mutex_unlock(&rec);
    u2 = pthread_mutex_unlock(&rec);
    int u3 = pthread_mutex_unlock(&rec);
    printf("recursive unlock x2 %s %s, third %s\n", en(u1), en(u2), en(u3));
    CHECK(u1 == 0 && u2 == 0 && u3 == EPERM);

    /* cond_wait releases a recursive mutex locked once, and re-takes it */
    pthread_mutex_lock(&rec);
    pthread_create(&th[0], NULL, signaller, NULL);
    int rc = 0;
    while (!ready_flag && rc == 0) rc = pthread_cond_wait(&cv, &rec);
    int tr = pthread_mutex_trylock(&rec);
    printf("cond_wait on recursive mutex: %s flag %d, held after: %s\n", en(rc), ready_flag,
           tr == 0 ? "yes (recursion ok)" : "no");
    CHECK(rc == 0 && ready_flag == 1 && tr == 0);
    pthread_mutex_unlock(&rec);
    pthread_mutex_unlock(&rec);
    pthread_join(th[0], NULL);
    rc = pthread_cond_wait(&cv, &err);
    printf("cond_wait with an errorcheck mutex not held: %s\n", en(rc));
    CHECK(rc == EPERM);

    /* rwlock: EDEADLK is for the writer only */
    pthread_rwlock_wrlock(&rw);
    u1 = pthread_rwlock_rdlock(&rw);
    u2 = pthread_rwlock_wrlock(&rw);
    printf("rwlock write-held: own rdlock %s, own wrlock %s\n", en(u1), en(u2));
    CHECK(u1 == EDEADLK && u2 == EDEADLK);
    pthread_create(&th[0], NULL, rw_probe, NULL);
    pthread_join(th[0], NULL);
    printf("rwlock write-held by main, sibling: tryrdlock %s timedrdlock %s timedwrlock %s\n",
           en(rw_tryrd_other), en(rw_rd_other), en(rw_wr_other));
    CHECK(rw_tryrd_other == EBUSY && rw_rd_other == ETIMEDOUT && rw_wr_other == ETIMEDOUT);
    /* readers wait while the writer sleeps holding it */
    atomic_store(&writer_active, 1);
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, rw_reader, NULL);
    msleep(50);
    atomic_store(&writer_active, 0);
    pthread_rwlock_unlock(&rw);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    printf("readers that saw the writer: %d\n", atomic_load(&rw_reader_saw_writer));
    CHECK(rw_reader_saw_writer == 0);
    /* recursive read locks are fine */
    u1 = pthread_rwlock_rdlock(&rw);
    u2 = pthread_rwlock_rdlock(&rw);
    u3 = pthread_rwlock_unlock(&rw);
    int u4 = pthread_rwlock_unlock(&rw);
    printf("rdlock twice: %s %s, unlock twice: %s %s\n", en(u1), en(u2), en(u3), en(u4));
    CHECK(u1 == 0 && u2 == 0 && u3 == 0 && u4 == 0);
    return t_done();
}
