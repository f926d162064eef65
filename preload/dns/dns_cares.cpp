// preload/dns/dns_cares.cpp: forwarding glibc's missed queries to the real servers with c-ares.
//
// One channel per hub thread, configured from what glibc read in resolv.conf (servers, timeout,
// attempts, rotate, use-vc). Its sockets bypass the preload's descriptor table. Whoever waits for
// answers drives the channel: one driver at a time waits on its sockets and its next timeout with
// Hub::wait_fds and calls ares_process_fd; the others (followers) park until their answers are in
// or the driver, done with its own, hands the channel over. Queries are sent byte for byte as glibc
// built them (flags, EDNS0), and answers stored as the servers sent them.
#include "dns_lookup.hpp"

#include "../core/fd_table.hpp"
#include "../core/real.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

namespace green::preload::dns {

// One caller waiting for answers (Request::waiter points here meanwhile).
struct Fetch {
    detail::Task* task = nullptr;
    detail::Waker waker;  // while parked
    std::shared_ptr<Request> req;
    std::vector<std::string> needed;  // keys the next round cannot do without
    bool parked = false;

    bool satisfied() const {
        std::lock_guard g(req->lock);
        for (auto& k : needed)
            if (!req->answers.count(k)) return false;
        return true;
    }
};

namespace {

using detail::Hub;
using detail::SpinLock;
using detail::Task;
using detail::Wake;

// c-ares' sockets bypass the preload's descriptor table: c-ares drives them non-blocking itself.
ares_socket_t sock_open(int af, int type, int proto, void*) {
    return REAL(socket)(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
}
int sock_close(ares_socket_t fd, void*) {
    if (Hub* h = Hub::current_or_null()) h->cancel_fd(fd);  // a driver parked on it re-arms
    FdTable::forget(fd);
    return REAL(close)(fd);
}
int sock_connect(ares_socket_t fd, const sockaddr* sa, ares_socklen_t len, void*) { return REAL(connect)(fd, sa, len); }
ares_ssize_t sock_recvfrom(ares_socket_t fd, void* buf, size_t n, int flags, sockaddr* from, ares_socklen_t* fromlen,
                           void*) {
    return REAL(recvfrom)(fd, buf, n, flags, from, fromlen);
}
// A UDP send can fail with the ICMP refusal of an earlier datagram. c-ares would then give up on
// this query only and wait out the earlier one's timeout, where glibc fails at once: send again,
// so that the refusal comes back as a read error that fails every query to that server.
ares_ssize_t sock_sendv(ares_socket_t fd, const iovec* iov, int n, void*) {
    ares_ssize_t r = REAL(writev)(fd, iov, n);
    for (int i = 0; i < 3 && r < 0 && errno == ECONNREFUSED; ++i) r = REAL(writev)(fd, iov, n);
    return r;
}
const ares_socket_functions socket_functions = {sock_open, sock_close, sock_connect, sock_recvfrom, sock_sendv};

// One per hub thread. Whoever waits for answers drives it: one driver at a time waits on its
// sockets; the others (followers) park until their answers arrive or the driver hands over.
struct Channel {
    ares_channel ch = nullptr;
    pid_t pid = 0;
    std::shared_ptr<const ServerConf> conf;
    bool driving = false;
    detail::Waker driver;                   // the driving task's current park
    std::vector<detail::FdInterest> armed;  // what the driver waits on now
    std::vector<Fetch*> followers;
    size_t outstanding = 0;  // queries sent and not called back yet
};

struct Pending {
    Channel* channel;
    int attempts;  // glibc's "attempts": rounds over all servers, each with the same timeout
    std::shared_ptr<Request> req;
    std::string key;
    std::string query;
};

void on_answer(void* arg, int status, int, unsigned char* abuf, int alen) {
    auto* raw = static_cast<Pending*>(arg);
    if (status == ARES_ETIMEOUT && --raw->attempts > 0) {  // c-ares would double the timeout; glibc does not
        ares_send(raw->channel->ch, reinterpret_cast<const unsigned char*>(raw->query.data()), int(raw->query.size()),
                  on_answer, raw);
        return;
    }
    std::unique_ptr<Pending> p(raw);
    --p->channel->outstanding;
    Request& r = *p->req;
    if (status == ARES_EDESTRUCTION) {  // not expected: channels are replaced only when idle
        r.inflight.erase(p->key);
        return;
    }
    Answer a;
    auto* q = reinterpret_cast<const unsigned char*>(p->query.data());
    if (status == ARES_SUCCESS && abuf && alen >= 12) a.bytes.assign(reinterpret_cast<char*>(abuf), size_t(alen));
    else if (status == ARES_ESERVFAIL || status == ARES_ECONNREFUSED)  // every server failed or refused
        a.bytes = bare_response(q, p->query.size(), kServFail);
    else if (status == ARES_ENOTIMP) a.bytes = bare_response(q, p->query.size(), kNotImp);
    else if (status == ARES_EREFUSED) a.bytes = bare_response(q, p->query.size(), kRefused);
    else a.silent = true;  // timed out, unusable answers: glibc must wait in vain too
    {
        std::lock_guard g(r.lock);
        r.answers[p->key] = std::move(a);
    }
    r.inflight.erase(p->key);
    if (Fetch* f = r.waiter; f && f->parked) Hub::wake(f->waker, Wake::Notified);
}

// A c-ares channel configured like glibc's resolver, or null. It may park the calling green thread:
// ares_init_options reads resolv.conf through stdio, whose locks other OS threads share.
ares_channel make_channel(const std::shared_ptr<const ServerConf>& conf) {
    static std::atomic<bool> library_ready{false};
    static SpinLock library_lock;
    if (!library_ready.load()) {
        std::lock_guard g(library_lock);
        if (!library_ready.load()) {
            if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) return nullptr;
            library_ready.store(true);
        }
    }
    ares_options opts{};
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS;
    opts.flags = conf->usevc ? ARES_FLAG_USEVC : 0;
    // With one server, glibc takes its SERVFAIL/REFUSED/NOTIMP answer as it is: so do we. With
    // several, c-ares goes on to the next one as glibc does, and reports only that all failed.
    if (conf->servers.size() <= 1) opts.flags |= ARES_FLAG_NOCHECKRESP;
    opts.timeout = conf->retrans * 1000;
    opts.tries = 1;  // once per server; on_answer repeats that conf->retry times
    char lookups[] = "b";
    opts.lookups = lookups;
    opts.ndomains = 0;
    mask |= conf->rotate ? ARES_OPT_ROTATE : ARES_OPT_NOROTATE;
    ares_channel ch;
    if (ares_init_options(&ch, &opts, mask) != ARES_SUCCESS) return nullptr;
    ares_set_socket_functions(ch, &socket_functions, nullptr);
    std::vector<ares_addr_port_node> nodes(conf->servers.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
        const sockaddr_in6& s = conf->servers[i];
        ares_addr_port_node& n = nodes[i];
        n.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
        if (s.sin6_family == AF_INET) {
            auto& s4 = reinterpret_cast<const sockaddr_in&>(s);
            n.family = AF_INET;
            n.addr.addr4 = s4.sin_addr;
            n.udp_port = n.tcp_port = ntohs(s4.sin_port);
        } else {
            n.family = AF_INET6;
            memcpy(&n.addr.addr6, &s.sin6_addr, sizeof s.sin6_addr);
            n.udp_port = n.tcp_port = ntohs(s.sin6_port);
        }
    }
    // No servers at all: glibc has none either and times out; so will c-ares' default (loopback).
    if (!nodes.empty() && ares_set_servers_ports(ch, nodes.data()) != ARES_SUCCESS) {
        ares_destroy(ch);
        return nullptr;
    }
    return ch;
}

bool same_servers(const ServerConf& a, const ServerConf& b) {
    if (a.servers.size() != b.servers.size() || a.retrans != b.retrans || a.retry != b.retry || a.rotate != b.rotate ||
        a.usevc != b.usevc)
        return false;
    for (size_t i = 0; i < a.servers.size(); ++i)
        if (memcmp(&a.servers[i], &b.servers[i], sizeof a.servers[i]) != 0) return false;
    return true;
}

// The calling hub thread's channel, configured like glibc's resolver; null if c-ares fails.
Channel* channel_for(const std::shared_ptr<const ServerConf>& conf) {
    // Kept on the hub, not in TLS: green threads with TCBs of their own share their hub's channel.
    detail::Hub& hub = detail::Hub::current();
    auto* ch = static_cast<Channel*>(hub.user);
    pid_t pid = getpid();
    if (!ch || ch->pid != pid) {
        hub.user = ch = new Channel;  // a parent's channel is left behind in a fork child
        ch->pid = pid;
    }
    Channel& c = *ch;
    if (c.ch && c.outstanding == 0 && conf && !same_servers(*c.conf, *conf)) {
        ares_destroy(c.ch);  // resolv.conf changed: start afresh once nothing is in flight
        c.ch = nullptr;
    }
    if (!c.ch) {
        ares_channel fresh = make_channel(conf);
        // Another green thread of this hub may have made one while this one was parked in
        // make_channel: keep the first, whose queries are in flight (replacing it lost them all).
        if (c.ch) {
            if (fresh) ares_destroy(fresh);
        } else if (fresh) {
            c.ch = fresh;
            c.conf = conf;
        }
    }
    return c.ch ? &c : nullptr;
}

std::vector<detail::FdInterest> channel_fds(Channel& c) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(c.ch, socks, ARES_GETSOCK_MAXNUM);
    std::vector<detail::FdInterest> fds;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        int ev = (ARES_GETSOCK_READABLE(bits, i) ? detail::kRead : 0) |
                 (ARES_GETSOCK_WRITABLE(bits, i) ? detail::kWrite : 0);
        if (ev) fds.push_back({socks[i], ev, 0});
    }
    return fds;
}

