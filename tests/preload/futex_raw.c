/* futex_raw: threads that wait and wake with raw syscall(SYS_futex, ...), the way
 * libstdc++, Rust std, Go's runtime and hand-rolled locks do it (not through any
 * pthread call libgreen already hooks). Under libgreen a FUTEX_WAIT that reaches
 * the kernel blocks the one OS thread, so the waker never runs; each wait must
 * park only its green thread and each wake/requeue must report the counts the
 * kernel would. Checked, every waiter parked ~50 ms before it is woken:
 *  1. FUTEX_WAIT/FUTEX_WAKE, private: 4 waiters, WAKE 1 -> 1, WAKE 2 -> 2,
 *     WAKE INT_MAX -> 1, WAKE again -> 0; each wait returns 0;
 *  2. the same without FUTEX_PRIVATE_FLAG on a MAP_SHARED word, in-process,
 *     then across fork(): the parent's wait (a ticker thread keeps ticking
 *     meanwhile) is ended by the child's FUTEX_WAKE, which returns 1 (the
 *     parent is a waiter the kernel knows of), and the parent's WAKE ends the
 *     child's wait and returns 1;
 *  3. FUTEX_WAIT with a 100 ms relative timeout -> ETIMEDOUT (the ticker ticks
 *     meanwhile); a value that differs -> EAGAIN at once;
 *  4. FUTEX_WAIT_BITSET with an absolute CLOCK_MONOTONIC deadline, and with
 *     FUTEX_CLOCK_REALTIME, +100 ms -> ETIMEDOUT (ticker ticks); a deadline
 *     in the past -> ETIMEDOUT at once; bitset 0 -> EINVAL; a +5 s bitset
 *     wait woken by a FUTEX_WAKE_BITSET returns 0;
 *  5. FUTEX_WAKE_BITSET wakes only the waiters whose bitset intersects: waiters
 *     with 0x1, 0x2, 0x4; WAKE_BITSET 0x2 -> 1 (the 0x2 one), 0x5 -> 2;
 *  6. FUTEX_REQUEUE (wake 1, requeue 2) of 4 waiters -> 3 (woken + requeued),
 *     then WAKE on the first word -> 1 and on the second -> 2;
 *     FUTEX_CMP_REQUEUE with a stale value -> EAGAIN, moving nothing; with the
 *     right value (wake 0, requeue all) of 3 waiters -> 3, first word then has
 *     none, the second wakes 1 then 2;
 *  7. FUTEX_WAKE_OP (op: *uaddr2 += 1, wake on uaddr2 if the old value == 0)
 *     with 2 waiters on each word: the first call wakes 1 + 1 -> 2, the second
 *     (old value now 1) only 1 on the first word; uaddr2 ends at 2.
 * Output: counts and errno names only. */
#include "t.h"
#include <limits.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts, uint32_t *uaddr2,
                  uint32_t val3)
{
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* FUTEX_REQUEUE/CMP_REQUEUE/WAKE_OP take a count (val2) in the timeout slot. */
#define VAL2(n) ((const struct timespec *)(uintptr_t)(n))

/* ---- a waiter thread: one futex wait, its result kept */
struct waiter {
    uint32_t *addr;
    int op;
    uint32_t val;
    const struct timespec *ts;
    uint32_t bitset;
    pthread_t th;
    long ret;
    int err;
    atomic_int started, done;
};

static void *waiter_main(void *p)
{
    struct waiter *w = p;
    atomic_store(&w->started, 1);
    errno = 0;
    w->ret = futex(w->addr, w->op, w->val, w->ts, NULL, w->bitset);
    w->err = w->ret == -1 ? errno : 0;
    atomic_store(&w->done, 1);
    return NULL;
}

/* Starts n waiters, then gives them 50 ms to be asleep in their wait. */
static void start_waiters(struct waiter *ws, int n)
{
    for (int i = 0; i < n; i++) {
        atomic_store(&ws[i].started, 0);
        atomic_store(&ws[i].done, 0);
        CHECK(pthread_create(&ws[i].th, NULL, waiter_main, &ws[i]) == 0);
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2000 && !atomic_load(&ws[i].started); k++) usleep(1000);
    msleep(50);
}

static int count_done(struct waiter *ws, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++) c += atomic_load(&ws[i].done);
    return c;
}

