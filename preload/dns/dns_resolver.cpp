// preload/dns/dns_resolver.cpp: glibc in rounds on the resolver thread, against an answer cache.
// See dns_resolver.hpp for the design. Two kinds of threads meet here:
//  - the calling green thread (on its hub): opens the round's proxy socket, queues the round,
//    answers the queries glibc sends to that socket until the round is done, and between rounds
//    has dns_cares.cpp fetch the missed answers;
//  - the resolver thread (at most kMaxResolverThreads, started on demand, ending after
//    kIdleExitSeconds without work): runs glibc with _res pointed at the round's proxy socket.
//
// Why one thread is enough, and why it cannot be none: glibc sends its queries and waits for the
// answers inside libc (internal calls no hook sees), so it must run on an OS thread of its own,
// and something else must answer it: the caller's hub, which has nothing else to do for that
// lookup meanwhile. A round never waits for the network, so rounds queue only for the time glibc
// computes; the waits that take long (for the servers) happen on the callers' hubs and overlap.
#include "dns_lookup.hpp"

#include "../../libgreen/context/raw_syscall.hpp"
#include "../core/fd_table.hpp"
#include "../core/real.hpp"

#include <arpa/inet.h>
#include <linux/futex.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace green::preload::dns {
namespace {

using detail::FdInterest;
using detail::Hub;
using detail::SpinLock;
using detail::Task;
using detail::Wake;
using detail::Waker;

// The price of a single thread: a round that waits inside glibc (a silent server: 1 s; an nsswitch
// source other than files and dns) holds up the rounds queued behind it.
constexpr int kMaxResolverThreads = 1;
constexpr double kIdleExitSeconds = 3.0;
// How long glibc waits for an answer. A timeout is what a silent server must look like, and it
// costs glibc's shortest wait, 1 s. Rounds that need no silence (the lookup met no silent server
// yet) wait long instead, so that a hub too busy to answer within 1 s delays glibc rather than
// turning into a timeout that natively would not have been.
constexpr int kSilentRoundTimeout = 1;
constexpr int kPatientRoundTimeout = 10;
constexpr int kMaxRounds = 12;  // a lookup that still misses answers after this many rounds gives up
constexpr size_t kMaxDatagram = 65507;
constexpr size_t kMaxQuery = 4096;  // glibc's queries are under 300 bytes (one name, EDNS0)

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

double clock_seconds(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// Say once (GREEN_DEBUG) what makes lookups hold the resolver thread for long: nsswitch sources
// other than files and dns (mdns, resolve, myhostname...), which do their own waiting, and nscd.
void note_slow_sources() {
    static std::atomic<bool> noted{false};
    if (!config.debug || noted.exchange(true)) return;
    if (FILE* f = fopen("/etc/nsswitch.conf", "re")) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "hosts:", 6) != 0) continue;
            char* save = nullptr;
            for (char* w = strtok_r(line + 6, " \t\n", &save); w; w = strtok_r(nullptr, " \t\n", &save))
                if (w[0] != '[' && w[0] != '#' && strcmp(w, "files") != 0 && strcmp(w, "dns") != 0) {
                    debug_once("dns nsswitch",
                               "an nsswitch hosts source other than files and dns waits on the "
                               "resolver thread (one such lookup at a time)");
                    break;
                }
        }
        fclose(f);
    }
    if (access("/var/run/nscd/socket", F_OK) == 0)
        debug_once("dns nscd", "nscd answers lookups: they wait on the resolver thread, one at a time");
}

// ---- a round: made by the caller on its stack, run by the resolver thread -----------------------

// The caller leaves run_round() only after it saw `done` under `lock`, and finish() touches the
// round last, inside that lock: the frame outlives every access from the resolver thread.
struct Round {
    // set by the caller before the round is queued:
    Hub* hub = nullptr;  // the caller's: holds an external count until the round is done
    Request* req = nullptr;
    const std::function<void()>* op = nullptr;
    sockaddr_in proxy{};          // the round's proxy socket, where glibc must send its queries
    bool patient = false;         // no silent answer expected: glibc waits kPatientRoundTimeout
    int in_err = 0, in_herr = 0;  // the caller's errno and h_errno: glibc leaves them alone on many paths
    Round* next = nullptr;        // in Workers' queue
    // set by the resolver thread before done:
    int err = 0, herr = 0;
    std::vector<std::string> misses;  // the queries the round had no answer for, in order
    std::shared_ptr<const ServerConf> conf;
    bool unavailable = false;  // no resolver thread could be started: the round never ran
    // completion:
    SpinLock lock;
    bool done = false;  // (lock)
    Waker waiter;       // (lock) the caller's current park

