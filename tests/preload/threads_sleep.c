/* threads_sleep: 50 pthreads each doing 10 x usleep(20000) must sleep
 * concurrently (total ~0.2 s, verdict "concurrent" if < 2 s; 50*10*20ms = 10 s
 * if the sleeps were serialised, e.g. by a blocking usleep on the single hub
 * thread). Also checks every usleep returned 0 and every join value. */
#include "t.h"
#include <pthread.h>

#define NT 50
static int ok_sleeps[NT];

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 10; i++)
        if (usleep(20000) == 0) ok_sleeps[id]++;
    return (void *)(intptr_t)(id * 3);
}

int main(void)
{
    t_init();
    pthread_t th[NT];
    double t0 = now_s();
    for (int i = 0; i < NT; i++) CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
    int joined_ok = 0, total = 0;
    for (int i = 0; i < NT; i++) {
        void *rv;
        CHECK(pthread_join(th[i], &rv) == 0);
        if ((intptr_t)rv == i * 3) joined_ok++;
        total += ok_sleeps[i];
    }
    double el = now_s() - t0;
    printf("successful usleeps: %d\n", total);
    printf("join values ok: %d\n", joined_ok);
    printf("verdict: %s\n", el < 2.0 ? "concurrent" : "serialised");
    CHECK(total == NT * 10 && joined_ok == NT);
    CHECK(el >= 0.19);
    CHECK(el < 2.0);
    return t_done();
}
