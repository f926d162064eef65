/* hubs_spread: threads woken from waits, crowded on a busy hub, go on on an idle one.
 *
 * As hubs_share, but the long workers' rounds wait instead of yielding: a 50 us nanosleep, a
 * pthread_cond_timedwait that times out after 50 us, a 1 ms poll with no descriptor, each after
 * some computing. 8 workers
 * start together (a barrier), each notes the kernel's id of the OS thread it runs on (a raw gettid:
 * natively its own; preloaded, its hub's); those on worker 0's OS thread are the long ones, the
 * others end at once, leaving their OS threads idle. Natively worker 0 alone is long and never
 * moves; preloaded with one hub all 8 are long and none can move. With GREEN_HUBS=2 the long ones
 * share one hub while the other has nothing to do: threads woken from their waits while others
 * are ready must be given to it (a green thread that waits stayed on its first hub for ever
 * before), and every sum must be exact. Output is the same in all three cases. */
#include "t.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKERS 8

enum wait_kind { NANOSLEEP, COND_TIMEDWAIT, POLL };
static const char *const names[] = {"nanosleep", "pthread_cond_timedwait", "poll"};
static const int rounds_of[] = {1000, 1000, 200};

static pthread_barrier_t start;
static long tids[WORKERS];
static int is_long[WORKERS];
static int moved[WORKERS];
static uint64_t sums[WORKERS];
static enum wait_kind kind;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

/* The OS thread's id from the kernel itself: no hook sees a raw system call. */
static long real_tid(void)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_gettid) : "rcx", "r11", "memory");
    return r;
}

/* Some 30-50 us of computing: with four such workers on one hub, that hub always has another one
 * ready when one wakes. */
static uint64_t work(uint64_t s, int r)
{
    for (int j = 0; j < 20000; j++) s = s * 6364136223846793005ull + (uint64_t)(r ^ j);
    return s;
}

static void wait_a_little(void)
{
    switch (kind) {
    case NANOSLEEP: {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
        break;
    }
    case COND_TIMEDWAIT: {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&lock);
        int rc = pthread_cond_timedwait(&never, &lock, &until);
        pthread_mutex_unlock(&lock);
        CHECK(rc == ETIMEDOUT);
        break;
    }
    case POLL: CHECK(poll(NULL, 0, 1) == 0); break;
    }
}

static void *worker(void *p)
{
    int i = (int)(intptr_t)p;
    tids[i] = real_tid();
    pthread_barrier_wait(&start);
    long mine = real_tid();
    is_long[i] = mine == tids[0];
    if (!is_long[i]) return NULL;
    uint64_t s = (uint64_t)i;
    for (int r = 0; r < rounds_of[kind]; r++) {
        s = work(s, r);
        wait_a_little();
        if (real_tid() != mine) moved[i] = 1;
    }
    sums[i] = s;
    return NULL;
}

static void run(enum wait_kind k)
{
    kind = k;
    pthread_t th[WORKERS];
    memset(moved, 0, sizeof moved);
    memset(is_long, 0, sizeof is_long);
    CHECK(pthread_barrier_init(&start, NULL, WORKERS) == 0);
    for (int i = 0; i < WORKERS; i++) CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < WORKERS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    pthread_barrier_destroy(&start);
    int longs = 0, moves = 0, exact = 1;
    for (int i = 0; i < WORKERS; i++) {
        if (!is_long[i]) continue;
        longs++;
        moves += moved[i];
        uint64_t s = (uint64_t)i;
        for (int r = 0; r < rounds_of[k]; r++) s = work(s, r);
        exact &= sums[i] == s;
    }
    printf("%s: worker 0 is long: %s\n", names[k], is_long[0] ? "yes" : "no");
    printf("%s: every long worker's sum is exact: %s\n", names[k], exact ? "yes" : "no");
    CHECK(is_long[0]);
    CHECK(exact);
    /* Several long workers share an OS thread only under the preload; with a second hub, that
     * hub had nothing else to do while they waited and woke. */
    if (longs > 1 && longs < WORKERS && t_extra_hubs() > 0) CHECK(moves > 0);
    fprintf(stderr, "hubs_spread: %s: %d long workers, %d moved to another OS thread\n", names[k], longs,
            moves);
}

int main(void)
{
    t_init();
    run(NANOSLEEP);
    run(COND_TIMEDWAIT);
    run(POLL);
    return t_done();
}
