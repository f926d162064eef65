/*
 * handoff_reaction.c - how long a thread stuck where no hook sees it stops another one.
 *
 * Usage: handoff_reaction futex|nanosleep|spin [SECONDS]      (default 1)
 *
 * A ticker thread calls usleep(5000) in a loop and records the largest gap between two ticks.
 * 100 ms after the start, a second thread blocks for SECONDS where the preload cannot see it:
 *   futex      a FUTEX_WAIT (timeout SECONDS) on a word nobody wakes, made with a raw `syscall`
 *              instruction (as Go's runtime and libgomp wait)
 *   nanosleep  a nanosleep made with a raw `syscall` instruction
 *   spin       a loop reading the clock until SECONDS have passed (a spin-wait, or a computation)
 * The ticker goes on until 100 ms after that thread is done. Natively the largest gap is about
 * 5 ms (the kernel runs the ticker on another core, or preempts). Under libgreen's preload both
 * threads are green threads of one hub: without hand-off (GREEN_HANDOFF=off) the ticker waits for
 * the whole SECONDS; with it, for the hand-off delay (GREEN_HANDOFF ms, default 20) and the
 * monitor's period.
 *
 * Output: "RESULT max_gap_ms X", "RESULT ticks_while_blocked N" (ticks between the start and the
 * end of the block; about SECONDS / 5 ms natively), "RESULT blocked_ms X" (how long the block
 * lasted), "RESULT os_threads N" (OS threads of the process halfway through the block) and
 * "RESULT preloaded 0|1". Plain C, nothing from libgreen: the "unmodified program".
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char* mode;
static double block_s = 1.0;
static atomic_int blocked, done; /* set by the blocker: entered, left */
static _Atomic double t_block_start, t_block_end;
static int threads_mid = -1;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long raw_syscall4(long nr, long a, long b, long c, long d) {
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
}

static void* blocker(void* arg) {
    (void)arg;
    usleep(100000);
    atomic_store(&t_block_start, now());
    atomic_store(&blocked, 1);
    double end = atomic_load(&t_block_start) + block_s;
    if (strcmp(mode, "spin") == 0) {
        while (now() < end) {}
    } else {
        static int word; /* never changes, nobody wakes it: the wait ends on its timeout */
        for (double left; (left = end - now()) > 0;) {
            struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
            if (strcmp(mode, "futex") == 0) raw_syscall4(SYS_futex, (long)&word, FUTEX_WAIT_PRIVATE, 0, (long)&ts);
            else raw_syscall4(SYS_nanosleep, (long)&ts, 0, 0, 0);
        }
    }
    atomic_store(&t_block_end, now());
    atomic_store(&done, 1);
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

static double max_gap;
static long ticks_while_blocked;

static void* ticker(void* arg) {
    (void)arg;
    double last = now(), stop_at = 0;
    for (;;) {
        usleep(5000);
        double t = now();
        if (t - last > max_gap) max_gap = t - last;
        last = t;
        if (atomic_load(&blocked) && !atomic_load(&done)) ++ticks_while_blocked;
        if (threads_mid < 0 && atomic_load(&blocked) && t - atomic_load(&t_block_start) >= block_s / 2)
            threads_mid = os_threads();
        if (atomic_load(&done)) {
            if (stop_at == 0) stop_at = t + 0.1;
            else if (t >= stop_at) break;
        }
    }
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3 ||
        (strcmp(argv[1], "futex") != 0 && strcmp(argv[1], "nanosleep") != 0 && strcmp(argv[1], "spin") != 0)) {
        fprintf(stderr, "usage: handoff_reaction futex|nanosleep|spin [SECONDS]\n");
        return 2;
    }
    mode = argv[1];
    if (argc > 2) block_s = atof(argv[2]);
    pthread_t t, b;
    if (pthread_create(&t, NULL, ticker, NULL) != 0 || pthread_create(&b, NULL, blocker, NULL) != 0) {
        fprintf(stderr, "handoff_reaction: pthread_create failed\n");
        return 1;
    }
    pthread_join(b, NULL);
    pthread_join(t, NULL);
    printf("RESULT max_gap_ms %.2f\n", max_gap * 1e3);
    printf("RESULT ticks_while_blocked %ld\n", ticks_while_blocked);
    printf("RESULT blocked_ms %.1f\n", (atomic_load(&t_block_end) - atomic_load(&t_block_start)) * 1e3);
    printf("RESULT os_threads %d\n", threads_mid);
    printf("RESULT preloaded %d\n", preloaded());
    return 0;
}
