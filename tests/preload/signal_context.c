/* signal_context: a signal handler runs in the context of the thread the kernel gives the signal
 * to: on its stack, with its TLS and its pthread_self(), whichever thread happens to be running.
 *  1. Main does not block SIGUSR1 and sleeps; worker W blocks it, sends kill(getpid(), SIGUSR1)
 *     and computes: the handler runs as main (the kernel offers a process signal to main first)
 *     and main's sleep ends with EINTR. (It used to run as W, which blocked the signal.)
 *  2. Main and Y block SIGUSR2, X does not and reads an empty pipe; Y sends the signal to the
 *     process and computes; the handler (SA_RESTART) runs as X, whose read goes on.
 *  3. pthread_kill(X) while X waits for a mutex main holds: the handler runs as X during the
 *     wait, which goes on (a mutex wait is not interrupted) and takes the mutex once main
 *     unlocks it. (It used to run as main, the sender.)
 *  4. The same, with a handler that itself sleeps 100 ms: main unlocks the mutex while X's
 *     handler sleeps; X's lock returns once the handler is done (the unlock is not lost).
 *  5. A process signal with SA_SIGINFO keeps its siginfo (si_code SI_QUEUE, the sender's pid and
 *     value) when its handler runs in another thread than the one that was running.
 *  6. A thread sends SIGUSR1 to the process, then posts a semaphore main waits on: when main's
 *     wait is over, its handler has run (the signal came first). (It used to run only at the
 *     hub's next loop iteration, after main had gone on: CPython's test_threadsignals saw a
 *     signal of one test handled in the next.) */
#include "t.h"

#include <pthread.h>
#include <signal.h>

