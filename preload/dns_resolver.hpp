// preload/dns_resolver.hpp: running glibc's resolver without blocking the hub.
//
// The idea: glibc computes every result itself (so results are glibc's by construction: nsswitch,
// /etc/hosts, search lists, RFC 3484 sorting with /etc/gai.conf, canonical names, EAI_* and h_errno
// mapping), but it never waits on the network. A lookup runs in rounds:
//
//   1. `op` (a call to the real glibc function) runs on a small pool of native resolver threads.
//      Each of them has its per-thread resolver state (_res) pointed at its own in-process DNS
//      endpoint on 127.0.0.1 (the "proxy", served by one native thread), which answers at once
//      from the lookup's answer cache. A query it has no answer for yet is recorded as a miss and
//      refused, so glibc gives up quickly.
//   2. If the round recorded misses, its result is discarded (`discard`), and the calling green
//      thread forwards the missed queries byte for byte to the real name servers with c-ares (one
//      channel per hub, driven by the waiting green threads with Hub::wait_fds and ares_timeout:
//      dns_cares.cpp), parks meanwhile, stores the raw answers in the cache, and runs the next
//      round. (glibc asks for one name after another, e.g. along the search list: one round each.)
//   3. A round without misses is final: its result, errno and h_errno are the caller's.
//
// A server that does not answer (c-ares times out) is answered by silence, so glibc sees a timeout
// as well (after 1 s, the shortest glibc waits). Lookups that never touch DNS (/etc/hosts, numeric
// addresses) finish in the first round. Sources other than files and dns (mdns, nscd...) simply run
// on the resolver thread, blocking that thread but never the hub.
//
// Callers may assume: resolve() parks only the calling green thread; the resolver threads are
// created lazily (and again in a fork child); a kill/Timeout that arrives while a round runs on a
// resolver thread is delivered after that round (at the next wait point), one that arrives while
// waiting for the network abandons the lookup (Status::Interrupted).
#pragma once

#include "runtime.hpp"

#include <functional>

namespace green::preload::dns {

enum class Status { Done, Interrupted };

// Run `op` as described above; `discard` frees what a non-final round of `op` produced. On Done,
// `err` and `herr` are errno and h_errno as the final round left them.
Status resolve(detail::Hub& hub, const char* what, const std::function<void()>& op,
               const std::function<void()>& discard, int& err, int& herr);

}  // namespace green::preload::dns
