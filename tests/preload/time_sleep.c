/* time_sleep: sleep/usleep/nanosleep/clock_nanosleep must keep exact libc
 * semantics when turned into fiber waits: durations honoured (relative and
 * TIMER_ABSTIME, CLOCK_MONOTONIC and CLOCK_REALTIME), EINVAL for bad
 * timespecs, clock_nanosleep returning the error number (errno untouched),
 * `rem` written only on EINTR (and never for TIMER_ABSTIME), sleep() returning
 * the unslept seconds, and EINTR even with SA_RESTART (sleeps never restart).
 */
#include "t.h"
#include <signal.h>
#include <sys/time.h>

static volatile sig_atomic_t hits;
static void on_alrm(int s)
{
    (void)s;
    hits++;
}

static void arm_ms(int ms)
{
    struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void handler(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    hits = 0;
}

static double ts_s(struct timespec t)
{
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    t_init();
    double t0, el;
    int rc;

    /* sleep */
    printf("sleep(0) = %u\n", sleep(0));
    t0 = now_s();
    unsigned u = sleep(1);
    el = now_s() - t0;
    printf("sleep(1) = %u\n", u);
    CHECK(el >= 0.99 && el < 3.0);

    /* usleep */
    t0 = now_s();
    rc = usleep(150000);
    el = now_s() - t0;
    printf("usleep(150000) = %d\n", rc);
    CHECK(rc == 0 && el >= 0.149 && el < 1.5);
    printf("usleep(0) = %d\n", usleep(0));

    /* nanosleep: success leaves rem untouched */
    struct timespec req = {0, 120000000}, rem = {77, 77};
    t0 = now_s();
    rc = nanosleep(&req, &rem);
    el = now_s() - t0;
    printf("nanosleep(120ms) = %d rem untouched: %s\n", rc,
           rem.tv_sec == 77 && rem.tv_nsec == 77 ? "yes" : "no");
    CHECK(rc == 0 && el >= 0.119 && el < 1.5);
    req.tv_sec = 0;
    req.tv_nsec = 0;
    printf("nanosleep(0) = %d\n", nanosleep(&req, NULL));

    /* nanosleep invalid arguments */
    struct timespec bad[3] = {{0, 1000000000L}, {0, -1}, {-1, 0}};
    for (int i = 0; i < 3; i++) {
        errno = 0;
        t0 = now_s();
        rc = nanosleep(&bad[i], NULL);
        el = now_s() - t0;
        printf("nanosleep(bad%d) = %d %s\n", i, rc, en(errno));
        CHECK(rc == -1 && errno == EINVAL && el < 0.5);
    }

    /* clock_nanosleep relative */
    clockid_t clks[2] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
    const char *cn[2] = {"MONOTONIC", "REALTIME"};
    for (int i = 0; i < 2; i++) {
        req.tv_sec = 0;
        req.tv_nsec = 100000000;
        t0 = now_s();
        rc = clock_nanosleep(clks[i], 0, &req, NULL);
        el = now_s() - t0;
        printf("clock_nanosleep(%s, rel 100ms) = %d\n", cn[i], rc);
        CHECK(rc == 0 && el >= 0.099 && el < 1.5);
    }
    /* clock_nanosleep absolute: when it returns, the clock is past the target */
    for (int i = 0; i < 2; i++) {
        struct timespec target = abs_in(clks[i], 150), after;
        t0 = now_s();
        rc = clock_nanosleep(clks[i], TIMER_ABSTIME, &target, NULL);
        el = now_s() - t0;
        clock_gettime(clks[i], &after);
        printf("clock_nanosleep(%s, abs +150ms) = %d reached: %s\n", cn[i], rc,
               ts_s(after) >= ts_s(target) ? "yes" : "no");
        CHECK(rc == 0 && el >= 0.140 && el < 1.5);
    }
    /* absolute time in the past returns at once */
    struct timespec past = abs_in(CLOCK_MONOTONIC, 0);
    past.tv_sec -= 5;
    t0 = now_s();
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
    printf("clock_nanosleep(abs past) = %d immediate: %s\n", rc, now_s() - t0 < 0.05 ? "yes" : "no");

    /* clock_nanosleep returns the error number and leaves errno alone */
    req.tv_sec = 0;
    req.tv_nsec = 1000000000L;
    errno = 0;
    rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
    printf("clock_nanosleep(nsec=1e9) = %s errno=%s\n", en(rc), en(errno));
    CHECK(rc == EINVAL && errno == 0);
    req.tv_nsec = 1000;
    errno = 0;
    rc = clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL);
    printf("clock_nanosleep(THREAD_CPUTIME) = %s errno=%s\n", en(rc), en(errno));
    CHECK(rc == EINVAL && errno == 0);
    rc = clock_nanosleep((clockid_t)12345, 0, &req, NULL);
    printf("clock_nanosleep(bogus clock) = %s\n", en(rc));
    CHECK(rc == EINVAL);

    /* EINTR: nanosleep is never restarted, with or without SA_RESTART */
    int flagsv[2] = {0, SA_RESTART};
    for (int i = 0; i < 2; i++) {
        handler(flagsv[i]);
        req.tv_sec = 1;
        req.tv_nsec = 0;
        rem.tv_sec = 77;
        rem.tv_nsec = 77;
        arm_ms(100);
        t0 = now_s();
        errno = 0;
        rc = nanosleep(&req, &rem);
        el = now_s() - t0;
        double r = ts_s(rem);
        printf("nanosleep(1s) sigalrm@100ms %s = %d %s hits=%d rem in (0.5,1.0): %s\n",
               i ? "SA_RESTART" : "no-restart", rc, en(errno), (int)hits, r > 0.5 && r < 1.0 ? "yes" : "no");
        CHECK(rc == -1 && errno == EINTR && el >= 0.09 && el < 0.9);
    }
    /* clock_nanosleep relative: EINTR with rem; absolute: EINTR, rem untouched */
    handler(SA_RESTART);
    req.tv_sec = 1;
    req.tv_nsec = 0;
    rem.tv_sec = 77;
    rem.tv_nsec = 77;
    arm_ms(100);
    rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
    printf("clock_nanosleep(rel 1s) interrupted = %s rem in (0.5,1.0): %s\n", en(rc),
           ts_s(rem) > 0.5 && ts_s(rem) < 1.0 ? "yes" : "no");
    CHECK(rc == EINTR);
    struct timespec target = abs_in(CLOCK_MONOTONIC, 1000);
    rem.tv_sec = 77;
    rem.tv_nsec = 77;
    arm_ms(100);
    t0 = now_s();
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, &rem);
    el = now_s() - t0;
    printf("clock_nanosleep(abs +1s) interrupted = %s rem untouched: %s\n", en(rc),
           rem.tv_sec == 77 && rem.tv_nsec == 77 ? "yes" : "no");
    CHECK(rc == EINTR && el < 0.9);

    /* sleep() interrupted returns the unslept seconds (glibc truncates: 1.9 s -> 1) */
    handler(0);
    arm_ms(100);
    u = sleep(2);
    printf("sleep(2) interrupted = %u hits=%d\n", u, (int)hits);
    CHECK(u == 1 && hits == 1);
    /* usleep interrupted */
    handler(SA_RESTART);
    arm_ms(100);
    errno = 0;
    rc = usleep(1000000);
    printf("usleep(1s) interrupted = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == EINTR);

    signal(SIGALRM, SIG_DFL);
    alarm(30);
    return t_done();
}
