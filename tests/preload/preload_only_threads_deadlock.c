/* preload_only_threads_deadlock: a program whose threads all block forever
 * (two threads locking two mutexes in opposite orders, main joining them)
 * must not hang under the preload: it prints a deadlock report naming each
 * green thread (its name, start routine, the object it waits on and, for a
 * mutex, the green thread holding it) and exits
 * with status 2. Natively it would hang, so this case runs only preloaded:
 * the program re-executes itself as the deadlocking child. */
#include "t.h"
#include <pthread.h>
#include <sys/wait.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

static void *ab_locker(void *p)
{
    (void)p;
    pthread_setname_np(pthread_self(), "ab-locker");
    pthread_mutex_lock(&a);
    usleep(20000);
    pthread_mutex_lock(&b);
    return NULL;
}

static void *ba_locker(void *p)
{
    (void)p;
    pthread_mutex_lock(&b);
    usleep(20000);
    pthread_mutex_lock(&a);
    return NULL;
}

static int deadlock_child(void)
{
    pthread_t t1, t2;
    pthread_create(&t1, NULL, ab_locker, NULL);
    pthread_create(&t2, NULL, ba_locker, NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("not reached\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) return deadlock_child();
    t_init();
    int pe[2];
    CHECK(pipe(pe) == 0);
    fflush(stdout);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pe[1], 2);
        close(pe[0]);
        execl("/proc/self/exe", argv[0], "child", (char *)NULL);
        _exit(127);
    }
    close(pe[1]);
    static char err[8192];
    ssize_t n = read_all(pe[0], err, sizeof err - 1);
    err[n > 0 ? n : 0] = 0;
    int st;
    waitpid(pid, &st, 0);
    printf("child exit status: %d (after %s)\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
           now_s() - t0 < 5 ? "< 5 s" : "a long time");
    fputs(err, stdout);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK(strstr(err, "green: deadlock: every green thread is blocked") != NULL);
    CHECK(strstr(err, "'ab-locker'") != NULL && strstr(err, "start routine ab_locker") != NULL);
    CHECK(strstr(err, "start routine ba_locker") != NULL);
    /* Each waiter names the green thread that holds the mutex it waits for (own TCBs, the
     * default: each green thread has its own thread id in glibc's owner word). */
    const char *held = strstr(err, ", held by #");
    CHECK(held != NULL && strstr(held + 1, ", held by #") != NULL);
    CHECK(strstr(err, "'ab-locker'\n") != NULL); /* as the holder, at a line's end */
    CHECK(strstr(err, "main thread: waiting on pthread_join") != NULL);
    CHECK(strstr(err, "waiting on pthread_mutex_lock") != NULL);
    return t_done();
}
