/* dns_identical: getaddrinfo/getnameinfo/gethostbyname* answered without a name server must be
 * byte-identical natively and preloaded, over a wide matrix: numeric hosts in every spelling glibc
 * accepts or rejects (127.1, 0x7f.1, ::ffff:127.0.0.1, scope ids, junk), NULL and "*" hosts, every
 * name of /etc/hosts (in the families it has there) and the host name, crossed with families,
 * socket types, protocols, flags (PASSIVE, CANONNAME, NUMERICHOST, NUMERICSERV, V4MAPPED, ALL,
 * ADDRCONFIG, invalid ones) and services (numeric, named, unknown, out of range). Every field of
 * every list entry is printed in order, with the error codes; then getnameinfo over flags and
 * buffer sizes, and gethostbyname/2/_r/addr with h_errno. dns.c covers the basics (and one DNS
 * lookup); this test stays off the network so that it never depends on the machine's DNS. */
#include "t.h"
#include "dns_print.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static void print_ai(const char *host, const char *serv, const struct addrinfo *h)
{
    struct addrinfo *res = NULL;
    int e = getaddrinfo(host, serv, h, &res);
    if (h)
        printf("gai(%s, %s, fam=%d type=%d proto=%d flags=%#x) = %s\n", host ? host : "NULL",
               serv ? serv : "NULL", h->ai_family, h->ai_socktype, h->ai_protocol, h->ai_flags, eai_name(e));
    else printf("gai(%s, %s, NULL) = %s\n", host ? host : "NULL", serv ? serv : "NULL", eai_name(e));
    if (e) return;
    for (struct addrinfo *p = res; p; p = p->ai_next) {
        char a[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0, scope = 0;
        if (p->ai_family == AF_INET) {
            struct sockaddr_in *s = (void *)p->ai_addr;
            inet_ntop(AF_INET, &s->sin_addr, a, sizeof a);
            port = ntohs(s->sin_port);
        } else if (p->ai_family == AF_INET6) {
            struct sockaddr_in6 *s = (void *)p->ai_addr;
            inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof a);
            port = ntohs(s->sin6_port);
            scope = s->sin6_scope_id;
        }
        printf("  flags=%#x fam=%d type=%d proto=%d len=%u %s port=%u scope=%u canon=%s\n", p->ai_flags,
               p->ai_family, p->ai_socktype, p->ai_protocol, (unsigned)p->ai_addrlen, a, port, scope,
               p->ai_canonname ? p->ai_canonname : "-");
    }
    freeaddrinfo(res);
}

static void print_hostent_of(const char *label, const char *arg, struct hostent *he, int herr)
{
    if (!he) {
        printf("%s(%s) = NULL h_errno=%d\n", label, arg, herr);
        return;
    }
    printf("%s(%s): name=%s type=%d len=%d", label, arg, he->h_name, he->h_addrtype, he->h_length);
    for (char **a = he->h_aliases; *a; a++) printf(" alias=%s", *a);
    for (char **a = he->h_addr_list; *a; a++) {
        char s[INET6_ADDRSTRLEN];
        inet_ntop(he->h_addrtype, *a, s, sizeof s);
        printf(" addr=%s", s);
    }
    printf("\n");
}

/* Names of /etc/hosts: those with an IPv4 (v4) or IPv6 (v6) line. */
#define MAXN 32
static char names[MAXN][128];
static int has4[MAXN], has6[MAXN], nnames;

static void add_name(const char *n, int v6)
{
    for (int i = 0; i < nnames; i++)
        if (strcasecmp(names[i], n) == 0) {
            (v6 ? has6 : has4)[i] = 1;
            return;
        }
    if (nnames == MAXN || strlen(n) >= sizeof names[0]) return;
    snprintf(names[nnames], sizeof names[0], "%s", n);
    (v6 ? has6 : has4)[nnames++] = 1;
}

