/* handoff_fork: two threads fork 200 children each (every child exits at once with a status the
 * parent checks) while three threads compute, so hand-off keeps moving the hub between OS threads
 * and the pool's carriers and the monitor run beside the forks. A child of fork has one thread:
 * a runtime lock another OS thread held at that moment was never released in the child, which
 * then waited for it for ever in its after-fork handler, and its parent in waitpid (about one run
 * in two, before the locks were taken across fork). */
#include "t.h"
#include <sys/wait.h>

static atomic_int stop;
static volatile unsigned long sink;

static void *compute(void *arg)
{
    long n = (long)arg;
    while (!atomic_load(&stop)) {
        unsigned long x = 1;
        for (long i = 0; i < n; i++) x = x * 6364136223846793005UL + 1;
        sink += x;
        usleep(50);
    }
    return NULL;
}

static void *forker(void *arg)
{
    (void)arg;
    long wrong = 0;
    for (int k = 0; k < 200; k++) {
        pid_t p = fork();
        if (p == 0) _exit(k % 7);
        int st = 0;
        if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != k % 7) wrong++;
    }
    return (void *)wrong;
}

int main(void)
{
    t_init();
    pthread_t c[3], f[2];
    for (long i = 0; i < 3; i++)
        CHECK(pthread_create(&c[i], NULL, compute, (void *)(3000000L * (i + 1))) == 0);
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&f[i], NULL, forker, NULL) == 0);
    long wrong = 0;
    for (int i = 0; i < 2; i++) {
        void *r;
        CHECK(pthread_join(f[i], &r) == 0);
        wrong += (long)r;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) CHECK(pthread_join(c[i], NULL) == 0);
    printf("400 children forked beside computing threads, each reaped with its status: %s\n",
           wrong ? "no" : "yes");
    CHECK(wrong == 0);
    return t_done();
}
