/* stall.c (for stall_report.sh): one thread keeps the OS thread for 1.5 s, either spinning on the
 * clock or blocked in a futex wait made with the syscall instruction (which no hook sees, the
 * other thread releases it afterwards through libc). Exits 0 when both threads are done. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint32_t word;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *staller(void *arg)
{
    if (strcmp(arg, "spin") == 0) {
        double t0 = now();
        while (now() - t0 < 1.5) {
        }
    } else {
        /* A raw futex wait with a 1.5 s timeout: the instruction itself, not libc's syscall(). */
        struct timespec ts = {1, 500000000};
        long rc;
        register long r10 __asm__("r10") = (long)&ts;
        __asm__ volatile("syscall"
                         : "=a"(rc)
                         : "0"((long)SYS_futex), "D"(&word), "S"((long)FUTEX_WAIT_PRIVATE), "d"(0L), "r"(r10)
                         : "rcx", "r11", "memory");
        (void)rc;
    }
    return NULL;
}

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) usleep(10000);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t a, b;
    pthread_create(&b, NULL, ticker, NULL);
    pthread_create(&a, NULL, staller, argc > 1 ? argv[1] : "spin");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
