/* dns_print.h: printing what the resolver returned, shared by the dns_* tests. */
#ifndef DNS_PRINT_H
#define DNS_PRINT_H

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>

static inline const char *eai_name(int e)
{
    static char buf[32];
    switch (e) {
    case 0: return "0";
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_BADFLAGS: return "EAI_BADFLAGS";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_FAMILY: return "EAI_FAMILY";
    case EAI_MEMORY: return "EAI_MEMORY";
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_SERVICE: return "EAI_SERVICE";
    case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
    case EAI_SYSTEM: return "EAI_SYSTEM";
    case EAI_OVERFLOW: return "EAI_OVERFLOW";
    case EAI_NODATA: return "EAI_NODATA";
    case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
    default: snprintf(buf, sizeof buf, "EAI(%d)", e); return buf;
    }
}

/* One line: name, type, length, aliases and addresses, or NULL and h_errno. */
static inline void print_hostent(const char *label, struct hostent *he, int herr)
{
    if (!he) {
        printf("%s: NULL h_errno=%d\n", label, herr);
        return;
    }
    printf("%s: name=%s type=%d len=%d", label, he->h_name, he->h_addrtype, he->h_length);
    for (char **a = he->h_aliases; *a; a++) printf(" alias=%s", *a);
    for (char **a = he->h_addr_list; *a; a++) {
        char s[INET6_ADDRSTRLEN];
        inet_ntop(he->h_addrtype, *a, s, sizeof s);
        printf(" addr=%s", s);
    }
    printf("\n");
}

/* h_errno read after the lookup (an argument list would leave the order unspecified). */
#define PRINT_HOSTENT(label, lookup)                                                                         \
    do {                                                                                                     \
        struct hostent *he_ = (lookup);                                                                      \
        print_hostent((label), he_, h_errno);                                                                \
    } while (0)

#endif
