/* futex_waitv: threads that wait on several futex words at once with
 * syscall(SYS_futex_waitv, ...) (Linux 5.16+; Wine/Proton's fsync waits so), woken by
 * FUTEX_WAKE through syscall(SYS_futex, ...). Under libgreen a futex_waitv that reaches
 * the kernel blocks the one OS thread (hand-off is off here, so nothing moves the hub
 * away): each wait must park only its green thread, return the index of the word woken,
 * and keep the kernel's timeouts, EAGAIN, EINTR and argument errors. Checked:
 *  1. five waiters on different, overlapping sets of private words ({a0,a1}, {a1,a2,a3},
 *     {a3,a4} with a +5 s CLOCK_REALTIME deadline, {a5,a5}, 128 words b[]), a ticker ticking
 *     while all wait; WAKE a2 (1) -> 1, the second waiter returns index 1; WAKE a1 (all) -> 1,
 *     the first returns 1; WAKE a0 -> 0; another thread's WAKE a4 -> 1, the third returns 1
 *     before its deadline; WAKE a5 (1) -> 1, {a5,a5} returns 0, WAKE a5 again -> 0; WAKE
 *     b[127] -> 1, the 128-word wait returns 127;
 *  2. a shared word (no FUTEX_PRIVATE_FLAG, MAP_SHARED) beside a private one, woken by a
 *     fork child's FUTEX_WAKE: the child's WAKE returns 1, the wait returns index 1, the
 *     ticker ticked meanwhile;
 *  3. timeouts: +100 ms absolute on CLOCK_MONOTONIC and on CLOCK_REALTIME -> ETIMEDOUT
 *     after the deadline (ticker ticks); a deadline 1 s ago -> ETIMEDOUT at once, but
 *     EAGAIN when a word differs (values are compared first);
 *  4. EAGAIN at once when the second of two words differs;
 *  5. EINTR: a waiter sent SIGUSR1 (handler without SA_RESTART) returns -1 EINTR;
 *  6. the kernel's argument errors, in its order: nr 0 / 129, flags, NULL or bad vector,
 *     reserved, waiter flags (no size, u8, u64, unknown bit), a value above 32 bits,
 *     misaligned or NULL or unmapped word (EFAULT only when reached: EAGAIN if an earlier
 *     word differs), bad clock (ignored without a timeout), bad tv_nsec, bad timeout
 *     pointer, a bad entry at index 127 of 128.
 * Output: counts, indexes and errno names only. */
#include "t.h"
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define PRIV (FUTEX_32 | FUTEX_PRIVATE_FLAG)
#define NMAX 128

static long waitv(struct futex_waitv *v, unsigned long nr, unsigned long flags, const struct timespec *ts,
                  long clk)
{
    return syscall(SYS_futex_waitv, v, nr, flags, ts, clk);
}

static long wake(uint32_t *w, int op, int n)
{
    return syscall(SYS_futex, w, op, n, NULL, NULL, 0);
}

static struct futex_waitv ent(uint32_t *w, uint64_t val, uint32_t flags)
{
    struct futex_waitv e = {val, (uint64_t)(uintptr_t)w, flags, 0};
    return e;
}

/* ---- a waiter thread: one futex_waitv, its result kept */
struct vwaiter {
    struct futex_waitv v[NMAX];
    unsigned nr;
    const struct timespec *ts;
    clockid_t clk;
    pthread_t th;
    long ret;
    int err;
    atomic_int started, done;
};

static void *vwaiter_main(void *p)
{
    struct vwaiter *w = p;
    atomic_store(&w->started, 1);
    errno = 0;
    w->ret = waitv(w->v, w->nr, 0, w->ts, w->clk);
    w->err = w->ret == -1 ? errno : 0;
    atomic_store(&w->done, 1);
    return NULL;
}

