/* thread_ids: calls that name a thread by its id, from inside each of 4 threads, with its own
 * gettid(): syscall(SYS_gettid) agrees with gettid(); tgkill(getpid(), gettid(), SIGUSR1) runs
 * the handler in that thread; sched_getaffinity, sched_getscheduler and getpriority(PRIO_PROCESS)
 * on its id succeed; an id that names no thread gives ESRCH. Preloaded, a green thread's id names
 * no kernel thread: the preload must map it to the OS thread it runs on. */
#include "t.h"
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static __thread int got_signal;
static void on_usr1(int sig)
{
    (void)sig;
    got_signal = 1;
}

static atomic_int ok_ids, ok_kill, ok_sched;

static void *worker(void *arg)
{
    (void)arg;
    pid_t me = gettid();
    if (syscall(SYS_gettid) == me && me != getpid()) atomic_fetch_add(&ok_ids, 1);
    if (tgkill(getpid(), me, SIGUSR1) == 0 && got_signal) atomic_fetch_add(&ok_kill, 1);
    cpu_set_t set;
    errno = 0;
    if (sched_getaffinity(me, sizeof set, &set) == 0 && sched_getscheduler(me) == SCHED_OTHER &&
        (getpriority(PRIO_PROCESS, (id_t)me), errno == 0) &&
        syscall(SYS_sched_getaffinity, me, sizeof set, &set) > 0)
        atomic_fetch_add(&ok_sched, 1);
    usleep(1000);
    return NULL;
}

int main(void)
{
    t_init();
    signal(SIGUSR1, on_usr1);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    printf("main: gettid() == getpid(): %s\n", gettid() == getpid() ? "yes" : "no");
    printf("threads whose ids agree: %d, signalled themselves: %d, scheduling calls on their id: %d\n",
           atomic_load(&ok_ids), atomic_load(&ok_kill), atomic_load(&ok_sched));
    pid_t none = (1 << 22) + 999999; /* above any pid_max: no thread has it */
    errno = 0;
    int r = tgkill(getpid(), none, 0);
    printf("tgkill of an id no thread has: %d %s\n", r, en(errno));
    CHECK(ok_ids == 4 && ok_kill == 4 && ok_sched == 4);
    return t_done();
}
