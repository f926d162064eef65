/* handoff_first_wait: the first wait of a thread whose hub a hand-off took before it ever waited.
 *
 * A hub makes its event loop at its first wait. Main starts 8 threads that block reading a pipe,
 * then computes without a call the preload sees: under the preload, its hub (whose loop does not
 * exist yet) goes on on another OS thread (a hand-off), whose first run makes the loop and starts
 * the 8 readers. Main notices that OS thread appear (/proc/self/stat, read with raw system calls)
 * and at once waits for the first time (pthread_join). Main's wait made a second loop when it
 * raced the first one's making (the loop was made before the hub was held): half of the
 * watchers went to a loop that no one ran, and the program hung or was reported deadlocked, in
 * echo_1000 under load. Natively no OS thread appears: main computes 100 ms, then goes on.
 *
 * The race is at the start of a process: the program runs itself again 12 times (exec), each a
 * fresh process, then prints one line. Output is the same natively and preloaded. */
#include "t.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>

#define READERS 8
#define RUNS 12

static int pipefd[2];

/* System calls no hook sees: the computing must stay invisible to the preload. */
static long raw(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

/* Field 20 of /proc/self/stat: the process's OS threads. */
static int os_threads(void)
{
    char buf[1024];
    long fd = raw(SYS_open, (long)"/proc/self/stat", O_RDONLY, 0);
    if (fd < 0) return -1;
    long n = raw(SYS_read, fd, (long)buf, sizeof buf - 1);
    raw(SYS_close, fd, 0, 0);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    int field = 2;
    for (++p; *p && field < 20; ++p)
        if (*p == ' ') ++field;
    return atoi(p);
}

static double raw_now(void)
{
    struct timespec ts;
    raw(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *reader(void *p)
{
    (void)p;
    char c;
    return (void *)(intptr_t)(read(pipefd[0], &c, 1) == 1);
}

static int one_run(void)
{
    if (pipe(pipefd) != 0) return 0;
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++)
        if (pthread_create(&th[i], NULL, reader, NULL) != 0) return 0;
    /* Compute until an OS thread appears (a hand-off's) or 100 ms pass, then wait at once. */
    const int before = os_threads();
    const double until = raw_now() + 0.1;
    while (os_threads() <= before && raw_now() < until) {
    }
    char bytes[READERS] = {0};
    if (write(pipefd[1], bytes, READERS) != READERS) return 0;
    int ok = 1;
    for (int i = 0; i < READERS; i++) {
        void *r = NULL;
        if (pthread_join(th[i], &r) != 0 || r != (void *)1) ok = 0;
    }
    return ok;
}

int main(int argc, char **argv)
{
    t_init();
    int run = argc > 1 ? atoi(argv[1]) : 0;
    int ok = argc > 2 ? atoi(argv[2]) : 0;
    ok += one_run();
    if (run + 1 < RUNS) {
        char next[16], oks[16];
        snprintf(next, sizeof next, "%d", run + 1);
        snprintf(oks, sizeof oks, "%d", ok);
        fflush(stdout);
        execl("/proc/self/exe", argv[0], next, oks, (char *)NULL);
        printf("exec failed: %s\n", en(errno));
        return 1;
    }
    printf("runs whose %d readers all read their byte: %d of %d\n", READERS, ok, RUNS);
    CHECK(ok == RUNS);
    return t_done();
}
