/* preload_only_monitor_quiet: the hand-off monitor costs a lone busy thread nothing but its looks.
 * Once a thread was made (the monitor starts), the main thread computes alone for 300 ms without a
 * call that could switch, as a busy event loop does between its epoll_waits. Its hub has one live
 * green thread: nothing waits for it, so there is nothing to hand off or report, and the monitor
 * must not read /proc about it at each look (the monitor's read system calls, syscr of its
 * /proc/self/task/TID/io, stay as they were; it used to read /proc/TID/stat every 2.5 ms once the
 * computation passed the 10 ms threshold: about 115 reads). */
#include "t.h"

#include <dirent.h>

static void *nothing(void *arg)
{
    return arg;
}

/* The tid of the OS thread named green-monitor, or 0. */
static int monitor_tid(void)
{
    int tid = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[96], name[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(name, sizeof name, f) && strncmp(name, "green-monitor", 13) == 0) tid = atoi(e->d_name);
        fclose(f);
    }
    if (d) closedir(d);
    return tid;
}

/* The read system calls the OS thread tid has made, or -1. */
static long reads_of(int tid)
{
    char path[96], line[128];
    snprintf(path, sizeof path, "/proc/self/task/%d/io", tid);
    FILE *f = fopen(path, "r");
    long n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "syscr: %ld", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

int main(void)
{
    t_init();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, nothing, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    msleep(20); /* the monitor's first looks */
    const int tid = monitor_tid();
    printf("monitor thread found: %s\n", tid ? "yes" : "no");
    CHECK(tid != 0);
    const long before = reads_of(tid);
    CHECK(before >= 0);
    double until = now_s() + 0.3;
    volatile unsigned long x = 0;
    while (now_s() < until) x++; /* clock_gettime: the vDSO, no hook */
    const long after = reads_of(tid);
    printf("monitor's reads while the lone thread computed 300 ms: %ld\n", after - before);
    CHECK(after - before < 5);
    return t_done();
}
