/* time_short_sleeps: short sleeps are about as precise preloaded as natively. 500 x usleep(10)
 * and 200 x clock_nanosleep(100 us), with another thread alive (so the sleeps are green waits):
 * natively each takes tens of microseconds here; the hub's loop once rounded every wait up to a
 * millisecond (usleep(10) took 1.1 ms). Verdict: under 500 us each on average, a bound generous
 * enough for a loaded machine and well under a millisecond. */
#include "t.h"

static atomic_int stop;

static void *idle(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) usleep(20000);
    return NULL;
}

int main(void)
{
    t_init();
    pthread_t th;
    pthread_create(&th, NULL, idle, NULL);
    double t0 = now_s();
    for (int i = 0; i < 500; i++) CHECK(usleep(10) == 0);
    double us10 = (now_s() - t0) / 500 * 1e6;
    struct timespec ts = {0, 100000};
    t0 = now_s();
    for (int i = 0; i < 200; i++) CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) == 0);
    double us100 = (now_s() - t0) / 200 * 1e6;
    printf("usleep(10) under 500 us: %s\n", us10 < 500 ? "yes" : "no");
    printf("clock_nanosleep(100 us) at least 100 us and under 600 us: %s\n",
           us100 >= 99 && us100 < 600 ? "yes" : "no");
    CHECK(us10 < 500 && us100 >= 99 && us100 < 600);
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    return t_done();
}
