/* preload_only_thread_names: the runtime's own OS threads say what they are. With two hubs (one
 * more OS thread), a hand-off (a thread computing 60 ms without a call: the hand-off monitor,
 * a carrier) and a name lookup (the resolver thread), every OS thread of the process but the
 * main one has a name that starts with "green-" (green-hub1, green-monitor, green-carrier,
 * green-dns): in top, gdb and /proc they are not mistaken for the program's. */
#include "t.h"

#include <dirent.h>
#include <netdb.h>

static void *compute(void *arg)
{
    double until = now_s() + 0.06;
    volatile unsigned long x = 0;
    while (now_s() < until) x++; /* clock_gettime: the vDSO, no hook */
    return arg;
}

static void *nap(void *arg)
{
    usleep(100000);
    return arg;
}

int main(void)
{
    t_init();
    pthread_t t[3];
    CHECK(pthread_create(&t[0], NULL, compute, NULL) == 0);
    CHECK(pthread_create(&t[1], NULL, nap, NULL) == 0);
    CHECK(pthread_create(&t[2], NULL, nap, NULL) == 0);
    struct addrinfo *res = NULL;
    if (getaddrinfo("localhost", NULL, NULL, &res) == 0) freeaddrinfo(res);
    usleep(50000);
    int others = 0, unnamed = 0;
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == getpid()) continue;
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
        fclose(f);
        others++;
        fprintf(stderr, "thread_names: %s %s\n", e->d_name, comm);
        if (strncmp(comm, "green-", 6) != 0) unnamed++;
    }
    if (d) closedir(d);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    printf("the runtime's OS threads (%s): each named green-*: %s\n", others ? "some" : "none seen",
           unnamed ? "no" : "yes");
    CHECK(others > 0);
    CHECK(unnamed == 0);
    return t_done();
}
