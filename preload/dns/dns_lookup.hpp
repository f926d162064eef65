// preload/dns/dns_lookup.hpp: what the two halves of the resolver share (see dns_resolver.hpp).
//
//  - dns_resolver.cpp runs glibc in rounds on resolver threads against a Request's answers (the
//    proxy records the queries it had no answer for: Request::misses);
//  - dns_cares.cpp fetches those answers from the real servers with c-ares on the caller's hub.
// A Request lives as long as its lookup and any query of it still in flight (shared_ptr).
#pragma once

#include "../core/runtime.hpp"

#include "dns_resolver.hpp"

#include <netinet/in.h>
#include <sys/types.h>

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace green::preload::dns {

constexpr int kServFail = 2;  // DNS response codes
constexpr int kNotImp = 4;
constexpr int kRefused = 5;

// ---- DNS wire format: just enough to key, group and refuse queries ------------------------------

// Offset just past the (single) question of message m, or 0 if there is none or it is malformed.
inline size_t question_end(const unsigned char* m, size_t n) {
    if (n < 12 || m[4] != 0 || m[5] != 1) return 0;
    size_t off = 12;
    while (off < n) {
        unsigned len = m[off];
        if (len == 0) return off + 5 <= n ? off + 5 : 0;
        if (len & 0xC0) return 0;
        off += 1 + len;
    }
    return 0;
}

// The queried name in wire form, lower-cased: queries for one name (A and AAAA) form a group.
inline std::string question_name(const std::string& q) {
    auto* m = reinterpret_cast<const unsigned char*>(q.data());
    size_t end = question_end(m, q.size());
    if (end == 0) return q;
    std::string name = q.substr(12, end - 4 - 12);
    for (char& c : name)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return name;
}

// A response to query q carrying nothing but its question and `rcode`.
inline std::string bare_response(const unsigned char* q, size_t n, int rcode) {
    size_t end = question_end(q, n);
    std::string r(reinterpret_cast<const char*>(q), end ? end : std::min<size_t>(n, 12));
    r.resize(std::max<size_t>(r.size(), 12), '\0');
    r[2] = char((q[2] & 0x79) | 0x80);  // QR; keep opcode and RD
    r[3] = char(0x80 | rcode);          // RA
    for (int i = 4; i < 12; ++i) r[i] = 0;
    if (end) r[5] = 1;  // qdcount
    return r;
}

// Queries are keyed without their ID (glibc picks a new one each time).
inline std::string key_of(const std::string& query) { return query.substr(2); }

// ---- one lookup ---------------------------------------------------------------------------------

struct Answer {
    bool silent = false;  // the servers did not answer: glibc must see a timeout too
    std::string bytes;    // a complete response (its ID is replaced per query)
};

struct Fetch;  // dns_cares.cpp

struct Request {
    detail::SpinLock lock;                            // guards answers, misses, miss_keys (the proxy thread reads them)
    std::unordered_map<std::string, Answer> answers;  // by key_of(query)
    std::vector<std::string> misses;                  // this round's unanswered queries, in order
    std::unordered_set<std::string> miss_keys;
    // hub thread only:
    std::unordered_set<std::string> inflight;  // keys sent with c-ares, not answered yet
    Fetch* waiter = nullptr;                   // the caller, while it waits for answers
};

// ---- resolver configuration, as glibc read it on a resolver thread -------------------------------

struct ConfSig {  // identifies one version of resolv.conf
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    long mtime_sec = 0;
    long mtime_nsec = 0;
    bool operator==(const ConfSig&) const = default;
};

struct ServerConf {
    ConfSig sig;
    std::vector<sockaddr_in6> servers;  // glibc's, in order; AF_INET ones are sockaddr_in inside
    int retrans = 5;                    // timeout:
    int retry = 2;                      // attempts:
    bool rotate = false;
    bool usevc = false;
};

// Send `misses` (whole queries, in the order glibc asked them) that are neither answered nor in
// flight to the servers of `conf` with the calling hub's c-ares channel, and park until the first
// group of them (same name as the first) is answered in req->answers. Unavailable: c-ares could
// not start (the caller then lets glibc do its own waiting).
enum class FetchResult { Done, Interrupted, Unavailable };
FetchResult fetch_answers(detail::Hub& hub, const std::shared_ptr<Request>& req, const std::vector<std::string>& misses,
                          const std::shared_ptr<const ServerConf>& conf, const char* what);

}  // namespace green::preload::dns
