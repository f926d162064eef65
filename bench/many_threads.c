/*
 * many_threads.c - how many sleeping pthreads a process can hold at once, and what they cost.
 *
 * Usage: many_threads N [STACK_KIB]      e.g. many_threads 100000
 *
 * Creates up to N pthreads (default attributes, or a STACK_KIB KiB stack set with
 * pthread_attr_setstacksize) that each sleep in a loop, sleep(1), until a global atomic
 * `stop` flag is set: the idle clients of a thread-per-connection server, without the sockets.
 * Stops creating at the first pthread_create failure and reports how many it got and why.
 * Natively a stock Linux refuses at about 32,000 threads (each thread's stack and guard page are
 * two of the process's vm.max_map_count = 65530 mappings; kernel.pid_max is 32768), and a small
 * machine may not get that far: the wake-ups of tens of thousands of OS threads, five a second
 * each, can take every CPU, and creation then stops at its deadline instead. Under libgreen's
 * preload the same binary makes green threads on one OS thread: the point is that all N are
 * created, with their memory and time next to the native figures.
 *
 * Output, one "RESULT key value" per line, each group printed (and flushed) once known:
 *   preloaded     1 if LD_PRELOAD names libgreen_preload, else 0
 *   target        N;  stack_kib: STACK_KIB (0: default attributes)
 *   created       threads created (N unless pthread_create failed or the deadline came)
 *   create_errno  errno value of the failed pthread_create (0: none failed)
 *   create_error  its strerror text, the rest of the line ("none"; "creation deadline reached")
 *   create_s      seconds from the first pthread_create to the last
 *   started       threads that had entered their sleep loop when the figures below were taken
 *   start_s       seconds from the last create until then (>= 0.5)
 *   rss_mib       VmRSS of the process, read once every thread has started (and at least 0.5 s
 *                 after the last create), all of them sleeping
 *   os_threads    "Threads:" of /proc/self/status at that moment (N + 1 natively, 1 when green)
 *   maps          lines of /proc/self/maps at that moment (the mappings the threads took)
 *   join_s        seconds from setting `stop` to the return of the last pthread_join
 *   join_failed   pthread_join calls that failed
 *   total_s       seconds from start to the end of the joins
 *   cpu_s         user+system CPU seconds of the process over the whole run
 * Errors go to stderr. Bounded: creation stops after 20 s, the wait for the threads to start
 * 10 s later, and an alarm ends the process (status 3; the lines printed so far stand) after 60 s
 * whatever happens. Exit status 0 when every line was printed, even with fewer than N threads.
 * Plain C, nothing from libgreen: the "unmodified program".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef TIME_LIMIT_S
#define TIME_LIMIT_S 60 /* alarm: the whole run */
#endif
#ifndef CREATE_LIMIT_S
#define CREATE_LIMIT_S 20 /* creation phase */
#endif
#ifndef START_LIMIT_S
#define START_LIMIT_S 10 /* waiting for every thread to enter its sleep loop */
#endif

static atomic_int stop;
static atomic_long started;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "many_threads: time limit reached, exiting\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    _exit(3);
}

static void* sleeper(void* arg) {
    (void)arg;
    atomic_fetch_add(&started, 1);
    while (!atomic_load(&stop)) sleep(1);
    return NULL;
}

/* status_value KEY: the number after KEY in /proc/self/status ("VmRSS:" in kB, "Threads:"). */
static long status_value(const char* key) {
    FILE* f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t len = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, len) == 0) v = atol(line + len);
    fclose(f);
    return v;
}

