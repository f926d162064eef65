/* hubs_counter: many short threads sharing one mutex and passing tickets through condition
 * variables, for GREEN_HUBS (green threads on several OS threads at once, wake-ups crossing
 * them). 2,000 threads (batches of 200, 64 KiB stacks) each add 1 to a shared counter 200 times
 * under a mutex; the two threads of each pair also take turns on a ticket (mutex + condition
 * variable per pair: the even one takes the even tickets, the odd one the odd tickets, 50 each).
 * A lost increment shows in the total; a lost wake-up hangs a pair (the alarm fails the run); a
 * turn taken out of order shows in the checksum of the tickets each thread saw. */
#include "t.h"

#include <pthread.h>
#include <stdint.h>

enum { kThreads = 2000, kBatch = 200, kIncs = 200, kTurns = 50 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static uint64_t checksum;
static int bad_tickets;

struct pair {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ticket; /* the next ticket: taken by the thread whose parity it has */
};
static struct pair pairs[kBatch / 2];

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg; /* global index, 0..kThreads-1 */
    struct pair *p = &pairs[(id % kBatch) / 2];
    int parity = id & 1;
    uint64_t sum = 0;
    int bad = 0;
    for (int i = 0; i < kIncs; i++) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
        if (i % (kIncs / kTurns) != 0) continue;
        pthread_mutex_lock(&p->mu);
        while ((p->ticket & 1) != parity) pthread_cond_wait(&p->cv, &p->mu);
        int t = p->ticket++;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (t != 2 * (i / (kIncs / kTurns)) + parity) /* the n-th turn of each must be ticket 2n+parity */
            bad++;
        sum += (uint64_t)(id + 1) * (uint64_t)(t + 1);
    }
    pthread_mutex_lock(&mu);
    checksum += sum;
    bad_tickets += bad;
    pthread_mutex_unlock(&mu);
    return NULL;
}

int main(void)
{
    t_init();
    alarm(20);
    static pthread_t th[kBatch];
    pthread_attr_t attr;
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstacksize(&attr, 64 << 10) == 0);
    int create_failures = 0;
    for (int base = 0; base < kThreads; base += kBatch) {
        for (int i = 0; i < kBatch / 2; i++) {
            CHECK(pthread_mutex_init(&pairs[i].mu, NULL) == 0);
            CHECK(pthread_cond_init(&pairs[i].cv, NULL) == 0);
            pairs[i].ticket = 0;
        }
        for (int i = 0; i < kBatch; i++)
            if (pthread_create(&th[i], &attr, worker, (void *)(intptr_t)(base + i)) != 0) create_failures++;
        for (int i = 0; i < kBatch; i++) CHECK(pthread_join(th[i], NULL) == 0);
        int done_tickets = 1;
        for (int i = 0; i < kBatch / 2; i++) {
            done_tickets &= pairs[i].ticket == 2 * kTurns;
            pthread_cond_destroy(&pairs[i].cv);
            pthread_mutex_destroy(&pairs[i].mu);
        }
        CHECK(done_tickets);
    }
    pthread_attr_destroy(&attr);
    CHECK(create_failures == 0);

    uint64_t want = 0;
    for (int id = 0; id < kThreads; id++)
        for (int n = 0; n < kTurns; n++) want += (uint64_t)(id + 1) * (uint64_t)(2 * n + (id & 1) + 1);
    printf("threads: %d, counter: %ld (expected %ld)\n", kThreads, counter, (long)kThreads * kIncs);
    printf("ticket checksum: %llu (expected %llu), out-of-turn tickets: %d\n", (unsigned long long)checksum,
           (unsigned long long)want, bad_tickets);
    CHECK(counter == (long)kThreads * kIncs);
    CHECK(checksum == want);
    CHECK(bad_tickets == 0);
    return t_done();
}
