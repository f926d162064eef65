/* hubs_roam: threads that compute past the hand-off threshold and then wait, on two hubs.
 *
 * Each computing stretch (3 ms of CPU, no call; the program sets GREEN_HANDOFF=2 and GREEN_HUBS=2
 * for itself)
 * makes the hub's monitor hand the hub to another
 * OS thread, so OS threads come to carry either hub; each wait (a condition variable ping-pong
 * with a partner, then usleep) lets a crowded hub give ready threads to the other one. A thread
 * moved to the other hub must take the runtime's per-thread words of the OS thread running it
 * there even when that OS thread is the one it last ran on, under its old hub: with the old hub's
 * words its waits went to the wrong hub (the JVM aborted, "a blocking call was made inside the
 * hub", or hung; about one run in seven, so the program runs itself 8 times, by exec). Natively and
 * preloaded: the same sums, every round's wait done. */
#include "t.h"

#define PAIRS 4
#define ROUNDS 40
#define RUNS 8

struct pair {
    pthread_mutex_t m;
    pthread_cond_t c;
    int turn; /* whose turn: 0 or 1 */
};

static struct pair pairs[PAIRS];
static uint64_t sums[2 * PAIRS];

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 3 ms of this thread's CPU time in plain arithmetic (no call the preload hooks). */
static uint64_t compute(uint64_t s)
{
    double end = cpu_now() + 0.003;
    do {
        for (int i = 0; i < 20000; i++) s = s * 6364136223846793005ull + 1442695040888963407ull;
    } while (cpu_now() < end);
    return s;
}

static void *worker(void *p)
{
    int id = (int)(intptr_t)p;
    struct pair *pr = &pairs[id / 2];
    int me = id % 2;
    uint64_t s = (uint64_t)id;
    for (int r = 0; r < ROUNDS; r++) {
        if ((r + id) % 4 == 0) (void)compute(s); /* now and then: most rounds only wait */
        s = s * 31 + (uint64_t)r;                /* the result must not depend on how long compute ran */
        pthread_mutex_lock(&pr->m);
        while (pr->turn != me) pthread_cond_wait(&pr->c, &pr->m);
        pr->turn = !me;
        pthread_cond_broadcast(&pr->c);
        pthread_mutex_unlock(&pr->m);
        usleep(200);
    }
    sums[id] = s;
    return NULL;
}

int main(int argc, char **argv)
{
    t_init();
    int run = argc > 1 ? atoi(argv[1]) : 0;
    if (run == 0) {
        /* Read by the preload when the process starts: from the first exec on. */
        setenv("GREEN_HANDOFF", "2", 1);
        setenv("GREEN_HUBS", "2", 1);
    } else {
        pthread_t th[2 * PAIRS];
        for (int i = 0; i < PAIRS; i++) {
            pthread_mutex_init(&pairs[i].m, NULL);
            pthread_cond_init(&pairs[i].c, NULL);
        }
        for (int i = 0; i < 2 * PAIRS; i++)
            CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
        for (int i = 0; i < 2 * PAIRS; i++) CHECK(pthread_join(th[i], NULL) == 0);
        if (run == RUNS)
            for (int i = 0; i < 2 * PAIRS; i++) printf("worker %d: %llu\n", i, (unsigned long long)sums[i]);
        if (t_failed) return t_done();
    }
    if (run < RUNS) {
        char next[16];
        snprintf(next, sizeof next, "%d", run + 1);
        fflush(stdout);
        execl("/proc/self/exe", argv[0], next, (char *)NULL);
        printf("exec failed: %s\n", en(errno));
        return 1;
    }
    printf("runs: %d\n", RUNS);
    return t_done();
}
