// preload/io/select.cpp: select and pselect park the green thread (multiplex.hpp).
//
// The program's sets are kept aside: every probe runs the real call on a fresh copy, so the sets
// the program gets back are the kernel's own answer: the ready descriptors; all cleared when the
// timeout passes; untouched on EINTR and on errors such as EBADF. Read and exceptional interest is
// waited for as readable, write interest as writable. select writes the time left back into its
// timeout, as Linux does (also on errors and EINTR); pselect leaves its timeout alone. An nfds above
// FD_SETSIZE is trimmed to what the kernel would look at without the runtime's descriptors.
#include "../core/hook.hpp"
#include "../core/fd_table.hpp"
#include "../core/multiplex.hpp"
#include "../core/real.hpp"

#include <dirent.h>
#include <sys/select.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>

using namespace green::preload;
using green::detail::Hub;

extern "C" int __select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, struct timeval* timeout);

namespace {

constexpr int kBits = 8 * sizeof(unsigned long);

// How many descriptors the kernel looks at in a select of `nfds`: no more than its descriptor
// table holds (FDSize in /proc/self/status), the rest of the program's sets are never read. Only
// asked when nfds exceeds FD_SETSIZE.
int kernel_nfds(int nfds) {
    if (nfds <= FD_SETSIZE) return nfds;
    int size = -1;
    if (FILE* f = fopen("/proc/self/status", "re")) {
        char line[128];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "FDSize: %d", &size) == 1) break;
        fclose(f);
    }
    return size > 0 && size < nfds ? size : nfds;
}

// The nfds to give the kernel. It looks at min(nfds, the size of the process's descriptor table)
// descriptors; the runtime's own descriptors, kept near the top of RLIMIT_NOFILE, make that table
// far larger than the program's would be natively, so that a program passing a large nfds with
// ordinary FD_SETSIZE sets (select(getdtablesize(), ...)) would have bits read past the end of its
// sets. Look no further than the program's highest descriptor, rounded up to a word, as the
// table is (the kernel's own limit is never lower than that).
int program_nfds(int nfds) {
    if (nfds <= FD_SETSIZE) return nfds;
    const std::vector<int> runtime = FdTable::runtime_fds();
    if (runtime.empty()) return nfds;  // the table is the program's own
    DIR* d = opendir("/proc/self/fd");
    if (!d) return nfds;
    int highest = -1;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        int fd = atoi(e->d_name);
        if (fd != dirfd(d) && fd > highest && !std::binary_search(runtime.begin(), runtime.end(), fd)) highest = fd;
    }
    closedir(d);
    return std::min(nfds, (highest + kBits) / kBits * kBits);
}

// The program's three sets as passed in, as many words of them as the kernel reads and writes.
class SavedSets {
public:
    SavedSets(int nfds, fd_set* r, fd_set* w, fd_set* e) : n_(kernel_nfds(nfds)), sets_{r, w, e} {
        words_ = size_t((n_ + kBits - 1) / kBits);
        copy_.resize(3 * words_);
        for (int s = 0; s < 3; ++s)
            if (sets_[s]) memcpy(&copy_[s * words_], sets_[s], words_ * sizeof(unsigned long));
    }
    void restore() const {
        for (int s = 0; s < 3; ++s)
            if (sets_[s]) memcpy(sets_[s], &copy_[s * words_], words_ * sizeof(unsigned long));
    }
    // One interest per descriptor named in any set: read and except as readable, write as writable.
    void interests(Interests& in) const {
        for (size_t i = 0; i < words_; ++i) {
            unsigned long rd = sets_[0] ? copy_[i] : 0;
            unsigned long wr = sets_[1] ? copy_[words_ + i] : 0;
            unsigned long ex = sets_[2] ? copy_[2 * words_ + i] : 0;
            for (unsigned long any = rd | wr | ex; any; any &= any - 1) {
                int b = __builtin_ctzl(any);
                int fd = int(i) * kBits + b;
                if (fd >= n_) return;
                unsigned long bit = 1UL << b;
                int ev = ((rd | ex) & bit ? green::detail::kRead : 0) | (wr & bit ? green::detail::kWrite : 0);
                in.add(fd, ev);
            }
        }
    }

private:
    int n_;
    fd_set* sets_[3];
    size_t words_ = 0;
    std::vector<unsigned long> copy_;
};

