/* threads_c11: C11 <threads.h> on green threads (glibc implements it with
 * internal calls no hook sees, so the preload wraps it): thrd_create/join
 * with int results, thrd_exit, mtx_plain|mtx_recursive and mtx_timed with
 * thrd_busy/thrd_timedout, cnd_wait/cnd_timedwait between threads that sleep
 * with thrd_sleep, tss with destructors, call_once whose function sleeps,
 * thrd_current/thrd_equal, thrd_detach. */
#include "t.h"
#include <stdatomic.h>
#include <threads.h>

static mtx_t mu, rec, timed;
static cnd_t cv;
static int stage;
static tss_t key;
static atomic_int dtors, once_runs;
static once_flag flag = ONCE_FLAG_INIT;

static void dtor(void *p)
{
    (void)p;
    atomic_fetch_add(&dtors, 1);
}
static void init_once(void)
{
    struct timespec ts = {0, 20000000};
    thrd_sleep(&ts, NULL);
    atomic_fetch_add(&once_runs, 1);
}

static int worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    call_once(&flag, init_once);
    tss_set(key, arg);
    struct timespec ts = {0, 5000000};
    thrd_sleep(&ts, NULL);
    mtx_lock(&mu);
    while (stage < id) cnd_wait(&cv, &mu);
    stage++;
    cnd_broadcast(&cv);
    mtx_unlock(&mu);
    if (tss_get(key) != arg) return -1;
    if (id == 3) thrd_exit(300);
    return id * 10;
}

static int busy_rc, timed_rc;
static int prober(void *arg)
{
    (void)arg;
    busy_rc = mtx_trylock(&rec);
    struct timespec ts = abs_in(CLOCK_REALTIME, 30);
    timed_rc = mtx_timedlock(&timed, &ts);
    return 0;
}

static int detached(void *arg)
{
    (void)arg;
    return 0;
}

int main(void)
{
    t_init();
    mtx_init(&mu, mtx_plain);
    mtx_init(&rec, mtx_plain | mtx_recursive);
    mtx_init(&timed, mtx_timed);
    cnd_init(&cv);
    tss_create(&key, dtor);
    thrd_t th[5];
    for (int i = 4; i >= 0; i--) CHECK(thrd_create(&th[i], worker, (void *)(intptr_t)i) == thrd_success);
    int sum = 0, ok = 1;
    for (int i = 0; i < 5; i++) {
        int res;
        ok &= thrd_join(th[i], &res) == thrd_success;
        sum += res;
    }
    printf("C11 threads: joined ok %d, result sum %d, stage %d, call_once runs %d, tss destructors %d\n", ok,
           sum, stage, atomic_load(&once_runs), atomic_load(&dtors));
    CHECK(ok && sum == 0 + 10 + 20 + 300 + 40 && stage == 5 && once_runs == 1 &&
          dtors == 4); /* thread 0 stored NULL */

    CHECK(mtx_lock(&rec) == thrd_success && mtx_lock(&rec) == thrd_success);
    CHECK(mtx_lock(&timed) == thrd_success);
    thrd_t p;
    thrd_create(&p, prober, NULL);
    thrd_join(p, NULL);
    printf(
        "held mutexes seen from another thread: trylock %d (thrd_busy=%d), timedlock %d (thrd_timedout=%d)\n",
        busy_rc, thrd_busy, timed_rc, thrd_timedout);
    CHECK(busy_rc == thrd_busy && timed_rc == thrd_timedout);
    mtx_unlock(&rec);
    mtx_unlock(&rec);
    mtx_unlock(&timed);

    mtx_lock(&mu);
    struct timespec ts = abs_in(CLOCK_REALTIME, 30);
    int rc = cnd_timedwait(&cv, &mu, &ts);
    mtx_unlock(&mu);
    printf("cnd_timedwait with nobody signalling: %s\n", rc == thrd_timedout ? "thrd_timedout" : "other");
    CHECK(rc == thrd_timedout);
    printf("thrd_equal(current, current) %d, with a worker's id %d\n",
           thrd_equal(thrd_current(), thrd_current()) != 0, thrd_equal(thrd_current(), th[0]) != 0);
    thrd_t d;
    thrd_create(&d, detached, NULL);
    printf("thrd_detach: %s\n", thrd_detach(d) == thrd_success ? "ok" : "error");
    struct timespec nap = {0, 20000000};
    thrd_sleep(&nap, NULL);
    return t_done();
}
