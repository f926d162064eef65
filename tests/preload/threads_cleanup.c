/* threads_cleanup: pthread_cleanup_push/pop in C code on green threads: the
 * handlers of several threads are pushed and popped interleaved (each thread
 * sleeps between its pushes while the others push and pop theirs), pop(1)
 * runs a handler and pop(0) does not, and pthread_exit from a nested call runs
 * the handlers still pushed, innermost first, before the key destructors; the
 * join value is pthread_exit's. */
#include "t.h"
#include <pthread.h>

#define NT 6
static char log_[NT][64];
static pthread_key_t key;

static void note(void *p)
{
    int id = (int)((intptr_t)p / 10), step = (int)((intptr_t)p % 10);
    char s[4] = {(char)('0' + step), 0};
    strcat(log_[id], s);
}

static void key_dtor(void *p)
{
    strcat(log_[(intptr_t)p - 1], "K");
}

static void nested_exit(int id, int depth);
static void (*volatile deeper)(int, int) = nested_exit; /* no -Winfinite-recursion */
static void nested_exit(int id, int depth)
{
    if (depth > 0) deeper(id, depth - 1);
    pthread_exit((void *)(intptr_t)(id * 100));
}

static void *worker(void *p)
{
    int id = (int)(intptr_t)p;
    pthread_setspecific(key, (void *)(intptr_t)(id + 1));
    pthread_cleanup_push(note, (void *)(intptr_t)(id * 10 + 1));
    usleep(1000 * (NT - id));
    pthread_cleanup_push(note, (void *)(intptr_t)(id * 10 + 2));
    usleep(1000 * (id + 1));
    pthread_cleanup_push(note, (void *)(intptr_t)(id * 10 + 3));
    usleep(500);
    pthread_cleanup_pop(id % 2); /* runs 3 for odd ids */
    pthread_cleanup_push(note, (void *)(intptr_t)(id * 10 + 4));
    usleep(1000);
    if (id < NT / 2) nested_exit(id, 3); /* runs 4, 2, 1 */
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(1); /* 2 */
    pthread_cleanup_pop(0);
    return (void *)(intptr_t)(id * 100 + 1);
}

int main(void)
{
    t_init();
    pthread_key_create(&key, key_dtor);
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < NT; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        printf("thread %d: handlers ran \"%s\", join value %ld\n", i, log_[i], (long)(intptr_t)rv);
    }
    CHECK(strcmp(log_[0], "421K") == 0 && strcmp(log_[1], "3421K") == 0 && strcmp(log_[3], "32K") == 0 &&
          strcmp(log_[4], "2K") == 0);
    return t_done();
}
