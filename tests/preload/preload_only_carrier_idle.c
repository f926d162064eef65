/* preload_only_carrier_idle: hand-off's pool threads start when first needed and end after 10 s
 * with nothing to carry. One thread spins 200 ms (its hub is handed to a pool thread, so that
 * the ticker goes on); once both are joined, the process has its own thread, the monitor and
 * that pool thread; 11 s later the pool thread is gone. Preloaded only: natively there is no
 * pool. */
#include "t.h"

#include <dirent.h>
#include <pthread.h>

static int os_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void *spin(void *a)
{
    (void)a;
    double t0 = now_s();
    while (now_s() - t0 < 0.2) {
    }
    return NULL;
}

int main(void)
{
    t_init();
    ticker_start();
    pthread_t a;
    CHECK(pthread_create(&a, NULL, spin, NULL) == 0);
    pthread_join(a, NULL);
    int ticks = ticker_stop();
    int after = os_threads();
    sleep(11);
    int idle = os_threads();
    printf("ticker ran during the spin: %s; OS threads after it: %d, 11 s later: %d\n",
           ticks >= 5 ? "yes" : "no", after, idle);
    CHECK(ticks >= 5);
    /* With GREEN_HUBS=N the spinner may have a hub of its own (no hand-off, no pool thread),
     * and each hub beyond the first is an OS thread: the pool thread, if any, still ends. */
    int extra = t_extra_hubs();
    if (extra == 0) CHECK(after == 3 && idle == 2);
    else CHECK(after >= 2 + extra && after <= 3 + extra && idle == 2 + extra);
    return t_done();
}
