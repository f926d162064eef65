/* tls_strerror_locale: libc state kept in each thread's TLS. (1) strerror() of
 * an unknown error number formats into a per-thread buffer: 8 threads each
 * take strerror(1000 + i), yield while the others do the same, and must find
 * their own string still in their buffer. (2) uselocale() is per thread: a
 * thread that installs newlocale(LC_ALL_MASK, "C") keeps it across a yield,
 * while another thread's uselocale(0) stays LC_GLOBAL_LOCALE before and after
 * its own yield (and main's too). */
#include "t.h"
#include <locale.h>
#include <sched.h>

#define NTHREADS 8

static pthread_barrier_t all_formatted;
static int str_ok[NTHREADS], str_initial_ok[NTHREADS];

static void *formatter(void *p)
{
    int id = (int)(intptr_t)p;
    char want[64];
    snprintf(want, sizeof want, "Unknown error %d", 1000 + id);
    const char *s = strerror(1000 + id);
    str_initial_ok[id] = strcmp(s, want) == 0;
    pthread_barrier_wait(&all_formatted); /* every thread has formatted its own */
    sched_yield();
    usleep(1000);
    str_ok[id] = strcmp(s, want) == 0;
    pthread_barrier_wait(&all_formatted); /* keep all buffers alive until checked */
    return NULL;
}

static atomic_int installed, other_checked;
static locale_t c_loc;
static int own_kept = -1, own_set = -1, other_before = -1, other_after = -1;

static void *installer(void *p)
{
    (void)p;
    uselocale(c_loc);
    own_set = uselocale((locale_t)0) == c_loc;
    atomic_store(&installed, 1);
    for (int i = 0; i < 5000 && !atomic_load(&other_checked); i++)
        usleep(1000); /* the other thread checks its own meanwhile */
    sched_yield();
    own_kept = uselocale((locale_t)0) == c_loc;
    uselocale(LC_GLOBAL_LOCALE);
    return NULL;
}

static void *other(void *p)
{
    (void)p;
    for (int i = 0; i < 5000 && !atomic_load(&installed); i++) usleep(1000);
    other_before = uselocale((locale_t)0) == LC_GLOBAL_LOCALE;
    sched_yield();
    usleep(1000);
    other_after = uselocale((locale_t)0) == LC_GLOBAL_LOCALE;
    atomic_store(&other_checked, 1);
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
    pthread_barrier_init(&all_formatted, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&th[i], NULL, formatter, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < NTHREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    int n0 = 0, n1 = 0;
    for (int i = 0; i < NTHREADS; i++) {
        n0 += str_initial_ok[i];
        n1 += str_ok[i];
    }
    printf("strerror(1000+i) right when formatted: %d/%d\n", n0, NTHREADS);
    printf("strerror(1000+i) string kept across a yield: %d/%d\n", n1, NTHREADS);
    CHECK(n0 == NTHREADS && n1 == NTHREADS);

    c_loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    CHECK(c_loc != (locale_t)0);
    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, installer, NULL) == 0);
    CHECK(pthread_create(&b, NULL, other, NULL) == 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("installer: uselocale(0) is its locale after uselocale: %s, after yields: %s\n",
           own_set == 1 ? "yes" : "no", own_kept == 1 ? "yes" : "no");
    printf("other thread: uselocale(0) is LC_GLOBAL_LOCALE before its yield: %s, after: %s\n",
           other_before == 1 ? "yes" : "no", other_after == 1 ? "yes" : "no");
    int main_global = uselocale((locale_t)0) == LC_GLOBAL_LOCALE;
    printf("main: uselocale(0) is LC_GLOBAL_LOCALE: %s\n", main_global ? "yes" : "no");
    CHECK(own_set == 1 && own_kept == 1 && other_before == 1 && other_after == 1);
    CHECK(main_global);
    freelocale(c_loc);
    return t_done();
}