/* Waits (at most 2 s) until at least `want` of the n waiters have returned. */
static int wait_done(struct waiter *ws, int n, int want)
{
    for (int k = 0; k < 2000 && count_done(ws, n) < want; k++) usleep(1000);
    return count_done(ws, n);
}

/* Joins all; returns how many of their waits returned 0. */
static int join_waiters(struct waiter *ws, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        CHECK(pthread_join(ws[i].th, NULL) == 0);
        ok += ws[i].ret == 0;
    }
    return ok;
}

static void plain_waiters(struct waiter *ws, int n, uint32_t *addr, int op)
{
    memset(ws, 0, sizeof(*ws) * (size_t)n);
    for (int i = 0; i < n; i++) {
        ws[i].addr = addr;
        ws[i].op = op;
        ws[i].val = 0;
    }
}

/* ---- 1. and 2. (in-process) FUTEX_WAIT / FUTEX_WAKE */
static void wait_wake(const char *label, uint32_t *word, int wait_op, int wake_op)
{
    struct waiter ws[4];
    *word = 0;
    plain_waiters(ws, 4, word, wait_op);
    start_waiters(ws, 4);
    long r1 = futex(word, wake_op, 1, NULL, NULL, 0);
    int d1 = wait_done(ws, 4, 1);
    long r2 = futex(word, wake_op, 2, NULL, NULL, 0);
    int d2 = wait_done(ws, 4, 3);
    long r3 = futex(word, wake_op, INT_MAX, NULL, NULL, 0);
    int d3 = wait_done(ws, 4, 4);
    long r4 = futex(word, wake_op, INT_MAX, NULL, NULL, 0);
    int ok = join_waiters(ws, 4);
    printf("%s: 4 waiters; WAKE 1 -> %ld (returned %d), WAKE 2 -> %ld (returned %d), "
           "WAKE all -> %ld (returned %d), WAKE again -> %ld; waits returned 0: %d/4\n",
           label, r1, d1, r2, d2, r3, d3, r4, ok);
    CHECK(r1 == 1 && r2 == 2 && r3 == 1 && r4 == 0);
    CHECK(d1 == 1 && d2 == 3 && d3 == 4 && ok == 4);
}

/* ---- 2. across fork() */
static void cross_process(uint32_t *shm)
{
    uint32_t *to_parent = &shm[0], *to_child = &shm[1];
    *to_parent = 0;
    *to_child = 0;
    shm[2] = 99;
    shm[3] = 99;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        msleep(100);
        __atomic_store_n(to_parent, 1, __ATOMIC_SEQ_CST);
        long n = futex(to_parent, FUTEX_WAKE, 1, NULL, NULL, 0);
        /* then wait for the parent's wake (5 s at most) */
        struct timespec ts = {5, 0};
        long r = futex(to_child, FUTEX_WAIT, 0, &ts, NULL, 0);
        shm[2] = (uint32_t)n;                  /* what the child's WAKE returned */
        shm[3] = r == 0 ? 0 : (uint32_t)errno; /* how its wait ended */
        _exit(0);
    }
    CHECK(pid > 0);
    ticker_start();
    int t0 = atomic_load(&ticks);
    double s0 = now_s();
    long r = 0;
    int err = 0;
    while (__atomic_load_n(to_parent, __ATOMIC_SEQ_CST) == 0) {
        r = futex(to_parent, FUTEX_WAIT, 0, NULL, NULL, 0);
        err = r == -1 ? errno : 0;
        if (r == -1 && err != EAGAIN && err != EINTR) break;
    }
    double el = now_s() - s0;
    int t1 = atomic_load(&ticks);
    ticker_stop();
    msleep(50); /* the child is asleep in its wait by now */
    long n = futex(to_child, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    int st = 0;
    waitpid(pid, &st, 0);
    int child_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    long child_n = (int32_t)shm[2];
    int child_err = (int)shm[3];
    printf("shared, across fork: parent's wait woken by the child's WAKE: %s (wait -> %ld, errno %s), "
           "waited: %s, ticker ran meanwhile: %s\n",
           r == 0 ? "yes" : "no", r, en(err), el >= 0.08 ? "yes" : "no", t1 - t0 >= 3 ? "yes" : "no");
    printf("shared, across fork: the child's WAKE -> %ld; the parent's WAKE -> %ld, "
           "child's wait ended by it: %s (errno %s)\n",
           child_n, n, child_err == 0 ? "yes" : "no", child_err == 99 ? "?" : en(child_err));
    CHECK(r == 0 && el >= 0.08 && el < 5 && t1 - t0 >= 3);
    CHECK(child_ok && child_n == 1 && n == 1 && child_err == 0);
}

