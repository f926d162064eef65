/* dns_busy_hub: a lookup whose hub is kept busy for longer than glibc waits for an answer still
 * gets the native result. Under the preload, glibc runs on the resolver thread and the calling
 * green thread answers its queries on its hub; here another thread computes for 1.3 s without a
 * call the runtime sees, with hand-off off (the program re-executes itself with
 * GREEN_HANDOFF=off), so the hub answers only after glibc's 1 s timeout: the runtime must notice
 * the late answer and run glibc again, not hand out glibc's timeout (the name ends with a dot: no
 * search list, whose next query would come after the busy spell and hide the timeout). Run by
 * tests/preload/dns_slow.sh against its fast server (GREEN_TEST_FAKE_DNS=1); without it, it only
 * says so. */
#include "t.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

static void *compute(void *p)
{
    (void)p;
    volatile unsigned long x = 0;
    double t0 = now_s();
    while (now_s() - t0 < 1.3) x++;
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (!getenv("GREEN_HANDOFF")) {
        setenv("GREEN_HANDOFF", "off", 1);
        execv("/proc/self/exe", argv);
        perror("execv");
        return 1;
    }
    t_init();
    if (!getenv("GREEN_TEST_FAKE_DNS")) {
        printf("dns_busy_hub: needs the fake DNS server; run tests/preload/dns_slow.sh\n");
        return t_done();
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, compute, NULL) == 0); /* runs once main parks in the lookup */
    struct addrinfo h = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int e = getaddrinfo("h7.test.", "80", &h, &res);
    char s[INET_ADDRSTRLEN] = "-";
    if (e == 0) inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, s, sizeof s);
    printf("getaddrinfo(h7.test.) while the other thread computes: %s %s\n", e ? gai_strerror(e) : "ok", s);
    if (e == 0) freeaddrinfo(res);
    pthread_join(t, NULL);
    CHECK(e == 0);
    return t_done();
}
