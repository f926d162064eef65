/* hubs_fork_locks: fork while other threads keep taking the locks a fork child needs.
 *
 * 4 threads loop on what takes the runtime's own locks under the preload: pthread_sigmask (the
 * signal mask table), pthread_create + pthread_join (the thread registry, the TCB list) and
 * sigaction. Meanwhile main forks 200 children, one after the other; each child does the same
 * once (block and unblock a signal, start and join a thread, set a handler) and exits 0. Natively
 * any child may do this (glibc's locks are reset in a fork child). Under the preload with several
 * hubs the looping threads run on other OS threads, and a lock one of them held at the fork must
 * not stay held in the child: every child must exit 0 (a stuck one is killed after 10 s and
 * counted). */
#include "t.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOOPERS 4
#define CHILDREN 200

static atomic_int stop;

static void on_usr1(int sig)
{
    (void)sig;
}

static void *nothing(void *a)
{
    return a;
}

static void exercise(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, nothing, NULL) == 0) pthread_join(t, NULL);
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &sa, NULL);
}

static void *looper(void *a)
{
    (void)a;
    while (!atomic_load(&stop)) exercise();
    return NULL;
}

int main(void)
{
    t_init();
    pthread_t th[LOOPERS];
    for (int i = 0; i < LOOPERS; i++) CHECK(pthread_create(&th[i], NULL, looper, NULL) == 0);
    int ok = 0, failed = 0, stuck = 0;
    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10); /* a child stuck on a lock dies of SIGALRM */
            exercise();
            _exit(0);
        }
        CHECK(pid > 0);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0)
            ;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++;
        else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) stuck++;
        else failed++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < LOOPERS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    printf("children that exited 0: %d of %d\n", ok, CHILDREN);
    printf("children stuck on a lock: %d, failed otherwise: %d\n", stuck, failed);
    CHECK(ok == CHILDREN);
    return t_done();
}