static void start(struct vwaiter *w)
{
    atomic_store(&w->started, 0);
    atomic_store(&w->done, 0);
    CHECK(pthread_create(&w->th, NULL, vwaiter_main, w) == 0);
    for (int k = 0; k < 2000 && !atomic_load(&w->started); k++) usleep(1000);
}

/* Waits (at most 2 s) until w has returned; 1 if it did. */
static int wait_done(struct vwaiter *w)
{
    for (int k = 0; k < 2000 && !atomic_load(&w->done); k++) usleep(1000);
    return atomic_load(&w->done);
}

static const char *yesno(int b)
{
    return b ? "yes" : "no";
}

/* ---- 1. several waiters, different sets of words */
static uint32_t a[6], b[NMAX];
static long waker_ret;

static void *waker_main(void *p)
{
    (void)p;
    msleep(20);
    waker_ret = wake(&a[4], FUTEX_WAKE_PRIVATE, 1);
    return NULL;
}

static void sets(void)
{
    static struct vwaiter w[5];
    memset(w, 0, sizeof w);
    w[0].v[0] = ent(&a[0], 0, PRIV);
    w[0].v[1] = ent(&a[1], 0, PRIV);
    w[0].nr = 2;
    w[1].v[0] = ent(&a[1], 0, PRIV);
    w[1].v[1] = ent(&a[2], 0, PRIV);
    w[1].v[2] = ent(&a[3], 0, PRIV);
    w[1].nr = 3;
    struct timespec dl = abs_in(CLOCK_REALTIME, 5000);
    w[2].v[0] = ent(&a[3], 0, PRIV);
    w[2].v[1] = ent(&a[4], 0, PRIV);
    w[2].nr = 2;
    w[2].ts = &dl;
    w[2].clk = CLOCK_REALTIME;
    w[3].v[0] = ent(&a[5], 0, PRIV);
    w[3].v[1] = ent(&a[5], 0, PRIV);
    w[3].nr = 2;
    for (int i = 0; i < NMAX; i++) w[4].v[i] = ent(&b[i], 0, PRIV);
    w[4].nr = NMAX;

    ticker_start();
    int t0 = atomic_load(&ticks);
    for (int i = 0; i < 5; i++) start(&w[i]);
    msleep(60);
    int t1 = atomic_load(&ticks);
    int none = 1;
    for (int i = 0; i < 5; i++) none &= !atomic_load(&w[i].done);
    printf("5 futex_waitv waiters asleep: %s, ticker ran meanwhile: %s\n", yesno(none), yesno(t1 - t0 >= 3));
    CHECK(none && t1 - t0 >= 3);

    long r1 = wake(&a[2], FUTEX_WAKE_PRIVATE, 1);
    int d1 = wait_done(&w[1]);
    msleep(10);
    int others1 =
        atomic_load(&w[0].done) + atomic_load(&w[2].done) + atomic_load(&w[3].done) + atomic_load(&w[4].done);
    printf("WAKE a2 (1) -> %ld; waiter {a1,a2,a3} -> %ld (errno %s), returned: %s, others still "
           "waiting: %s\n",
           r1, w[1].ret, en(w[1].err), yesno(d1), yesno(others1 == 0));
    CHECK(r1 == 1 && d1 && w[1].ret == 1 && others1 == 0);

    long r2 = wake(&a[1], FUTEX_WAKE_PRIVATE, INT_MAX);
    int d2 = wait_done(&w[0]);
    long r3 = wake(&a[0], FUTEX_WAKE_PRIVATE, INT_MAX);
    printf("WAKE a1 (all) -> %ld; waiter {a0,a1} -> %ld, returned: %s; WAKE a0 -> %ld\n", r2, w[0].ret,
           yesno(d2), r3);
    CHECK(r2 == 1 && d2 && w[0].ret == 1 && r3 == 0);

    double s0 = now_s();
    pthread_t wk;
    CHECK(pthread_create(&wk, NULL, waker_main, NULL) == 0);
    pthread_join(wk, NULL);
    int d3 = wait_done(&w[2]);
    printf("another thread's WAKE a4 (1) -> %ld; waiter {a3,a4} +5 s -> %ld (errno %s), before "
           "its deadline: %s\n",
           waker_ret, w[2].ret, en(w[2].err), yesno(d3 && now_s() - s0 < 2.5));
    CHECK(waker_ret == 1 && d3 && w[2].ret == 1 && now_s() - s0 < 2.5);

    long r4 = wake(&a[5], FUTEX_WAKE_PRIVATE, 1);
    int d4 = wait_done(&w[3]);
    long r5 = wake(&a[5], FUTEX_WAKE_PRIVATE, INT_MAX);
    printf("WAKE a5 (1) -> %ld; waiter {a5,a5} -> %ld, returned: %s; WAKE a5 again -> %ld\n", r4, w[3].ret,
           yesno(d4), r5);
    CHECK(r4 == 1 && d4 && w[3].ret == 0 && r5 == 0);

    long r6 = wake(&b[NMAX - 1], FUTEX_WAKE_PRIVATE, 1);
    int d5 = wait_done(&w[4]);
    printf("WAKE b[127] (1) -> %ld; waiter on 128 words -> %ld, returned: %s\n", r6, w[4].ret, yesno(d5));
    CHECK(r6 == 1 && d5 && w[4].ret == NMAX - 1);

    for (int i = 0; i < 5; i++) pthread_join(w[i].th, NULL);
    ticker_stop();
}

