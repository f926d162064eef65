// Hand-off (GREEN_HANDOFF): a thread spin-waits on a flag that main sets after a sleep, and
// another blocks in a read made with a raw syscall instruction, which no hook sees; four tickers
// tick meanwhile. Natively every thread has a core or the kernel's attention; preloaded, the hub
// must go on on another OS thread while each of the two holds its own. Without hand-off this
// never ends (the spinner keeps the only OS thread).
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int flag;
static atomic_int ticks;
static int pipefd[2];

static void *spinner(void *a)
{
    (void)a;
    while (!atomic_load(&flag)) {
    }
    return NULL;
}

static long raw_read(int fd, void *buf, size_t n)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"((long)SYS_read), "D"((long)fd), "S"(buf), "d"(n)
                     : "rcx", "r11", "memory");
    return ret;
}

static void *raw_reader(void *a)
{
    (void)a;
    char c = 0;
    long n = raw_read(pipefd[0], &c, 1);
    printf("raw read %ld '%c'\n", n, c);
    return NULL;
}

static void *ticker(void *a)
{
    (void)a;
    for (int i = 0; i < 10; ++i) {
        usleep(10000);
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

int main(void)
{
    if (pipe(pipefd) != 0) return 1;
    pthread_t s, r, t[4];
    pthread_create(&s, NULL, spinner, NULL);
    pthread_create(&r, NULL, raw_reader, NULL);
    for (int i = 0; i < 4; ++i) pthread_create(&t[i], NULL, ticker, NULL);
    for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
    printf("ticks %d\n", atomic_load(&ticks));
    atomic_store(&flag, 1);
    pthread_join(s, NULL);
    if (write(pipefd[1], "x", 1) != 1) return 1;
    pthread_join(r, NULL);
    printf("main thread: gettid %s getpid, pthread_self %s\n", gettid() == getpid() ? "==" : "!=",
           pthread_equal(pthread_self(), pthread_self()) ? "stable" : "unstable");
    return 0;
}