    void finish() noexcept {
        std::lock_guard g(lock);
        done = true;
        Hub::wake(waiter, Wake::Notified);  // a stale waker (the caller is awake already) is a no-op
    }
};

// ---- the resolver thread ------------------------------------------------------------------------

// The process's queue of rounds and its resolver threads. A thread decides to end, and a caller
// decides to start one, under `lock` with the queue in view: a round queued before a thread's
// decision is run by it; one queued after finds `threads` lowered and starts a new thread. (The
// ending thread lingers for the microseconds its exit takes, and may overlap its successor.)
struct Workers {
    pid_t pid = 0;  // made in this process (a fork child makes its own: the threads are not there)
    SpinLock lock;
    Round* head = nullptr;  // (lock) queued rounds, oldest first
    Round* tail = nullptr;
    int queued = 0;
    int threads = 0;               // (lock) started and not yet decided to end
    int waiting = 0;               // (lock) of those, in their futex wait
    std::atomic<uint32_t> seq{0};  // futex word: bumped (under lock) for every queued round
};

std::atomic<Workers*> g_workers{nullptr};

// This process's Workers (a parent's, copied by fork with whatever its threads held, is left alone).
Workers* workers() {
    const pid_t pid = getpid();
    Workers* w = g_workers.load(std::memory_order_acquire);
    if (w && w->pid == pid) return w;
    auto* fresh = new Workers;
    fresh->pid = pid;
    if (g_workers.compare_exchange_strong(w, fresh, std::memory_order_acq_rel)) return fresh;
    delete fresh;  // another hub thread of this process made one first
    return w;
}

struct WorkerState {
    bool configured = false;
    ConfSig sig;
    std::shared_ptr<const ServerConf> conf;
};
thread_local WorkerState tls_worker;

// (Re)load this thread's _res from resolv.conf as glibc does, note the servers and timeouts it
// found, and point it at the round's proxy. glibc leaves a _res the application modified alone (no
// reload), so a changed resolv.conf is noticed here.
void prepare_worker(const sockaddr_in& proxy, bool patient) {
    WorkerState& ws = tls_worker;
    ConfSig sig = resolv_sig();
    if (!ws.configured || !(sig == ws.sig)) {
        res_init();
        auto conf = std::make_shared<ServerConf>();
        conf->sig = sig;
        for (int i = 0; i < _res.nscount && i < MAXNS; ++i) {
            sockaddr_in6 a{};
            if (_res.nsaddr_list[i].sin_family == AF_INET) memcpy(&a, &_res.nsaddr_list[i], sizeof(sockaddr_in));
            else if (_res._u._ext.nsaddrs[i] && _res._u._ext.nsaddrs[i]->sin6_family == AF_INET6)
                a = *_res._u._ext.nsaddrs[i];
            else continue;
            conf->servers.push_back(a);
        }
        conf->retrans = _res.retrans > 0 ? _res.retrans : 5;
        conf->retry = _res.retry > 0 ? _res.retry : 2;
        conf->rotate = (_res.options & RES_ROTATE) != 0;
        conf->usevc = (_res.options & RES_USEVC) != 0;
        _res.nscount = 1;
        _res.retry = 1;
        _res.options &= ~(RES_USEVC | RES_ROTATE);  // the proxy speaks UDP; c-ares honours both
        ws.sig = sig;
        ws.conf = std::move(conf);
        ws.configured = true;
    }
    // glibc notices the changed address and drops its socket to the previous round's proxy.
    _res.nsaddr_list[0] = proxy;
    _res.retrans = patient ? kPatientRoundTimeout : kSilentRoundTimeout;
}

