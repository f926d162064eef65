/* preload_only_tls_mass_exit: 30,000 green threads with TCBs of their own wait on one condition
 * variable, are released at once and joined. A thread's TCB lives at the top of its stack, which
 * goes back to the pool when it ends; the hub, which runs with whatever TCB is installed, was once
 * left on a dead thread's and read the runtime's state out of a reused stack (SIGSEGV). Preloaded
 * only: natively 30,000 threads exceed what the machine allows a test. */
#include "t.h"

#define N 30000
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int go;
static __thread int mine;

static void *worker(void *arg)
{
    mine = (int)(intptr_t)arg;
    pthread_mutex_lock(&m);
    while (!go) pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    return (void *)(intptr_t)(mine == (int)(intptr_t)arg);
}

int main(void)
{
    setenv("GREEN_TLS", "thread", 1);
    t_init();
    static pthread_t th[N];
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    int created = 0;
    for (int i = 0; i < N; i++) created += pthread_create(&th[i], &a, worker, (void *)(intptr_t)i) == 0;
    usleep(10000);
    pthread_mutex_lock(&m);
    go = 1;
    pthread_cond_broadcast(&c);
    pthread_mutex_unlock(&m);
    int ok = 0;
    for (int i = 0; i < created; i++) {
        void *r;
        pthread_join(th[i], &r);
        ok += r == (void *)1;
    }
    printf("created %d, ended with their own TLS value %d\n", created, ok);
    CHECK(created == N && ok == N);
    return t_done();
}
