// preload/dns/dns.cpp: getaddrinfo, getnameinfo, gethostbyname(2)(_r), gethostbyaddr(_r).
//
// Contract: results are glibc's own, byte for byte (same list order, flags, canonical names,
// EAI_* codes, h_errno, errno, static buffers), because glibc computes them; only its waiting on
// name servers moves off the hub (see dns_resolver.hpp). Calls that need no lookup at all run inline:
// getaddrinfo with no host or a numeric one, getnameinfo without a host name to look up. The rest
// run in rounds on the resolver threads while the calling green thread parks. With
// GREEN_THREADS=native, or where hooks must not park (hub() is null), everything goes straight to
// libc. freeaddrinfo is not hooked: every list comes from glibc's getaddrinfo.
//
// A kill or green::Timeout that ends a lookup while it waits for the network makes it fail with
// a temporary error (EAI_SYSTEM/EINTR, TRY_AGAIN); the exception is raised at the next wait point.
#include "../core/hook.hpp"
#include "dns_resolver.hpp"
#include "../core/real.hpp"
#include "../core/runtime.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>

using namespace green::preload;

namespace {

// The hub to park on, or null when the call goes straight to libc.
green::detail::Hub* lookup_hub() noexcept {
    if (!config.green_threads) return nullptr;
    return hub();
}

// Run `op` through the resolver; false if it was interrupted (nothing it produced is kept).
template <class Op, class Discard> bool resolve(green::detail::Hub& h, const char* what, Op op, Discard discard) {
    int err = 0, herr = 0;
    std::function<void()> o = op, d = discard;
    if (dns::resolve(h, what, o, d, err, herr) == dns::Status::Interrupted) return false;
    h_errno = herr;
    errno = err;
    return true;
}

// A lookup of an _r variant ended by a signal.
int interrupted_r(struct hostent** result, int* h_errnop) {
    *result = nullptr;
    *h_errnop = TRY_AGAIN;
    errno = EINTR;
    return EINTR;
}

// gethostbyname and friends: `lookup()` runs glibc's function on the resolver thread; a signal
// ends the wait as natively (TRY_AGAIN, EINTR).
template <class Lookup> struct hostent* hostent_lookup(const char* what, Lookup lookup) {
    green::detail::Hub* h = lookup_hub();
    if (!h) return lookup();
    struct hostent* r = nullptr;
    if (!resolve(
            *h, what, [&] { r = lookup(); }, [] {})) {
        h_errno = TRY_AGAIN;
        errno = EINTR;
        return nullptr;
    }
    return r;
}

// The same for the _r variants, which fill the caller's buffers (ERANGE when too small).
template <class Lookup> int hostent_lookup_r(const char* what, struct hostent** result, int* h_errnop, Lookup lookup) {
    green::detail::Hub* h = lookup_hub();
    if (!h) return lookup();
    int rc = 0;
    if (!resolve(
            *h, what, [&] { rc = lookup(); }, [] {}))
        return interrupted_r(result, h_errnop);
    return rc;
}

}  // namespace

GREEN_HOOK(int, getaddrinfo, const char* node, const char* service, const struct addrinfo* hints,
           struct addrinfo** res) {
    HOOK_ENTER(getaddrinfo);
    green::detail::Hub* h = lookup_hub();
    if (!h || !node || (node[0] == '*' && node[1] == '\0')) return REAL(getaddrinfo)(node, service, hints, res);
    const int flags = hints ? hints->ai_flags : (AI_V4MAPPED | AI_ADDRCONFIG);  // glibc's default hints
    if (flags & AI_NUMERICHOST) return REAL(getaddrinfo)(node, service, hints, res);
    // A numeric host takes the same path in glibc with or without AI_NUMERICHOST (which only
    // forbids the NSS lookup), and errors found before the lookup (flags, family, socket type,
    // service) are the same too: ask with AI_NUMERICHOST first, inline.
    struct addrinfo probe = {};
    if (hints) probe = *hints;
    probe.ai_flags = flags | AI_NUMERICHOST;
    const int saved = errno, saved_h = h_errno;
    struct addrinfo* out = nullptr;
    int rc = REAL(getaddrinfo)(node, service, &probe, &out);
    if (rc == 0) {
        for (struct addrinfo* p = out; p; p = p->ai_next) p->ai_flags = flags;  // glibc copies the hints' flags
        *res = out;
        return 0;
    }
    if (rc != EAI_NONAME) return rc;
    errno = saved;
    h_errno = saved_h;
    out = nullptr;
    bool done = resolve(
        *h, "getaddrinfo", [&] { rc = REAL(getaddrinfo)(node, service, hints, &out); },
        [&] {
            if (rc == 0) REAL(freeaddrinfo)(out);
            out = nullptr;
        });
    if (!done) {
        errno = EINTR;
        return EAI_SYSTEM;
    }
    if (rc == 0) *res = out;
    return rc;
}

GREEN_HOOK(int, getnameinfo, const struct sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen, char* serv,
           socklen_t servlen, int flags) {
    HOOK_ENTER(getnameinfo);
    green::detail::Hub* h = lookup_hub();
    // Only a host name to look up can reach the network (services come from local files).
    if (!h || !sa || !host || hostlen == 0 || (flags & NI_NUMERICHOST) ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
    int rc = 0;
    bool done = resolve(
        *h, "getnameinfo", [&] { rc = REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags); }, [] {});
    if (!done) {
        errno = EINTR;
        return EAI_SYSTEM;
    }
    return rc;
}

// gethostbyname and friends return glibc's own static buffer, filled on a resolver thread.
GREEN_HOOK(struct hostent*, gethostbyname, const char* name) {
    HOOK_ENTER(gethostbyname);
    return hostent_lookup("gethostbyname", [&] { return REAL(gethostbyname)(name); });
}

GREEN_HOOK(struct hostent*, gethostbyname2, const char* name, int af) {
    HOOK_ENTER(gethostbyname2);
    return hostent_lookup("gethostbyname2", [&] { return REAL(gethostbyname2)(name, af); });
}

GREEN_HOOK(struct hostent*, gethostbyaddr, const void* addr, socklen_t len, int type) {
    HOOK_ENTER(gethostbyaddr);
    return hostent_lookup("gethostbyaddr", [&] { return REAL(gethostbyaddr)(addr, len, type); });
}

GREEN_HOOK(int, gethostbyname_r, const char* name, struct hostent* ret, char* buf, size_t buflen,
           struct hostent** result, int* h_errnop) {
    HOOK_ENTER(gethostbyname_r);
    return hostent_lookup_r("gethostbyname_r", result, h_errnop,
                            [&] { return REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop); });
}

GREEN_HOOK(int, gethostbyname2_r, const char* name, int af, struct hostent* ret, char* buf, size_t buflen,
           struct hostent** result, int* h_errnop) {
    HOOK_ENTER(gethostbyname2_r);
    return hostent_lookup_r("gethostbyname2_r", result, h_errnop,
                            [&] { return REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop); });
}

GREEN_HOOK(int, gethostbyaddr_r, const void* addr, socklen_t len, int type, struct hostent* ret, char* buf,
           size_t buflen, struct hostent** result, int* h_errnop) {
    HOOK_ENTER(gethostbyaddr_r);
    return hostent_lookup_r("gethostbyaddr_r", result, h_errnop,
                            [&] { return REAL(gethostbyaddr_r)(addr, len, type, ret, buf, buflen, result, h_errnop); });
}
