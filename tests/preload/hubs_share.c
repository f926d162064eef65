/* hubs_share: threads crowded on a busy hub are shared with an idle one.
 *
 * 8 workers start together (a barrier), each notes the kernel's id of the OS thread it runs on
 * (a raw gettid: natively its own; preloaded, its hub's). The workers on worker 0's OS thread are
 * the "long" ones: each does 20,000 rounds of a little arithmetic and a call, noting if a round
 * ran on another OS thread than its first; the others end at once, leaving their OS threads idle.
 * Done twice: the call is sched_yield, then usleep(0) (a yield too). Natively worker 0 alone is long and never moves. Preloaded with one hub all 8 are long
 * (they share one OS thread) and none can move. With GREEN_HUBS=2 the long ones share one hub
 * while the other has nothing to do: some of them must be given to it (they then run on its OS
 * thread), and every sum must be exact. Output is the same in all three cases. */
#include "t.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>

#define WORKERS 8
#define ROUNDS 20000

static pthread_barrier_t start;
static long tids[WORKERS];
static int is_long[WORKERS];
static int moved[WORKERS];
static uint64_t sums[WORKERS];
static int use_usleep; /* the round's call: sched_yield (0) or usleep(0) (1) */

/* The OS thread's id from the kernel itself: no hook sees a raw system call. */
static long real_tid(void)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_gettid) : "rcx", "r11", "memory");
    return r;
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
    for (int r = 0; r < ROUNDS; r++) {
        s = s * 6364136223846793005ull + (uint64_t)r;
        if (use_usleep) usleep(0);
        else sched_yield();
        if (real_tid() != mine) moved[i] = 1;
    }
    sums[i] = s;
    return NULL;
}

/* One experiment; returns 0 if it checked out. */
static int run(const char *what)
{
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
        for (int r = 0; r < ROUNDS; r++) s = s * 6364136223846793005ull + (uint64_t)r;
        exact &= sums[i] == s;
    }
    printf("%s: worker 0 is long: %s\n", what, is_long[0] ? "yes" : "no");
    printf("%s: every long worker's sum is exact: %s\n", what, exact ? "yes" : "no");
    CHECK(is_long[0]);
    CHECK(exact);
    /* Several long workers share an OS thread only under the preload; with a second hub, that
     * hub had nothing else to do while they ran. */
    if (longs > 1 && longs < WORKERS && t_extra_hubs() > 0) CHECK(moves > 0);
    fprintf(stderr, "hubs_share: %s: %d long workers, %d moved to another OS thread\n", what, longs, moves);
    return 0;
}

int main(void)
{
    t_init();
    run("sched_yield");
    use_usleep = 1;
    run("usleep(0)");
    return t_done();
}
