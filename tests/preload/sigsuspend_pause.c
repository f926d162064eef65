/* sigsuspend_pause: a thread waiting in sigsuspend or pause is woken by a signal another thread
 * sends to the process (kill(getpid())), while a ticker thread keeps ticking. Under libgreen a
 * sigsuspend or pause that blocks the one OS thread stops the sender and the ticker alike.
 *
 * 1. main blocks SIGUSR1 and SIGUSR2 before it creates any thread (every thread inherits the
 *    mask). A thread calls sigsuspend with a mask that unblocks SIGUSR1 only. main sends SIGUSR2
 *    first (it stays pending: blocked by every thread and by the sigsuspend mask), then SIGUSR1:
 *    sigsuspend returns -1/EINTR after the SIGUSR1 handler ran, with the thread's old mask back
 *    (SIGUSR1 blocked again); SIGUSR2 stays pending until main unblocks it.
 * 2. A signal already pending and unblocked by the mask ends sigsuspend at once.
 * 3. pause: the waiting thread unblocks SIGUSR1 (the others keep it blocked) and pauses; main's
 *    kill(getpid(), SIGUSR1) runs the handler and pause returns -1/EINTR. */
#include "t.h"
#include <signal.h>

static atomic_int usr1_runs, usr2_runs;
static int order[8];
static atomic_int norder;

static void handler(int sig)
{
    int i = atomic_fetch_add(&norder, 1);
    if (i < 8) order[i] = sig;
    if (sig == SIGUSR1) atomic_fetch_add(&usr1_runs, 1);
    else atomic_fetch_add(&usr2_runs, 1);
}

static atomic_int in_wait;
static int w_ret, w_err, w_ran, w_blocked_after, w_ticks;

static void *suspender(void *p)
{
    (void)p;
    sigset_t m;
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    sigdelset(&m, SIGUSR1); /* SIGUSR2 stays blocked during the wait */
    int t0 = atomic_load(&ticks);
    atomic_store(&in_wait, 1);
    errno = 0;
    w_ret = sigsuspend(&m);
    w_err = errno;
    w_ran = atomic_load(&usr1_runs);
    w_ticks = atomic_load(&ticks) - t0;
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    w_blocked_after = sigismember(&now, SIGUSR1) && sigismember(&now, SIGUSR2);
    return NULL;
}

static void suspend_case(void)
{
    ticker_start();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, suspender, NULL) == 0);
    msleep(100);
    CHECK(atomic_load(&in_wait) == 1);
    CHECK(kill(getpid(), SIGUSR2) == 0);
    msleep(50);
    int usr2_early = atomic_load(&usr2_runs);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    printf("sigsuspend: %d %s, SIGUSR1 handler ran before it returned: %s, SIGUSR2 handled meanwhile: %s\n",
           w_ret, en(w_err), w_ran == 1 ? "yes" : "no", usr2_early ? "yes" : "no");
    printf("old mask restored after sigsuspend: %s; ticker ran during the wait: %s\n",
           w_blocked_after ? "yes" : "no", w_ticks >= 3 ? "yes" : "no");
    CHECK(w_ret == -1 && w_err == EINTR && w_ran == 1 && !usr2_early && w_blocked_after && w_ticks >= 3);

    sigset_t pend;
    sigpending(&pend);
    printf("SIGUSR2 still pending: %s\n", sigismember(&pend, SIGUSR2) ? "yes" : "no");
    sigset_t u2;
    sigemptyset(&u2);
    sigaddset(&u2, SIGUSR2);
    CHECK(pthread_sigmask(SIG_UNBLOCK, &u2, NULL) == 0); /* delivered here, now */
    CHECK(pthread_sigmask(SIG_BLOCK, &u2, NULL) == 0);
    printf("handlers ran in order:");
    for (int i = 0; i < atomic_load(&norder) && i < 8; i++) printf(" SIG%s", sigabbrev_np(order[i]));
    printf("\n");
}

static void *pending_suspender(void *p)
{
    (void)p;
    /* SIGUSR1 sent to this very thread while blocked: pending; sigsuspend unblocks it. */
    pthread_kill(pthread_self(), SIGUSR1);
    sigset_t m;
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    sigdelset(&m, SIGUSR1);
    double t0 = now_s();
    errno = 0;
    w_ret = sigsuspend(&m);
    w_err = errno;
    w_ran = now_s() - t0 < 2.0;
    return NULL;
}

static void pending_case(void)
{
    int before = atomic_load(&usr1_runs);
    ticker_start();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, pending_suspender, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    printf("sigsuspend with SIGUSR1 pending: %d %s, at once: %s, handler ran: %s\n", w_ret, en(w_err),
           w_ran ? "yes" : "no", atomic_load(&usr1_runs) == before + 1 ? "yes" : "no");
    CHECK(w_ret == -1 && w_err == EINTR && w_ran && atomic_load(&usr1_runs) == before + 1);
}

static atomic_int p_ready;
static int p_ret, p_err, p_ran, p_ticks;

static void *pauser(void *p)
{
    (void)p;
    sigset_t u1;
    sigemptyset(&u1);
    sigaddset(&u1, SIGUSR1);
    int before = atomic_load(&usr1_runs);
    pthread_sigmask(SIG_UNBLOCK, &u1, NULL);
    int t0 = atomic_load(&ticks);
    atomic_store(&p_ready, 1);
    errno = 0;
    p_ret = pause();
    p_err = errno;
    p_ran = atomic_load(&usr1_runs) - before;
    p_ticks = atomic_load(&ticks) - t0;
    return NULL;
}

static void pause_case(void)
{
    ticker_start();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, pauser, NULL) == 0);
    msleep(100);
    CHECK(atomic_load(&p_ready) == 1);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    printf("pause: %d %s, handler ran: %d, ticker ran during the wait: %s\n", p_ret, en(p_err), p_ran,
           p_ticks >= 3 ? "yes" : "no");
    CHECK(p_ret == -1 && p_err == EINTR && p_ran == 1 && p_ticks >= 3);
}

int main(void)
{
    /* Under libgreen: test the hooks, not the hand-off of an OS thread blocked in the kernel
     * (which would let the other threads go on, at the cost of an OS thread). Natively unused. */
    setenv("GREEN_HANDOFF", "off", 1);
    t_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGUSR2);
    CHECK(pthread_sigmask(SIG_BLOCK, &both, NULL) == 0);

    suspend_case();
    pending_case();
    pause_case();
    return t_done();
}