int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The shared part: probe once, then wait. `probe0` is the first probe (pselect's carries the
// mask); the later ones are plain zero-timeout selects on restored sets.
template <class First> int select_wait(Hub& h, int nfds, fd_set* r, fd_set* w, fd_set* e, double deadline,
                                       const sigset_t* mask, First probe0) {
    SavedSets saved(nfds, r, w, e);
    int res = probe0();
    if (res != 0) return res;
    Interests in;
    saved.interests(in);
    MaskScope scope(mask);
    auto probe = [&] {
        saved.restore();
        timeval zero{0, 0};
        return REAL(select)(nfds, r, w, e, &zero);
    };
    bool interrupted;
    res = wait_ready(h, in.span(), deadline, {"select", nullptr, -1}, probe, &interrupted);
    if (interrupted) saved.restore();  // the kernel leaves the sets alone on EINTR
    return res;
}

int select_impl(int nfds, fd_set* r, fd_set* w, fd_set* e, timeval* tv) {
    nfds = program_nfds(nfds);
    Hub* h = hub();
    // No wait (a zero timeout), or an answer without one: EINVAL for a negative nfds or timeout.
    if (!h || nfds < 0 || (tv && (tv->tv_sec < 0 || tv->tv_usec < 0 || (tv->tv_sec == 0 && tv->tv_usec == 0))))
        return REAL(select)(nfds, r, w, e, tv);
    // glibc normalises the timeout (tv_usec may exceed a second) before the kernel sees it.
    int64_t sec = 0, nsec = 0;
    if (tv) {
        sec = tv->tv_usec / 1000000 > INT64_MAX - tv->tv_sec ? INT64_MAX : tv->tv_sec + tv->tv_usec / 1000000;
        nsec = int64_t(tv->tv_usec % 1000000) * 1000;
    }
    const int64_t start = now_ns();
    const double deadline = deadline_after(tv ? double(sec) + double(nsec) * 1e-9 : -1);  // NULL: forever
    int res = select_wait(*h, nfds, r, w, e, deadline, nullptr, [&] {
        timeval zero{0, 0};
        return REAL(select)(nfds, r, w, e, &zero);
    });
    if (tv) {
        // The time left, as the kernel computes it (never negative), in glibc's timeval.
        int64_t elapsed = now_ns() - start;
        int64_t left_s = sec - elapsed / 1000000000, left_ns = nsec - elapsed % 1000000000;
        if (left_ns < 0) {
            left_ns += 1000000000;
            --left_s;
        }
        if (left_s < 0) left_s = left_ns = 0;
        int saved_errno = errno;
        tv->tv_sec = time_t(left_s);
        tv->tv_usec = suseconds_t(left_ns / 1000);
        errno = saved_errno;
    }
    return res;
}

bool zero_or_invalid(const timespec* ts) {
    return (ts->tv_sec == 0 && ts->tv_nsec == 0) || ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L;
}

int pselect_impl(int nfds, fd_set* r, fd_set* w, fd_set* e, const timespec* ts, const sigset_t* mask) {
    nfds = program_nfds(nfds);
    Hub* h = hub();
    if (!h || nfds < 0 || (ts && zero_or_invalid(ts))) return REAL(pselect)(nfds, r, w, e, ts, mask);
    const double deadline = deadline_after(ts ? double(ts->tv_sec) + double(ts->tv_nsec) * 1e-9 : -1);  // NULL: forever
    return select_wait(*h, nfds, r, w, e, deadline, mask, [&] {
        // With the mask: a pending signal it unblocks ends the call atomically, as natively.
        timespec zero{0, 0};
        return REAL(pselect)(nfds, r, w, e, &zero, mask);
    });
}

}  // namespace

GREEN_HOOK(int, select, int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, struct timeval* timeout) {
    HOOK_ENTER(select);
    return select_impl(nfds, readfds, writefds, exceptfds, timeout);
}

GREEN_HOOK(int, __select, int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, struct timeval* timeout) {
    HOOK_ENTER(__select);
    return select_impl(nfds, readfds, writefds, exceptfds, timeout);
}

GREEN_HOOK(int, pselect, int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, const struct timespec* timeout,
           const sigset_t* sigmask) {
    HOOK_ENTER(pselect);
    return pselect_impl(nfds, readfds, writefds, exceptfds, timeout, sigmask);
}
