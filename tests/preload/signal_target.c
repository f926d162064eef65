/* signal_target: the wait a signal ends is that of the thread the kernel gives the signal to.
 *  1. Main blocks SIGUSR1, thread A does not and reads an empty pipe, B blocks it and sends
 *     kill(getpid(), SIGUSR1) (handler without SA_RESTART): A's read fails with EINTR, main's
 *     sleep goes on. (A process-directed signal used to end main's wait whatever main blocked,
 *     and never another thread's: A's read waited for ever.)
 *  2. The same with SA_RESTART: the handler runs and A's read goes on, returning the byte
 *     written later.
 *  3. pthread_kill to a thread reading an empty pipe, handler with SA_RESTART: the read goes on.
 *  4. Main does not block the signal: its sleep is the one that ends (the kernel offers a
 *     process-directed signal to the main thread first), not that of C, which does not block it
 *     either. */
#include "t.h"

#include <pthread.h>
#include <signal.h>

static _Atomic int runs;
static void on_signal(int sig)
{
    (void)sig;
    atomic_fetch_add(&runs, 1);
}

static void handle(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void set_blocked(int how, int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    CHECK(pthread_sigmask(how, &s, NULL) == 0);
}

struct reader {
    int fd;
    ssize_t got;
    int err;
    _Atomic int done;
};

static void *read_one(void *arg)
{
    struct reader *r = arg;
    char c;
    r->got = read(r->fd, &c, 1);
    r->err = r->got < 0 ? errno : 0;
    atomic_store(&r->done, 1);
    return NULL;
}

static void *send_to_process_later(void *arg)
{
    usleep(50000);
    kill(getpid(), *(int *)arg);
    return NULL;
}

/* Waits up to `s` seconds for r to finish; if it has not, ends its read with a byte. */
static int finished_within(struct reader *r, int pipe_w, double s)
{
    double t0 = now_s();
    while (!atomic_load(&r->done) && now_s() - t0 < s) usleep(2000);
    int done = atomic_load(&r->done);
    if (!done) CHECK(write(pipe_w, "x", 1) == 1);
    return done;
}

/* Sleeps `ms`; 1 if the sleep ended early with EINTR. */
static int sleep_interrupted(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    return nanosleep(&ts, &ts) < 0 && errno == EINTR;
}

static void process_signal_while_main_blocks_it(int part, int flags)
{
    int sig = SIGUSR1, p[2];
    handle(sig, flags);
    CHECK(pipe(p) == 0);
    struct reader a = {.fd = p[0]};
    pthread_t ta, tb;
    int before = atomic_load(&runs);
    CHECK(pthread_create(&ta, NULL, read_one, &a) == 0); /* A takes the signal */
    set_blocked(SIG_BLOCK, sig);                         /* main, and B after it, block it */
    CHECK(pthread_create(&tb, NULL, send_to_process_later, &sig) == 0);
    int main_interrupted = sleep_interrupted(300);
    pthread_join(tb, NULL);
    int ran = atomic_load(&runs) - before;
    int a_early = finished_within(&a, p[1], flags & SA_RESTART ? 0.2 : 2.0);
    if (flags & SA_RESTART) CHECK(!a_early); /* then a byte was written: the read returns it */
    pthread_join(ta, NULL);
    printf("%d. main blocks it%s: handler ran %d time(s), main's sleep interrupted: %s; A's read: %s%s\n",
           part, flags & SA_RESTART ? " (SA_RESTART)" : "", ran, main_interrupted ? "yes" : "no",
           a.got < 0 ? en(a.err) : "went on, returned", a.got < 0 ? "" : (a.got == 1 ? " 1 byte" : " ?"));
    set_blocked(SIG_UNBLOCK, sig);
    close(p[0]);
    close(p[1]);
}

static void pthread_kill_with_restart(void)
{
    int p[2];
    handle(SIGUSR2, SA_RESTART);
    CHECK(pipe(p) == 0);
    struct reader c = {.fd = p[0]};
    pthread_t tc;
    int before = atomic_load(&runs);
    CHECK(pthread_create(&tc, NULL, read_one, &c) == 0);
    usleep(50000);
    CHECK(pthread_kill(tc, SIGUSR2) == 0);
    int early = finished_within(&c, p[1], 0.2);
    pthread_join(tc, NULL);
    printf("3. pthread_kill(C) in read, SA_RESTART: handler ran %d time(s), read ended early: %s, returned "
           "%zd\n",
           atomic_load(&runs) - before, early ? "yes" : "no", c.got);
    close(p[0]);
    close(p[1]);
}

static void *sleeper(void *arg)
{
    *(int *)arg = sleep_interrupted(300);
    return NULL;
}

struct sender {
    int sig;
};
static void *blocking_sender(void *arg)
{
    int sig = *(int *)arg;
    set_blocked(SIG_BLOCK, sig);
    usleep(50000);
    kill(getpid(), sig);
    return NULL;
}

static void main_first(void)
{
    int sig = SIGUSR1, c_interrupted = -1;
    handle(sig, 0);
    pthread_t tc, ts;
    CHECK(pthread_create(&tc, NULL, sleeper, &c_interrupted) == 0);
    CHECK(pthread_create(&ts, NULL, blocking_sender, &sig) == 0);
    int main_interrupted = sleep_interrupted(300);
    pthread_join(ts, NULL);
    pthread_join(tc, NULL);
    printf("4. main takes it too: main's sleep interrupted: %s, C's: %s\n", main_interrupted ? "yes" : "no",
           c_interrupted ? "yes" : "no");
}

int main(void)
{
    t_init();
    process_signal_while_main_blocks_it(1, 0);
    process_signal_while_main_blocks_it(2, SA_RESTART);
    pthread_kill_with_restart();
    main_first();
    return t_failed;
}
