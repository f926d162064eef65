/*
 * patched_sleep.c - the classic "monkey-patched sleep" demo.
 *
 * Two pthreads each sleep 100 ms ten times and print a line per step:
 *   Work1---0 .. Work1---9   and   Work2---0 .. Work2---9
 * Natively the two threads sleep concurrently, so the whole run takes about
 * 1.0 s.  Under LD_PRELOAD=libgreen_preload.so the threads become fibers and
 * usleep() becomes a fiber yield, so it must still take about 1.0 s (not
 * 2.0 s, which is what a preload that blocks the whole process would give).
 *
 * The elapsed time goes to stderr so that stdout only contains the
 * WorkN---i lines (whose interleaving depends on the scheduler).
 *
 * Build: gcc -std=c11 -O2 -Wall -Wextra -pthread -o patched_sleep patched_sleep.c
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* usleep() */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static void* work(void* arg) {
    const char* name = arg;
    for (int i = 0; i < 10; i++) {
        usleep(100000);
        printf("%s---%d\n", name, i);
        fflush(stdout);
    }
    return NULL;
}

int main(void) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    pthread_t a, b;
    if (pthread_create(&a, NULL, work, "Work1") != 0 || pthread_create(&b, NULL, work, "Work2") != 0) {
        fprintf(stderr, "patched_sleep: pthread_create failed\n");
        return 1;
    }
    pthread_join(a, NULL);
    pthread_join(b, NULL);

    clock_gettime(CLOCK_MONOTONIC, &t1);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "elapsed %.3f s\n", elapsed);
    return 0;
}
