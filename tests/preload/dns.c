/* dns: resolver calls must return exactly what glibc returns (a runtime may
 * route them through a thread pool / its own resolver): getaddrinfo result
 * lists in order (family, socktype, protocol, address, port, canonname) for
 * localhost, 127.0.0.1, ::1, numeric and named services, AI_PASSIVE, a name
 * from /etc/hosts, and exact error codes (nonexistent name, AI_NUMERICHOST,
 * bad family/socktype/service); getnameinfo; gethostbyname(_r)/2/addr incl.
 * h_errno and ERANGE; and 8 threads resolving concurrently. */
#include "t.h"
#include "dns_print.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

static void fmt_sa(const struct sockaddr *sa, char *out, size_t n)
{
    char a[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)sa;
        inet_ntop(AF_INET, &s->sin_addr, a, sizeof a);
        port = ntohs(s->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const void *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof a);
        port = ntohs(s->sin6_port);
    }
    snprintf(out, n, "%s port %d", a, port);
}

static int gai(const char *label, const char *host, const char *serv, int family, int socktype, int flags)
{
    struct addrinfo h = {.ai_family = family, .ai_socktype = socktype, .ai_flags = flags}, *res;
    int e = getaddrinfo(host, serv, &h, &res);
    printf("getaddrinfo %s: %s\n", label, eai_name(e));
    if (e) return e;
    for (struct addrinfo *p = res; p; p = p->ai_next) {
        char s[128];
        fmt_sa(p->ai_addr, s, sizeof s);
        printf("  family=%d socktype=%d protocol=%d addr=%s canon=%s\n", p->ai_family, p->ai_socktype,
               p->ai_protocol, s, p->ai_canonname ? p->ai_canonname : "-");
    }
    freeaddrinfo(res);
    return 0;
}

/* first IPv4 line of /etc/hosts naming something other than "localhost" */
static int hosts_entry(char *name, size_t nn, char *addr, size_t an)
{
    FILE *f = fopen("/etc/hosts", "r");
    char line[512];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        char *save, *ip = strtok_r(line, " \t\n", &save);
        if (!ip || ip[0] == '#' || !strchr(ip, '.') || strchr(ip, ':')) continue;
        for (char *n = strtok_r(NULL, " \t\n", &save); n && n[0] != '#'; n = strtok_r(NULL, " \t\n", &save))
            if (strcmp(n, "localhost") != 0 && strchr(n, '.') == NULL) {
                snprintf(name, nn, "%s", n);
                snprintf(addr, an, "%s", ip);
                found = 1;
                break;
            }
    }
    if (f) fclose(f);
    return found;
}

static void *resolver_thread(void *p)
{
    (void)p;
    int ok = 0;
    for (int i = 0; i < 20; i++) {
        struct addrinfo h = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
        if (getaddrinfo("localhost", "80", &h, &res) == 0) {
            struct sockaddr_in *s = (void *)res->ai_addr;
            ok += s->sin_addr.s_addr == htonl(INADDR_LOOPBACK) && s->sin_port == htons(80);
            freeaddrinfo(res);
        }
    }
    return (void *)(intptr_t)ok;
}

