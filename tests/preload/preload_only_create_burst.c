/* preload_only_create_burst: main makes 30,000 threads in one burst (no wait between two
 * pthread_create calls: the hand-off monitor gives main's hub to another OS thread meanwhile),
 * each sleeping 300 ms; while they sleep, the process has a few OS threads only (a hub per CPU,
 * the hand-off monitor, a carrier or two), never one per thread. A hub's "starting a task" state
 * once reached main while a hand-off ran it on its own OS thread: its pthread_create then made
 * native threads (359 OS threads for 100,000 threads with two hubs). */
#include "t.h"

#define N 30000

static void *nap(void *arg)
{
    usleep(300000);
    return arg;
}

int main(void)
{
    t_init();
    static pthread_t t[N];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int made = 0;
    for (int i = 0; i < N; i++) made += pthread_create(&t[i], &attr, nap, NULL) == 0;
    int most = t_os_threads();
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    int allowed = 8 + t_extra_hubs(); /* main, the hubs, the monitor, some carriers */
    printf("%d threads made; OS threads while they slept: %s\n", made,
           most <= allowed ? "a few" : "too many");
    fprintf(stderr, "create_burst: %d OS threads (allowed %d)\n", most, allowed);
    CHECK(made == N);
    CHECK(most <= allowed);
    return t_done();
}