static void read_hosts(void)
{
    FILE *f = fopen("/etc/hosts", "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#'), *save;
        if (hash) *hash = 0;
        char *ip = strtok_r(line, " \t\r\n", &save);
        if (!ip) continue;
        unsigned char tmp[16];
        int v6 = inet_pton(AF_INET6, ip, tmp) == 1;
        if (!v6 && inet_pton(AF_INET, ip, tmp) != 1) continue;
        for (char *n = strtok_r(NULL, " \t\r\n", &save); n; n = strtok_r(NULL, " \t\r\n", &save))
            add_name(n, v6);
    }
    if (f) fclose(f);
}

int main(void)
{
    t_init();
    read_hosts();
    char me[256] = "";
    gethostname(me, sizeof me);
    int me_in_hosts = 0;
    for (int i = 0; i < nnames; i++) me_in_hosts |= strcasecmp(names[i], me) == 0;
    printf("/etc/hosts names: %d; host name in /etc/hosts: %s\n", nnames, me_in_hosts ? "yes" : "no");

    /* 1. numeric hosts (never a lookup), NULL and "*": the full flag x family matrix */
    static const char *numeric[] = {NULL,
                                    "*",
                                    "127.0.0.1",
                                    "127.1",
                                    "0x7f.1",
                                    "0177.0.0.1",
                                    "127.0.0.1.",
                                    "::1",
                                    "::ffff:127.0.0.1",
                                    "::ffff:7f00:1",
                                    "0.0.0.0",
                                    "::",
                                    "255.255.255.255",
                                    "fe80::1%lo",
                                    "fe80::1%1",
                                    "fe80::1%bogus",
                                    "ff02::1%lo",
                                    "::1%5",
                                    "1.2.3.4.5",
                                    "256.1.1.1",
                                    "[::1]",
                                    "127.0.0.1 ",
                                    ""};
    static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX};
    static const int flagsets[] = {0,
                                   AI_PASSIVE,
                                   AI_CANONNAME,
                                   AI_NUMERICHOST,
                                   AI_NUMERICHOST | AI_CANONNAME | AI_PASSIVE,
                                   AI_V4MAPPED,
                                   AI_V4MAPPED | AI_ALL,
                                   AI_ADDRCONFIG,
                                   AI_ADDRCONFIG | AI_V4MAPPED,
                                   AI_NUMERICSERV,
                                   0x10000 /* invalid */};
    for (size_t i = 0; i < sizeof numeric / sizeof *numeric; i++) {
        /* strings glibc does not take for addresses would be looked up by name (DNS): for them
           only what fails before any lookup (AI_NUMERICHOST, bad flags, bad family) */
        struct addrinfo probe = {.ai_family = AF_UNSPEC, .ai_flags = AI_NUMERICHOST}, *pr;
        int e = numeric[i] ? getaddrinfo(numeric[i], NULL, &probe, &pr) : 0;
        if (e == 0 && numeric[i]) freeaddrinfo(pr);
        int is_numeric = e != EAI_NONAME;
        printf("%s: %s\n", numeric[i] ? numeric[i] : "NULL", is_numeric ? "numeric" : "not numeric");
        for (size_t f = 0; f < sizeof families / sizeof *families; f++)
            for (size_t k = 0; k < sizeof flagsets / sizeof *flagsets; k++) {
                if (!is_numeric && !(flagsets[k] & (AI_NUMERICHOST | 0x10000)) && families[f] != AF_UNIX)
                    continue;
                struct addrinfo h = {.ai_family = families[f], .ai_flags = flagsets[k]};
                print_ai(numeric[i], "http", &h);
            }
    }

    /* 2. socket types, protocols and services on one numeric host and on NULL */
    static const struct {
        int type, proto;
    } tp[] = {
        {0, 0},
        {SOCK_STREAM, 0},
        {SOCK_DGRAM, 0},
        {SOCK_RAW, 0},
        {SOCK_SEQPACKET, 0},
        {0, IPPROTO_TCP},
        {0, IPPROTO_UDP},
        {SOCK_STREAM, IPPROTO_UDP},
        {SOCK_DGRAM, IPPROTO_UDPLITE},
        {SOCK_STREAM, IPPROTO_SCTP},
        {SOCK_RAW, IPPROTO_ICMP},
        {1234, 0},
        {0, 1234},
    };
    static const char *services[] = {
        NULL, "0", "80", "65535", "65536", "-1", "http", "domain", "ssh", "no-such-service", "*", "", "0x50"};
    static const char *hosts2[] = {"127.0.0.1", NULL};
    for (size_t i = 0; i < 2; i++)
        for (size_t t = 0; t < sizeof tp / sizeof *tp; t++)
            for (size_t s = 0; s < sizeof services / sizeof *services; s++) {
                if (!hosts2[i] && !services[s]) continue;
                struct addrinfo h = {
                    .ai_family = AF_UNSPEC, .ai_socktype = tp[t].type, .ai_protocol = tp[t].proto};
                print_ai(hosts2[i], services[s], &h);
                h.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
                print_ai(hosts2[i], services[s], &h);
            }
    print_ai("127.0.0.1", "80", NULL);
    print_ai(NULL, "80", NULL);
    print_ai(NULL, NULL, NULL);

    /* 3. names from /etc/hosts (and spellings of them), in the families they have there */
    for (int i = 0; i < nnames; i++) {
        char upper[128];
        size_t n = strlen(names[i]);
        for (size_t c = 0; c <= n; c++) upper[c] = (char)toupper((unsigned char)names[i][c]);
        const char *spellings[] = {names[i], upper};
        for (size_t sp = 0; sp < 2; sp++)
            for (size_t f = 0; f < 3; f++) {
                if ((families[f] == AF_INET && !has4[i]) || (families[f] == AF_INET6 && !has6[i]))
                    continue; /* would ask DNS */
                for (size_t k = 0; k < sizeof flagsets / sizeof *flagsets; k++) {
                    if (families[f] == AF_INET6 && !has6[i] && !(flagsets[k] & AI_V4MAPPED)) continue;
                    struct addrinfo h = {
                        .ai_family = families[f], .ai_socktype = SOCK_STREAM, .ai_flags = flagsets[k]};
                    print_ai(spellings[sp], "https", &h);
                }
            }
        print_ai(names[i], "22", NULL);
        struct addrinfo h = {.ai_family = AF_UNSPEC, .ai_flags = AI_CANONNAME | AI_NUMERICHOST};
        print_ai(names[i], NULL, &h); /* EAI_NONAME without a lookup */

        h_errno = 0;
        print_hostent_of("gethostbyname", names[i], gethostbyname(names[i]), h_errno);
        print_hostent_of("gethostbyname", upper, gethostbyname(upper), h_errno);
        if (has4[i])
            print_hostent_of("gethostbyname2/INET", names[i], gethostbyname2(names[i], AF_INET), h_errno);
        if (has6[i])
            print_hostent_of("gethostbyname2/INET6", names[i], gethostbyname2(names[i], AF_INET6), h_errno);
        struct hostent hb, *hr = NULL;
        char buf[4096];
        int herr = 0;
        for (size_t len = 8; len <= 4096; len *= 4) {
            int rc = gethostbyname_r(names[i], &hb, buf, len, &hr, &herr);
            printf("gethostbyname_r(%s, buflen %zu) = %s result=%s herr=%d\n", names[i], len, en(rc),
                   hr ? "set" : "NULL", rc ? herr : 0);
            if (!rc) print_hostent_of("  r", names[i], hr, herr);
        }
    }

    /* 4. numeric strings through gethostbyname* (no lookup) */
    static const char *numhe[] = {"127.0.0.1", "127.1", "::1", "::ffff:127.0.0.1", "1.2.3.4.5"};
    for (size_t i = 0; i < sizeof numhe / sizeof *numhe; i++) {
        h_errno = 0;
        print_hostent_of("gethostbyname", numhe[i], gethostbyname(numhe[i]), h_errno);
        print_hostent_of("gethostbyname2/INET6", numhe[i], gethostbyname2(numhe[i], AF_INET6), h_errno);
        print_hostent_of("gethostbyname2/INET", numhe[i], gethostbyname2(numhe[i], AF_INET), h_errno);
    }

    /* 5. reverse: addresses of /etc/hosts, numeric flags, buffer sizes, odd families */
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(22)};
    inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
    struct sockaddr_in6 s6 = {
        .sin6_family = AF_INET6, .sin6_port = htons(53), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct sockaddr_in6 s6ll = {.sin6_family = AF_INET6, .sin6_port = htons(0), .sin6_scope_id = 1};
    inet_pton(AF_INET6, "fe80::1", &s6ll.sin6_addr);
    struct sockaddr_un su = {.sun_family = AF_UNIX, .sun_path = "/tmp/x"};
    static const int niflags[] = {NI_NUMERICHOST,
                                  NI_NUMERICHOST | NI_NUMERICSERV,
                                  NI_NUMERICHOST | NI_DGRAM,
                                  NI_NUMERICHOST | NI_NOFQDN,
                                  NI_NUMERICHOST | NI_NAMEREQD,
                                  0,
                                  NI_NOFQDN,
                                  NI_NAMEREQD,
                                  NI_DGRAM | NI_NUMERICSERV,
                                  0x1000};
    struct {
        const char *label;
        const struct sockaddr *sa;
        socklen_t len;
    } sas[] = {
        {"127.0.0.1:22", (void *)&s4, sizeof s4},      {"[::1]:53", (void *)&s6, sizeof s6},
        {"[fe80::1%1]:0", (void *)&s6ll, sizeof s6ll}, {"unix", (void *)&su, sizeof su},
        {"127.0.0.1 short len", (void *)&s4, 8},       {"[::1] as in len", (void *)&s6, sizeof s4},
    };
    for (size_t i = 0; i < sizeof sas / sizeof *sas; i++)
        for (size_t k = 0; k < sizeof niflags / sizeof *niflags; k++) {
            if (!(niflags[k] & NI_NUMERICHOST) && sas[i].sa->sa_family == AF_INET6)
                continue; /* ::1 and fe80::1 are not in this /etc/hosts on every machine: DNS */
            static const size_t hostlens[] = {NI_MAXHOST, 10, 2, 0};
            for (size_t hl = 0; hl < 4; hl++) {
                char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
                int e = getnameinfo(sas[i].sa, sas[i].len, hostlens[hl] ? host : NULL,
                                    (socklen_t)hostlens[hl], serv, hl == 2 ? 2 : sizeof serv, niflags[k]);
                printf("getnameinfo(%s, flags=%#x, hostlen=%zu) = %s host=%s serv=%s\n", sas[i].label,
                       niflags[k], hostlens[hl], eai_name(e), host, serv);
            }
        }
    struct in_addr lo;
    inet_pton(AF_INET, "127.0.0.1", &lo);
    h_errno = 0;
    print_hostent_of("gethostbyaddr", "127.0.0.1", gethostbyaddr(&lo, sizeof lo, AF_INET), h_errno);
    print_hostent_of("gethostbyaddr", "127.0.0.1 bad len", gethostbyaddr(&lo, 3, AF_INET), h_errno);
    print_hostent_of("gethostbyaddr", "127.0.0.1 bad family", gethostbyaddr(&lo, sizeof lo, 12345), h_errno);
    struct hostent hb, *hr = NULL;
    char buf[64];
    int herr = 0;
    int rc = gethostbyaddr_r(&lo, sizeof lo, AF_INET, &hb, buf, 8, &hr, &herr);
    printf("gethostbyaddr_r(127.0.0.1, buflen 8) = %s result=%s\n", en(rc), hr ? "set" : "NULL");
    rc = gethostbyaddr_r(&lo, sizeof lo, AF_INET, &hb, buf, sizeof buf, &hr, &herr);
    printf("gethostbyaddr_r(127.0.0.1, buflen 64) = %s\n", en(rc));
    print_hostent_of("  r", "127.0.0.1", hr, herr);

    CHECK(nnames > 0);
    return t_done();
}
