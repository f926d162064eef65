/* sigwait_daemon: the classic daemon shape. main blocks SIGTERM and SIGUSR1 with
 * pthread_sigmask before it creates any thread (so every thread inherits the
 * mask), starts 4 workers that tick every 10 ms and a signal thread that loops
 * in sigwait({SIGTERM, SIGUSR1}). main sends itself SIGUSR1 (kill(getpid()))
 * after 100 ms: the signal thread reports it and goes on waiting; SIGTERM 100 ms
 * later: the signal thread sets the stop flag, the workers end, everything is
 * joined. Checked: the signals received, in order; that the signal thread had
 * none before main sent it; that each worker ticked at least 3 times (they
 * must keep running while the signal thread waits: under libgreen a sigwait
 * that blocks the one OS thread stops them and main alike). Then
 * sigtimedwait({SIGUSR2}) with a 50 ms timeout in a thread expires with EAGAIN
 * while a ticker thread keeps ticking (at least 2 ticks during the wait), and
 * a SIGUSR2 left pending is taken by sigtimedwait at once. */
#include "t.h"
#include <signal.h>

#define NWORKERS 4

static atomic_int stop_flag;
static atomic_int worker_ticks[NWORKERS];
static atomic_int sent; /* signals main has sent so far */

static void *worker(void *p)
{
    int id = (int)(intptr_t)p;
    while (!atomic_load(&stop_flag)) {
        usleep(10000);
        atomic_fetch_add(&worker_ticks[id], 1);
    }
    return NULL;
}

static int got[8], ngot, early;
static sigset_t waitset;

static void *signal_thread(void *p)
{
    (void)p;
    for (;;) {
        int sig = 0;
        int rc = sigwait(&waitset, &sig);
        if (rc != 0) {
            printf("FAIL sigwait: %s\n", en(rc));
            t_failed = 1;
            atomic_store(&stop_flag, 1);
            return NULL;
        }
        if (ngot < 8) {
            if (ngot >= atomic_load(&sent)) early++;
            got[ngot++] = sig;
        }
        if (sig == SIGTERM) {
            atomic_store(&stop_flag, 1);
            return NULL;
        }
    }
}

static void daemon_shape(void)
{
    sigemptyset(&waitset);
    sigaddset(&waitset, SIGTERM);
    sigaddset(&waitset, SIGUSR1);
    CHECK(pthread_sigmask(SIG_BLOCK, &waitset, NULL) == 0);

    pthread_t ws[NWORKERS], st;
    for (int i = 0; i < NWORKERS; i++) CHECK(pthread_create(&ws[i], NULL, worker, (void *)(intptr_t)i) == 0);
    CHECK(pthread_create(&st, NULL, signal_thread, NULL) == 0);

    msleep(100);
    atomic_store(&sent, 1);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    msleep(100);
    int stopped_early = atomic_load(&stop_flag);
    atomic_store(&sent, 2);
    CHECK(kill(getpid(), SIGTERM) == 0);

    CHECK(pthread_join(st, NULL) == 0);
    for (int i = 0; i < NWORKERS; i++) CHECK(pthread_join(ws[i], NULL) == 0);

    printf("signal thread received:");
    for (int i = 0; i < ngot; i++) printf(" SIG%s", sigabbrev_np(got[i]));
    printf("%s\n", ngot == 0 ? " nothing" : "");
    printf("received before main sent it: %d; stopped before SIGTERM: %s\n", early,
           stopped_early ? "yes" : "no");
    int min = 1 << 30;
    for (int i = 0; i < NWORKERS; i++)
        if (atomic_load(&worker_ticks[i]) < min) min = atomic_load(&worker_ticks[i]);
    printf("workers stopped and joined; ticked: %s\n", min >= 3 ? "yes" : "no");
    CHECK(ngot == 2 && got[0] == SIGUSR1 && got[1] == SIGTERM && early == 0 && !stopped_early);
    CHECK(min >= 3);

    CHECK(pthread_sigmask(SIG_UNBLOCK, &waitset, NULL) == 0);
}

/* ---- sigtimedwait timing out in one thread while another ticks */
static int tw_ret, tw_err, tw_ticks, tw_ret2, tw_sig2;
static double tw_el;

static void *timedwaiter(void *p)
{
    (void)p;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    struct timespec to = {0, 50 * 1000000L};
    int t0 = atomic_load(&ticks);
    double s0 = now_s();
    errno = 0;
    tw_ret = sigtimedwait(&s, NULL, &to);
    tw_err = errno;
    tw_el = now_s() - s0;
    tw_ticks = atomic_load(&ticks) - t0;

    /* a SIGUSR2 already pending (blocked, sent to this thread) is taken at once */
    pthread_kill(pthread_self(), SIGUSR2);
    siginfo_t si;
    tw_ret2 = sigtimedwait(&s, &si, &to);
    tw_sig2 = tw_ret2 > 0 ? si.si_signo : 0;
    return NULL;
}

static void timed(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    CHECK(pthread_sigmask(SIG_BLOCK, &s, NULL) == 0);
    ticker_start();
    msleep(20);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, timedwaiter, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    printf("sigtimedwait({SIGUSR2}, 50 ms): %d %s, after the timeout: %s, ticker ran meanwhile: %s\n", tw_ret,
           en(tw_err), tw_el >= 0.049 && tw_el < 2 ? "yes" : "no", tw_ticks >= 2 ? "yes" : "no");
    printf("sigtimedwait with SIGUSR2 pending: SIG%s\n", tw_sig2 ? sigabbrev_np(tw_sig2) : "(none)");
    CHECK(tw_ret == -1 && tw_err == EAGAIN && tw_el >= 0.049 && tw_el < 2 && tw_ticks >= 2);
    CHECK(tw_ret2 == SIGUSR2 && tw_sig2 == SIGUSR2);
    CHECK(pthread_sigmask(SIG_UNBLOCK, &s, NULL) == 0);
}

int main(void)
{
    t_init();
    daemon_shape();
    timed();
    return t_done();
}
