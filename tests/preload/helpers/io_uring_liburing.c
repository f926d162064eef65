/* io_uring_liburing (run by tests/preload/io_uring_liburing.sh): liburing's waits while other
 * threads run. Debian 12's liburing 2.3 makes its system calls with the syscall instruction, not
 * through libc: the preload never sees io_uring_enter, and the green thread blocked in it keeps its
 * OS thread while the hub goes on on another (hand-off, GREEN_HANDOFF default 20 ms). Without
 * hand-off the writer below never runs: a deadlock.
 *
 * 1. A read of a pipe that another thread writes 50 ms later: io_uring_submit, io_uring_wait_cqe.
 * 2. IORING_OP_TIMEOUT of 30 ms: io_uring_submit_and_wait(1), then the CQE: -ETIME.
 * 3. io_uring_wait_cqe_timeout of 10 and 100 ms with nothing in flight: -ETIME; the durations and
 *    the ticker's ticks meanwhile go to stderr ("timing: ..."), for the script to report only.
 * A ticker ticks every 5 ms throughout; it must have ticked during the 50 ms wait. */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int ticks, stop;
static int pipefd[2];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static void *ticker(void *a)
{
    (void)a;
    while (!atomic_load(&stop)) {
        msleep(5);
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

static void *writer(void *a)
{
    (void)a;
    msleep(50);
    (void)!write(pipefd[1], "hello", 5);
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(30);
    struct io_uring ring;
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        printf("io_uring unavailable: %s\n", strerror(-rc));
        return 0;
    }
    pthread_t tk, w;
    pthread_create(&tk, NULL, ticker, NULL);
    msleep(10);
    struct io_uring_cqe *cqe;

    /* 1 */
    if (pipe(pipefd) != 0) return 1;
    char buf[16] = {0};
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_read(sqe, pipefd[0], buf, sizeof buf - 1, 0);
    io_uring_sqe_set_data64(sqe, 1);
    pthread_create(&w, NULL, writer, NULL);
    int mark = atomic_load(&ticks);
    double t0 = now_s();
    printf("1. submit: %d\n", io_uring_submit(&ring));
    rc = io_uring_wait_cqe(&ring, &cqe);
    double dt = now_s() - t0;
    int d = atomic_load(&ticks) - mark;
    printf("   wait_cqe: %d, data %llu res %d '%s', >= 40 ms: %s, ticker ran meanwhile: %s\n", rc,
           (unsigned long long)io_uring_cqe_get_data64(cqe), cqe->res, buf, dt >= 0.04 ? "yes" : "no",
           d >= 2 ? "yes" : "no");
    io_uring_cqe_seen(&ring, cqe);
    pthread_join(w, NULL);

    /* 2 */
    struct __kernel_timespec ts30 = {0, 30 * 1000000L};
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_timeout(sqe, &ts30, 0, 0);
    io_uring_sqe_set_data64(sqe, 2);
    t0 = now_s();
    rc = io_uring_submit_and_wait(&ring, 1);
    dt = now_s() - t0;
    int rc2 = io_uring_peek_cqe(&ring, &cqe);
    printf("2. timeout: submit_and_wait %d, peek %d, data %llu res %s, >= 25 ms: %s\n", rc, rc2,
           (unsigned long long)io_uring_cqe_get_data64(cqe), cqe->res == -ETIME ? "ETIME" : "?",
           dt >= 0.025 ? "yes" : "no");
    io_uring_cqe_seen(&ring, cqe);

    /* 3 */
    for (int ms = 10; ms <= 100; ms *= 10) {
        struct __kernel_timespec ts = {0, ms * 1000000L};
        mark = atomic_load(&ticks);
        t0 = now_s();
        rc = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
        dt = now_s() - t0;
        d = atomic_load(&ticks) - mark;
        printf("3. wait_cqe_timeout %d ms: %s, >= %d ms: %s\n", ms, rc == -ETIME ? "ETIME" : strerror(-rc),
               ms * 9 / 10, dt >= ms * 0.9e-3 ? "yes" : "no");
        fprintf(stderr, "timing: wait_cqe_timeout %d ms took %.2f ms, the 5 ms ticker ticked %d times\n", ms,
                dt * 1e3, d);
    }

    atomic_store(&stop, 1);
    pthread_join(tk, NULL);
    io_uring_queue_exit(&ring);
    return 0;
}
