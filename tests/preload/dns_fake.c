/* dns_fake: lookups that go to a DNS server must give exactly what glibc gives natively. Run by
 * tests/preload/dns_slow.sh against tests/preload/fake_dns.py (resolv.conf: that server,
 * "search test", timeout 1 s, 1 attempt), natively and preloaded, and the two outputs compared:
 * getaddrinfo over A/AAAA/CNAME chains, several A records (RFC 3484 order), an answer too big for
 * UDP (TC, then TCP), search-list names,
 * trailing dots, upper case, SERVFAIL/REFUSED/NXDOMAIN/timeouts, with many hint combinations;
 * gethostbyname*, gethostbyaddr (PTR), getnameinfo; 20 threads resolving at once; a fork child.
 *
 * Without GREEN_TEST_FAKE_DNS=1 it only says so (the generic runner runs it that way). */
#include "t.h"
#include "dns_print.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>

static void fmt_sa(const struct sockaddr *sa, char *out, size_t n)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)sa;
        inet_ntop(AF_INET, &s->sin_addr, a, sizeof a);
        snprintf(out, n, "%s:%d", a, ntohs(s->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const void *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof a);
        snprintf(out, n, "[%s%%%u]:%d", a, s->sin6_scope_id, ntohs(s->sin6_port));
    } else {
        snprintf(out, n, "family %d", sa->sa_family);
    }
}

static int gai(const char *host, const char *serv, const struct addrinfo *hints, char *out, size_t n)
{
    struct addrinfo *res = (struct addrinfo *)0x1;
    int e = getaddrinfo(host, serv, hints, &res);
    int k = snprintf(out, n, "%s", e ? gai_strerror(e) : "ok");
    if (e == 0) {
        for (struct addrinfo *p = res; p && (size_t)k < n; p = p->ai_next) {
            char s[128];
            fmt_sa(p->ai_addr, s, sizeof s);
            k += snprintf(out + k, n - k,
                          "\n    flags=%#x family=%d socktype=%d protocol=%d addrlen=%u %s canon=%s",
                          p->ai_flags, p->ai_family, p->ai_socktype, p->ai_protocol, (unsigned)p->ai_addrlen,
                          s, p->ai_canonname ? p->ai_canonname : "-");
        }
        freeaddrinfo(res);
    } else if (res != (struct addrinfo *)0x1) {
        k += snprintf(out + k, n - k, " (result pointer changed)");
    }
    return e;
}

static char thread_out[20][2048];

static void *concurrent(void *p)
{
    int i = (int)(intptr_t)p;
    static const char *names[] = {"multi.test", "dual.test", "alias.test", "h12", "nope.test"};
    struct addrinfo h = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_CANONNAME};
    gai(names[i % 5], "443", &h, thread_out[i], sizeof thread_out[i]);
    return NULL;
}

