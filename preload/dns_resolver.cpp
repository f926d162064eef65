// preload/dns_resolver.cpp: glibc in rounds on resolver threads, against an answer cache.
// See dns_resolver.hpp for the design. Three kinds of threads meet here:
//  - the calling green thread (hub thread): submits rounds and, between them, has dns_cares.cpp
//    fetch the missed answers;
//  - resolver threads (a green::ThreadPool): run glibc with _res pointed at their proxy slot;
//  - the proxy thread: answers each slot's queries from the lookup that slot currently serves.
#include "dns_lookup.hpp"

#include "real.hpp"

#include <green/thread_pool.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace green::preload::dns {
namespace {

using detail::Hub;
using detail::SpinLock;
using detail::Task;
using detail::Wake;

constexpr size_t kResolverThreads = 4;
constexpr int kMaxRounds = 12;  // a lookup that still misses answers after this many rounds gives up
constexpr size_t kMaxDatagram = 65507;

ConfSig resolv_sig() {
    ConfSig s;
    struct stat st;
    if (stat(_PATH_RESCONF, &st) == 0) {
        s.dev = st.st_dev;
        s.ino = st.st_ino;
        s.size = st.st_size;
        s.mtime_sec = st.st_mtim.tv_sec;
        s.mtime_nsec = st.st_mtim.tv_nsec;
    }
    return s;
}

// ---- the proxy: per resolver thread, a UDP endpoint glibc's _res points at ----------------------

struct Slot {
    int fd = -1;
    sockaddr_in addr{};
    SpinLock lock;
    std::shared_ptr<Request> current;  // the lookup whose round runs on the slot's thread now
};

struct Backend {
    pid_t pid = 0;
    ThreadPool* pool = nullptr;
    std::vector<Slot*> slots;
    std::atomic<size_t> claimed{0};
    // A slot's descriptor was closed or replaced behind our back (a program closing every
    // descriptor): the next lookup starts a new backend and this one's threads stay idle.
    std::atomic<bool> broken{false};
};

void proxy_answer(Slot& slot, const unsigned char* q, size_t n, const sockaddr_storage& from, socklen_t fromlen) {
    if (n < 12 || (q[2] & 0x80)) return;  // not a query
    std::shared_ptr<Request> req;
    {
        std::lock_guard g(slot.lock);
        req = slot.current;
    }
    if (!req) return;  // a straggler from a finished round
    std::string key(reinterpret_cast<const char*>(q) + 2, n - 2);
    std::string reply;
    {
        std::lock_guard g(req->lock);
        auto it = req->answers.find(key);
        if (it != req->answers.end()) {
            if (it->second.silent) return;
            reply = it->second.bytes;
            reply[0] = char(q[0]);
            reply[1] = char(q[1]);
        } else {
            if (req->miss_keys.insert(key).second) req->misses.emplace_back(reinterpret_cast<const char*>(q), n);
            reply = bare_response(q, n, kRefused);
        }
    }
    if (reply.size() > kMaxDatagram) {  // cannot happen with real servers' answers; keep glibc sane
        reply.resize(kMaxDatagram);
        reply[2] = char(reply[2] | 0x02);  // TC
    }
    (void)REAL(sendto)(slot.fd, reply.data(), reply.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&from),
                       fromlen);
}

// Still the socket we bound? (The program may have closed it and reused the number.)
bool slot_intact(const Slot& s) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    return REAL(getsockname)(s.fd, reinterpret_cast<sockaddr*>(&a), &len) == 0 && len == sizeof a &&
           a.sin_family == AF_INET && a.sin_port == s.addr.sin_port && a.sin_addr.s_addr == s.addr.sin_addr.s_addr;
}

void* proxy_main(void* arg) {
    auto* b = static_cast<Backend*>(arg);
    Hub::mark_worker_thread();
    sigset_t all;
    sigfillset(&all);
    REAL(pthread_sigmask)(SIG_BLOCK, &all, nullptr);
    // It never wakes a hub by itself (the resolver threads do): not a reason to wait forever.
    detail::idle_internal_threads.fetch_add(1);
    std::vector<pollfd> pfds;
    for (Slot* s : b->slots) pfds.push_back({s->fd, POLLIN, 0});
    std::vector<unsigned char> buf(65536);
    while (!b->broken.load()) {
        if (REAL(poll)(pfds.data(), pfds.size(), -1) <= 0) continue;
        for (size_t i = 0; i < pfds.size(); ++i) {
            if (!pfds[i].revents) continue;
            if ((pfds[i].revents & POLLNVAL) || !slot_intact(*b->slots[i])) {
                b->broken.store(true);
                break;
            }
            for (;;) {
                sockaddr_storage from;
                socklen_t fromlen = sizeof from;
                ssize_t n = REAL(recvfrom)(pfds[i].fd, buf.data(), buf.size(), MSG_DONTWAIT,
                                           reinterpret_cast<sockaddr*>(&from), &fromlen);
                if (n < 0) break;
                proxy_answer(*b->slots[i], buf.data(), size_t(n), from, fromlen);
            }
        }
    }
    return nullptr;
}