bool same_fds(const std::vector<detail::FdInterest>& a, const std::vector<detail::FdInterest>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].fd != b[i].fd || a[i].events != b[i].events) return false;
    return true;
}

// Wait on the channel's sockets and process them until f is satisfied (or interrupted), then
// hand the channel over to a follower that still waits.
Wake drive(Hub& hub, Channel& c, Fetch& f, const char* what) {
    c.driving = true;
    Wake result = Wake::Notified;
    while (!f.satisfied()) {
        c.armed = channel_fds(c);
        timeval tv;
        timeval* tvp = ares_timeout(c.ch, nullptr, &tv);
        if (c.armed.empty() && !tvp && c.outstanding == 0) {
            // Nothing in flight can answer f any more (not expected): let glibc see a timeout.
            std::lock_guard g(f.req->lock);
            for (auto& k : f.needed) f.req->answers.try_emplace(k, Answer{true, {}});
            continue;
        }
        double timeout = tvp ? double(tv.tv_sec) + double(tv.tv_usec) / 1e6 : -1;
        c.driver = hub.prepare_park();
        Wake w = c.armed.empty() ? hub.park(c.driver, {timeout, {what, c.ch, -1}})
                                 : hub.wait_fds(c.armed, c.driver, {timeout, {what, c.ch, c.armed[0].fd}});
        if (w == Wake::Interrupted || w == Wake::LoopExit) {
            result = w;
            break;
        }
        bool any = false;
        for (auto& it : c.armed) {
            if (!it.revents) continue;
            any = true;
            ares_process_fd(c.ch, (it.revents & detail::kRead) ? it.fd : ARES_SOCKET_BAD,
                            (it.revents & detail::kWrite) ? it.fd : ARES_SOCKET_BAD);
        }
        if (!any) ares_process_fd(c.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
    }
    c.armed.clear();
    c.driving = false;
    c.driver = {};
    for (Fetch* o : c.followers)
        if (o->parked && !o->satisfied()) {
            Hub::wake(o->waker, Wake::Notified);
            break;
        }
    return result;
}

// Send this round's misses to the real servers (those not answered or in flight already) and wait
// until the first group of them — what glibc asked first, hence needs first — is answered. The
// others may be speculative (glibc goes on to further names when refused) and stay in flight.
Status fetch(Hub& hub, Channel& c, const std::shared_ptr<Request>& req, const std::vector<std::string>& misses,
             const char* what) {
    Fetch f;
    f.task = hub.running();
    f.req = req;
    std::string first = question_name(misses.front());
    for (auto& q : misses) {
        std::string key = key_of(q);
        if (question_name(q) == first) f.needed.push_back(key);
        {
            std::lock_guard g(req->lock);
            if (req->answers.count(key)) continue;
        }
        if (!req->inflight.insert(key).second) continue;
        auto* p = new Pending{&c, c.conf->retry, req, key, q};
        ++c.outstanding;
        ares_send(c.ch, reinterpret_cast<const unsigned char*>(q.data()), int(q.size()), on_answer, p);
    }
    // A socket the driver does not watch yet (the first query to a server, TCP): make it re-arm.
    if (c.driving && !same_fds(c.armed, channel_fds(c))) Hub::wake(c.driver, Wake::Notified);
    req->waiter = &f;
    Status st = Status::Done;
    while (!f.satisfied()) {
        if (f.task->pending) {
            st = Status::Interrupted;
            break;
        }
        if (!c.driving) {
            Wake w = drive(hub, c, f, what);
            if (w == Wake::Interrupted || w == Wake::LoopExit) {
                st = Status::Interrupted;
                break;
            }
            continue;
        }
        f.parked = true;
        f.waker = hub.prepare_park();
        c.followers.push_back(&f);
        Wake w = hub.park(f.waker, {-1, {what, req.get(), -1}});
        f.parked = false;
        c.followers.erase(std::find(c.followers.begin(), c.followers.end(), &f));
        if (w == Wake::Interrupted || w == Wake::LoopExit) {
            st = Status::Interrupted;
            break;
        }
    }
    req->waiter = nullptr;
    return st;
}

}  // namespace

FetchResult fetch_answers(Hub& hub, const std::shared_ptr<Request>& req, const std::vector<std::string>& misses,
                          const std::shared_ptr<const ServerConf>& conf, const char* what) {
    Channel* c = channel_for(conf);
    if (!c) return FetchResult::Unavailable;
    return fetch(hub, *c, req, misses, what) == Status::Interrupted ? FetchResult::Interrupted : FetchResult::Done;
}

}  // namespace green::preload::dns
