/* threads_stack_sizes: 40 pthreads with 64, 68 and 72 KiB stacks, created and joined 10 times.
 * A thread that ends hands its OS thread to one that has never run; with mixed stack sizes its
 * stack goes back through the shared pool, which once left garbage in the registers the fresh
 * thread's entry read as "the context that left" (heap corruption, SIGSEGV by round 5). */
#include "t.h"
#include <pthread.h>

#define NT 40
#define ROUNDS 10

static void *worker(void *arg)
{
    volatile char touch[4096];
    touch[0] = (char)(intptr_t)arg;
    touch[sizeof touch - 1] = touch[0];
    return (void *)((intptr_t)arg * 7);
}

int main(void)
{
    t_init();
    static const size_t sizes[] = {64 * 1024, 68 * 1024, 72 * 1024};
    int joined_ok = 0;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t th[NT];
        for (int i = 0; i < NT; i++) {
            pthread_attr_t a;
            pthread_attr_init(&a);
            CHECK(pthread_attr_setstacksize(&a, sizes[(i + r) % 3]) == 0);
            CHECK(pthread_create(&th[i], &a, worker, (void *)(intptr_t)i) == 0);
            pthread_attr_destroy(&a);
        }
        for (int i = 0; i < NT; i++) {
            void *rv;
            CHECK(pthread_join(th[i], &rv) == 0);
            if ((intptr_t)rv == i * 7) joined_ok++;
        }
    }
    printf("joined with the right value: %d of %d\n", joined_ok, NT * ROUNDS);
    return t_done();
}
