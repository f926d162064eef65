/* Run preloaded by tests/symbols/run.sh (with LD_BIND_NOW=1 LD_DEBUG=bindings): each hooked name
 * it calls must bind to the preload, the two versions of pthread_cond_signal included. Nothing of
 * libgreen in it. Prints the thread id its pthread saw (a green thread's is 4,194,304 or more). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

/* The GLIBC_2.2.5 pthread_cond_signal, which programs linked before glibc 2.3.2 call. */
extern int old_cond_signal(pthread_cond_t*);
__asm__(".symver old_cond_signal, pthread_cond_signal@GLIBC_2.2.5");

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;
static pid_t child_tid;

static void* child(void* arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    child_tid = gettid();
    ready = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return NULL;
}

int main(void) {
    int p[2];
    char c = 0;
    if (pipe(p) != 0 || write(p[1], "x", 1) != 1 || read(p[0], &c, 1) != 1 || c != 'x') return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, child, NULL) != 0) return 1;
    pthread_mutex_lock(&mu);
    while (!ready) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL);
    /* Preloaded only: the old version on a condition variable without waiters. */
    old_cond_signal(&cv);
    printf("thread tid %s\n", child_tid >= 4194304 ? "green" : "native");
    return 0;
}