/* ---- 2. a shared word woken by another process */
static void shared_across_fork(uint32_t *shm)
{
    static uint32_t priv;
    shm[0] = 0;
    shm[1] = 99;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        msleep(100);
        long n = wake(&shm[0], FUTEX_WAKE, 1);
        shm[1] = (uint32_t)n;
        _exit(0);
    }
    CHECK(pid > 0);
    ticker_start();
    int t0 = atomic_load(&ticks);
    struct futex_waitv v[2] = {ent(&priv, 0, PRIV), ent(&shm[0], 0, FUTEX_32)};
    errno = 0;
    long r = waitv(v, 2, 0, NULL, 0);
    int e = r == -1 ? errno : 0;
    int t1 = atomic_load(&ticks);
    ticker_stop();
    int st = 0;
    waitpid(pid, &st, 0);
    printf("{private, shared} woken by a fork child's WAKE: wait -> %ld (errno %s), child's WAKE "
           "-> %d, ticker ran meanwhile: %s\n",
           r, en(e), (int)shm[1], yesno(t1 - t0 >= 3));
    CHECK(r == 1 && (int)shm[1] == 1 && t1 - t0 >= 3 && WIFEXITED(st));
}

/* ---- 3. timeouts, 4. EAGAIN */
static void timeout(const char *label, clockid_t clk)
{
    static uint32_t c[2];
    struct futex_waitv v[2] = {ent(&c[0], 0, PRIV), ent(&c[1], 0, PRIV)};
    struct timespec dl = abs_in(clk, 100);
    ticker_start();
    int t0 = atomic_load(&ticks);
    double s0 = now_s();
    errno = 0;
    long r = waitv(v, 2, 0, &dl, clk);
    int e = errno;
    double el = now_s() - s0;
    int t1 = atomic_load(&ticks);
    ticker_stop();
    printf("%s deadline +100 ms: %ld %s, after the deadline: %s, ticker ran meanwhile: %s\n", label, r, en(e),
           yesno(el >= 0.099 && el < 2), yesno(t1 - t0 >= 3));
    CHECK(r == -1 && e == ETIMEDOUT && el >= 0.099 && el < 2 && t1 - t0 >= 3);
}

