/* pt_misc: the rest of the pthread API on green threads: barriers
 * (PTHREAD_BARRIER_SERIAL_THREAD returned exactly once per round), thread keys
 * with destructors (run at thread exit with the thread's value), pthread_once
 * (init runs once across 10 threads), join return values and pthread_exit,
 * EDEADLK on self-join, detach, self/equal, setname/getname (incl. ERANGE),
 * attr stacksize + pthread_getattr_np (stack >= requested and a local variable
 * lies inside it; EINVAL below PTHREAD_STACK_MIN), pthread_kill(t, 0), and
 * 200 short-lived threads. */
#include "t.h"
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

/* barrier */
static pthread_barrier_t bar;
static atomic_int serial[3];
static void *bar_worker(void *p)
{
    (void)p;
    for (int r = 0; r < 3; r++) {
        int rc = pthread_barrier_wait(&bar);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD) atomic_fetch_add(&serial[r], 1);
        else if (rc != 0) printf("barrier_wait error %s\n", en(rc));
    }
    return NULL;
}

/* keys */
static pthread_key_t key;
static atomic_int dtor_calls, dtor_sum;
static void dtor(void *v)
{
    atomic_fetch_add(&dtor_calls, 1);
    atomic_fetch_add(&dtor_sum, *(int *)v);
    free(v);
}
static void *key_worker(void *p)
{
    int *v = malloc(sizeof *v);
    *v = (int)(intptr_t)p;
    int null_before = pthread_getspecific(key) == NULL;
    pthread_setspecific(key, v);
    usleep(20000); /* others run and set their own values meanwhile */
    int *back = pthread_getspecific(key);
    return (void *)(intptr_t)(null_before && back == v && *back == (int)(intptr_t)p);
}

/* once */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_runs;
static void once_init(void)
{
    usleep(10000);
    atomic_fetch_add(&once_runs, 1);
}
static void *once_worker(void *p)
{
    (void)p;
    pthread_once(&once, once_init);
    return (void *)(intptr_t)atomic_load(&once_runs);
}

static void *ret42(void *p)
{
    (void)p;
    return (void *)42;
}
static void *exit7(void *p)
{
    (void)p;
    usleep(1000);
    pthread_exit((void *)7);
    return NULL;
}
static atomic_int detached_ran;
static void *detached(void *p)
{
    (void)p;
    usleep(10000);
    atomic_store(&detached_ran, 1);
    return NULL;
}
static pthread_t created_id;
static pthread_mutex_t created_mu = PTHREAD_MUTEX_INITIALIZER; /* held until created_id is stored */
static void *self_check(void *p)
{
    (void)p;
    pthread_mutex_lock(&created_mu);
    int eq = pthread_equal(pthread_self(), created_id) != 0;
    pthread_mutex_unlock(&created_mu);
    return (void *)(intptr_t)eq;
}
static void *named(void *p)
{
    (void)p;
    char nm[32] = "";
    pthread_setname_np(pthread_self(), "self-named");
    pthread_getname_np(pthread_self(), nm, sizeof nm);
    return (void *)(intptr_t)(strcmp(nm, "self-named") == 0);
}
static void *stack_probe(void *p)
{
    size_t want = *(size_t *)p;
    pthread_attr_t a;
    void *addr;
    size_t size;
    int local;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return (void *)0;
    pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    int ok = size >= want;
    ok |= ((char *)&local > (char *)addr && (char *)&local < (char *)addr + size) << 1;
    return (void *)(intptr_t)ok;
}
static atomic_int stop_waiter;
static void *waiter(void *p)
{
    (void)p;
    while (!atomic_load(&stop_waiter)) usleep(5000);
    return NULL;
}
static void *tiny(void *p)
{
    return (void *)((intptr_t)p * 2);
}

