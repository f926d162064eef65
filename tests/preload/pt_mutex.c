/* pt_mutex: pthread mutexes on green threads: a contended normal mutex
 * (8 threads x 20000 increments, holder sleeping while others wait -> must
 * block, not spin the single OS thread), recursive (nested locks, EPERM on
 * unlock by non-owner, EBUSY on foreign trylock), errorcheck (EDEADLK on
 * relock, EPERM on foreign / unlocked unlock), trylock EBUSY, timedlock
 * ETIMEDOUT (CLOCK_REALTIME) and clocklock (CLOCK_MONOTONIC), EINVAL on a bad
 * abstime. */
#include "t.h"
#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t held;
static long counter;
static int op_result;

static void *incr(void *p)
{
    (void)p;
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&m);
        counter++;
        if (i % 5000 == 0) usleep(1000); /* sleep while holding: others must block */
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

/* run op in another thread (result in op_result) */
static void in_thread(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    pthread_create(&th, NULL, fn, arg);
    pthread_join(th, NULL);
}
static void *foreign_unlock(void *p)
{
    op_result = pthread_mutex_unlock(p);
    return NULL;
}
static void *foreign_trylock(void *p)
{
    op_result = pthread_mutex_trylock(p);
    return NULL;
}
static void *foreign_timedlock(void *p)
{
    struct timespec ts = abs_in(CLOCK_REALTIME, 150);
    double t0 = now_s();
    op_result = pthread_mutex_timedlock(p, &ts);
    double el = now_s() - t0;
    if (el < 0.14 || el > 1.5) op_result = -1;
    return NULL;
}
static void *foreign_clocklock(void *p)
{
    struct timespec ts = abs_in(CLOCK_MONOTONIC, 150);
    double t0 = now_s();
    op_result = pthread_mutex_clocklock(p, CLOCK_MONOTONIC, &ts);
    double el = now_s() - t0;
    if (el < 0.14 || el > 1.5) op_result = -1;
    return NULL;
}
static void *bad_abstime(void *p)
{
    struct timespec ts = {0, 2000000000L};
    op_result = pthread_mutex_timedlock(p, &ts);
    return NULL;
}
static void *holder(void *p)
{
    pthread_mutex_lock(&held);
    *(volatile int *)p = 1;
    msleep(200);
    pthread_mutex_unlock(&held);
    return NULL;
}

static pthread_mutex_t make(int type)
{
    pthread_mutexattr_t a;
    pthread_mutex_t mx;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, type);
    pthread_mutex_init(&mx, &a);
    pthread_mutexattr_destroy(&a);
    return mx;
}

int main(void)
{
    t_init();
    pthread_t th[8];
    double t0 = now_s();
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, incr, NULL);
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    printf("contended counter = %ld\n", counter);
    CHECK(counter == 160000 && now_s() - t0 < 20);

    /* lock blocks while another thread holds it for 200 ms */
    pthread_mutex_init(&held, NULL);
    volatile int got = 0;
    pthread_t h;
    pthread_create(&h, NULL, holder, (void *)&got);
    while (!got) usleep(1000);
    t0 = now_s();
    pthread_mutex_lock(&held);
    double el = now_s() - t0;
    pthread_mutex_unlock(&held);
    pthread_join(h, NULL);
    printf("lock waited for holder: %s\n", el >= 0.1 ? "yes" : "no");
    CHECK(el >= 0.1 && el < 2);

    /* normal: trylock EBUSY */
    pthread_mutex_t n = make(PTHREAD_MUTEX_NORMAL);
    pthread_mutex_lock(&n);
    printf("normal trylock while locked (same thread) = %s\n", en(pthread_mutex_trylock(&n)));
    in_thread(foreign_trylock, &n);
    printf("normal trylock from other thread = %s\n", en(op_result));
    CHECK(op_result == EBUSY);
    in_thread(foreign_timedlock, &n);
    printf("timedlock (REALTIME +150ms) from other thread = %s\n",
           op_result < 0 ? "bad timing" : en(op_result));
    CHECK(op_result == ETIMEDOUT);
    in_thread(foreign_clocklock, &n);
    printf("clocklock (MONOTONIC +150ms) from other thread = %s\n",
           op_result < 0 ? "bad timing" : en(op_result));
    CHECK(op_result == ETIMEDOUT);
    in_thread(bad_abstime, &n);
    printf("timedlock with tv_nsec=2e9 = %s\n", en(op_result));
    CHECK(op_result == EINVAL);
    pthread_mutex_unlock(&n);
    printf("trylock unlocked = %s\n", en(pthread_mutex_trylock(&n)));
    pthread_mutex_unlock(&n);

    /* recursive */
    pthread_mutex_t r = make(PTHREAD_MUTEX_RECURSIVE);
    int a1 = pthread_mutex_lock(&r), a2 = pthread_mutex_lock(&r), a3 = pthread_mutex_trylock(&r);
    printf("recursive lock,lock,trylock = %s,%s,%s\n", en(a1), en(a2), en(a3));
    in_thread(foreign_unlock, &r);
    printf("recursive unlock by non-owner = %s\n", en(op_result));
    CHECK(op_result == EPERM);
    in_thread(foreign_trylock, &r);
    printf("recursive trylock by other thread = %s\n", en(op_result));
    CHECK(op_result == EBUSY);
    int u1 = pthread_mutex_unlock(&r), u2 = pthread_mutex_unlock(&r);
    in_thread(foreign_trylock, &r);
    printf("after 2 of 3 unlocks (%s,%s) other thread trylock = %s\n", en(u1), en(u2), en(op_result));
    CHECK(op_result == EBUSY);
    int u3 = pthread_mutex_unlock(&r), u4 = pthread_mutex_unlock(&r);
    printf("3rd unlock = %s, 4th unlock = %s\n", en(u3), en(u4));
    CHECK(u3 == 0 && u4 == EPERM);
    in_thread(foreign_trylock, &r);
    printf("other thread trylock after full unlock = %s\n", en(op_result));
    CHECK(op_result == 0);

    /* errorcheck */
    pthread_mutex_t e = make(PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_lock(&e);
    int rl = pthread_mutex_lock(&e);
    printf("errorcheck relock = %s\n", en(rl));
    CHECK(rl == EDEADLK);
    in_thread(foreign_unlock, &e);
    printf("errorcheck unlock by non-owner = %s\n", en(op_result));
    CHECK(op_result == EPERM);
    int ul = pthread_mutex_unlock(&e), ul2 = pthread_mutex_unlock(&e);
    printf("errorcheck unlock = %s, unlock again = %s\n", en(ul), en(ul2));
    CHECK(ul == 0 && ul2 == EPERM);
    printf("destroy = %s\n", en(pthread_mutex_destroy(&e)));
    return t_done();
}
