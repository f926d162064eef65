/* handoff_stress: wake-ups must survive green threads moving between OS threads. 2,000 threads
 * pass work through a mutex and condition variables (a bounded counter: producers wait while it
 * is full, consumers while it is empty), while 4 of them, now and then, block for 30 ms in a
 * nanosleep made with the raw syscall instruction (no hook sees it: each makes the hub go on on
 * another OS thread, and the sleeper rejoin it later). Every item produced is consumed exactly
 * once: the sums printed are the same natively and preloaded, and nothing hangs. */
#include "t.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

enum { kPairs = 1000, kItems = 50, kCap = 8, kSleepers = 4, kSleeps = 5 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static long queue[kCap];
static int head, count;
static uint64_t consumed_sum, consumed_n;

static void raw_sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    long rc;
    __asm__ volatile("syscall"
                     : "=a"(rc)
                     : "0"(35L /* SYS_nanosleep */), "D"(&ts), "S"(0L)
                     : "rcx", "r11", "memory");
    (void)rc;
}

static void *producer(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < kItems; i++) {
        pthread_mutex_lock(&lock);
        while (count == kCap) pthread_cond_wait(&not_full, &lock);
        queue[(head + count) % kCap] = id * kItems + i + 1;
        count++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
        if (id < kSleepers && i % (kItems / kSleeps) == 0) raw_sleep_ms(30);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (long i = 0; i < kItems; i++) {
        pthread_mutex_lock(&lock);
        while (count == 0) pthread_cond_wait(&not_empty, &lock);
        long v = queue[head];
        head = (head + 1) % kCap;
        count--;
        consumed_sum += (uint64_t)v;
        consumed_n++;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(void)
{
    t_init();
    static pthread_t threads[2 * kPairs];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    for (long i = 0; i < kPairs; i++) {
        CHECK(pthread_create(&threads[2 * i], &attr, producer, (void *)i) == 0);
        CHECK(pthread_create(&threads[2 * i + 1], &attr, consumer, NULL) == 0);
    }
    for (int i = 0; i < 2 * kPairs; i++) pthread_join(threads[i], NULL);
    const uint64_t n = (uint64_t)kPairs * kItems;
    printf("items consumed: %llu of %llu\n", (unsigned long long)consumed_n, (unsigned long long)n);
    printf("sum: %s\n", consumed_sum == n * (n + 1) / 2 ? "exact" : "WRONG");
    return t_done();
}