int main(void)
{
    t_init();
    CHECK(gai("localhost:80 UNSPEC STREAM", "localhost", "80", AF_UNSPEC, SOCK_STREAM, 0) == 0);
    CHECK(gai("localhost INET any-socktype", "localhost", NULL, AF_INET, 0, 0) == 0);
    CHECK(gai("localhost CANONNAME", "localhost", "8080", AF_INET, SOCK_DGRAM, AI_CANONNAME) == 0);
    CHECK(gai("127.0.0.1:8080 NUMERICHOST", "127.0.0.1", "8080", AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST) ==
          0);
    CHECK(gai("::1:443", "::1", "443", AF_UNSPEC, SOCK_STREAM, 0) == 0);
    CHECK(gai("::1 INET6 UDP", "::1", "53", AF_INET6, SOCK_DGRAM, 0) == 0);
    CHECK(gai("127.0.0.1 service http", "127.0.0.1", "http", AF_INET, SOCK_STREAM, 0) == 0);
    CHECK(gai("PASSIVE NULL host", NULL, "9000", AF_INET, SOCK_STREAM, AI_PASSIVE) == 0);
    CHECK(gai("PASSIVE NULL host v6", NULL, "9000", AF_INET6, SOCK_STREAM, AI_PASSIVE) == 0);
    CHECK(gai("NULL host (loopback)", NULL, "9000", AF_INET, SOCK_STREAM, 0) == 0);
    CHECK(gai("nonexistent name", "nonexistent-host.invalid", "80", AF_UNSPEC, SOCK_STREAM, 0) == EAI_NONAME);
    CHECK(gai("NUMERICHOST with a name", "localhost", "80", AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST) ==
          EAI_NONAME);
    CHECK(gai("NUMERICSERV with a name", "127.0.0.1", "http", AF_INET, SOCK_STREAM, AI_NUMERICSERV) ==
          EAI_NONAME);
    CHECK(gai("bad family", "localhost", "80", 12345, SOCK_STREAM, 0) == EAI_FAMILY);
    CHECK(gai("bad socktype", "localhost", "80", AF_INET, 12345, 0) == EAI_SOCKTYPE);
    CHECK(gai("unknown service", "localhost", "no-such-service", AF_INET, SOCK_STREAM, 0) == EAI_SERVICE);
    CHECK(gai("NULL host and service", NULL, NULL, AF_INET, SOCK_STREAM, 0) == EAI_NONAME);

    char name[256], addr[64];
    if (hosts_entry(name, sizeof name, addr, sizeof addr)) {
        struct addrinfo h = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
        int e = getaddrinfo(name, NULL, &h, &res);
        char got[64] = "-";
        if (!e) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, got, sizeof got);
            freeaddrinfo(res);
        }
        printf("/etc/hosts name resolves to its /etc/hosts address: %s\n",
               !e && !strcmp(got, addr) ? "yes" : "no");
        CHECK(!e && !strcmp(got, addr));
        struct hostent *he = gethostbyname(name);
        printf("gethostbyname(/etc/hosts name) found: %s\n", he ? "yes" : "no");
    } else {
        printf("/etc/hosts has no extra name (skipped)\n");
    }

    /* getnameinfo */
    struct sockaddr_in s4 = {
        .sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 s6 = {
        .sin6_family = AF_INET6, .sin6_port = htons(22), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    int e = getnameinfo((void *)&s4, sizeof s4, host, sizeof host, serv, sizeof serv,
                        NI_NUMERICHOST | NI_NUMERICSERV);
    printf("getnameinfo 127.0.0.1:80 numeric: %s %s %s\n", eai_name(e), host, serv);
    e = getnameinfo((void *)&s4, sizeof s4, host, sizeof host, serv, sizeof serv, 0);
    printf("getnameinfo 127.0.0.1:80: %s %s %s\n", eai_name(e), host, serv);
    CHECK(e == 0 && !strcmp(serv, "http"));
    e = getnameinfo((void *)&s6, sizeof s6, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST);
    printf("getnameinfo [::1]:22 NUMERICHOST: %s %s %s\n", eai_name(e), host, serv);
    e = getnameinfo((void *)&s4, sizeof s4, host, 3, NULL, 0, NI_NUMERICHOST);
    printf("getnameinfo host buffer too small: %s\n", eai_name(e));
    CHECK(e == EAI_OVERFLOW);
    e = getnameinfo((void *)&s4, 3, host, sizeof host, NULL, 0, 0);
    printf("getnameinfo bad salen: %s\n", eai_name(e));

    /* gethostbyname family */
    PRINT_HOSTENT("gethostbyname(localhost)", gethostbyname("localhost"));
    PRINT_HOSTENT("gethostbyname(127.0.0.1)", gethostbyname("127.0.0.1"));
    PRINT_HOSTENT("gethostbyname(nonexistent)", gethostbyname("nonexistent-host.invalid"));
    CHECK(h_errno == HOST_NOT_FOUND);
    PRINT_HOSTENT("gethostbyname2(localhost, AF_INET)", gethostbyname2("localhost", AF_INET));
    PRINT_HOSTENT("gethostbyname2(::1, AF_INET6)", gethostbyname2("::1", AF_INET6));
    struct in_addr lo = {htonl(INADDR_LOOPBACK)};
    PRINT_HOSTENT("gethostbyaddr(127.0.0.1)", gethostbyaddr(&lo, sizeof lo, AF_INET));
    struct hostent hb, *hr = NULL;
    char small[8], big[4096];
    int herr = 0;
    int rc = gethostbyname_r("localhost", &hb, small, sizeof small, &hr, &herr);
    printf("gethostbyname_r small buffer: rc=%s result=%s\n", en(rc), hr ? "set" : "NULL");
    CHECK(rc == ERANGE && hr == NULL);
    rc = gethostbyname_r("localhost", &hb, big, sizeof big, &hr, &herr);
    printf("gethostbyname_r: rc=%s\n", en(rc));
    PRINT_HOSTENT("  result", hr);
    CHECK(rc == 0 && hr == &hb);
    rc = gethostbyname_r("nonexistent-host.invalid", &hb, big, sizeof big, &hr, &herr);
    printf("gethostbyname_r(nonexistent): rc=%s result=%s herr=%d\n", en(rc), hr ? "set" : "NULL", herr);
    CHECK(hr == NULL && herr == HOST_NOT_FOUND);

    /* concurrent resolution from 8 threads */
    pthread_t th[8];
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, resolver_thread, NULL);
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        ok += (int)(intptr_t)r;
    }
    printf("concurrent getaddrinfo: %d/160 ok\n", ok);
    CHECK(ok == 160);
    return t_done();
}
