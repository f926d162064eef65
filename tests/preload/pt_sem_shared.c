/* pt_sem_shared: semaphores shared BETWEEN PROCESSES (named sem_open, and an
 * unnamed pshared sem_t in MAP_SHARED memory): a sem_wait in the parent must
 * be woken by a sem_post from a forked child 100 ms later, and vice versa,
 * and sem_timedwait must time out with ETIMEDOUT. A runtime that turns
 * sem_wait into a purely in-process fiber wait never wakes up here. */
#include "t.h"
#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>

static void cross(const char *label, sem_t *to_parent, sem_t *to_child)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        msleep(100);
        sem_post(to_parent);
        struct timespec ts = abs_in(CLOCK_REALTIME, 5000);
        _exit(sem_timedwait(to_child, &ts) == 0 ? 0 : 1);
    }
    double t0 = now_s();
    int rc = sem_wait(to_parent);
    double el = now_s() - t0;
    msleep(50);
    sem_post(to_child);
    int st;
    waitpid(pid, &st, 0);
    printf("%s: parent woken by child post = %d waited: %s; child woken by parent: %s\n", label, rc,
           el >= 0.09 ? "yes" : "no", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
    CHECK(rc == 0 && el >= 0.09 && el < 5 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct timespec ts = abs_in(CLOCK_REALTIME, 100);
    errno = 0;
    t0 = now_s();
    rc = sem_timedwait(to_parent, &ts);
    el = now_s() - t0;
    printf("%s: timedwait +100ms = %d %s after timeout: %s\n", label, rc, en(errno),
           el >= 0.099 && el < 1.5 ? "yes" : "no");
    CHECK(rc == -1 && errno == ETIMEDOUT);
}

int main(void)
{
    t_init();
    char n1[64], n2[64];
    snprintf(n1, sizeof n1, "/libgreen-shared-a-%d", (int)getpid());
    snprintf(n2, sizeof n2, "/libgreen-shared-b-%d", (int)getpid());
    sem_t *a = sem_open(n1, O_CREAT | O_EXCL, 0600, 0), *b = sem_open(n2, O_CREAT | O_EXCL, 0600, 0);
    CHECK(a != SEM_FAILED && b != SEM_FAILED);
    sem_unlink(n1);
    sem_unlink(n2);
    cross("named", a, b);

    sem_t *m = mmap(NULL, 2 * sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    CHECK(sem_init(&m[0], 1, 0) == 0 && sem_init(&m[1], 1, 0) == 0);
    cross("pshared unnamed", &m[0], &m[1]);
    return t_done();
}
