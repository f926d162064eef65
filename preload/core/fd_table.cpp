#include "fd_table.hpp"
#include "io_wait.hpp"

#include "real.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cerrno>
#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "../../libgreen/hub/hub.hpp"

namespace green::preload {

std::atomic<uint32_t> fork_epoch{0};

namespace {

// Two levels of 4096 entries: up to 16M descriptors, memory only for the ranges in use.
constexpr int kChunkBits = 12;
constexpr int kChunk = 1 << kChunkBits;
constexpr int kChunks = 4096;
std::atomic<FdState*> chunks[kChunks];

double timeout_of(int fd, int opt) {
    timeval tv{};
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0) return -1;
    if (tv.tv_sec == 0 && tv.tv_usec == 0) return -1;  // zero means no timeout
    return double(tv.tv_sec) + double(tv.tv_usec) * 1e-6;
}

}  // namespace

namespace {
// A descriptor number that names a new file: a watcher the hub kept armed for the old one must go.
void new_file(int fd) { retire_fd_waits(fd, /*keep=*/false); }
}  // namespace

FdState* FdTable::slot(int fd) noexcept {
    if (fd < 0 || fd >= kChunk * kChunks) return nullptr;
    std::atomic<FdState*>& c = chunks[fd >> kChunkBits];
    FdState* base = c.load(std::memory_order_acquire);
    if (__builtin_expect(!base, 0)) {
        // calloc, not new: this may run inside another library's constructor. Zero bytes are a
        // valid "Unknown" entry except for the timeouts, which are fixed up on classification.
        auto* fresh = static_cast<FdState*>(calloc(kChunk, sizeof(FdState)));
        if (!fresh) return nullptr;
        if (c.compare_exchange_strong(base, fresh)) base = fresh;
        else free(fresh);
    }
    return &base[fd & (kChunk - 1)];
}

FdKind FdTable::classify(int fd) noexcept {
    struct stat st;
    if (fstat(fd, &st) != 0) return FdKind::Unknown;
    switch (st.st_mode & S_IFMT) {
    case S_IFSOCK: {
        int type = 0;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return FdKind::Datagram;
        return type == SOCK_STREAM || type == SOCK_SEQPACKET ? FdKind::Stream : FdKind::Datagram;
    }
    case S_IFIFO:
    case S_IFCHR: return FdKind::Pollable;
    case 0:
        // Anonymous inodes (eventfd, timerfd, signalfd, epoll, inotify, pidfd) have no type bits.
        // eventfd/timerfd/signalfd reads block and are pollable; epoll fds are not read.
        return FdKind::Pollable;
    default: return FdKind::Passthrough;  // regular files are always "ready": epoll refuses them
    }
}

FdState* FdTable::get(int fd) noexcept {
    FdState* s = slot(fd);
    if (!s) return nullptr;
    if (__builtin_expect(s->kind != FdKind::Unknown, 1)) return s->kind == FdKind::Runtime ? nullptr : s;
    int saved = errno;
    int fl = REAL(fcntl)(fd, F_GETFL);
    if (fl < 0) {
        errno = saved;
        return nullptr;  // not open
    }
    FdKind k = classify(fd);
    new_file(fd);
    s->nonblock = fl & O_NONBLOCK;
    s->accmode = int8_t(fl & O_ACCMODE);
    s->drained = false;
    s->exclusive = false;  // inherited or made behind our back: others may share it
    s->listening = false;
    s->rcv_timeout = s->snd_timeout = -1;
    if (k == FdKind::Stream || k == FdKind::Datagram) {
        // Inherited or created behind our back: it may already carry timeouts or be listening.
        s->rcv_timeout = timeout_of(fd, SO_RCVTIMEO);
        s->snd_timeout = timeout_of(fd, SO_SNDTIMEO);
        int acc = 0;
        socklen_t len = sizeof acc;
        s->listening = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 && acc;
    }
    s->kind = k == FdKind::Unknown ? FdKind::Passthrough : k;
    errno = saved;
    return s;
}

void FdTable::created(int fd, FdKind kind, bool nonblock) noexcept {
    FdState* s = slot(fd);
    if (!s) return;
    new_file(fd);
    s->kind = kind;
    s->nonblock = nonblock;
    s->accmode = -1;
    s->drained = false;
    s->exclusive = true;
    s->epoch = fork_epoch.load(std::memory_order_relaxed);
    s->listening = false;
    s->rcv_timeout = s->snd_timeout = -1;
}

void FdTable::for_each_known(unsigned first, unsigned last, void (*f)(int)) noexcept {
    const unsigned end = std::min<unsigned>(last, unsigned(kChunk * kChunks - 1));
    for (unsigned fd = first; fd <= end && fd >= first;) {
        FdState* base = chunks[fd >> kChunkBits].load(std::memory_order_acquire);
        if (!base) {
            fd = (fd | (kChunk - 1)) + 1;  // skip the whole empty chunk
            continue;
        }
        if (base[fd & (kChunk - 1)].kind != FdKind::Unknown) f(int(fd));
        ++fd;
    }
}

void FdTable::forget(int fd) noexcept {
    if (FdState* s = slot(fd); s && s->kind != FdKind::Runtime) s->kind = FdKind::Unknown;
}

namespace {
green::detail::SpinLock runtime_lock;
std::vector<int>* runtime_list;
}  // namespace

void FdTable::mark_runtime(int fd) noexcept {
    FdState* s = slot(fd);
    if (!s) return;
    s->kind = FdKind::Runtime;
    std::lock_guard g(runtime_lock);
    if (!runtime_list) runtime_list = new std::vector<int>;
    runtime_list->insert(std::upper_bound(runtime_list->begin(), runtime_list->end(), fd), fd);
}

void FdTable::unmark_runtime(int fd) noexcept {
    FdState* s = slot(fd);
    if (!s || s->kind != FdKind::Runtime) return;
    s->kind = FdKind::Unknown;
    std::lock_guard g(runtime_lock);
    if (runtime_list) std::erase(*runtime_list, fd);
}

void FdTable::runtime_list_fork_lock(bool take) noexcept {
    if (take) runtime_lock.lock();
    else runtime_lock.unlock();
}

std::vector<int> FdTable::runtime_fds() {
    std::lock_guard g(runtime_lock);
    return runtime_list ? *runtime_list : std::vector<int>{};
}

bool FdTable::is_runtime(int fd) noexcept {
    FdState* s = slot(fd);
    return s && s->kind == FdKind::Runtime;
}

void FdTable::copy(int oldfd, int newfd) noexcept {
    FdState* from = get(oldfd);
    FdState* to = slot(newfd);
    if (!to || to->kind == FdKind::Runtime) return;
    if (from) {
        from->exclusive = false;  // two numbers now reach one description
        *to = *from;
    } else {
        to->kind = FdKind::Unknown;
    }
}

}  // namespace green::preload
