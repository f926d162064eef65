/* tls_errno: errno is a thread-local variable in each thread's own TLS block.
 * (1) 8 threads set errno to distinct values, usleep(1000) while the others
 * set theirs, and must find their own value again, both through errno and
 * through the pointer &errno taken before the sleep (a runtime that only saves
 * and restores one shared errno on a switch passes the first, not the second);
 * the live threads' &errno must all differ. (2) errno from failing calls: one
 * thread's open() of a missing file leaves ENOENT, it sleeps while another
 * thread's close(-1) fails with EBADF, then finds ENOENT still. */
#include "t.h"
#include <fcntl.h>

#define NTHREADS 8

static pthread_barrier_t all_set;
static int *addr[NTHREADS];
static int value_ok[NTHREADS], pointer_ok[NTHREADS];

static void *setter(void *p)
{
    int id = (int)(intptr_t)p, want = 1000 + id;
    int *ep = &errno;
    addr[id] = ep;
    errno = want;
    pthread_barrier_wait(&all_set); /* every thread has set its own value */
    usleep(1000);
    value_ok[id] = errno == want;
    pointer_ok[id] = *ep == want && ep == &errno;
    pthread_barrier_wait(&all_set); /* keep all alive until all have checked */
    return NULL;
}

static atomic_int enoent_set, ebadf_done;
static int enoent_errno = -1, ebadf_errno = -1, enoent_kept = -1;

static void *opener(void *p)
{
    (void)p;
    int fd = open("/nonexistent/libgreen/tls_errno", O_RDONLY);
    enoent_errno = fd == -1 ? errno : 0;
    atomic_store(&enoent_set, 1);
    for (int i = 0; i < 5000 && !atomic_load(&ebadf_done); i++)
        usleep(1000); /* the other thread fails meanwhile */
    enoent_kept = errno;
    return NULL;
}

static void *closer(void *p)
{
    (void)p;
    for (int i = 0; i < 5000 && !atomic_load(&enoent_set); i++) usleep(1000);
    errno = 0;
    ebadf_errno = close(-1) == -1 ? errno : 0;
    atomic_store(&ebadf_done, 1);
    return NULL;
}

int main(void)
{
    t_init();
    /* Plain C whose only TLS is libc's: GREEN_TLS=auto may let its green threads share their OS
     * thread's TLS where a switch of TCB costs a system call. What is checked here needs a TCB
     * per thread: ask for it (no effect natively). */
    setenv("GREEN_TLS", "thread", 1);
    pthread_t th[NTHREADS];
    pthread_barrier_init(&all_set, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) CHECK(pthread_create(&th[i], NULL, setter, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < NTHREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    int nvalue = 0, npointer = 0, distinct = 1;
    for (int i = 0; i < NTHREADS; i++) {
        nvalue += value_ok[i];
        npointer += pointer_ok[i];
        for (int j = 0; j < i; j++)
            if (addr[i] == addr[j]) distinct = 0;
    }
    printf("threads that kept their errno across a sleep: %d/%d\n", nvalue, NTHREADS);
    printf("threads whose &errno still held it: %d/%d\n", npointer, NTHREADS);
    printf("&errno distinct between live threads: %s\n", distinct ? "yes" : "no");
    CHECK(nvalue == NTHREADS && npointer == NTHREADS && distinct);

    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, opener, NULL) == 0);
    CHECK(pthread_create(&b, NULL, closer, NULL) == 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("open of a missing file: %s; close(-1) in another thread: %s; "
           "opener's errno after it: %s\n",
           en(enoent_errno), en(ebadf_errno), en(enoent_kept));
    CHECK(enoent_errno == ENOENT && ebadf_errno == EBADF && enoent_kept == ENOENT);
    return t_done();
}
