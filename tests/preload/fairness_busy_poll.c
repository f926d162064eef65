/* fairness_busy_poll: a thread that polls without waiting (poll with a zero timeout, waitpid with
 * WNOHANG, a non-blocking read) until another thread has written to a pipe. Natively the writer
 * runs on another core or when the poller's time slice ends; preloaded, a green thread whose calls
 * all return at once once kept its OS thread for ever and the writer never ran (Python's
 * multiprocessing.Pool loops this way). */
#include "t.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

static int p[2];

static void *writer(void *arg)
{
    (void)arg;
    usleep(20000);
    CHECK(write(p[1], "x", 1) == 1);
    return NULL;
}

int main(void)
{
    t_init();
    CHECK(pipe(p) == 0);
    pthread_t th;
    double t0 = now_s();
    pthread_create(&th, NULL, writer, NULL);
    long polls = 0;
    for (;;) {
        struct pollfd pf = {p[0], POLLIN, 0};
        int n = poll(&pf, 1, 0);
        waitpid(-1, NULL, WNOHANG); /* ECHILD: no children, returns at once */
        ++polls;
        if (n == 1) break;
    }
    double el = now_s() - t0;
    char c;
    CHECK(read(p[0], &c, 1) == 1 && c == 'x');
    pthread_join(th, NULL);
    printf("busy poller saw the writer's byte: yes, after >= 20 ms: %s, within 2 s: %s, polled more than "
           "once: %s\n",
           el >= 0.019 ? "yes" : "no", el < 2 ? "yes" : "no", polls > 1 ? "yes" : "no");
    CHECK(el >= 0.019 && el < 2);
    return t_done();
}
