/* handoff_errno: errno after blocking calls that a signal interrupts, while two threads compute
 * (so hand-off keeps moving the hub, and the main thread parks on one OS thread and resumes on
 * another). A 7 ms SIGALRM timer interrupts read, nanosleep, poll, sem_timedwait, recv, select
 * and sem_wait in the main thread; each call is preceded by `errno = 777`, for which the compiler
 * computes errno's address once, before the call. Every call must end with EINTR (ETIMEDOUT for
 * sem_timedwait's own timeout, 0 for a finished nanosleep or an empty poll/select), as natively.
 * Once, green threads shared their OS thread's TLS under hand-off: the kept address was the old
 * OS thread's errno, and the preload's sem_wait wrote EINTR there too (1 call in 2 went wrong). */
#include "t.h"
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>

static atomic_int stop;
static volatile unsigned long sink;

static void on_alarm(int sig)
{
    (void)sig;
}

static void *compute(void *arg)
{
    (void)arg;
    sigset_t alrm; /* the timer's signals are for main's calls */
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, NULL);
    while (!atomic_load(&stop)) {
        unsigned long x = 1;
        for (long i = 0; i < 20000000; i++) x = x * 6364136223846793005UL + 1;
        sink += x;
        usleep(100);
    }
    return NULL;
}

enum { READ, NANOSLEEP, POLL, SEM_TIMEDWAIT, RECV, SELECT, SEM_WAIT, NOPS };
static const char *const names[NOPS] = {"read", "nanosleep", "poll",    "sem_timedwait",
                                        "recv", "select",    "sem_wait"};

int main(void)
{
    t_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: the calls end with EINTR */
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, compute, NULL) == 0);
    int p[2], sv[2];
    CHECK(pipe(p) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sem_t sem;
    CHECK(sem_init(&sem, 0, 0) == 0);
    struct itimerval it = {{0, 7000}, {0, 7000}};
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);

    int wrong[NOPS] = {0};
    for (int k = 0; k < 280; k++) {
        int op = k % NOPS, r = 0;
        char b[8];
        struct timespec rel = {0, 3000000}, abs;
        clock_gettime(CLOCK_REALTIME, &abs);
        abs.tv_nsec += 3000000;
        if (abs.tv_nsec >= 1000000000) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000;
        }
        struct pollfd pf = {p[0], POLLIN, 0};
        fd_set set;
        FD_ZERO(&set);
        FD_SET(p[0], &set);
        struct timeval tv = {0, 3000};
        errno = 777;
        switch (op) {
        case READ: r = read(p[0], b, 1); break;
        case NANOSLEEP: r = nanosleep(&rel, NULL); break;
        case POLL: r = poll(&pf, 1, 3); break;
        case SEM_TIMEDWAIT: r = sem_timedwait(&sem, &abs); break;
        case RECV: r = (int)recv(sv[0], b, 1, 0); break;
        case SELECT: r = select(p[0] + 1, &set, NULL, NULL, &tv); break;
        case SEM_WAIT: r = sem_wait(&sem); break;
        }
        int e = errno;
        int ok = (r == -1 && (e == EINTR || (op == SEM_TIMEDWAIT && e == ETIMEDOUT))) ||
                 (r == 0 && (op == NANOSLEEP || op == POLL || op == SELECT));
        if (!ok && wrong[op]++ == 0) fprintf(stderr, "%s returned %d with errno %d\n", names[op], r, e);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) CHECK(pthread_join(th[i], NULL) == 0);
    for (int op = 0; op < NOPS; op++) {
        printf("%s: errno right after every call: %s\n", names[op], wrong[op] ? "no" : "yes");
        CHECK(wrong[op] == 0);
    }
    return t_done();
}