void run(Round& r) {
    prepare_worker(r.proxy, r.patient);
    Request& req = *r.req;
    {
        std::lock_guard g(req.lock);
        req.misses.clear();
        req.miss_keys.clear();
    }
    errno = r.in_err;
    h_errno = r.in_herr;
    (*r.op)();
    r.err = errno;
    r.herr = h_errno;
    {
        std::lock_guard g(req.lock);
        r.misses.swap(req.misses);
    }
    r.conf = tls_worker.conf;
    Hub* hub = r.hub;
    r.finish();
    hub->remove_external();  // the external count keeps the hub alive until here
}

// Counted in idle_internal_threads from its first instruction to its last: the deadlock test must
// not take it for a source of wake-ups. The only tasks it wakes (its callers, through finish()
// and their proxy sockets) belong to hubs that count its round as external work until it is done,
// so none of them can be taken for deadlocked meanwhile.
void* resolver_main(void* arg) {
    auto* w = static_cast<Workers*>(arg);
    detail::name_os_thread("green-dns");
    detail::idle_internal_threads.fetch_add(1);
    Hub::mark_worker_thread();  // its blocking calls (glibc's, the NSS modules') stay blocking
    sigset_t all;
    sigfillset(&all);
    REAL(pthread_sigmask)(SIG_BLOCK, &all, nullptr);  // (blocked from the start already: start_thread)
    double deadline = clock_seconds(CLOCK_MONOTONIC) + kIdleExitSeconds;
    bool was_waiting = false;
    for (;;) {
        Round* r = nullptr;
        uint32_t seen = 0;
        {
            std::lock_guard g(w->lock);
            if (was_waiting) --w->waiting;
            was_waiting = false;
            if ((r = w->head)) {
                w->head = r->next;
                if (!w->head) w->tail = nullptr;
                --w->queued;
            } else if (clock_seconds(CLOCK_MONOTONIC) >= deadline) {
                --w->threads;  // from now on, a queued round starts a new thread
                break;
            } else {
                seen = w->seq.load(std::memory_order_relaxed);
                ++w->waiting;
                was_waiting = true;
            }
        }
        if (r) {
            run(*r);
            deadline = clock_seconds(CLOCK_MONOTONIC) + kIdleExitSeconds;
            continue;
        }
        // A round queued after the lock was let go has changed seq: the wait returns at once.
        double left = std::max(0.0, deadline - clock_seconds(CLOCK_MONOTONIC));
        timespec ts{time_t(left), long((left - double(time_t(left))) * 1e9)};
        detail::raw_syscall(SYS_futex, long(&w->seq), FUTEX_WAIT_PRIVATE, long(seen), long(&ts));
    }
    // (Until the kernel has reaped this thread, the deadlock test counts one OS thread too many:
    // a deadlock checked in those microseconds goes unreported, never a false one.)
    detail::idle_internal_threads.fetch_sub(1);
    return nullptr;
}

bool start_thread(Workers* w) {
    pthread_attr_t attr;
    REAL(pthread_attr_init)(&attr);
    REAL(pthread_attr_setdetachstate)(&attr, PTHREAD_CREATE_DETACHED);
    // Signals are the program's business: the thread starts with all of them blocked (the
    // calling OS thread's own mask is back as it was at once; a signal meanwhile stays pending).
    sigset_t all, old;
    sigfillset(&all);
    REAL(pthread_sigmask)(SIG_SETMASK, &all, &old);
    pthread_t t;
    int rc = detail::native_pthread_create(&t, &attr, resolver_main, w);
    REAL(pthread_sigmask)(SIG_SETMASK, &old, nullptr);
    REAL(pthread_attr_destroy)(&attr);
    return rc == 0;
}

