/* t.h - tiny shared helpers for the libgreen preload differential tests.
 *
 * Plain libc only (nothing from libgreen): every test is an ordinary program
 * that must behave identically natively and under LD_PRELOAD=libgreen_preload.so.
 *
 * Conventions:
 *  - stdout carries only deterministic lines (values, errno NAMES, verdicts);
 *    the runner diffs native vs preloaded stdout byte for byte.
 *  - CHECK(cond) asserts the real (native Linux) outcome; a failed check prints
 *    "FAIL <file>:<line>: <cond>" and makes the program exit 1.
 *  - timing checks use generous bounds and print verdicts, never durations.
 *  - t_init() arms alarm(30) as a safety net against hangs.
 */
#ifndef LIBGREEN_TEST_T_H
#define LIBGREEN_TEST_T_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int t_failed;

/* errno value -> "EAGAIN" etc. (0 -> "0"). */
static inline const char *en(int e)
{
    const char *s;
    if (e == 0) return "0";
    s = strerrorname_np(e);
    return s ? s : "E?";
}

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            int e_ = errno;                                                                                  \
            printf("FAIL %s:%d: %s (errno=%s)\n", __FILE__, __LINE__, #cond, en(e_));                        \
            fflush(stdout);                                                                                  \
            t_failed = 1;                                                                                    \
            errno = e_;                                                                                      \
        }                                                                                                    \
    } while (0)

/* Seconds on CLOCK_MONOTONIC as a double. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Absolute time `ms` milliseconds from now on `clk`. */
static inline struct timespec abs_in(clockid_t clk, int ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Write/read exactly n bytes (blocking fds), returns n or -1. */
static inline ssize_t write_all(int fd, const void *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = write(fd, (const char *)buf + off, n - off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        off += (size_t)r;
    }
    return (ssize_t)off;
}

static inline ssize_t read_all(int fd, void *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = read(fd, (char *)buf + off, n - off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        off += (size_t)r;
    }
    return (ssize_t)off;
}

/* FNV-1a 64-bit, incremental: h = fnv(h, buf, n), start with FNV0. */
#define FNV0 0xcbf29ce484222325ULL
static inline unsigned long long fnv(unsigned long long h, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static inline void t_init(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(30);
}

static inline int t_done(void)
{
    printf("%s\n", t_failed ? "RESULT: FAIL" : "RESULT: ok");
    fflush(stdout);
    return t_failed ? 1 : 0;
}

/* OS threads the preload adds for hubs beyond the first (GREEN_HUBS=N: N - 1; "auto", the default:
 * one per CPU the process may run on, less one), for the cases that count OS threads. */
#include <sched.h>
static inline int t_extra_hubs(void)
{
    const char *v = getenv("GREEN_HUBS");
    int n;
    if (!v || !*v || strcmp(v, "auto") == 0) {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    } else {
        n = atoi(v);
    }
    return n > 1 ? n - 1 : 0;
}

/* OS threads of the process now: the entries of /proc/self/task. */
#include <dirent.h>
static inline int t_os_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

/* A sibling thread that ticks every 10 ms: that it kept ticking while another thread waited
 * shows the wait parked a green thread, not the OS thread. */
static atomic_int ticks, ticker_stop_flag;
static pthread_t ticker_thread;
static inline void *ticker_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&ticker_stop_flag)) {
        usleep(10000);
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}
static inline void ticker_start(void)
{
    atomic_store(&ticker_stop_flag, 0);
    atomic_store(&ticks, 0);
    pthread_create(&ticker_thread, NULL, ticker_main, NULL);
}
/* Stops the ticker; returns the ticks counted until now. */
static inline int ticker_stop(void)
{
    int n = atomic_load(&ticks);
    atomic_store(&ticker_stop_flag, 1);
    pthread_join(ticker_thread, NULL);
    return n;
}

#endif