int main(void)
{
    t_init();
    if (!getenv("GREEN_TEST_FAKE_DNS")) {
        printf("dns_fake: needs the fake DNS server; run tests/preload/dns_slow.sh\n");
        return t_done();
    }
    static const char *names[] = {"h5.test",    "multi.test",  "dual.test", "v6only.test", "alias.test",
                                  "chain.test", "H8.TEST",     "h9.test.",  "h7",          "multi",
                                  "fail.test",  "refuse.test", "nope.test", "nope",        "localhost",
                                  "big.test",   "drop.test"};
    static const struct {
        const char *label;
        int family, socktype, flags;
        const char *serv;
    } hints[] = {
        {"UNSPEC any", AF_UNSPEC, 0, 0, NULL},
        {"INET STREAM CANONNAME", AF_INET, SOCK_STREAM, AI_CANONNAME, "80"},
        {"INET6 DGRAM V4MAPPED", AF_INET6, SOCK_DGRAM, AI_V4MAPPED, "53"},
        {"INET6 V4MAPPED|ALL|CANONNAME", AF_INET6, SOCK_STREAM, AI_V4MAPPED | AI_ALL | AI_CANONNAME, "http"},
        {"UNSPEC STREAM ADDRCONFIG|CANONNAME", AF_UNSPEC, SOCK_STREAM, AI_ADDRCONFIG | AI_CANONNAME, "https"},
        {"UNSPEC STREAM PASSIVE", AF_UNSPEC, SOCK_STREAM, AI_PASSIVE, "8080"},
    };
    static char buf[16384];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        /* the timeout case costs a second or two: once is enough */
        size_t nh = strcmp(names[i], "drop.test") == 0 ? 1 : sizeof hints / sizeof *hints;
        for (size_t j = 0; j < nh; j++) {
            struct addrinfo h = {
                .ai_family = hints[j].family, .ai_socktype = hints[j].socktype, .ai_flags = hints[j].flags};
            gai(names[i], hints[j].serv, &h, buf, sizeof buf);
            printf("getaddrinfo(%s, %s, %s): %s\n", names[i], hints[j].serv ? hints[j].serv : "NULL",
                   hints[j].label, buf);
        }
        if (strcmp(names[i], "drop.test") == 0) continue;
        gai(names[i], "22", NULL, buf, sizeof buf);
        printf("getaddrinfo(%s, 22, NULL hints): %s\n", names[i], buf);
        h_errno = 0;
        struct hostent *he = gethostbyname(names[i]);
        print_hostent("  gethostbyname", he, h_errno);
        he = gethostbyname2(names[i], AF_INET6);
        print_hostent("  gethostbyname2(AF_INET6)", he, h_errno);
        struct hostent hb, *hr = NULL;
        char small[16], big[4096];
        int herr = 0, rc = gethostbyname_r(names[i], &hb, small, sizeof small, &hr, &herr);
        printf("  gethostbyname_r(small buffer): rc=%s result=%s herr=%d\n", en(rc), hr ? "set" : "NULL",
               hr ? 0 : herr);
        rc = gethostbyname2_r(names[i], AF_INET, &hb, big, sizeof big, &hr, &herr);
        printf("  gethostbyname2_r(AF_INET): rc=%s\n", en(rc));
        print_hostent("    result", hr, herr);
    }

    /* reverse lookups: PTR from the server, /etc/hosts, NXDOMAIN */
    static const char *addrs[] = {"127.0.0.5", "127.0.0.1", "10.9.9.9"};
    for (size_t i = 0; i < sizeof addrs / sizeof *addrs; i++) {
        struct in_addr a;
        inet_pton(AF_INET, addrs[i], &a);
        h_errno = 0;
        struct hostent *he = gethostbyaddr(&a, sizeof a, AF_INET);
        char label[64];
        snprintf(label, sizeof label, "gethostbyaddr(%s)", addrs[i]);
        print_hostent(label, he, h_errno);
        struct hostent hb, *hr = NULL;
        char big[2048];
        int herr = 0, rc = gethostbyaddr_r(&a, sizeof a, AF_INET, &hb, big, sizeof big, &hr, &herr);
        printf("  gethostbyaddr_r: rc=%s\n", en(rc));
        print_hostent("    result", hr, herr);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53), .sin_addr = a};
        static const int flags[] = {0, NI_NAMEREQD, NI_NOFQDN | NI_DGRAM, NI_NUMERICSERV};
        for (size_t j = 0; j < sizeof flags / sizeof *flags; j++) {
            char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
            int e = getnameinfo((struct sockaddr *)&sa, sizeof sa, host, sizeof host, serv, sizeof serv,
                                flags[j]);
            printf("  getnameinfo(flags=%#x): %s host=%s serv=%s\n", flags[j], e ? gai_strerror(e) : "ok",
                   host, serv);
        }
        char tiny[4];
        int e = getnameinfo((struct sockaddr *)&sa, sizeof sa, tiny, sizeof tiny, NULL, 0, 0);
        printf("  getnameinfo(host buffer of 4): %s\n", e ? gai_strerror(e) : "ok");
    }
    struct in6_addr a6 = IN6ADDR_LOOPBACK_INIT;
    h_errno = 0;
    print_hostent("gethostbyaddr(::1)", gethostbyaddr(&a6, sizeof a6, AF_INET6), h_errno);

    /* 20 threads at once, five names: each must see the single-threaded answer */
    pthread_t th[20];
    for (int i = 0; i < 20; i++) pthread_create(&th[i], NULL, concurrent, (void *)(intptr_t)i);
    for (int i = 0; i < 20; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 20; i++) printf("thread %d: %s\n", i, thread_out[i]);

    /* a fork child resolves on its own (the parent's resolver threads do not exist there) */
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        struct addrinfo hc = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_CANONNAME};
        gai("alias.test", "53", &hc, buf, sizeof buf);
        printf("child: getaddrinfo(alias.test): %s\n", buf);
        gai("localhost", "53", &hc, buf, sizeof buf);
        printf("child: getaddrinfo(localhost): %s\n", buf);
        fflush(stdout);
        _exit(0);
    }
    int status = -1;
    CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gai("h33.test", "53", NULL, buf, sizeof buf);
    printf("parent after fork: getaddrinfo(h33.test): %s\n", buf);

    /* facts glibc guarantees natively with this server */
    struct addrinfo h = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    CHECK(gai("h5.test", "80", &h, buf, sizeof buf) == 0 && strstr(buf, "127.0.0.5:80"));
    CHECK(gai("h7", "80", &h, buf, sizeof buf) == 0 && strstr(buf, "127.0.0.7:80"));
    CHECK(gai("nope.test", "80", &h, buf, sizeof buf) == EAI_NONAME);
    CHECK(gai("fail.test", "80", &h, buf, sizeof buf) != 0);
    return t_done();
}