// Permanent descriptors of the runtime live near the top of RLIMIT_NOFILE (as libev's do), out of
// the way of programs that expect particular numbers.
int relocate_high(int fd) {
    rlimit rl{};
    int floor = 768;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        floor = int(std::max<rlim_t>(3, rl.rlim_cur - rl.rlim_cur / 4));
    int high = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, floor);
    if (high < 0) return fd;
    REAL(close)(fd);
    return high;
}

// Say once (GREEN_DEBUG) what makes lookups hold a resolver thread for long: nsswitch sources
// other than files and dns (mdns, resolve, myhostname...), which do their own waiting, and nscd.
void note_slow_sources() {
    if (!config.debug) return;
    if (FILE* f = fopen("/etc/nsswitch.conf", "re")) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "hosts:", 6) != 0) continue;
            char* save = nullptr;
            for (char* w = strtok_r(line + 6, " \t\n", &save); w; w = strtok_r(nullptr, " \t\n", &save))
                if (w[0] != '[' && w[0] != '#' && strcmp(w, "files") != 0 && strcmp(w, "dns") != 0) {
                    debug_once("dns nsswitch", "an nsswitch hosts source other than files and dns waits on a "
                                               "resolver thread (up to 4 such lookups at a time)");
                    break;
                }
        }
        fclose(f);
    }
    if (access("/var/run/nscd/socket", F_OK) == 0)
        debug_once("dns nscd", "nscd answers lookups: they wait on a resolver thread");
}

SpinLock backend_lock;
Backend* current_backend = nullptr;

void drop_slots(Backend* b) {
    for (Slot* s : b->slots) {
        if (s->fd >= 0) REAL(close)(s->fd);
        delete s;
    }
    delete b;
}

