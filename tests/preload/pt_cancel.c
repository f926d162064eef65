/* pt_cancel: deferred cancellation of green threads blocked at cancellation
 * points - read() on a socket, sleep/nanosleep, pthread_cond_wait (cleanup
 * handler runs with the mutex re-acquired), accept(), poll() and sem_wait -
 * joins return PTHREAD_CANCELED and cleanup handlers run; a thread with
 * cancellation disabled finishes normally; pthread_testcancel. */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/socket.h>

static atomic_int cleanups;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int sv[2], lfd;
static sem_t sem;
static atomic_int mutex_held_in_cleanup;

static void cleanup(void *p)
{
    (void)p;
    atomic_fetch_add(&cleanups, 1);
}
static void unlock_cleanup(void *p)
{
    if (pthread_mutex_trylock(&mu) == EBUSY) /* we hold it: trylock on held normal mutex */
        atomic_store(&mutex_held_in_cleanup, 1);
    pthread_mutex_unlock(p);
    atomic_fetch_add(&cleanups, 1);
}

static void *in_read(void *p)
{
    (void)p;
    char buf[8];
    pthread_cleanup_push(cleanup, NULL);
    read(sv[0], buf, sizeof buf);
    pthread_cleanup_pop(0);
    return (void *)1;
}
static void *in_sleep(void *p)
{
    (void)p;
    pthread_cleanup_push(cleanup, NULL);
    sleep(10);
    pthread_cleanup_pop(0);
    return (void *)1;
}
static void *in_cond(void *p)
{
    (void)p;
    pthread_mutex_lock(&mu);
    pthread_cleanup_push(unlock_cleanup, &mu);
    for (;;) pthread_cond_wait(&cv, &mu);
    pthread_cleanup_pop(1);
    return (void *)1;
}
static void *in_accept(void *p)
{
    (void)p;
    pthread_cleanup_push(cleanup, NULL);
    accept(lfd, NULL, NULL);
    pthread_cleanup_pop(0);
    return (void *)1;
}
static void *in_poll(void *p)
{
    (void)p;
    struct pollfd pf = {sv[0], POLLIN, 0};
    pthread_cleanup_push(cleanup, NULL);
    poll(&pf, 1, 10000);
    pthread_cleanup_pop(0);
    return (void *)1;
}
static void *in_sem(void *p)
{
    (void)p;
    pthread_cleanup_push(cleanup, NULL);
    sem_wait(&sem);
    pthread_cleanup_pop(0);
    return (void *)1;
}
static void *disabled(void *p)
{
    (void)p;
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    msleep(200); /* cancel arrives meanwhile; nanosleep is not a cancel point now */
    pthread_setcancelstate(old, NULL);
    return (void *)5;
}
static void *busy_testcancel(void *p)
{
    (void)p;
    pthread_cleanup_push(cleanup, NULL);
    for (;;) {
        pthread_testcancel();
        sched_yield();
    }
    pthread_cleanup_pop(0);
    return NULL;
}

static void cancel_case(const char *label, void *(*fn)(void *))
{
    pthread_t th;
    int before = atomic_load(&cleanups);
    pthread_create(&th, NULL, fn, NULL);
    msleep(100);
    double t0 = now_s();
    int rc = pthread_cancel(th);
    /* wait (bounded, green-friendly) for the cleanup handler before joining,
     * so one stuck case does not hide the others */
    while (atomic_load(&cleanups) == before && now_s() - t0 < 2.0) usleep(5000);
    if (atomic_load(&cleanups) == before) {
        printf("cancel %s: thread not cancelled within 2 s\n", label);
        CHECK(!"cancelled");
        pthread_detach(th);
        return;
    }
    void *rv = NULL;
    pthread_join(th, &rv);
    double el = now_s() - t0;
    printf("cancel %s: cancel=%s joined CANCELED: %s cleanup ran: %s prompt: %s\n", label, en(rc),
           rv == PTHREAD_CANCELED ? "yes" : "no", atomic_load(&cleanups) == before + 1 ? "yes" : "no",
           el < 2 ? "yes" : "no");
    CHECK(rc == 0 && rv == PTHREAD_CANCELED && atomic_load(&cleanups) == before + 1 && el < 2);
}

int main(void)
{
    t_init();
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    listen(lfd, 4);
    sem_init(&sem, 0, 0);

    cancel_case("read", in_read);
    cancel_case("sleep", in_sleep);
    cancel_case("cond_wait", in_cond);
    printf("cond_wait cleanup ran with mutex re-acquired: %s\n",
           atomic_load(&mutex_held_in_cleanup) ? "yes" : "no");
    CHECK(atomic_load(&mutex_held_in_cleanup));
    printf("mutex free afterwards: %s\n", pthread_mutex_trylock(&mu) == 0 ? "yes" : "no");
    pthread_mutex_unlock(&mu);
    cancel_case("accept", in_accept);
    cancel_case("poll", in_poll);
    cancel_case("sem_wait", in_sem);
    cancel_case("testcancel loop", busy_testcancel);

    pthread_t th;
    void *rv;
    pthread_create(&th, NULL, disabled, NULL);
    msleep(50);
    pthread_cancel(th);
    pthread_join(th, &rv);
    printf("cancel while disabled: finished normally with 5: %s\n", rv == (void *)5 ? "yes" : "no");
    CHECK(rv == (void *)5);
    /* the socket still works for normal blocking reads afterwards */
    write(sv[1], "ok", 2);
    char buf[4];
    printf("read after cancellations = %zd\n", read(sv[0], buf, sizeof buf));
    return t_done();
}
