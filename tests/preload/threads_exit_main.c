/* threads_exit_main: main calls pthread_exit while other threads still run
 * (sleeping, waiting on a condition variable signalled by a sibling, one of
 * them detached): the process lives on until the last of them returns, then
 * exits with status 0, running atexit handlers; main's key destructor runs at
 * its pthread_exit. */
#include "t.h"
#include <pthread.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;
static pthread_key_t key;

static void at_exit(void)
{
    printf("atexit handler: turn=%d\n", turn);
    printf("RESULT: ok\n");
}

static void main_key_dtor(void *v)
{
    printf("main's key destructor: %s\n", (char *)v);
}

static void *waiter(void *p)
{
    int me = (int)(intptr_t)p;
    pthread_mutex_lock(&mu);
    while (turn != me) pthread_cond_wait(&cv, &mu);
    printf("thread %d runs after main left\n", me);
    turn++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void *kicker(void *p)
{
    (void)p;
    msleep(100);
    pthread_mutex_lock(&mu);
    turn = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return NULL;
}

int main(void)
{
    t_init();
    atexit(at_exit);
    pthread_key_create(&key, main_key_dtor);
    pthread_setspecific(key, "main-value");
    pthread_t th;
    for (int i = 3; i >= 1; i--) pthread_create(&th, NULL, waiter, (void *)(intptr_t)i);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_create(&th, &a, kicker, NULL);
    printf("main calls pthread_exit\n");
    pthread_exit(NULL);
}
