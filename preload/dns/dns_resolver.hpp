// preload/dns/dns_resolver.hpp: running glibc's resolver without blocking the hub.
//
// The idea: glibc computes every result itself (so results are glibc's by construction: nsswitch,
// /etc/hosts, search lists, RFC 3484 sorting with /etc/gai.conf, canonical names, EAI_* and h_errno
// mapping), but it never waits on the network. A lookup runs in rounds:
//
//   1. `op` (a call to the real glibc function) runs on the resolver thread: one native thread
//      for the whole process, started when a round is queued and none is there, ending after 3 s
//      without work. Its per-thread resolver state (_res) points at the round's own DNS endpoint
//      on 127.0.0.1 (the "proxy" socket), which the calling green thread serves on its hub while
//      the round runs: it answers at once from the lookup's answer cache. A query it has no
//      answer for yet is recorded as a miss and refused, so glibc gives up quickly.
//   2. If the round recorded misses, its result is discarded (`discard`), and the calling green
//      thread forwards the missed queries byte for byte to the real name servers with c-ares (one
//      channel per hub, driven by the waiting green threads with Hub::wait_fds and ares_timeout:
//      dns_cares.cpp), parks meanwhile, stores the raw answers in the cache, and runs the next
//      round. (glibc asks for one name after another, e.g. along the search list: one round each.)
//   3. A round without misses is final: its result, errno and h_errno are the caller's.
//
// A server that does not answer (c-ares times out) is answered by silence, so glibc sees a timeout
// as well (after 1 s, the shortest glibc waits). Only rounds of a lookup that met such a server
// let glibc time out that soon; the others give it 10 s, so that a hub busy for a while (the
// proxy's answers wait for it) only delays the round. A query such an impatient round left unread
// when it ended, or a silence a patient round met, makes the round run again. Lookups that never touch DNS (/etc/hosts, numeric
// addresses) finish in the first round. Sources other than files and dns (mdns, nscd...) simply run
// on the resolver thread, blocking that thread but never the hub. Rounds queue for the one thread:
// they are short (only the waiting for servers takes long, and it happens on the callers' hubs, all
// overlapping), except those that wait inside glibc (a silent server: 1 s; other sources).
//
// Callers may assume: resolve() parks only the calling green thread; the resolver thread is
// created on demand (in a fork child too) and is the runtime's own (native, every signal blocked,
// counted in idle_internal_threads: it only ever wakes hubs that count its work as external); a
// kill/Timeout that arrives while a round runs is delivered after that round (at the next wait
// point), one that arrives while waiting for the network abandons the lookup (Status::Interrupted).
#pragma once

#include "../core/runtime.hpp"

#include <functional>

namespace green::preload::dns {

enum class Status { Done, Interrupted };

// Run `op` as described above; `discard` frees what a non-final round of `op` produced. On Done,
// `err` and `herr` are errno and h_errno as the final round left them.
Status resolve(detail::Hub& hub, const char* what, const std::function<void()>& op,
               const std::function<void()>& discard, int& err, int& herr);

}  // namespace green::preload::dns