static void past_and_eagain(void)
{
    static uint32_t c[2];
    c[1] = 5;
    struct futex_waitv v[2] = {ent(&c[0], 0, PRIV), ent(&c[1], 5, PRIV)};
    struct timespec past;
    clock_gettime(CLOCK_MONOTONIC, &past);
    past.tv_sec -= 1;
    ticker_start(); /* another green thread: the waits below are green ones */
    double s0 = now_s();
    errno = 0;
    long r = waitv(v, 2, 0, &past, CLOCK_MONOTONIC);
    int e = errno;
    printf("deadline 1 s ago: %ld %s, at once: %s\n", r, en(e), yesno(now_s() - s0 < 0.05));
    CHECK(r == -1 && e == ETIMEDOUT && now_s() - s0 < 0.05);

    v[1].val = 4;
    s0 = now_s();
    errno = 0;
    r = waitv(v, 2, 0, &past, CLOCK_MONOTONIC);
    e = errno;
    printf("deadline 1 s ago, second word differs: %ld %s\n", r, en(e));
    CHECK(r == -1 && e == EAGAIN);

    s0 = now_s();
    errno = 0;
    r = waitv(v, 2, 0, NULL, 0);
    e = errno;
    printf("second word holds 5, expected 4: %ld %s, at once: %s\n", r, en(e), yesno(now_s() - s0 < 0.05));
    CHECK(r == -1 && e == EAGAIN && now_s() - s0 < 0.05);
    ticker_stop();
}

/* ---- 5. EINTR */
static void on_usr1(int sig)
{
    (void)sig;
}

static void eintr(void)
{
    static struct vwaiter w;
    static uint32_t c;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);
    memset(&w, 0, sizeof w);
    w.v[0] = ent(&c, 0, PRIV);
    w.nr = 1;
    start(&w);
    msleep(50);
    int early = atomic_load(&w.done);
    pthread_kill(w.th, SIGUSR1);
    int d = wait_done(&w);
    printf("SIGUSR1 (no SA_RESTART) to a waiter: returned: %s, -> %ld %s\n", yesno(d && !early), w.ret,
           en(w.err));
    CHECK(d && !early && w.ret == -1 && w.err == EINTR);
    if (!d) wake(&c, FUTEX_WAKE_PRIVATE, INT_MAX);
    pthread_join(w.th, NULL);
}

/* ---- 6. argument errors */
static void report(const char *what, long r)
{
    int e = errno;
    printf("  %-44s %ld %s\n", what, r, r == -1 ? en(e) : "0");
}

