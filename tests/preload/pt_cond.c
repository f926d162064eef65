/* pt_cond: condition variables on green threads: a bounded buffer (capacity
 * 4) with 8 producers x 1000 items and 8 consumers, one consumer using
 * pthread_cond_timedwait with 5 ms timeouts (checksum of all items printed),
 * broadcast waking all waiters, timedwait expiry on CLOCK_REALTIME and on a
 * CLOCK_MONOTONIC condattr (ETIMEDOUT after >= the timeout, mutex re-held),
 * pthread_cond_clockwait, past abstime and EINVAL. */
#include "t.h"
#include <pthread.h>

#define CAP 4
#define PER 1000
static int q[CAP], qn, qh;
static int consumed;
static long long sum;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static int timedwait_timeouts, timed_consumer_items;

static void *producer(void *p)
{
    int id = (int)(intptr_t)p;
    for (int i = 0; i < PER; i++) {
        pthread_mutex_lock(&mu);
        while (qn == CAP) pthread_cond_wait(&not_full, &mu);
        q[(qh + qn++) % CAP] = id * PER + i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void *consumer(void *p)
{
    int timed = (int)(intptr_t)p;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (qn == 0 && consumed < 8 * PER) {
            if (timed) {
                struct timespec ts = abs_in(CLOCK_REALTIME, 5);
                if (pthread_cond_timedwait(&not_empty, &mu, &ts) == ETIMEDOUT) timedwait_timeouts++;
            } else {
                pthread_cond_wait(&not_empty, &mu);
            }
        }
        if (consumed == 8 * PER) {
            pthread_cond_broadcast(&not_empty); /* release the others */
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        int v = q[qh];
        qh = (qh + 1) % CAP;
        qn--;
        consumed++;
        sum += v;
        if (timed) timed_consumer_items++;
        pthread_cond_signal(&not_full);
        if (consumed == 8 * PER) pthread_cond_broadcast(&not_empty);
        pthread_mutex_unlock(&mu);
    }
}

static pthread_cond_t bc = PTHREAD_COND_INITIALIZER;
static int go, waiting, woken;
static void *bwaiter(void *p)
{
    (void)p;
    pthread_mutex_lock(&mu);
    waiting++;
    while (!go) pthread_cond_wait(&bc, &mu);
    woken++;
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void timed_expiry(const char *label, pthread_cond_t *c, clockid_t clk, int use_clockwait)
{
    pthread_mutex_lock(&mu);
    struct timespec ts = abs_in(clk, 100);
    double t0 = now_s();
    int rc = use_clockwait ? pthread_cond_clockwait(c, &mu, clk, &ts) : pthread_cond_timedwait(c, &mu, &ts);
    double el = now_s() - t0;
    int relock = pthread_mutex_trylock(&mu); /* EBUSY/EDEADLK-free check: we own it */
    printf("%s = %s after timeout: %s mutex held: %s\n", label, en(rc),
           el >= 0.099 && el < 1.5 ? "yes" : "no", relock == EBUSY ? "yes" : "no");
    CHECK(rc == ETIMEDOUT && el >= 0.099 && el < 1.5 && relock == EBUSY);
    pthread_mutex_unlock(&mu);
}

int main(void)
{
    t_init();
    pthread_t p[8], c[8];
    for (int i = 0; i < 8; i++) pthread_create(&c[i], NULL, consumer, (void *)(intptr_t)(i == 0));
    for (int i = 0; i < 8; i++) pthread_create(&p[i], NULL, producer, (void *)(intptr_t)i);
    for (int i = 0; i < 8; i++) pthread_join(p[i], NULL);
    for (int i = 0; i < 8; i++) pthread_join(c[i], NULL);
    long long want = (long long)(8 * PER) * (8 * PER - 1) / 2;
    printf("bounded buffer: consumed=%d checksum=%lld expected=%lld\n", consumed, sum, want);
    CHECK(consumed == 8 * PER && sum == want);

    /* broadcast wakes all 5 */
    pthread_t w[5];
    for (int i = 0; i < 5; i++) pthread_create(&w[i], NULL, bwaiter, NULL);
    for (;;) {
        pthread_mutex_lock(&mu);
        int n = waiting;
        pthread_mutex_unlock(&mu);
        if (n == 5) break;
        usleep(1000);
    }
    pthread_mutex_lock(&mu);
    go = 1;
    pthread_cond_broadcast(&bc);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 5; i++) pthread_join(w[i], NULL);
    printf("broadcast woke %d/5\n", woken);
    CHECK(woken == 5);

    pthread_cond_t rc = PTHREAD_COND_INITIALIZER, mc;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    CHECK(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0);
    clockid_t got;
    pthread_condattr_getclock(&ca, &got);
    printf("condattr clock is MONOTONIC: %s\n", got == CLOCK_MONOTONIC ? "yes" : "no");
    pthread_cond_init(&mc, &ca);
    timed_expiry("timedwait REALTIME +100ms", &rc, CLOCK_REALTIME, 0);
    timed_expiry("timedwait MONOTONIC-condattr +100ms", &mc, CLOCK_MONOTONIC, 0);
    timed_expiry("clockwait MONOTONIC +100ms", &rc, CLOCK_MONOTONIC, 1);

    pthread_mutex_lock(&mu);
    struct timespec past = {1, 0};
    double t0 = now_s();
    int r = pthread_cond_timedwait(&rc, &mu, &past);
    printf("timedwait past abstime = %s immediate: %s\n", en(r), now_s() - t0 < 0.05 ? "yes" : "no");
    CHECK(r == ETIMEDOUT);
    struct timespec bad = {0, 1000000000L};
    r = pthread_cond_timedwait(&rc, &mu, &bad);
    printf("timedwait tv_nsec=1e9 = %s\n", en(r));
    CHECK(r == EINVAL);
    pthread_mutex_unlock(&mu);
    return t_done();
}
