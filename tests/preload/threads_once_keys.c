/* threads_once_keys: pthread_once whose init routine blocks (sleeps, waits on
 * a semaphore) while 10 other threads call pthread_once on the same control:
 * they must wait for it, and the init runs once; keys: per-thread values for
 * main and threads, destructors rerun while they set values again
 * (PTHREAD_DESTRUCTOR_ITERATIONS), no destructor for a NULL value or a deleted
 * key, a re-created key starts NULL everywhere; pthread_exit from a nested
 * call returns its value to join and runs the destructors; a new thread
 * inherits its creator's name; pthread_getattr_np reports a stack holding a
 * local variable of the thread. */
#include "t.h"
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int init_runs, init_done, saw_done;
static sem_t go;

static void slow_init(void)
{
    atomic_fetch_add(&init_runs, 1);
    msleep(30);    /* others call pthread_once meanwhile */
    sem_wait(&go); /* and a blocking wait on something main posts */
    atomic_store(&init_done, 1);
}

static void *once_caller(void *p)
{
    (void)p;
    pthread_once(&once, slow_init);
    if (atomic_load(&init_done)) atomic_fetch_add(&saw_done, 1);
    return NULL;
}

static pthread_key_t k1, k2, kdel;
static atomic_int d1_calls, d2_calls, ddel_calls;
static void d1(void *v)
{
    (void)v;
    atomic_fetch_add(&d1_calls, 1);
}
/* sets its value again twice: called 3 times per thread */
static void d2(void *v)
{
    intptr_t n = (intptr_t)v;
    atomic_fetch_add(&d2_calls, 1);
    if (n < 3) pthread_setspecific(k2, (void *)(n + 1));
}
static void ddel(void *v)
{
    (void)v;
    atomic_fetch_add(&ddel_calls, 1);
}

static atomic_int own_values_ok;
/* kdel is deleted while every worker holds a value in it, and before any of them exits: */
static pthread_barrier_t values_set, key_deleted;
static void deep_exit(int depth, intptr_t value);
static void (*volatile deeper)(int, intptr_t) = deep_exit; /* no -Winfinite-recursion */
static void deep_exit(int depth, intptr_t value)
{
    if (depth > 0) deeper(depth - 1, value);
    pthread_exit((void *)value);
}

static void *key_worker(void *p)
{
    intptr_t id = (intptr_t)p;
    int ok = pthread_getspecific(k1) == NULL && pthread_getspecific(k2) == NULL;
    pthread_setspecific(k1, (void *)(id + 100));
    pthread_setspecific(k2, (void *)1);
    pthread_setspecific(kdel, (void *)7);
    pthread_barrier_wait(&values_set);
    pthread_barrier_wait(&key_deleted);
    msleep(10); /* the others run and set their own values */
    ok = ok && pthread_getspecific(k1) == (void *)(id + 100);
    if (ok) atomic_fetch_add(&own_values_ok, 1);
    if (id % 2) deep_exit(5, id * 10);
    return (void *)(id * 10);
}

static char child_name[32];
static int child_name_rc;
static int stack_has_local;
static void *attr_worker(void *p)
{
    (void)p;
    int local = 0;
    child_name_rc = pthread_getname_np(pthread_self(), child_name, sizeof child_name);
    pthread_attr_t a;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) == 0 && pthread_attr_getstack(&a, &addr, &size) == 0)
        stack_has_local =
            (char *)&local >= (char *)addr && (char *)&local < (char *)addr + size && size >= 65536;
    pthread_attr_destroy(&a);
    return NULL;
}

int main(void)
{
    t_init();
    sem_init(&go, 0, 0);
    pthread_t th[10];
    for (int i = 0; i < 10; i++) pthread_create(&th[i], NULL, once_caller, NULL);
    msleep(80);
    printf("init running, done yet: %s\n", atomic_load(&init_done) ? "yes" : "no");
    sem_post(&go);
    for (int i = 0; i < 10; i++) pthread_join(th[i], NULL);
    printf("once: init ran %d time(s), callers that returned after it finished: %d/10\n",
           atomic_load(&init_runs), atomic_load(&saw_done));
    CHECK(init_runs == 1 && saw_done == 10);
    pthread_once(&once, slow_init);
    CHECK(init_runs == 1);

    CHECK(pthread_key_create(&k1, d1) == 0);
    CHECK(pthread_key_create(&k2, d2) == 0);
    CHECK(pthread_key_create(&kdel, ddel) == 0);
    pthread_setspecific(k1, (void *)42);
    pthread_barrier_init(&values_set, NULL, 9);
    pthread_barrier_init(&key_deleted, NULL, 9);
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, key_worker, (void *)(intptr_t)i);
    pthread_barrier_wait(&values_set);
    CHECK(pthread_key_delete(kdel) == 0); /* values remain, destructor never called */
    pthread_barrier_wait(&key_deleted);
    int joined = 0;
    for (int i = 0; i < 8; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        joined += rv == (void *)(intptr_t)(i * 10);
    }
    printf("keys: own values %d/8, d1 calls %d, d2 calls %d, deleted key's destructor calls %d\n",
           atomic_load(&own_values_ok), atomic_load(&d1_calls), atomic_load(&d2_calls),
           atomic_load(&ddel_calls));
    CHECK(own_values_ok == 8 && d1_calls == 8 && d2_calls == 24 && ddel_calls == 0);
    printf("join values (half via pthread_exit from a nested call): %d/8\n", joined);
    CHECK(joined == 8);
    printf("main's value untouched: %s\n", pthread_getspecific(k1) == (void *)42 ? "yes" : "no");
    CHECK(pthread_getspecific(k1) == (void *)42);
    pthread_key_t k3;
    pthread_key_delete(k1);
    CHECK(pthread_key_create(&k3, NULL) == 0);
    printf("re-created key starts NULL: %s\n", pthread_getspecific(k3) == NULL ? "yes" : "no");
    CHECK(pthread_getspecific(k3) == NULL);
    printf("setspecific on a deleted key: %s\n", en(pthread_setspecific(kdel, (void *)1)));

    pthread_setname_np(pthread_self(), "parent-name");
    pthread_create(&th[0], NULL, attr_worker, NULL);
    pthread_join(th[0], NULL);
    printf("new thread's name: %s %s\n", en(child_name_rc), child_name);
    printf("getattr_np stack holds a local (>= 64 KiB): %s\n", stack_has_local ? "yes" : "no");
    CHECK(stack_has_local);
    return t_done();
}
