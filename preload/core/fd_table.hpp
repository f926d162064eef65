// preload/core/fd_table.hpp: what the program believes about each descriptor.
//
// Contract:
//  - The preload never changes a descriptor's O_NONBLOCK flag for good (that flag belongs to the
//    open file description, shared with children and dup()s): sockets are driven with
//    MSG_DONTWAIT, other pollable descriptors are waited on before the call. So the kernel's
//    flags always are the program's own, and `nonblock` here is only a cache of them.
//  - An entry is filled at creation (socket, accept, pipe...) or on first use (fstat), updated by
//    fcntl/ioctl/setsockopt and reset by close. The table grows with the largest descriptor.
//  - Lookups are lock-free; entries of one descriptor are written by the thread that uses it.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace green::preload {

enum class FdKind : uint8_t {
    Unknown = 0,  // not looked at yet
    Stream,       // SOCK_STREAM / SOCK_SEQPACKET socket: blocking sends write everything
    Datagram,     // other sockets
    Pollable,     // pipe, FIFO, terminal, eventfd...: wait for readiness, then call
    Passthrough,  // regular file, directory, block device, epoll/inotify...: never parks
    Runtime,      // the runtime's own (libev's epoll and eventfd): the program never opened it
};

struct FdState {
    FdKind kind = FdKind::Unknown;
    bool nonblock = false;  // the program's O_NONBLOCK, as last seen
    // Only this descriptor number reaches its open file description, so `nonblock` cannot change
    // behind our back. Else (dup'ed, inherited, shared with a forked child) O_NONBLOCK may be
    // flipped through another descriptor or process: it is re-read before each park.
    bool exclusive = false;
    uint32_t epoch = 0;       // FdTable's fork epoch when `exclusive` was established
    bool listening = false;   // accept() target
    bool drained = false;     // the last read got less than it asked for: the socket was emptied
    int8_t accmode = -1;      // O_RDONLY / O_WRONLY / O_RDWR of its open file; -1 = not looked at
    double rcv_timeout = -1;  // SO_RCVTIMEO in seconds; -1 = none
    double snd_timeout = -1;  // SO_SNDTIMEO
    bool is_socket() const { return kind == FdKind::Stream || kind == FdKind::Datagram; }
};

extern std::atomic<uint32_t> fork_epoch;

// Move a descriptor the runtime opened near the top of RLIMIT_NOFILE (the program's next open()
// gets the number it would natively) and shield it from the program's close() and close_range()
// (FdTable::mark_runtime). Returns the descriptor's new number.
int adopt_runtime_fd(int fd) noexcept;

class FdTable {
public:
    // The entry for fd, looked at (fstat, F_GETFL, socket options) if unknown; null if fd is not
    // an open descriptor.
    static FdState* get(int fd) noexcept;
    // The entry for a descriptor just created by the program, with what it was created with.
    static void created(int fd, FdKind kind, bool nonblock) noexcept;
    // fd belongs to the runtime: close() and close_range() from the program leave it alone.
    static void mark_runtime(int fd) noexcept;
    static bool is_runtime(int fd) noexcept;
    static void unmark_runtime(int fd) noexcept;
    // The runtime's descriptors, ascending.
    static std::vector<int> runtime_fds();
    // Forget fd (closed); the next use looks at it again.
    static void forget(int fd) noexcept;
    // newfd now refers to what oldfd refers to (dup and friends).
    static void copy(int oldfd, int newfd) noexcept;
    // After fork, in parent and child: every descriptor is now shared with the other process.
    static void after_fork() noexcept { fork_epoch.fetch_add(1, std::memory_order_relaxed); }
    // The runtime-descriptor list's lock, taken before fork and released after in both processes:
    // another OS thread (a carrier, a task a hand-off left behind) may hold it, and the child's
    // hub closes its descriptors through it.
    static void runtime_list_fork_lock(bool take) noexcept;
    // False if another descriptor or process may have changed fd's O_NONBLOCK.
    static bool is_exclusive(const FdState& s) noexcept {
        return s.exclusive && s.epoch == fork_epoch.load(std::memory_order_relaxed);
    }
    // Call f(fd) for every descriptor in [first, last] the table has an entry for.
    static void for_each_known(unsigned first, unsigned last, void (*f)(int)) noexcept;
    // Kind of an open descriptor, from fstat (and SO_TYPE for sockets).
    static FdKind classify(int fd) noexcept;

private:
    static FdState* slot(int fd) noexcept;
};

}  // namespace green::preload
