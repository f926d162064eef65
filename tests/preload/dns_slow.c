/* dns_slow: 60 threads each resolve a distinct name against a DNS server that answers after 2 s
 * (tests/preload/fake_dns.py, set up by tests/preload/dns_slow.sh): all must finish in about 2 s,
 * natively (60 OS threads) and under the preload (60 green threads on one OS thread: the lookups
 * must wait concurrently, without blocking the hub, whose other green threads keep running).
 * Results are printed in thread order. Half the threads use getaddrinfo, the other half
 * gethostbyname_r, gethostbyname2 and getnameinfo (a reverse lookup, also from the server).
 *
 * Without GREEN_TEST_FAKE_DNS=1 (as when the generic runner runs each test program) it only
 * says so: the machine's own resolver is not what this test is about. */
#include "t.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#define N 60

static char out[N][512];
static volatile int resolving = 1;

static void *resolver(void *p)
{
    int i = (int)(intptr_t)p, n = i + 1;
    char name[32], *o = out[i];
    size_t left = sizeof out[i];
    snprintf(name, sizeof name, "h%d.test", n);
    switch (i % 4) {
    case 0:
    case 1: {
        struct addrinfo h = {.ai_family = AF_UNSPEC,
                             .ai_socktype = i % 4 ? SOCK_STREAM : 0,
                             .ai_flags = i % 4 ? AI_CANONNAME : 0},
                        *res;
        int e = getaddrinfo(name, "80", &h, &res);
        int k = snprintf(o, left, "getaddrinfo(%s) = %d", name, e);
        if (e == 0) {
            for (struct addrinfo *a = res; a; a = a->ai_next) {
                char s[INET6_ADDRSTRLEN] = "?";
                if (a->ai_family == AF_INET)
                    inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, s, sizeof s);
                k += snprintf(o + k, left - k, " [%d %d %d %s %s]", a->ai_family, a->ai_socktype,
                              a->ai_protocol, s, a->ai_canonname ? a->ai_canonname : "-");
            }
            freeaddrinfo(res);
        }
        break;
    }
    case 2: {
        struct hostent hb, *hr = NULL;
        char buf[1024], s[INET_ADDRSTRLEN] = "-";
        int herr = 0;
        int rc = gethostbyname_r(name, &hb, buf, sizeof buf, &hr, &herr);
        if (hr && hr->h_addr_list[0]) inet_ntop(AF_INET, hr->h_addr_list[0], s, sizeof s);
        snprintf(o, left, "gethostbyname_r(%s) = %d herr=%d name=%s addr=%s", name, rc, hr ? 0 : herr,
                 hr ? hr->h_name : "-", s);
        break;
    }
    case 3: {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
        char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
        sa.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)n);
        int e =
            getnameinfo((struct sockaddr *)&sa, sizeof sa, host, sizeof host, serv, sizeof serv, NI_NAMEREQD);
        snprintf(o, left, "getnameinfo(127.0.0.%d) = %d host=%.200s serv=%.32s", n, e, host, serv);
        break;
    }
    }
    return NULL;
}

/* Counts 50 ms naps while the lookups run: proof that other threads are not blocked. */
static void *ticker(void *p)
{
    int *ticks = p;
    while (resolving) {
        msleep(50);
        ++*ticks;
    }
    return NULL;
}

int main(void)
{
    t_init();
    if (!getenv("GREEN_TEST_FAKE_DNS")) {
        printf("dns_slow: needs the fake DNS server; run tests/preload/dns_slow.sh\n");
        return t_done();
    }
    pthread_t th[N], tick;
    int ticks = 0;
    double t0 = now_s();
    pthread_create(&tick, NULL, ticker, &ticks);
    for (int i = 0; i < N; i++) CHECK(pthread_create(&th[i], NULL, resolver, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    double elapsed = now_s() - t0;
    resolving = 0;
    pthread_join(tick, NULL);
    for (int i = 0; i < N; i++) printf("thread %d: %s\n", i, out[i]);
    printf("waited for the slow server (>= 1.5 s): %s\n", elapsed >= 1.5 ? "yes" : "no");
    printf("all %d lookups done concurrently (< 6 s): %s\n", N, elapsed < 6 ? "yes" : "no");
    printf("other threads ran meanwhile (>= 10 ticks): %s\n", ticks >= 10 ? "yes" : "no");
    CHECK(elapsed >= 1.5);
    CHECK(elapsed < 6);
    CHECK(ticks >= 10);
    fprintf(stderr, "dns_slow: %d lookups in %.2f s, %d ticks\n", N, elapsed, ticks);
    return t_done();
}