// The process's resolver threads and proxy, created on first use and again in a fork child (whose
// copies of the threads do not exist) or after the proxy lost a descriptor; null if they cannot be
// created.
Backend* backend() {
    pid_t pid = getpid();
    std::lock_guard g(backend_lock);
    if (current_backend && current_backend->pid == pid && !current_backend->broken.load()) return current_backend;
    // (An old backend is left behind: in a fork child its threads are gone anyway.)
    if (!current_backend) note_slow_sources();
    auto* b = new Backend;
    b->pid = pid;
    for (size_t i = 0; i < kResolverThreads; ++i) {
        auto* s = new Slot;
        b->slots.push_back(s);
        s->fd = REAL(socket)(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        s->addr.sin_family = AF_INET;
        s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof s->addr;
        if (s->fd < 0 || REAL(bind)(s->fd, reinterpret_cast<sockaddr*>(&s->addr), sizeof s->addr) != 0 ||
            REAL(getsockname)(s->fd, reinterpret_cast<sockaddr*>(&s->addr), &len) != 0) {
            drop_slots(b);
            return nullptr;
        }
        s->fd = relocate_high(s->fd);
    }
    pthread_attr_t attr;
    REAL(pthread_attr_init)(&attr);
    REAL(pthread_attr_setdetachstate)(&attr, PTHREAD_CREATE_DETACHED);
    REAL(pthread_attr_setstacksize)(&attr, 256 * 1024);
    pthread_t t;
    int rc = detail::native_pthread_create(&t, &attr, proxy_main, b);
    REAL(pthread_attr_destroy)(&attr);
    if (rc != 0) {
        drop_slots(b);
        return nullptr;
    }
    try {
        b->pool = new ThreadPool(kResolverThreads);
    } catch (...) {
        return nullptr;  // the proxy thread stays, idle
    }
    current_backend = b;
    return b;
}

// ---- resolver threads ---------------------------------------------------------------------------

struct WorkerState {
    Slot* slot = nullptr;
    bool configured = false;
    ConfSig sig;
    std::shared_ptr<const ServerConf> conf;
};
thread_local WorkerState tls_worker;

// (Re)load this thread's _res from resolv.conf as glibc does, note the servers and timeouts it
// found, and point it at the slot. glibc leaves a _res the application modified alone (no reload),
// so a changed resolv.conf is noticed here.
void prepare_worker(Backend& b) {
    WorkerState& ws = tls_worker;
    if (!ws.slot) ws.slot = b.slots[b.claimed.fetch_add(1) % b.slots.size()];
    ConfSig sig = resolv_sig();
    if (ws.configured && sig == ws.sig) return;
    res_init();
    auto conf = std::make_shared<ServerConf>();
    conf->sig = sig;
    for (int i = 0; i < _res.nscount && i < MAXNS; ++i) {
        sockaddr_in6 a{};
        if (_res.nsaddr_list[i].sin_family == AF_INET)
            memcpy(&a, &_res.nsaddr_list[i], sizeof(sockaddr_in));
        else if (_res._u._ext.nsaddrs[i] && _res._u._ext.nsaddrs[i]->sin6_family == AF_INET6)
            a = *_res._u._ext.nsaddrs[i];
        else
            continue;
        conf->servers.push_back(a);
    }
    conf->retrans = _res.retrans > 0 ? _res.retrans : 5;
    conf->retry = _res.retry > 0 ? _res.retry : 2;
    conf->rotate = (_res.options & RES_ROTATE) != 0;
    conf->usevc = (_res.options & RES_USEVC) != 0;
    _res.nscount = 1;
    _res.nsaddr_list[0] = ws.slot->addr;
    _res.retrans = 1;  // only a silent (timed-out) answer makes glibc wait: 1 s is its minimum
    _res.retry = 1;
    _res.options &= ~(RES_USEVC | RES_ROTATE);  // the proxy speaks UDP; c-ares honours both
    ws.sig = sig;
    ws.conf = std::move(conf);
    ws.configured = true;
}

// A round's job signals its caller through this; the caller parks until it is done.
struct Completion {
    std::atomic<bool> done{false};
    std::atomic<uint64_t> epoch{0};  // of the caller's current park
    Task* task = nullptr;

    void finish() {
        done.store(true);
        Hub::wake({task, epoch.load()}, Wake::Notified);
    }
    // Rounds are short (they never wait on the network): wait for the end even if a kill or a
    // Timeout arrives, which is then delivered at the next wait point.
    void wait(Hub& hub, const char* what) {
        Task* self = hub.running();
        std::exception_ptr stolen;
        while (!done.load()) {
            if (self->pending) {
                if (!stolen) stolen = self->pending;
                self->pending = nullptr;
            }
            const detail::Waker w = hub.prepare_park();
            epoch.store(w.epoch);
            if (done.load()) break;
            hub.park(w, {-1, {what, this, -1}});
        }
        if (stolen) self->pending = stolen;
    }
};

struct RoundOut {
    int in_err = 0;   // the caller's errno and h_errno: glibc leaves them alone on many paths
    int in_herr = 0;
    std::vector<std::string> misses;
    std::shared_ptr<const ServerConf> conf;
    bool again = false;  // the result was discarded: another round is needed
    int err = 0;
    int herr = 0;
};

void run_round(Hub& hub, Backend& b, const char* what, const std::shared_ptr<Request>& req,
               const std::function<void()>& op, const std::function<void()>& discard, bool final, RoundOut& out) {
    auto done = std::make_shared<Completion>();
    done->task = hub.running();
    // References into this frame are safe: wait() returns only after the job has finished.
    b.pool->spawn([&b, done, req, &op, &discard, final, &out] {
        prepare_worker(b);
        Slot& slot = *tls_worker.slot;
        {
            std::lock_guard g(req->lock);
            req->misses.clear();
            req->miss_keys.clear();
        }
        {
            std::lock_guard g(slot.lock);
            slot.current = req;
        }
        errno = out.in_err;
        h_errno = out.in_herr;
        op();
        int err = errno, herr = h_errno;
        {
            std::lock_guard g(slot.lock);
            slot.current.reset();
        }
        {
            std::lock_guard g(req->lock);
            out.misses.swap(req->misses);
        }
        out.again = (!out.misses.empty() || b.broken.load()) && !final;
        if (out.again) discard();
        out.err = err;
        out.herr = herr;
        out.conf = tls_worker.conf;
        done->finish();
    });
    done->wait(hub, what);
}

}  // namespace

Status resolve(Hub& hub, const char* what, const std::function<void()>& op, const std::function<void()>& discard,
               int& err, int& herr) {
    auto req = std::make_shared<Request>();
    const int in_err = errno, in_herr = h_errno;
    // Without the machinery, the lookup runs on the calling thread as natively (blocking it).
    auto inline_lookup = [&](const char* site, const char* why) {
        debug_once(site, why);
        errno = in_err;
        h_errno = in_herr;
        op();
        err = errno;
        herr = h_errno;
        return Status::Done;
    };
    for (int round = 0;; ++round) {
        bool final = round >= kMaxRounds;
        Backend* b = backend();
        if (!b) return inline_lookup("dns", "cannot start the resolver threads: lookups run on the calling thread");
        RoundOut out;
        out.in_err = in_err;
        out.in_herr = in_herr;
        run_round(hub, *b, what, req, op, discard, final, out);
        if (!out.again) {
            if (final && (!out.misses.empty() || b->broken.load()))
                debug_once("dns rounds", "a lookup still lacked answers after 12 rounds");
            err = out.err;
            herr = out.herr;
            return Status::Done;
        }
        if (hub.running()->pending) return Status::Interrupted;  // a kill or Timeout came meanwhile
        if (out.misses.empty()) continue;  // the proxy broke down: again with a new one
        FetchResult fr = fetch_answers(hub, req, out.misses, out.conf, what);
        if (fr == FetchResult::Interrupted) return Status::Interrupted;
        if (fr == FetchResult::Unavailable)
            return inline_lookup("dns c-ares", "c-ares cannot start: lookups run on the calling thread");
    }
}

}  // namespace green::preload::dns