static long count_maps(void) {
    FILE* f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static int preloaded(void) {
    const char* p = getenv("LD_PRELOAD");
    return p != NULL && strstr(p, "libgreen_preload") != NULL;
}

static int usage(const char* argv0) {
    fprintf(stderr, "usage: %s N [STACK_KIB]     (1 <= N <= 10000000, 16 <= STACK_KIB <= 1048576)\n", argv0);
    return 2;
}

static int parse_long(const char* s, long lo, long hi, long* out) {
    char* end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char** argv) {
    double t_start = now();
    long n, stack_kib = 0;
    if (argc < 2 || argc > 3 || parse_long(argv[1], 1, 10000000, &n) != 0 ||
        (argc == 3 && parse_long(argv[2], 16, 1048576, &stack_kib) != 0))
        return usage(argv[0]);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(TIME_LIMIT_S);

    pthread_attr_t attr, *attrp = NULL;
    if (stack_kib > 0) {
        pthread_attr_init(&attr);
        int rc = pthread_attr_setstacksize(&attr, (size_t)stack_kib * 1024);
        if (rc != 0) {
            fprintf(stderr, "many_threads: pthread_attr_setstacksize(%ld KiB): %s\n", stack_kib, strerror(rc));
            return 2;
        }
        attrp = &attr;
    }

    pthread_t* tids = malloc((size_t)n * sizeof *tids);
    if (!tids) {
        fprintf(stderr, "many_threads: cannot allocate %ld thread ids\n", n);
        return 1;
    }

    /* Create until N, the first failure or the creation deadline. */
    long created = 0;
    int create_errno = 0;
    const char* create_error = "none";
    double t0 = now();
    while (created < n) {
        int rc = pthread_create(&tids[created], attrp, sleeper, NULL);
        if (rc != 0) {
            create_errno = rc;
            create_error = strerror(rc);
            fprintf(stderr, "many_threads: pthread_create #%ld failed: %s (%s)\n", created + 1, create_error,
                    strerrorname_np(rc) ? strerrorname_np(rc) : "?");
            break;
        }
        created++;
        /* Checked after every create: with the CPUs saturated one create can take milliseconds. */
        if (now() - t0 > CREATE_LIMIT_S) {
            create_error = "creation deadline reached";
            fprintf(stderr, "many_threads: stopped creating after %d s (%ld threads)\n", CREATE_LIMIT_S, created);
            break;
        }
    }
    double t1 = now();
    printf("RESULT preloaded %d\n", preloaded());
    printf("RESULT target %ld\n", n);
    printf("RESULT stack_kib %ld\n", stack_kib); /* 0: default attributes */
    printf("RESULT created %ld\n", created);
    printf("RESULT create_errno %d\n", create_errno);
    printf("RESULT create_error %s\n", create_error);
    printf("RESULT create_s %.3f\n", t1 - t0);
    fflush(stdout);

    /* Let every thread reach its sleep: at least 0.5 s after the last create (green threads run
     * only once main blocks), longer if some have not started yet. */
    usleep(500000);
    double t_wait = now();
    while (atomic_load(&started) < created && now() - t_wait < START_LIMIT_S) usleep(50000);
    long n_started = atomic_load(&started);
    double t_started = now();
    if (n_started < created)
        fprintf(stderr, "many_threads: only %ld of %ld threads started within %d s\n", n_started, created,
                START_LIMIT_S);
    long rss_kib = status_value("VmRSS:");
    long threads = status_value("Threads:");
    long maps = count_maps();
    printf("RESULT started %ld\n", n_started);
    printf("RESULT start_s %.3f\n", t_started - t1);
    printf("RESULT rss_mib %.1f\n", rss_kib >= 0 ? (double)rss_kib / 1024.0 : -1.0);
    printf("RESULT os_threads %ld\n", threads);
    printf("RESULT maps %ld\n", maps);
    fflush(stdout);

    /* Stop them all and join. */
    double t2 = now();
    atomic_store(&stop, 1);
    long join_failed = 0;
    for (long i = 0; i < created; i++) {
        int rc = pthread_join(tids[i], NULL);
        if (rc != 0 && join_failed++ == 0)
            fprintf(stderr, "many_threads: pthread_join #%ld: %s\n", i + 1, strerror(rc));
    }
    double t3 = now();
    alarm(0);
    free(tids);
    if (attrp) pthread_attr_destroy(attrp);

    printf("RESULT join_s %.3f\n", t3 - t2);
    printf("RESULT join_failed %ld\n", join_failed);
    printf("RESULT total_s %.3f\n", t3 - t_start);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf("RESULT cpu_s %.3f\n", (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                          (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6);
    return 0;
}