// Queue r, starting a resolver thread if none is there to take it. If none runs and none can be
// started, every queued round ends unavailable (their callers then run glibc themselves).
void submit(Round& r) {
    Workers* w = workers();
    bool start = false, wake = false;
    {
        std::lock_guard g(w->lock);
        if (w->tail) w->tail->next = &r;
        else w->head = &r;
        w->tail = &r;
        ++w->queued;
        if (w->threads < kMaxResolverThreads && w->queued > w->waiting) {
            ++w->threads;
            start = true;
        }
        w->seq.fetch_add(1, std::memory_order_relaxed);
        wake = w->waiting > 0;
    }
    if (wake) detail::raw_syscall(SYS_futex, long(&w->seq), FUTEX_WAKE_PRIVATE, 1);
    if (!start || start_thread(w)) return;
    Round* stranded = nullptr;
    {
        std::lock_guard g(w->lock);
        if (--w->threads == 0) {
            stranded = w->head;
            w->head = w->tail = nullptr;
            w->queued = 0;
        }
    }
    while (stranded) {
        Round* next = stranded->next;  // (read first: finish() may end the round's frame)
        Hub* hub = stranded->hub;
        stranded->unavailable = true;
        stranded->finish();
        hub->remove_external();
        stranded = next;
    }
}

// ---- the caller's side: the round's proxy socket ------------------------------------------------

// A UDP endpoint on 127.0.0.1 that only this round's glibc talks to (no straggler of another
// round can reach it), owned by the runtime: shielded from the program's close() and close_range()
// (FdTable::mark_runtime). It keeps the low number the kernel gave it, as the socket glibc opens
// natively for the lookup does: moved up near RLIMIT_NOFILE, it would make the hub's descriptor
// tables that large.
struct ProxySocket {
    int fd = -1;
    sockaddr_in addr{};

    bool open() {
        int s = REAL(socket)(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) return false;
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (REAL(bind)(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            REAL(getsockname)(s, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            REAL(close)(s);
            return false;
        }
        fd = s;
        FdTable::mark_runtime(fd);
        return true;
    }
    void close(Hub& hub) {
        hub.cancel_fd(fd);  // libev forgets it before the number can be reused
        FdTable::unmark_runtime(fd);
        FdTable::forget(fd);
        REAL(close)(fd);
    }
};

enum class Reply { Sent, Silent, Deferred, None };

// Answer one query of the round's glibc from the lookup's answers; one it has no answer for yet is
// recorded as a miss and refused. A silent answer that turns up in a patient round (a query still
// in flight when the round began timed out since) is refused too, and deferred to another round.
Reply answer(Request& req, bool patient, int fd, const unsigned char* q, size_t n, const sockaddr_storage& from,
             socklen_t fromlen) {
    if (n < 12 || (q[2] & 0x80)) return Reply::None;  // not a query
    std::string key(reinterpret_cast<const char*>(q) + 2, n - 2);
    std::string reply;
    Reply kind = Reply::Sent;
    {
        std::lock_guard g(req.lock);
        auto it = req.answers.find(key);
        if (it != req.answers.end() && it->second.silent && patient) {
            reply = bare_response(q, n, kRefused);
            kind = Reply::Deferred;
        } else if (it != req.answers.end()) {
            if (it->second.silent) return Reply::Silent;
            reply = it->second.bytes;
            reply[0] = char(q[0]);
            reply[1] = char(q[1]);
        } else {
            if (req.miss_keys.insert(key).second) req.misses.emplace_back(reinterpret_cast<const char*>(q), n);
            reply = bare_response(q, n, kRefused);
        }
    }
    if (reply.size() > kMaxDatagram) {  // cannot happen with real servers' answers; keep glibc sane
        reply.resize(kMaxDatagram);
        reply[2] = char(reply[2] | 0x02);  // TC
    }
    (void)REAL(sendto)(fd, reply.data(), reply.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&from), fromlen);
    return kind;
}

// Whether the lookup met a silent server: its next round must let glibc time out.
bool has_silent(Request& req) {
    std::lock_guard g(req.lock);
    for (auto& [key, a] : req.answers)
        if (a.silent) return true;
    return false;
}

struct RoundOut {
    int in_err = 0;
    int in_herr = 0;
    std::vector<std::string> misses;
    std::shared_ptr<const ServerConf> conf;
    bool late = false;    // glibc went on without an answer it should have had (or it was deferred)
    bool broken = false;  // the proxy socket failed (closed behind the runtime's back)
    int err = 0;
    int herr = 0;
};

// Read and answer every query waiting on the proxy socket. After the round is done, what is left
// was never answered: if not by choice (silence), glibc went on without it (it timed out while the
// hub was busy, in a round that had to be impatient), and the round is run again.
void serve(Request& req, bool patient, const ProxySocket& ps, std::vector<unsigned char>& buf, bool after_done,
           RoundOut& out) {
    for (;;) {
        sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = REAL(recvfrom)(ps.fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC,
                                   reinterpret_cast<sockaddr*>(&from), &fromlen);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) out.broken = true;
            return;
        }
        if (size_t(n) > buf.size()) continue;  // not one of glibc's queries
        Reply r = answer(req, patient, ps.fd, buf.data(), size_t(n), from, fromlen);
        if (r == Reply::Deferred || (after_done && r == Reply::Sent)) out.late = true;
    }
}

