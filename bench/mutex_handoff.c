/*
 * mutex_handoff.c - two threads hand a mutex back and forth.
 *
 * Usage: mutex_handoff [SECONDS]      (default 0.5)
 *
 * A pthread mutex, a condition variable and a "whose turn" flag: each thread waits for its turn,
 * passes the turn to the other one and signals it. One hand-off = one ownership change, the other
 * thread woken. Natively that is a futex wake and a sleep/wake-up of an OS thread each time;
 * under libgreen's preload (green threads on one OS thread) it is a switch between two fibers.
 * Runs for SECONDS, then stops.
 *
 * Output: "RESULT handoff_ns X", "RESULT os_threads N" (OS threads of the process while both
 * threads exist: 3 natively, 1 when they are green) and "RESULT preloaded 0|1".
 * Plain C, nothing from libgreen: the "unmodified program".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn, stop;
static long handoffs;
static double seconds = 0.5, t_start;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void* player(void* arg) {
    int me = (int)(long)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (turn != me && !stop) pthread_cond_wait(&turn_changed, &lock);
        if (stop) break;
        if ((++handoffs & 1023) == 0 && now() - t_start > seconds) {
            stop = 1;
            pthread_cond_broadcast(&turn_changed);
            break;
        }
        turn = 1 - me;
        pthread_cond_signal(&turn_changed);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int os_threads(void) {
    FILE* f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0) n = atoi(line + 8);
    fclose(f);
    return n;
}

static int preloaded(void) {
    FILE* f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, "libgreen_preload") != NULL;
    fclose(f);
    return found;
}

int main(int argc, char** argv) {
    if (argc > 1) seconds = atof(argv[1]);
    pthread_t a, b;
    t_start = now();
    if (pthread_create(&a, NULL, player, (void*)0L) != 0 || pthread_create(&b, NULL, player, (void*)1L) != 0) {
        fprintf(stderr, "mutex_handoff: pthread_create failed\n");
        return 1;
    }
    int threads = os_threads();
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    double elapsed = now() - t_start;
    printf("RESULT handoff_ns %.1f\n", elapsed / (double)handoffs * 1e9);
    printf("RESULT handoffs %ld\n", handoffs);
    printf("RESULT os_threads %d\n", threads);
    printf("RESULT preloaded %d\n", preloaded());
    return 0;
}
