/* preload_only_os_threads: under the preload all pthreads are green threads
 * on ONE OS thread (at most one helper thread allowed): with 30 threads
 * blocked in sleep, read, accept, poll, cond_wait, sem_wait and waitpid, the
 * process must have <= 2 entries in /proc/self/task. Natively it would have
 * 31, so this case runs only preloaded. With GREEN_HUBS=N, each hub beyond the first adds
 * its OS thread. */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/socket.h>
#include <sys/wait.h>

static int sv[2], lfd;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;
static sem_t sem;

static void *t_sleep(void *p)
{
    (void)p;
    msleep(400);
    return NULL;
}
static void *t_read(void *p)
{
    (void)p;
    char c;
    return (void *)(intptr_t)read(sv[0], &c, 1);
}
static void *t_accept(void *p)
{
    (void)p;
    int fd = accept(lfd, NULL, NULL);
    close(fd);
    return NULL;
}
static void *t_poll(void *p)
{
    (void)p;
    struct pollfd pf = {sv[0], POLLPRI, 0};
    poll(&pf, 1, 400);
    return NULL;
}
static void *t_cond(void *p)
{
    (void)p;
    pthread_mutex_lock(&mu);
    while (!go) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return NULL;
}
static void *t_sem(void *p)
{
    (void)p;
    sem_wait(&sem);
    return NULL;
}

int main(void)
{
    t_init();
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    listen(lfd, 16);
    sem_init(&sem, 0, 0);
    void *(*fns[6])(void *) = {t_sleep, t_read, t_accept, t_poll, t_cond, t_sem};
    pthread_t th[30];
    for (int i = 0; i < 30; i++) CHECK(pthread_create(&th[i], NULL, fns[i % 6], NULL) == 0);
    msleep(100); /* everybody is blocked now */
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        msleep(100);
        _exit(0);
    }
    int n = t_os_threads();
    printf("OS threads with 30 blocked green threads: %s\n",
           n <= 2 + t_extra_hubs() ? "<= 2" : "more than 2");
    CHECK(n <= 2 + t_extra_hubs());
    int st;
    waitpid(child, &st, 0);
    /* release everybody */
    for (int i = 0; i < 5; i++) {
        write(sv[1], "x", 1);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        connect(c, (struct sockaddr *)&a, sizeof a);
        close(c);
        sem_post(&sem);
    }
    pthread_mutex_lock(&mu);
    go = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 30; i++) pthread_join(th[i], NULL);
    n = t_os_threads();
    printf("OS threads after joining: %s\n", n <= 2 + t_extra_hubs() ? "<= 2" : "more than 2");
    CHECK(n <= 2 + t_extra_hubs());
    return t_done();
}
