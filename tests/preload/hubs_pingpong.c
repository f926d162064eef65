/* hubs_pingpong: 8 pairs of threads pass a token back and forth 20,000 times each (40,000
 * passes a pair), all pairs at once, for GREEN_HUBS where the two ends of a pair may run on
 * different OS threads and every pass is a wake-up across them. Two pairs each use blocking
 * pipes (read/write), POSIX semaphores (sem_wait/sem_post), a mutex + condition variable, and
 * a spin on an atomic with sched_yield (no futex: the waiter needs the other end to run in
 * parallel, or the yield to let it run). Each pass carries the token's value, checked on
 * arrival; a lost wake-up hangs a pair (the alarm fails the run). */
#include "t.h"

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>

enum { kPairs = 8, kRounds = 20000 };
enum kind { PIPE, SEM, COND, SPIN };
static const char *kind_name[] = {"pipe", "semaphore", "condvar", "spin+yield"};

struct pair {
    enum kind kind;
    int pipes[2][2];    /* PIPE: pipes[s] carries side s's sends */
    sem_t sem[2];       /* SEM: sem[s] is posted when side s has the token */
    pthread_mutex_t mu; /* COND */
    pthread_cond_t cv;
    int value;          /* SEM, COND: the token */
    atomic_int spin;    /* SPIN: the token */
    int got[2], bad[2]; /* passes received by each side; received values out of order */
};
static struct pair pairs[kPairs];
struct end {
    struct pair *p;
    int side;
};

static void send_token(struct pair *p, int side, int v)
{
    switch (p->kind) {
    case PIPE:
        if (write_all(p->pipes[side][1], &v, sizeof v) != sizeof v) p->bad[side]++;
        break;
    case SEM:
        p->value = v;
        if (sem_post(&p->sem[!side]) != 0) p->bad[side]++;
        break;
    case COND:
        pthread_mutex_lock(&p->mu);
        p->value = v;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        break;
    case SPIN: atomic_store(&p->spin, v); break;
    }
}

static int recv_token(struct pair *p, int side, int want)
{
    int v = -1;
    switch (p->kind) {
    case PIPE:
        if (read_all(p->pipes[!side][0], &v, sizeof v) != sizeof v) v = -2;
        break;
    case SEM:
        while (sem_wait(&p->sem[side]) != 0 && errno == EINTR) {
        }
        v = p->value;
        break;
    case COND:
        pthread_mutex_lock(&p->mu);
        while (p->value != want) pthread_cond_wait(&p->cv, &p->mu);
        v = p->value;
        pthread_mutex_unlock(&p->mu);
        break;
    case SPIN:
        while ((v = atomic_load(&p->spin)) != want) sched_yield();
        break;
    }
    return v;
}

/* Side 0 sends 2r and waits for 2r+1; side 1 waits for 2r and sends 2r+1. */
static void *run_end(void *arg)
{
    struct end *e = arg;
    struct pair *p = e->p;
    for (int r = 0; r < kRounds; r++) {
        if (e->side == 0) send_token(p, 0, 2 * r);
        int want = 2 * r + !e->side;
        if (recv_token(p, e->side, want) != want) p->bad[e->side]++;
        p->got[e->side]++;
        if (e->side == 1) send_token(p, 1, 2 * r + 1);
    }
    return NULL;
}

int main(void)
{
    t_init();
    alarm(20);
    static struct end ends[kPairs][2];
    pthread_t th[kPairs][2];
    for (int i = 0; i < kPairs; i++) {
        struct pair *p = &pairs[i];
        p->kind = (enum kind)(i / 2);
        p->value = -1;
        atomic_init(&p->spin, -1);
        CHECK(pipe(p->pipes[0]) == 0 && pipe(p->pipes[1]) == 0);
        CHECK(sem_init(&p->sem[0], 0, 0) == 0 && sem_init(&p->sem[1], 0, 0) == 0);
        CHECK(pthread_mutex_init(&p->mu, NULL) == 0 && pthread_cond_init(&p->cv, NULL) == 0);
    }
    for (int i = 0; i < kPairs; i++)
        for (int s = 0; s < 2; s++) {
            ends[i][s] = (struct end){&pairs[i], s};
            CHECK(pthread_create(&th[i][s], NULL, run_end, &ends[i][s]) == 0);
        }
    for (int i = 0; i < kPairs; i++)
        for (int s = 0; s < 2; s++) CHECK(pthread_join(th[i][s], NULL) == 0);
    for (int i = 0; i < kPairs; i++) {
        struct pair *p = &pairs[i];
        printf("pair %d (%s): passes %d+%d, out of order %d+%d\n", i, kind_name[p->kind], p->got[0],
               p->got[1], p->bad[0], p->bad[1]);
        CHECK(p->got[0] == kRounds && p->got[1] == kRounds && p->bad[0] == 0 && p->bad[1] == 0);
        for (int k = 0; k < 2; k++) {
            close(p->pipes[k][0]);
            close(p->pipes[k][1]);
            sem_destroy(&p->sem[k]);
        }
    }
    return t_done();
}