static void args(void)
{
    static uint32_t c[2];
    static struct futex_waitv big[NMAX + 1];
    c[0] = 0;
    c[1] = 3;
    struct futex_waitv v[2];
    struct timespec soon = {0, 0};
    void *unmapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(unmapped != MAP_FAILED);
    munmap(unmapped, 4096);
#define RESET() (v[0] = ent(&c[0], 0, PRIV), v[1] = ent(&c[1], 3, PRIV))
#define TRY(what, call)                                                                                      \
    do {                                                                                                     \
        errno = 0;                                                                                           \
        long r_ = (call);                                                                                    \
        report(what, r_);                                                                                    \
    } while (0)
    ticker_start();
    printf("argument errors (a deadline already passed, so valid ones time out):\n");
    clock_gettime(CLOCK_MONOTONIC, &soon);
    RESET();
    TRY("valid", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    TRY("nr 0", waitv(v, 0, 0, &soon, CLOCK_MONOTONIC));
    TRY("nr 129", waitv(big, 129, 0, &soon, CLOCK_MONOTONIC));
    TRY("nr 1 + 2^32 (the kernel reads 32 bits)", waitv(v, (1UL << 32) + 1, 0, &soon, CLOCK_MONOTONIC));
    TRY("flags 1", waitv(v, 2, 1, &soon, CLOCK_MONOTONIC));
    TRY("flags 1, nr 0", waitv(v, 0, 1, &soon, CLOCK_MONOTONIC));
    TRY("vector NULL", waitv(NULL, 2, 0, &soon, CLOCK_MONOTONIC));
    TRY("vector unmapped", waitv(unmapped, 2, 0, &soon, CLOCK_MONOTONIC));
    TRY("vector unmapped, tv_nsec 1e9",
        waitv(unmapped, 2, 0, &(struct timespec){0, 1000000000L}, CLOCK_MONOTONIC));
    v[1].__reserved = 1;
    TRY("reserved 1", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    RESET();
    v[1].flags = 0;
    TRY("waiter flags 0", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    v[1].flags = FUTEX_PRIVATE_FLAG;
    TRY("waiter flags PRIVATE (size u8)", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    v[1].flags = 3 | FUTEX_PRIVATE_FLAG;
    TRY("waiter flags u64", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    v[1].flags = PRIV | 0x100;
    TRY("waiter flags unknown bit 0x100", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    RESET();
    v[1].val = 3 | (1ULL << 32);
    TRY("value above 32 bits", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    RESET();
    v[1].uaddr += 1;
    TRY("word misaligned", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    RESET();
    v[1].uaddr = 0;
    TRY("word NULL", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    RESET();
    v[1].uaddr = (uint64_t)(uintptr_t)unmapped;
    TRY("word unmapped", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    v[0].val = 1;
    TRY("word unmapped after one that differs", waitv(v, 2, 0, &soon, CLOCK_MONOTONIC));
    RESET();
    TRY("clock CLOCK_BOOTTIME", waitv(v, 2, 0, &soon, CLOCK_BOOTTIME));
    v[0].val = 1;
    TRY("clock CLOCK_BOOTTIME, no timeout, differs", waitv(v, 2, 0, NULL, CLOCK_BOOTTIME));
    RESET();
    TRY("tv_nsec 1e9", waitv(v, 2, 0, &(struct timespec){0, 1000000000L}, CLOCK_MONOTONIC));
    TRY("tv_sec -1", waitv(v, 2, 0, &(struct timespec){-1, 0}, CLOCK_MONOTONIC));
    TRY("timeout unmapped", waitv(v, 2, 0, unmapped, CLOCK_MONOTONIC));
    TRY("CLOCK_REALTIME, timeout unmapped, nr 0", waitv(v, 0, 0, unmapped, CLOCK_REALTIME));
    static uint32_t bw[NMAX];
    for (int i = 0; i < NMAX; i++) big[i] = ent(&bw[i], 0, PRIV);
    TRY("128 waiters, valid", waitv(big, NMAX, 0, &soon, CLOCK_MONOTONIC));
    big[NMAX - 1].flags = 0;
    TRY("128 waiters, index 127 flags 0", waitv(big, NMAX, 0, &soon, CLOCK_MONOTONIC));
    big[NMAX - 1].flags = PRIV;
    big[0].val = 1;
    TRY("128 waiters, index 0 differs", waitv(big, NMAX, 0, &soon, CLOCK_MONOTONIC));
    TRY("128 waiters, index 0 differs, tv_nsec -1",
        waitv(big, NMAX, 0, &(struct timespec){0, -1}, CLOCK_MONOTONIC));
    ticker_stop();
}

int main(void)
{
    /* A blocked OS thread must not be rescued by hand-off: the waits themselves must park. */
    setenv("GREEN_HANDOFF", "off", 1);
    t_init();
    uint32_t probe = 1;
    struct futex_waitv pv = ent(&probe, 0, PRIV);
    if (syscall(SYS_futex_waitv, &pv, 1, 0, NULL, 0) == -1 && errno == ENOSYS) {
        printf("futex_waitv: not in this kernel (before 5.16)\n");
        return t_done();
    }
    sets();
    uint32_t *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shm != MAP_FAILED);
    if (shm != MAP_FAILED) shared_across_fork(shm);
    timeout("CLOCK_MONOTONIC", CLOCK_MONOTONIC);
    timeout("CLOCK_REALTIME", CLOCK_REALTIME);
    past_and_eagain();
    eintr();
    args();
    return t_done();
}
