/* fd_scan_no_wait: a process that starts with its soft limit of descriptors equal to its hard one
 * (nothing above the range it may scan) and whose calls all complete at once finds only its own
 * descriptors in 0 .. RLIMIT_NOFILE-1. The runtime makes its hub's epoll, eventfd and timerfd at
 * the first wait that parks, not at the first hooked call: a child that reads a file and lists its
 * descriptors, as CPython's subprocess tests do (close_fds with the limit lowered, pass_fds), sees
 * none of them. The parent lowers both limits and re-executes itself, so the child starts that
 * way. */
#include "t.h"
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define LIMIT 1024

static int child(int inherited)
{
    t_init();
    char buf[256];
    int f = open("/proc/self/status", O_RDONLY);
    CHECK(f >= 0 && read(f, buf, sizeof buf) > 0);
    close(f);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(write(sv[0], "x", 1) == 1 && read(sv[1], buf, 1) == 1); /* completes at once */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int open_fds = 0;
    for (int fd = 3; fd < (int)rl.rlim_cur; fd++) open_fds += fcntl(fd, F_GETFD) >= 0;
    printf("limits equal: %s, descriptors open in 3..%d beyond the inherited: %d (the socket pair)\n",
           rl.rlim_cur == rl.rlim_max ? "yes" : "no", (int)rl.rlim_cur - 1, open_fds - inherited);
    CHECK(open_fds - inherited == 2);
    return t_done();
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "child") == 0) return child(atoi(argv[2]));
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < LIMIT) {
        printf("SKIP-equivalent: hard limit %ld below %d\n", (long)rl.rlim_max, LIMIT);
        return 0;
    }
    rl.rlim_cur = rl.rlim_max = LIMIT;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("setrlimit");
        return 1;
    }
    /* What the child inherits from whoever started the test (the runtime's are close-on-exec). */
    int inherited = 0;
    for (int fd = 3; fd < LIMIT; fd++) {
        int fl = fcntl(fd, F_GETFD);
        inherited += fl >= 0 && !(fl & FD_CLOEXEC);
    }
    char n[16];
    snprintf(n, sizeof n, "%d", inherited);
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "child", n, (char *)NULL);
    perror("execl");
    return 1;
}