/* ---- 3. FUTEX_WAIT timeout, EAGAIN */
static void wait_timeout(void)
{
    uint32_t w = 0;
    struct timespec rel = {0, 100 * 1000000L};
    ticker_start();
    int t0 = atomic_load(&ticks);
    double s0 = now_s();
    errno = 0;
    long r = futex(&w, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0);
    int e = errno;
    double el = now_s() - s0;
    int t1 = atomic_load(&ticks);
    ticker_stop();
    printf("FUTEX_WAIT +100 ms relative: %ld %s, after the timeout: %s, ticker ran meanwhile: %s\n", r, en(e),
           el >= 0.099 && el < 2 ? "yes" : "no", t1 - t0 >= 3 ? "yes" : "no");
    CHECK(r == -1 && e == ETIMEDOUT && el >= 0.099 && el < 2 && t1 - t0 >= 3);

    w = 5;
    s0 = now_s();
    errno = 0;
    r = futex(&w, FUTEX_WAIT_PRIVATE, 4, &rel, NULL, 0);
    e = errno;
    el = now_s() - s0;
    printf("FUTEX_WAIT expecting 4 on a word holding 5: %ld %s, at once: %s\n", r, en(e),
           el < 0.05 ? "yes" : "no");
    CHECK(r == -1 && e == EAGAIN && el < 0.05);
}

/* ---- 4. FUTEX_WAIT_BITSET deadlines */
static void bitset_deadline(const char *label, int op, clockid_t clk)
{
    uint32_t w = 0;
    struct timespec dl = abs_in(clk, 100);
    ticker_start();
    int t0 = atomic_load(&ticks);
    double s0 = now_s();
    errno = 0;
    long r = futex(&w, op, 0, &dl, NULL, FUTEX_BITSET_MATCH_ANY);
    int e = errno;
    double el = now_s() - s0;
    int t1 = atomic_load(&ticks);
    ticker_stop();
    printf("FUTEX_WAIT_BITSET %s deadline +100 ms: %ld %s, after the deadline: %s, "
           "ticker ran meanwhile: %s\n",
           label, r, en(e), el >= 0.099 && el < 2 ? "yes" : "no", t1 - t0 >= 3 ? "yes" : "no");
    CHECK(r == -1 && e == ETIMEDOUT && el >= 0.099 && el < 2 && t1 - t0 >= 3);

    struct timespec past;
    clock_gettime(clk, &past);
    past.tv_sec -= 1;
    s0 = now_s();
    errno = 0;
    r = futex(&w, op, 0, &past, NULL, FUTEX_BITSET_MATCH_ANY);
    e = errno;
    el = now_s() - s0;
    printf("FUTEX_WAIT_BITSET %s deadline 1 s ago: %ld %s, at once: %s\n", label, r, en(e),
           el < 0.05 ? "yes" : "no");
    CHECK(r == -1 && e == ETIMEDOUT && el < 0.05);
}

