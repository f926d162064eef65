/* io_uring_raw: io_uring_enter waiting for completions, made through libc's syscall() (as
 * liburing before 2.2 and Rust's io-uring crate make it), parks only its green thread while a
 * ticker ticks and another thread supplies the data. GREEN_HANDOFF=off: a wait that blocks the OS
 * thread stops the writer, a deadlock (alarm after 30 s), and the ticker.
 *
 * 1. A READ of a pipe submitted and waited for in one call (to_submit 1, min_complete 1); a thread
 *    writes the pipe 50 ms later: the call returns 1 (submitted), the CQE holds the 5 bytes.
 * 2. IORING_OP_TIMEOUT of 30 ms, submitted, then waited for alone: -ETIME after >= 30 ms.
 * 3. IORING_ENTER_EXT_ARG with a 20 ms timeout and nothing in flight: -1 ETIME after >= 20 ms.
 * 4. min_complete 2 with timeouts of 20 and 40 ms submitted in the same call: a timeout's completion
 *    ends the wait whatever min_complete says (the kernel's rule), so it returns 2 (submitted)
 *    after 20 ms with one CQE; the second is then waited for alone (min_complete 1).
 * 5. A signal handler (no SA_RESTART) run for main while the ring is empty ends its wait with EINTR.
 * 6. Calls that do not wait are unchanged: min_complete 0, GETEVENTS with a CQE already there. */
#include "t.h"
#include <linux/io_uring.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

struct ring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r, unsigned entries)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    r->fd = (int)syscall(SYS_io_uring_setup, entries, &p);
    if (r->fd < 0) return -1;
    size_t sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) sqsz = cqsz = sqsz > cqsz ? sqsz : cqsz;
    char *sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED) return -1;
    char *cq = sq;
    if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
        cq = mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
        if (cq == MAP_FAILED) return -1;
    }
    r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) return -1;
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    return 0;
}

static struct io_uring_sqe *sqe_next(struct ring *r)
{
    unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;
    struct io_uring_sqe *s = &r->sqes[idx];
    memset(s, 0, sizeof *s);
    r->sq_array[idx] = idx;
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    return s;
}

static int cqe_take(struct ring *r, struct io_uring_cqe *out)
{
    unsigned head = *r->cq_head;
    if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) return 0;
    *out = r->cqes[head & *r->cq_mask];
    __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
    return 1;
}

static long enter(struct ring *r, unsigned submit, unsigned min, unsigned flags, void *arg, size_t sz)
{
    return syscall(SYS_io_uring_enter, r->fd, submit, min, flags, arg, sz);
}

static atomic_int ticks, stop;
static int pipefd[2];

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

static pthread_t main_thread;

/* To main itself: a kill() of the process may be taken by any thread that does not block it. */
static void *signaller(void *a)
{
    (void)a;
    msleep(20);
    pthread_kill(main_thread, SIGUSR1);
    return NULL;
}

static void on_usr1(int sig)
{
    (void)sig;
}

/* The ticker ticked at least `n` times since `*mark`: the wait let other threads run. */
static const char *ticked(int *mark, int n)
{
    int now = atomic_load(&ticks), d = now - *mark;
    *mark = now;
    return d >= n ? "yes" : "no";
}