int main(void)
{
    t_init();
    void *rv;
    pthread_t th[10];

    pthread_barrier_init(&bar, NULL, 5);
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, bar_worker, NULL);
    bar_worker(NULL);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    printf("barrier serial threads per round: %d %d %d\n", serial[0], serial[1], serial[2]);
    CHECK(serial[0] == 1 && serial[1] == 1 && serial[2] == 1);
    pthread_barrier_destroy(&bar);

    CHECK(pthread_key_create(&key, dtor) == 0);
    int vals_ok = 0;
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, key_worker, (void *)(intptr_t)(i + 10));
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], &rv);
        vals_ok += (int)(intptr_t)rv;
    }
    printf("keys: per-thread values ok=%d destructor calls=%d sum=%d main value NULL: %s\n", vals_ok,
           atomic_load(&dtor_calls), atomic_load(&dtor_sum), pthread_getspecific(key) == NULL ? "yes" : "no");
    CHECK(vals_ok == 3 && dtor_calls == 3 && dtor_sum == 33);
    pthread_key_delete(key);

    for (int i = 0; i < 10; i++) pthread_create(&th[i], NULL, once_worker, NULL);
    int saw_one = 0;
    for (int i = 0; i < 10; i++) {
        pthread_join(th[i], &rv);
        saw_one += (intptr_t)rv == 1;
    }
    printf("pthread_once: init runs=%d, all callers saw it done: %s\n", atomic_load(&once_runs),
           saw_one == 10 ? "yes" : "no");
    CHECK(once_runs == 1 && saw_one == 10);

    pthread_create(&th[0], NULL, ret42, NULL);
    pthread_create(&th[1], NULL, exit7, NULL);
    pthread_join(th[0], &rv);
    printf("join return value = %ld\n", (long)(intptr_t)rv);
    CHECK(rv == (void *)42);
    pthread_join(th[1], &rv);
    printf("join pthread_exit value = %ld\n", (long)(intptr_t)rv);
    CHECK(rv == (void *)7);
    printf("join self = %s\n", en(pthread_join(pthread_self(), NULL)));

    pthread_t d;
    pthread_create(&d, NULL, detached, NULL);
    printf("detach = %s\n", en(pthread_detach(d)));
    for (int i = 0; i < 200 && !atomic_load(&detached_ran); i++) usleep(5000);
    printf("detached thread ran: %s\n", atomic_load(&detached_ran) ? "yes" : "no");

    printf("equal(self, self)=%d\n", pthread_equal(pthread_self(), pthread_self()) != 0);
    pthread_mutex_lock(&created_mu);
    pthread_create(&created_id, NULL, self_check, NULL);
    pthread_mutex_unlock(&created_mu);
    printf("equal(self, main)=%d\n", pthread_equal(created_id, pthread_self()) != 0);
    pthread_join(created_id, &rv);
    printf("thread's pthread_self equals created id: %s\n", rv ? "yes" : "no");
    CHECK(rv);

    /* names */
    pthread_t w;
    pthread_create(&w, NULL, waiter, NULL);
    char nm[32] = "";
    int rs = pthread_setname_np(w, "worker-1");
    int rg = pthread_getname_np(w, nm, sizeof nm);
    printf("setname(other)=%s getname=%s '%s'\n", en(rs), en(rg), nm);
    CHECK(rs == 0 && rg == 0 && !strcmp(nm, "worker-1"));
    printf("setname too long = %s\n", en(pthread_setname_np(w, "a-name-longer-than-15")));
    printf("getname small buffer = %s\n", en(pthread_getname_np(w, nm, 4)));
    printf("pthread_kill(live, 0) = %s\n", en(pthread_kill(w, 0)));
    CHECK(pthread_kill(w, 0) == 0);
    atomic_store(&stop_waiter, 1);
    pthread_join(w, NULL);
    pthread_create(&w, NULL, named, NULL);
    pthread_join(w, &rv);
    printf("thread named itself: %s\n", rv ? "yes" : "no");

    /* stack size */
    pthread_attr_t a;
    pthread_attr_init(&a);
    size_t want = 1 << 20, got = 0;
    printf("setstacksize(1 MiB) = %s\n", en(pthread_attr_setstacksize(&a, want)));
    pthread_attr_getstacksize(&a, &got);
    printf("getstacksize = %zu\n", got);
    printf("setstacksize(tiny) = %s\n", en(pthread_attr_setstacksize(&a, 1024)));
    pthread_create(&w, &a, stack_probe, &want);
    pthread_join(w, &rv);
    printf("getattr_np: stack >= requested: %s, local inside stack: %s\n", ((intptr_t)rv & 1) ? "yes" : "no",
           ((intptr_t)rv & 2) ? "yes" : "no");
    CHECK((intptr_t)rv == 3);
    want = 4 << 20;
    pthread_attr_setstacksize(&a, want);
    pthread_create(&w, &a, stack_probe, &want);
    pthread_join(w, &rv);
    printf("4 MiB stack: >= requested and local inside: %s\n", (intptr_t)rv == 3 ? "yes" : "no");
    CHECK((intptr_t)rv == 3);
    pthread_attr_destroy(&a);

    /* many short-lived threads, joined in creation order */
    long sum = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 10; i++) pthread_create(&th[i], NULL, tiny, (void *)(intptr_t)(round * 10 + i));
        for (int i = 0; i < 10; i++) {
            pthread_join(th[i], &rv);
            sum += (intptr_t)rv;
        }
    }
    printf("200 threads: sum=%ld\n", sum);
    CHECK(sum == 199 * 200);
    return t_done();
}
