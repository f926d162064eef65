/* sigmask_vfork: the mask dance around vfork that Python's subprocess makes (block every signal,
 * vfork; the child puts the old mask back and execs or exits; the parent puts it back too). The
 * child shares the parent's memory: what it does to its own mask must not change the parent's.
 * Afterwards a signal the program sends itself is handled, as natively (it was left blocked for
 * ever: every subprocess started after a thread had existed made the process deaf). */
#include "t.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static volatile sig_atomic_t handled;
static void on_usr1(int sig) { (void)sig; handled = 1; }
static void *nothing(void *a) { return a; }

int main(void)
{
    t_init();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, nothing, NULL) == 0);
    pthread_join(t, NULL);
    signal(SIGUSR1, on_usr1);
    sigset_t all, old;
    sigfillset(&all);
    CHECK(pthread_sigmask(SIG_BLOCK, &all, &old) == 0);
    pid_t pid = vfork();
    if (pid == 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        _exit(7);
    }
    CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
    int st = 0;
    waitpid(pid, &st, 0);
    kill(getpid(), SIGUSR1);
    msleep(20);
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    printf("child exited %d; SIGUSR1 handled after: %s; SIGUSR1 blocked after: %s\n", WEXITSTATUS(st),
           handled ? "yes" : "no", sigismember(&now, SIGUSR1) ? "yes" : "no");
    return t_done();
}