static __thread int who; /* each thread's name for itself: 0 main, 1.. workers */
static _Atomic int seen_who = -1, seen_self_ok = -1, seen_code, seen_value, seen_pid;
static pthread_t expected_self;
static int handler_sleep_ms;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&seen_who, who);
    atomic_store(&seen_self_ok, pthread_equal(pthread_self(), expected_self) != 0);
    if (handler_sleep_ms) {
        struct timespec ts = {0, handler_sleep_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void on_siginfo(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    on_signal(sig);
    atomic_store(&seen_code, si->si_code);
    atomic_store(&seen_value, si->si_value.sival_int);
    atomic_store(&seen_pid, si->si_pid == getpid());
}

static void handle(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    if (flags & SA_SIGINFO) sa.sa_sigaction = on_siginfo;
    else sa.sa_handler = on_signal;
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

static void reset_seen(pthread_t self)
{
    atomic_store(&seen_who, -1);
    atomic_store(&seen_self_ok, -1);
    expected_self = self;
}

/* Computes (no system call) for about `ms`: the running thread when a signal comes. */
static volatile unsigned long spin_sink;
static void compute(int ms)
{
    double end = now_s() + ms / 1000.0;
    while (now_s() < end)
        for (int i = 0; i < 1000; ++i) spin_sink += (unsigned long)i;
}

struct sender {
    int self_name, sig, queue;
};

static void *block_send_compute(void *arg)
{
    struct sender *s = arg;
    who = s->self_name;
    set_blocked(SIG_BLOCK, s->sig);
    usleep(200000); /* main is asleep by then, even on a loaded machine */
    if (s->queue) CHECK(sigqueue(getpid(), s->sig, (union sigval){.sival_int = 4242}) == 0);
    else CHECK(kill(getpid(), s->sig) == 0);
    compute(150);
    return NULL;
}

static int sleep_interrupted(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    return nanosleep(&ts, &ts) < 0 && errno == EINTR;
}

static void process_signal_goes_to_main(int part, int queue)
{
    handle(SIGUSR1, queue ? SA_SIGINFO : 0);
    reset_seen(pthread_self());
    struct sender w = {1, SIGUSR1, queue};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, block_send_compute, &w) == 0);
    int interrupted = sleep_interrupted(2000);
    pthread_join(t, NULL);
    printf("%d. %s while W (blocking it) runs: handler ran as %s (pthread_self %s), main's sleep %s\n", part,
           queue ? "sigqueue" : "kill", atomic_load(&seen_who) == 0 ? "main" : "another thread",
           atomic_load(&seen_self_ok) == 1 ? "main's" : "wrong", interrupted ? "interrupted" : "went on");
    if (queue)
        printf("%d. siginfo: si_code %s, value %d, sender's pid %s\n", part,
               atomic_load(&seen_code) == SI_QUEUE ? "SI_QUEUE" : "other", atomic_load(&seen_value),
               atomic_load(&seen_pid) ? "ours" : "other");
}

struct reader {
    int fd, self_name;
    ssize_t got;
    pthread_t self;
    _Atomic int started;
};

static void *read_one(void *arg)
{
    struct reader *r = arg;
    who = r->self_name;
    char c;
    atomic_store(&r->started, 1);
    r->got = read(r->fd, &c, 1);
    return NULL;
}

static void process_signal_to_the_reader(void)
{
    int p[2];
    handle(SIGUSR2, SA_RESTART);
    CHECK(pipe(p) == 0);
    set_blocked(SIG_BLOCK, SIGUSR2); /* main; X unblocks it for itself below */
    struct reader x = {.fd = p[0], .self_name = 2};
    pthread_t tx, ty;
    sigset_t none, old;
    sigemptyset(&none);
    CHECK(pthread_sigmask(SIG_SETMASK, &none, &old) == 0); /* X is created unblocked */
    CHECK(pthread_create(&tx, NULL, read_one, &x) == 0);
    CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
    reset_seen(tx);
    struct sender y = {3, SIGUSR2, 0};
    CHECK(pthread_create(&ty, NULL, block_send_compute, &y) == 0);
    pthread_join(ty, NULL);
    usleep(50000);
    int still_reading = !x.got; /* 0 while the read goes on (SA_RESTART) */
    CHECK(write(p[1], "x", 1) == 1);
    pthread_join(tx, NULL);
    printf("2. process signal, only X takes it: handler ran as %s (pthread_self %s), X's read %s, returned "
           "%zd\n",
           atomic_load(&seen_who) == 2 ? "X" : "another thread",
           atomic_load(&seen_self_ok) == 1 ? "X's" : "wrong", still_reading ? "went on" : "ended", x.got);
    set_blocked(SIG_UNBLOCK, SIGUSR2);
    close(p[0]);
    close(p[1]);
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int locked_by_x;

static void *lock_it(void *arg)
{
    who = *(int *)arg;
    CHECK(pthread_mutex_lock(&m) == 0);
    atomic_store(&locked_by_x, 1);
    CHECK(pthread_mutex_unlock(&m) == 0);
    return NULL;
}

static void pthread_kill_during_mutex_wait(int part, int sleep_ms)
{
    handle(SIGUSR1, 0);
    handler_sleep_ms = sleep_ms;
    atomic_store(&locked_by_x, 0);
    CHECK(pthread_mutex_lock(&m) == 0);
    int name = 4;
    pthread_t tx;
    CHECK(pthread_create(&tx, NULL, lock_it, &name) == 0);
    usleep(50000); /* X waits for the mutex */
    reset_seen(tx);
    CHECK(pthread_kill(tx, SIGUSR1) == 0);
    usleep(sleep_ms ? 20000 : 50000); /* with a sleeping handler: unlock while it sleeps */
    int before_unlock = atomic_load(&locked_by_x);
    CHECK(pthread_mutex_unlock(&m) == 0);
    double t0 = now_s();
    while (!atomic_load(&locked_by_x) && now_s() - t0 < 3) usleep(1000);
    pthread_join(tx, NULL);
    printf(
        "%d. pthread_kill(X) in pthread_mutex_lock%s: handler ran as %s (pthread_self %s), X locked it %s\n",
        part, sleep_ms ? ", handler sleeps" : "", atomic_load(&seen_who) == 4 ? "X" : "another thread",
        atomic_load(&seen_self_ok) == 1 ? "X's" : "wrong",
        before_unlock               ? "early"
        : atomic_load(&locked_by_x) ? "after the unlock"
                                    : "never");
    handler_sleep_ms = 0;
}

#include <semaphore.h>

static sem_t posted;
static void *kill_then_post(void *arg)
{
    (void)arg;
    who = 6;
    set_blocked(SIG_BLOCK, SIGUSR1);
    for (int i = 0; i < 20; ++i) {
        usleep(5000); /* main is asleep in sem_wait by now */
        CHECK(kill(getpid(), SIGUSR1) == 0);
        CHECK(sem_post(&posted) == 0);
    }
    return NULL;
}

static void signal_before_post(void)
{
    handle(SIGUSR1, SA_RESTART);
    CHECK(sem_init(&posted, 0, 0) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, kill_then_post, NULL) == 0);
    int late = 0;
    for (int i = 0; i < 20; ++i) {
        atomic_store(&seen_who, -1);
        while (sem_wait(&posted) != 0) CHECK(errno == EINTR);
        late += atomic_load(&seen_who) != 0;
    }
    pthread_join(t, NULL);
    printf("6. kill, then sem_post: handler had run as main when main's wait returned: %s\n",
           late ? "not always" : "always");
    sem_destroy(&posted);
}

int main(void)
{
    t_init();
    who = 0;
    process_signal_goes_to_main(1, 0);
    process_signal_to_the_reader();
    pthread_kill_during_mutex_wait(3, 0);
    pthread_kill_during_mutex_wait(4, 100);
    process_signal_goes_to_main(5, 1);
    signal_before_post();
    return t_failed;
}