static void bitset_misc(void)
{
    uint32_t w = 0;
    errno = 0;
    long r = futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0);
    int e = errno;
    printf("FUTEX_WAIT_BITSET with bitset 0: %ld %s\n", r, en(e));
    CHECK(r == -1 && e == EINVAL);

    /* a +5 s deadline, woken long before it */
    struct waiter ws[1];
    struct timespec dl = abs_in(CLOCK_MONOTONIC, 5000);
    plain_waiters(ws, 1, &w, FUTEX_WAIT_BITSET_PRIVATE);
    ws[0].ts = &dl;
    ws[0].bitset = FUTEX_BITSET_MATCH_ANY;
    double s0 = now_s();
    start_waiters(ws, 1);
    long n = futex(&w, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, FUTEX_BITSET_MATCH_ANY);
    join_waiters(ws, 1);
    double el = now_s() - s0;
    printf("FUTEX_WAIT_BITSET +5 s woken by WAKE_BITSET: WAKE -> %ld, wait -> %ld (errno %s), "
           "before the deadline: %s\n",
           n, ws[0].ret, en(ws[0].err), el < 2.5 ? "yes" : "no");
    CHECK(n == 1 && ws[0].ret == 0 && el < 2.5);
}

/* ---- 5. FUTEX_WAKE_BITSET selects by bitset */
static void wake_bitset(void)
{
    static uint32_t w;
    struct waiter ws[3];
    const uint32_t bits[3] = {0x1, 0x2, 0x4};
    w = 0;
    plain_waiters(ws, 3, &w, FUTEX_WAIT_BITSET_PRIVATE);
    for (int i = 0; i < 3; i++) ws[i].bitset = bits[i];
    start_waiters(ws, 3);
    long r1 = futex(&w, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x2);
    wait_done(ws, 3, 1);
    int a1 = atomic_load(&ws[0].done), b1 = atomic_load(&ws[1].done), c1 = atomic_load(&ws[2].done);
    long r2 = futex(&w, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x5);
    wait_done(ws, 3, 3);
    long r3 = futex(&w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    int ok = join_waiters(ws, 3);
    printf("FUTEX_WAKE_BITSET, waiters 0x1 0x2 0x4: wake 0x2 -> %ld (woken: 0x1 %s, 0x2 %s, "
           "0x4 %s), wake 0x5 -> %ld, then WAKE -> %ld; waits returned 0: %d/3\n",
           r1, a1 ? "yes" : "no", b1 ? "yes" : "no", c1 ? "yes" : "no", r2, r3, ok);
    CHECK(r1 == 1 && !a1 && b1 && !c1 && r2 == 2 && r3 == 0 && ok == 3);
}

/* ---- 6. FUTEX_REQUEUE, FUTEX_CMP_REQUEUE */
static void requeue(void)
{
    static uint32_t a, b;
    struct waiter ws[4];
    a = 0;
    b = 0;
    plain_waiters(ws, 4, &a, FUTEX_WAIT_PRIVATE);
    start_waiters(ws, 4);
    long r = futex(&a, FUTEX_REQUEUE_PRIVATE, 1, VAL2(2), &b, 0);
    int d = wait_done(ws, 4, 1);
    long ra = futex(&a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    int da = wait_done(ws, 4, 2);
    long rb = futex(&b, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    int ok = join_waiters(ws, 4);
    printf("FUTEX_REQUEUE wake 1 requeue 2 of 4 waiters -> %ld (returned %d); "
           "WAKE first word -> %ld (returned %d); WAKE second word -> %ld; waits returned 0: %d/4\n",
           r, d, ra, da, rb, ok);
    CHECK(r == 3 && d == 1 && ra == 1 && da == 2 && rb == 2 && ok == 4);

    a = 0;
    b = 0;
    plain_waiters(ws, 3, &a, FUTEX_WAIT_PRIVATE);
    start_waiters(ws, 3);
    errno = 0;
    long rs = futex(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, VAL2(INT_MAX), &b, 7);
    int es = errno;
    long rc = futex(&a, FUTEX_CMP_REQUEUE_PRIVATE, 0, VAL2(INT_MAX), &b, 0);
    long ra2 = futex(&a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    int d0 = count_done(ws, 3);
    long rb1 = futex(&b, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    int d1 = wait_done(ws, 3, 1);
    long rb2 = futex(&b, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    ok = join_waiters(ws, 3);
    printf("FUTEX_CMP_REQUEUE expecting 7 on a word holding 0: %ld %s\n", rs, en(es));
    printf("FUTEX_CMP_REQUEUE wake 0 requeue all of 3 waiters -> %ld; WAKE first word -> %ld "
           "(returned %d); second word WAKE 1 -> %ld (returned %d), WAKE all -> %ld; "
           "waits returned 0: %d/3\n",
           rc, ra2, d0, rb1, d1, rb2, ok);
    CHECK(rs == -1 && es == EAGAIN);
    CHECK(rc == 3 && ra2 == 0 && d0 == 0 && rb1 == 1 && d1 == 1 && rb2 == 2 && ok == 3);
}

/* ---- 7. FUTEX_WAKE_OP */
static void wake_op(void)
{
    static uint32_t a, b;
    struct waiter ws[4];
    a = 0;
    b = 0;
    plain_waiters(ws, 4, &a, FUTEX_WAIT_PRIVATE);
    ws[2].addr = &b;
    ws[3].addr = &b;
    start_waiters(ws, 4);
    const uint32_t op = FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0);
    long r1 = futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), &b, op);
    wait_done(ws, 4, 2);
    int a1 = atomic_load(&ws[0].done) + atomic_load(&ws[1].done);
    int b1 = atomic_load(&ws[2].done) + atomic_load(&ws[3].done);
    uint32_t bv1 = __atomic_load_n(&b, __ATOMIC_SEQ_CST);
    long r2 = futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), &b, op);
    wait_done(ws, 4, 3);
    int a2 = atomic_load(&ws[0].done) + atomic_load(&ws[1].done);
    int b2 = atomic_load(&ws[2].done) + atomic_load(&ws[3].done);
    uint32_t bv2 = __atomic_load_n(&b, __ATOMIC_SEQ_CST);
    long r3 = futex(&b, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    int ok = join_waiters(ws, 4);
    printf("FUTEX_WAKE_OP (uaddr2 += 1; wake it if it was 0), 2 waiters on each word: "
           "-> %ld (woken %d + %d, uaddr2 now %u), again -> %ld (woken %d + %d, uaddr2 now %u), "
           "WAKE uaddr2 -> %ld; waits returned 0: %d/4\n",
           r1, a1, b1, bv1, r2, a2, b2, bv2, r3, ok);
    CHECK(r1 == 2 && a1 == 1 && b1 == 1 && bv1 == 1);
    CHECK(r2 == 1 && a2 == 2 && b2 == 1 && bv2 == 2);
    CHECK(r3 == 1 && ok == 4);
}

int main(void)
{
    t_init();
    static uint32_t priv;
    wait_wake("private", &priv, FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE);
    uint32_t *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shm != MAP_FAILED);
    if (shm == MAP_FAILED) return t_done();
    wait_wake("shared, in-process", &shm[0], FUTEX_WAIT, FUTEX_WAKE);
    cross_process(shm);
    wait_timeout();
    bitset_deadline("CLOCK_MONOTONIC", FUTEX_WAIT_BITSET_PRIVATE, CLOCK_MONOTONIC);
    bitset_deadline("FUTEX_CLOCK_REALTIME", FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, CLOCK_REALTIME);
    bitset_misc();
    wake_bitset();
    requeue();
    wake_op();
    return t_done();
}