// Run one round of `op` on the resolver thread, serving its proxy socket meanwhile. False if it
// could not run (no socket, no thread).
bool run_round(Hub& hub, const char* what, Request& req, const std::function<void()>& op, RoundOut& out) {
    ProxySocket ps;
    if (!ps.open()) return false;
    Round r;
    r.hub = &hub;
    r.req = &req;
    r.op = &op;
    r.proxy = ps.addr;
    r.patient = !has_silent(req);
    r.in_err = out.in_err;
    r.in_herr = out.in_herr;
    hub.add_external();  // the resolver thread will wake us: an empty loop meanwhile is no deadlock
    submit(r);
    // Rounds are short (they never wait on the network): wait for the end even if a kill or a
    // Timeout arrives, which is then delivered at the next wait point.
    Task* self = hub.running();
    std::exception_ptr stolen;
    std::vector<unsigned char> buf(kMaxQuery);
    bool watching = true;
    for (;;) {
        if (self->pending) {
            if (!stolen) stolen = self->pending;
            self->pending = nullptr;
        }
        const Waker w = hub.prepare_park();
        {
            std::lock_guard g(r.lock);
            if (r.done) break;
            r.waiter = w;
        }
        if (!watching) {
            hub.park(w, {-1, {what, &r, -1}});
            continue;
        }
        FdInterest fi{ps.fd, detail::kRead, 0};
        Wake why = hub.wait_fds(std::span<FdInterest>(&fi, 1), w, {-1, {what, &r, ps.fd}});
        if (why == Wake::Closed) out.broken = true;
        else if (fi.revents) serve(req, r.patient, ps, buf, false, out);
        if (out.broken) watching = false;  // glibc times out on its own; the round is run again
    }
    if (stolen) self->pending = stolen;
    if (!out.broken && !r.unavailable) serve(req, r.patient, ps, buf, true, out);
    ps.close(hub);
    if (r.unavailable) return false;
    out.err = r.err;
    out.herr = r.herr;
    out.misses = std::move(r.misses);
    out.conf = std::move(r.conf);
    return true;
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
    note_slow_sources();
    for (int round = 0;; ++round) {
        const bool final = round >= kMaxRounds;
        RoundOut out;
        out.in_err = in_err;
        out.in_herr = in_herr;
        if (!run_round(hub, what, *req, op, out))
            return inline_lookup("dns",
                                 "cannot start the resolver thread or open a proxy socket: lookups run on "
                                 "the calling thread");
        if (!final && (!out.misses.empty() || out.late || out.broken)) {
            discard();  // another round is needed
        } else {
            if (final && (!out.misses.empty() || out.late || out.broken))
                debug_once("dns rounds", "a lookup still lacked answers after 12 rounds");
            err = out.err;
            herr = out.herr;
            return Status::Done;
        }
        if (hub.running()->pending) return Status::Interrupted;  // a kill or Timeout came meanwhile
        if (out.misses.empty()) continue;  // answered late or deferred, or the proxy broke down: again
        FetchResult fr = fetch_answers(hub, req, out.misses, out.conf, what);
        if (fr == FetchResult::Interrupted) return Status::Interrupted;
        if (fr == FetchResult::Unavailable)
            return inline_lookup("dns c-ares", "c-ares cannot start: lookups run on the calling thread");
    }
}

}  // namespace green::preload::dns