int main(void)
{
    setenv("GREEN_HANDOFF", "off", 1); /* before the first thread: read then */
    t_init();
    main_thread = pthread_self();
    struct ring r;
    if (ring_init(&r, 8) != 0) {
        printf("io_uring unavailable: %s\n", en(errno)); /* the same both ways */
        return 0;
    }
    pthread_t tk, w, s;
    CHECK(pthread_create(&tk, NULL, ticker, NULL) == 0);
    msleep(10);
    struct io_uring_cqe c;
    int mark;

    /* 1 */
    CHECK(pipe(pipefd) == 0);
    char buf[16] = {0};
    struct io_uring_sqe *q = sqe_next(&r);
    q->opcode = IORING_OP_READ;
    q->fd = pipefd[0];
    q->addr = (uintptr_t)buf;
    q->len = sizeof buf - 1;
    q->user_data = 1;
    CHECK(pthread_create(&w, NULL, writer, NULL) == 0);
    mark = atomic_load(&ticks);
    double t0 = now_s();
    long rc = enter(&r, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    double dt = now_s() - t0;
    printf("1. submit+wait: %ld, ticker ran meanwhile: %s, waited >= 40 ms: %s\n", rc, ticked(&mark, 4),
           dt >= 0.04 ? "yes" : "no");
    CHECK(cqe_take(&r, &c) == 1);
    printf("   cqe %llu res %d '%s'\n", (unsigned long long)c.user_data, c.res, buf);
    pthread_join(w, NULL);

    /* 2 */
    struct __kernel_timespec ts30 = {0, 30 * 1000000L};
    q = sqe_next(&r);
    q->opcode = IORING_OP_TIMEOUT;
    q->addr = (uintptr_t)&ts30;
    q->len = 1;
    q->user_data = 2;
    CHECK(enter(&r, 1, 0, 0, NULL, 0) == 1);
    t0 = now_s();
    rc = enter(&r, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    dt = now_s() - t0;
    CHECK(cqe_take(&r, &c) == 1);
    printf("2. timeout: wait %ld, cqe %llu res %s, >= 25 ms: %s, ticker ran: %s\n", rc,
           (unsigned long long)c.user_data, en(-c.res), dt >= 0.025 ? "yes" : "no", ticked(&mark, 3));

    /* 3 */
    struct __kernel_timespec ts20 = {0, 20 * 1000000L};
    struct io_uring_getevents_arg ga;
    memset(&ga, 0, sizeof ga);
    ga.ts = (uintptr_t)&ts20;
    t0 = now_s();
    errno = 0;
    rc = enter(&r, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &ga, sizeof ga);
    dt = now_s() - t0;
    printf("3. EXT_ARG 20 ms, nothing in flight: %ld %s, >= 18 ms: %s, ticker ran: %s\n", rc, en(errno),
           dt >= 0.018 ? "yes" : "no", ticked(&mark, 2));

    /* 4 */
    struct __kernel_timespec ts40 = {0, 40 * 1000000L};
    q = sqe_next(&r);
    q->opcode = IORING_OP_TIMEOUT;
    q->addr = (uintptr_t)&ts20;
    q->len = 1;
    q->user_data = 41;
    q = sqe_next(&r);
    q->opcode = IORING_OP_TIMEOUT;
    q->addr = (uintptr_t)&ts40;
    q->len = 1;
    q->user_data = 42;
    t0 = now_s();
    rc = enter(&r, 2, 2, IORING_ENTER_GETEVENTS, NULL, 0);
    dt = now_s() - t0;
    int n4 = 0;
    while (cqe_take(&r, &c)) n4++;
    printf("4. min_complete 2: %ld, completions %d (last %llu), >= 15 ms: %s, < 35 ms: %s\n", rc, n4,
           (unsigned long long)c.user_data, dt >= 0.015 ? "yes" : "no", dt < 0.035 ? "yes" : "no");
    mark = atomic_load(&ticks);
    rc = enter(&r, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    CHECK(cqe_take(&r, &c) == 1);
    printf("   then: %ld, cqe %llu res %s, ticker ran: %s\n", rc, (unsigned long long)c.user_data, en(-c.res),
           ticked(&mark, 2));

    /* 5 */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    CHECK(pthread_create(&s, NULL, signaller, NULL) == 0);
    errno = 0;
    rc = enter(&r, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    printf("5. signal while waiting: %ld %s\n", rc, en(errno));
    pthread_join(s, NULL);

    /* 6 */
    q = sqe_next(&r);
    q->opcode = IORING_OP_NOP;
    q->user_data = 6;
    rc = enter(&r, 1, 0, 0, NULL, 0);
    msleep(5);
    long rc2 = enter(&r, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    CHECK(cqe_take(&r, &c) == 1);
    printf("6. nop: submit %ld, wait %ld, cqe %llu res %d\n", rc, rc2, (unsigned long long)c.user_data,
           c.res);

    atomic_store(&stop, 1);
    pthread_join(tk, NULL);
    close(r.fd);
    return t_failed;
}
