/* tls_counters: every thread has its own static TLS. 8 threads each increment
 * a `__thread int` 1000 times, yielding between increments (usleep(100) every
 * 100th, sched_yield otherwise) so that under libgreen the green threads
 * interleave on one OS thread; each must end with exactly 1000 and main's copy
 * must stay 0. The same loop bumps a `static _Thread_local` in the
 * initial-exec model and an extern-visible one in the global-dynamic model
 * (explicit tls_model attributes, so the check does not depend on -fPIC), and
 * each thread checks a `__thread` array's non-zero initializer (the TLS
 * initial image) before writing its own values into it. If green threads
 * shared the OS thread's TLS block, they would count into one variable. */
#include "t.h"
#include <sched.h>

#define NTHREADS 8
#define NINCR 1000

static __thread int counter;
static __thread int image[4] = {11, 22, 33, 44};
static _Thread_local int ie_var __attribute__((tls_model("initial-exec"))) = 5;
_Thread_local int tls_counters_gd_var __attribute__((tls_model("global-dynamic"))) = 9;

struct result {
    int counter, ie, gd;
    int image_initial_ok, image_kept_ok;
};
static struct result res[NTHREADS];

static void *worker(void *p)
{
    int id = (int)(intptr_t)p;
    struct result *r = &res[id];
    r->image_initial_ok = image[0] == 11 && image[1] == 22 && image[2] == 33 && image[3] == 44;
    for (int k = 0; k < 4; k++) image[k] = id * 100 + k;
    for (int i = 1; i <= NINCR; i++) {
        counter++;
        ie_var++;
        tls_counters_gd_var++;
        if (i % 100 == 0) usleep(100);
        else sched_yield();
    }
    r->image_kept_ok = 1;
    for (int k = 0; k < 4; k++)
        if (image[k] != id * 100 + k) r->image_kept_ok = 0;
    r->counter = counter;
    r->ie = ie_var;
    r->gd = tls_counters_gd_var;
    return NULL;
}

int main(void)
{
    t_init();
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < NTHREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    for (int i = 0; i < NTHREADS; i++) {
        struct result *r = &res[i];
        printf("thread %d: counter %d ie %d gd %d image initial %s kept %s\n", i, r->counter, r->ie, r->gd,
               r->image_initial_ok ? "ok" : "WRONG", r->image_kept_ok ? "ok" : "WRONG");
        CHECK(r->counter == NINCR);
        CHECK(r->ie == 5 + NINCR);
        CHECK(r->gd == 9 + NINCR);
        CHECK(r->image_initial_ok);
        CHECK(r->image_kept_ok);
    }
    printf("main: counter %d ie %d gd %d image %d %d %d %d\n", counter, ie_var, tls_counters_gd_var, image[0],
           image[1], image[2], image[3]);
    CHECK(counter == 0 && ie_var == 5 && tls_counters_gd_var == 9);
    CHECK(image[0] == 11 && image[1] == 22 && image[2] == 33 && image[3] == 44);
    return t_done();
}
