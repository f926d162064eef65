/* tls_many: many short-lived threads, each with a fresh TLS block. 20,000
 * threads are created and joined in batches of 1000; each checks that its
 * `__thread` variable starts at its initializer (a reused TLS block must be
 * re-initialized), sets it, and mallocs/frees 100 bytes (malloc keeps its
 * per-thread arena/tcache pointers in TLS). Natively a create+join costs about
 * 115 us on the 2-core test machine, several times that under load: 20,000 keep
 * the native run short. preload_only_tls_million.c runs the same with 1,000,000
 * green threads (about 2 s). Prints "ok"
 * counts and an RSS verdict: VmRSS is read after the first 10% and at the end,
 * "flat" if the end is below the first reading + 20 MiB (no per-thread leak). */
#include "t.h"

#ifndef NTOTAL
#define NTOTAL 20000
#endif
#define BATCH 1000

static __thread int touched = 7;

static void *worker(void *p)
{
    int ok = touched == 7;
    touched = (int)(intptr_t)p;
    char *m = malloc(100);
    if (!m) return (void *)0;
    memset(m, touched, 100);
    ok = ok && m[99] == (char)touched && touched == (int)(intptr_t)p;
    free(m);
    return (void *)(intptr_t)ok;
}

static long vm_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

int main(void)
{
    t_init();
    alarm(55); /* longer than t_init's 30 s: a loaded machine, under the runner's 60 s */
    static pthread_t th[BATCH];
    long created = 0, fresh = 0, failed_create = 0, rss_first = -1;
    for (int b = 0; b < NTOTAL / BATCH; b++) {
        int n = 0;
        for (int i = 0; i < BATCH; i++) {
            if (pthread_create(&th[n], NULL, worker, (void *)(intptr_t)(b * BATCH + i + 100)) == 0) n++;
            else failed_create++;
        }
        for (int i = 0; i < n; i++) {
            void *rv = NULL;
            if (pthread_join(th[i], &rv) == 0 && rv == (void *)1) fresh++;
        }
        created += n;
        if (b + 1 == NTOTAL / BATCH / 10) rss_first = vm_rss_kib();
    }
    long rss_end = vm_rss_kib();
    printf("threads created and joined: %ld (failed creates: %ld)\n", created, failed_create);
    printf("threads that saw a fresh __thread and their own malloc: %ld\n", fresh);
    CHECK(created == NTOTAL && fresh == NTOTAL);
    int flat = rss_first > 0 && rss_end > 0 && rss_end < rss_first + 20 * 1024;
    printf("rss from 10%% to the end: %s\n", flat ? "flat" : "grew");
    if (!flat) fprintf(stderr, "VmRSS %ld kB after 10%%, %ld kB at the end\n", rss_first, rss_end);
    CHECK(flat);
    printf("%s\n", t_failed ? "not ok" : "ok");
    return t_done();
}
