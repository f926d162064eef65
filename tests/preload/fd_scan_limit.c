/* fd_scan_limit: a program that looks at every descriptor it may have (0 .. RLIMIT_NOFILE-1, as
 * Python's subprocess does for close_fds and pass_fds) finds only its own. The runtime's
 * descriptors (the hub's epoll, eventfd, timerfd) once sat at 3/4 of the limit, inside that range;
 * they are now above the soft limit when the hard limit leaves room. The limit is lowered first,
 * before anything has made a hub. */
#include "t.h"
#include <fcntl.h>
#include <sys/resource.h>

static void *worker(void *arg)
{
    usleep(2000); /* a green wait: the hub exists from here on */
    return arg;
}

int main(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 1100) {
        printf("SKIP-equivalent: hard limit %ld too low to test\n", (long)rl.rlim_max);
        return 0;
    }
    rl.rlim_cur = 1024;
    setrlimit(RLIMIT_NOFILE, &rl);
    t_init();
    int before = 0;
    for (int fd = 3; fd < 1024; fd++) before += fcntl(fd, F_GETFD) >= 0;
    pthread_t th;
    pthread_create(&th, NULL, worker, NULL);
    usleep(5000);
    pthread_join(th, NULL);
    int after = 0;
    for (int fd = 3; fd < 1024; fd++) after += fcntl(fd, F_GETFD) >= 0;
    printf("descriptors in 3..1023 beyond those open at the start: %d\n", after - before);
    CHECK(after == before);
    return t_done();
}
