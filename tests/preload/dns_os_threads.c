/* dns_os_threads: name lookups cost at most one OS thread while they run, and none once idle.
 *
 * The program creates no thread of its own (so no hand-off monitor either: it starts with the
 * first pthread_create; nor GREEN_DEBUG's stall monitor, when run as the tests run it), so
 * natively it is always 1 OS thread. It does one getaddrinfo while a
 * forked child samples the parent's /proc/PID/task every 10 ms; then it counts its own
 * /proc/self/task every 100 ms until only its main thread is left (8 s at most: the runtime's
 * resolver thread ends after 3 s idle); then it looks a name up again (the thread starts anew).
 * What it prints is the count beyond what is allowed (1 extra during the lookup, 0 once idle),
 * never below 0: natively and preloaded alike, "0".
 *
 * With GREEN_TEST_FAKE_DNS=1 (tests/preload/dns_slow.sh: a server answering after 2 s) the first
 * lookup is h7.test from that server, so the sampling sees a lookup that waits; otherwise
 * (the generic runner) it is localhost from /etc/hosts. */
#include "t.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

static int os_threads(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void lookup(const char *name)
{
    struct addrinfo h = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int e = getaddrinfo(name, "80", &h, &res);
    printf("getaddrinfo(%s) = %s", name, e ? gai_strerror(e) : "ok");
    for (struct addrinfo *a = e ? NULL : res; a; a = a->ai_next) {
        char s[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, s, sizeof s);
        printf(" %s", s);
    }
    printf("\n");
    if (!e) freeaddrinfo(res);
}

static int beyond(int count, int allowed)
{
    int extra = count - 1 - allowed; /* the program's own thread: main */
    return extra > 0 ? extra : 0;
}

int main(void)
{
    t_init();
    const char *name = getenv("GREEN_TEST_FAKE_DNS") ? "h7.test" : "localhost";
    pid_t parent = getpid();
    int go[2], res[2];
    CHECK(pipe(go) == 0 && pipe(res) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) { /* sample the parent until it closes `go` (20 s at most) */
        close(go[1]);
        close(res[0]);
        int most = 0;
        for (int i = 0; i < 2000; i++) {
            int n = os_threads(parent);
            if (n > most) most = n;
            struct pollfd p = {.fd = go[0], .events = POLLIN};
            if (poll(&p, 1, 10) > 0) break;
        }
        (void)!write(res[1], &most, sizeof most);
        _exit(0);
    }
    close(go[0]);
    close(res[1]);
    msleep(50); /* the child's first samples: before the lookup */
    lookup(name);
    close(go[1]);
    int most = -1;
    CHECK(read(res[0], &most, sizeof most) == (ssize_t)sizeof most);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status));
    printf("OS threads during the lookup, beyond the program's own and 1 allowed: %d\n", beyond(most, 1));

    double t0 = now_s();
    int n = os_threads(getpid());
    while (n > 1 && now_s() - t0 < 8) {
        msleep(100);
        n = os_threads(getpid());
    }
    printf("OS threads once idle, beyond the program's own: %d\n", beyond(n, 0));
    fprintf(stderr, "dns_os_threads: at most %d OS threads during the lookup, %d after %.1f s idle\n", most,
            n, now_s() - t0);

    lookup("localhost"); /* the resolver thread starts again */
    printf("OS threads right after, beyond the program's own and 1 allowed: %d\n",
           beyond(os_threads(getpid()), 1));
    CHECK(most >= 1 && most <= 2);
    CHECK(n == 1);
    return t_done();
}
