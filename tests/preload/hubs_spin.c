/* hubs_spin: busy-waits with no system call in them, which only true parallelism (GREEN_HUBS)
 * or a hand-off lets end: the thread that ends the wait must run while the waiter holds its OS
 * thread.
 *  1. A thread spins on an atomic flag that another thread sets after usleep(50000); the value
 *     published before the flag (release/acquire) is the one the spinner reads.
 *  2. A pthread_spin_lock held by one thread across usleep(20000) while 3 others spin on it:
 *     none gets it before the holder's unlock (each reads the value the holder wrote), then all
 *     3 take it 10,000 times each; no two are ever inside together, and no increment is lost. */
#include "t.h"

#include <pthread.h>

/* 1 */
static atomic_int flag;
static int published;
static int spinner_saw = -1;

static void *spinner(void *a)
{
    (void)a;
    while (!atomic_load_explicit(&flag, memory_order_acquire)) {
    }
    spinner_saw = published;
    return NULL;
}

static void *setter(void *a)
{
    (void)a;
    usleep(50000);
    published = 4242;
    atomic_store_explicit(&flag, 1, memory_order_release);
    return NULL;
}

/* 2 */
enum { kSpinners = 3, kLoops = 10000 };
static pthread_spinlock_t sl;
static atomic_int held;   /* the holder has the lock */
static atomic_int inside; /* threads inside the critical section now */
static int value, overlaps, counter;
static int saw[kSpinners];

static void *holder(void *a)
{
    (void)a;
    CHECK(pthread_spin_lock(&sl) == 0);
    atomic_store(&held, 1);
    usleep(20000);
    value = 7; /* still under the lock: every spinner must see it */
    CHECK(pthread_spin_unlock(&sl) == 0);
    return NULL;
}

static void *lock_spinner(void *a)
{
    int i = (int)(intptr_t)a;
    while (!atomic_load(&held)) {
    }
    for (int n = 0; n < kLoops; n++) {
        if (pthread_spin_lock(&sl) != 0) {
            saw[i] = -2;
            return NULL;
        }
        if (atomic_fetch_add(&inside, 1) != 0) overlaps++;
        if (n == 0) saw[i] = value;
        counter++;
        atomic_fetch_sub(&inside, 1);
        pthread_spin_unlock(&sl);
    }
    return NULL;
}

int main(void)
{
    t_init();
    alarm(20);

    pthread_t s, t;
    CHECK(pthread_create(&s, NULL, spinner, NULL) == 0);
    CHECK(pthread_create(&t, NULL, setter, NULL) == 0);
    CHECK(pthread_join(s, NULL) == 0 && pthread_join(t, NULL) == 0);
    printf("1. flag spinner saw the published value: %d\n", spinner_saw);
    CHECK(spinner_saw == 4242);

    CHECK(pthread_spin_init(&sl, PTHREAD_PROCESS_PRIVATE) == 0);
    pthread_t h, w[kSpinners];
    CHECK(pthread_create(&h, NULL, holder, NULL) == 0);
    for (int i = 0; i < kSpinners; i++)
        CHECK(pthread_create(&w[i], NULL, lock_spinner, (void *)(intptr_t)i) == 0);
    CHECK(pthread_join(h, NULL) == 0);
    for (int i = 0; i < kSpinners; i++) CHECK(pthread_join(w[i], NULL) == 0);
    for (int i = 0; i < kSpinners; i++) {
        printf("2. lock spinner %d first saw value %d\n", i, saw[i]);
        CHECK(saw[i] == 7);
    }
    printf("2. counter %d (expected %d), overlaps %d\n", counter, kSpinners * kLoops, overlaps);
    CHECK(counter == kSpinners * kLoops && overlaps == 0);
    CHECK(pthread_spin_destroy(&sl) == 0);
    return t_done();
}
