/* pt_sem: POSIX semaphores on green threads: unnamed (post/wait/getvalue,
 * trywait EAGAIN, timedwait ETIMEDOUT after >= 100 ms, clockwait, EINVAL for
 * a bad abstime, sem_wait woken by a post from another thread, 1000-round
 * ping-pong between two threads) and named (sem_open O_CREAT|O_EXCL, EEXIST,
 * reopen sees the value, sem_unlink, ENOENT after unlink). */
#include "t.h"
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>

static sem_t a, b;

static void *late_post(void *p)
{
    msleep(100);
    sem_post(p);
    return NULL;
}

static void *pong(void *p)
{
    (void)p;
    for (int i = 0; i < 1000; i++) {
        sem_wait(&a);
        sem_post(&b);
    }
    return NULL;
}

int main(void)
{
    t_init();
    int v, rc;
    sem_t s;
    CHECK(sem_init(&s, 0, 0) == 0);
    errno = 0;
    rc = sem_trywait(&s);
    printf("trywait on 0 = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == EAGAIN);
    sem_post(&s);
    sem_post(&s);
    sem_getvalue(&s, &v);
    printf("value after 2 posts = %d\n", v);
    printf("trywait = %d wait = %d\n", sem_trywait(&s), sem_wait(&s));
    sem_getvalue(&s, &v);
    printf("value = %d\n", v);

    struct timespec ts = abs_in(CLOCK_REALTIME, 100);
    double t0 = now_s();
    errno = 0;
    rc = sem_timedwait(&s, &ts);
    double el = now_s() - t0;
    printf("timedwait +100ms = %d %s after timeout: %s\n", rc, en(errno),
           el >= 0.099 && el < 1.5 ? "yes" : "no");
    CHECK(rc == -1 && errno == ETIMEDOUT && el >= 0.099 && el < 1.5);
    ts = abs_in(CLOCK_MONOTONIC, 100);
    t0 = now_s();
    errno = 0;
    rc = sem_clockwait(&s, CLOCK_MONOTONIC, &ts);
    el = now_s() - t0;
    printf("clockwait MONOTONIC +100ms = %d %s after timeout: %s\n", rc, en(errno),
           el >= 0.099 && el < 1.5 ? "yes" : "no");
    CHECK(rc == -1 && errno == ETIMEDOUT && el >= 0.099);
    struct timespec bad = {0, 1000000000L};
    errno = 0;
    rc = sem_timedwait(&s, &bad);
    printf("timedwait tv_nsec=1e9 = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == EINVAL);

    pthread_t th;
    t0 = now_s();
    pthread_create(&th, NULL, late_post, &s);
    rc = sem_wait(&s);
    el = now_s() - t0;
    pthread_join(th, NULL);
    printf("sem_wait woken by other thread = %d waited: %s\n", rc, el >= 0.09 ? "yes" : "no");
    CHECK(rc == 0 && el >= 0.09 && el < 2);
    pthread_create(&th, NULL, late_post, &s);
    ts = abs_in(CLOCK_REALTIME, 5000);
    rc = sem_timedwait(&s, &ts);
    pthread_join(th, NULL);
    printf("sem_timedwait woken by other thread = %d\n", rc);
    CHECK(rc == 0);

    sem_init(&a, 0, 0);
    sem_init(&b, 0, 0);
    pthread_create(&th, NULL, pong, NULL);
    int rounds = 0;
    for (int i = 0; i < 1000; i++) {
        sem_post(&a);
        if (sem_wait(&b) == 0) rounds++;
    }
    pthread_join(th, NULL);
    printf("ping-pong rounds = %d\n", rounds);
    CHECK(rounds == 1000);

    /* named */
    char name[64];
    snprintf(name, sizeof name, "/libgreen-test-%d", (int)getpid());
    sem_t *n = sem_open(name, O_CREAT | O_EXCL, 0600, 2);
    printf("sem_open(O_CREAT|O_EXCL): %s\n", n != SEM_FAILED ? "ok" : en(errno));
    CHECK(n != SEM_FAILED);
    errno = 0;
    sem_t *n2 = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    printf("sem_open again with O_EXCL: %s\n", n2 == SEM_FAILED ? en(errno) : "opened?!");
    CHECK(n2 == SEM_FAILED && errno == EEXIST);
    printf("wait = %d wait = %d\n", sem_wait(n), sem_wait(n));
    errno = 0;
    rc = sem_trywait(n);
    printf("trywait = %d %s\n", rc, en(errno));
    sem_post(n);
    sem_close(n);
    n = sem_open(name, 0);
    sem_getvalue(n, &v);
    printf("reopened value = %d\n", v);
    CHECK(v == 1);
    printf("sem_unlink = %d\n", sem_unlink(name));
    sem_close(n);
    errno = 0;
    n = sem_open(name, 0);
    printf("sem_open after unlink: %s\n", n == SEM_FAILED ? en(errno) : "opened?!");
    CHECK(n == SEM_FAILED && errno == ENOENT);
    return t_done();
}
