/* sigmask_threads: each thread has its own signal mask, as natively.
 *  1. Workers block SIGUSR1 with pthread_sigmask; main does not. kill(getpid(), SIGUSR1) reaches
 *     main's handler (the only thread that takes it), which stops the workers. (With one mask per
 *     OS thread, the workers' block made the whole process deaf to it: a hang.)
 *  2. The same with SIGTERM at its default action, in a child: the child dies of SIGTERM.
 *  3. pthread_sigmask reports each thread's own mask.
 *  4. pthread_kill to a thread that blocks the signal: pending for that thread (its sigpending
 *     shows it, the handler has not run); once it unblocks it, the handler runs in that thread.
 *  5. pthread_kill to a thread parked in read() on an empty pipe (handler without SA_RESTART):
 *     the handler runs and the read fails with EINTR at once. */
#include "t.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static volatile sig_atomic_t stop_flag;
static _Atomic int usr2_runs;
static _Atomic(pthread_t) usr2_in;
static void on_usr1(int sig)
{
    (void)sig;
    stop_flag = 1;
}
static void on_usr2(int sig)
{
    (void)sig;
    atomic_store(&usr2_in, pthread_self());
    atomic_fetch_add(&usr2_runs, 1);
}

static void block(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static void *blocking_worker(void *arg)
{
    block(*(int *)arg);
    while (!stop_flag) usleep(2000);
    return NULL;
}

static int blocks(int sig)
{
    sigset_t s;
    pthread_sigmask(SIG_BLOCK, NULL, &s);
    return sigismember(&s, sig);
}

static void part1_process_signal_to_the_thread_that_takes_it(void)
{
    int sig = SIGUSR1;
    pthread_t w[3];
    for (int i = 0; i < 3; i++) CHECK(pthread_create(&w[i], NULL, blocking_worker, &sig) == 0);
    usleep(20000);
    kill(getpid(), SIGUSR1);
    for (int i = 0; i < 3; i++) pthread_join(w[i], NULL);
    printf("1. workers blocking SIGUSR1, kill(getpid()): main's handler ran, workers stopped: %s\n",
           stop_flag ? "yes" : "no");
}

static void part2_default_sigterm(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        int sig = SIGTERM;
        pthread_t w[3];
        for (int i = 0; i < 3; i++) pthread_create(&w[i], NULL, blocking_worker, &sig);
        for (;;) pause();
    }
    usleep(100000);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    printf("2. child whose workers block SIGTERM: killed by SIGTERM: %s\n",
           WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM ? "yes" : "no");
}

static _Atomic int a_phase;
static int a_blocked_seen, a_pending_seen, a_runs_before;
static void *thread_a(void *arg)
{
    (void)arg;
    block(SIGUSR2);
    a_blocked_seen = blocks(SIGUSR2);
    atomic_store(&a_phase, 1);
    while (atomic_load(&a_phase) != 2) usleep(1000);
    sigset_t p;
    sigpending(&p);
    a_pending_seen = sigismember(&p, SIGUSR2);
    a_runs_before = atomic_load(&usr2_runs);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    return NULL;
}

static void part3_4_masks_and_pending(void)
{
    pthread_t a;
    CHECK(pthread_create(&a, NULL, thread_a, NULL) == 0);
    while (atomic_load(&a_phase) != 1) usleep(1000);
    printf("3. A blocks SIGUSR2: %s; main does not: %s\n", a_blocked_seen ? "yes" : "no",
           !blocks(SIGUSR2) ? "yes" : "no");
    CHECK(pthread_kill(a, SIGUSR2) == 0);
    usleep(20000);
    int runs_while_blocked = atomic_load(&usr2_runs);
    atomic_store(&a_phase, 2);
    pthread_join(a, NULL);
    printf("4. pthread_kill(A) while A blocks it: handler runs then %d, A's sigpending shows it: %s; "
           "after A unblocks: handler ran %d time(s), in A: %s\n",
           runs_while_blocked, a_pending_seen ? "yes" : "no", atomic_load(&usr2_runs) - a_runs_before,
           pthread_equal(atomic_load(&usr2_in), a) ? "yes" : "no");
}

static int pipe_fds[2];
static int b_errno;
static double b_waited;
static void *thread_b(void *arg)
{
    (void)arg;
    char c;
    double t0 = now_s();
    ssize_t r = read(pipe_fds[0], &c, 1);
    b_errno = r < 0 ? errno : 0;
    b_waited = now_s() - t0;
    return NULL;
}

static void part5_pthread_kill_interrupts_the_wait(void)
{
    CHECK(pipe(pipe_fds) == 0);
    pthread_t b;
    int before = atomic_load(&usr2_runs);
    CHECK(pthread_create(&b, NULL, thread_b, NULL) == 0);
    usleep(50000);
    CHECK(pthread_kill(b, SIGUSR2) == 0);
    pthread_join(b, NULL);
    printf("5. pthread_kill(B) while B reads an empty pipe: handler ran: %s, read failed with %s, "
           "within a second: %s\n",
           atomic_load(&usr2_runs) > before ? "yes" : "no", b_errno == EINTR ? "EINTR" : "something else",
           b_waited < 1.0 ? "yes" : "no");
}

int main(void)
{
    t_init();
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_usr2; /* no SA_RESTART: an interrupted read fails with EINTR */
    sigaction(SIGUSR2, &sa, NULL);
    part1_process_signal_to_the_thread_that_takes_it();
    part2_default_sigterm();
    part3_4_masks_and_pending();
    part5_pthread_kill_interrupts_the_wait();
    return t_done();
}
