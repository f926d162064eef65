// preload/io/io_uring.cpp: io_uring_enter waits for completions green (io_uring.hpp).
#include "io_uring.hpp"

#include "../core/io_wait.hpp"
#include "../core/real.hpp"

#include <linux/io_uring.h>
#include <linux/time_types.h>
#include <sys/syscall.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace green::preload {

namespace {

// Rings set up through syscall() whose completions make the descriptor readable (no IOPOLL, no
// DEFER_TASKRUN), by descriptor number. A number closed since (close, dup2 over it: the fd table
// forgets it) or made a ring behind our back (inline) is not parked on: the table's entry is
// checked too.
constexpr int kMaxRingFd = 1 << 16;
std::atomic<uint64_t> parkable_bits[kMaxRingFd / 64];

thread_local bool tls_known __attribute__((tls_model("initial-exec")));
void mark_known(int) { tls_known = true; }

bool parkable(int fd) noexcept {
    if (fd < 0 || fd >= kMaxRingFd) return false;
    if (!(parkable_bits[fd / 64].load(std::memory_order_relaxed) & (uint64_t(1) << (fd % 64)))) return false;
    tls_known = false;
    FdTable::for_each_known(unsigned(fd), unsigned(fd), mark_known);  // a look, no probing call
    if (!tls_known) return false;
    FdState* st = FdTable::get(fd);
    return st && st->kind == FdKind::Pollable;
}

}  // namespace

long io_uring_setup_call(unsigned entries, void* params) noexcept {
    long fd = REAL(syscall)(SYS_io_uring_setup, long(entries), params);
    if (fd < 0 || fd >= kMaxRingFd || !ready || in_vfork_child()) return fd;
    const unsigned flags = static_cast<const io_uring_params*>(params)->flags;
    const uint64_t bit = uint64_t(1) << (fd % 64);
    if (flags & (IORING_SETUP_IOPOLL | IORING_SETUP_DEFER_TASKRUN)) {
        parkable_bits[fd / 64].fetch_and(~bit, std::memory_order_relaxed);
    } else {
        FdTable::created(int(fd), FdKind::Pollable, false);
        parkable_bits[fd / 64].fetch_or(bit, std::memory_order_relaxed);
    }
    return fd;
}

long io_uring_enter_call(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg,
                         unsigned long argsz) noexcept {
    auto real = [fd](unsigned sub, unsigned min, unsigned fl, const void* a, unsigned long sz) {
        return REAL(syscall)(SYS_io_uring_enter, long(fd), long(sub), long(min), long(fl), a, long(sz));
    };
    constexpr unsigned kKnown = IORING_ENTER_GETEVENTS | IORING_ENTER_SQ_WAKEUP | IORING_ENTER_EXT_ARG;
    detail::Hub* h;
    // min_complete > 1 is the kernel's: a completion of IORING_OP_TIMEOUT ends such a wait early,
    // which the descriptor's readiness cannot tell from another completion.
    if (!(flags & IORING_ENTER_GETEVENTS) || min_complete != 1 || (flags & ~kKnown) || !parkable(fd) || !(h = hub()) ||
        !wait_ctx().green)
        return real(to_submit, min_complete, flags, arg, argsz);
    // The wait's arguments: a signal mask to install while waiting, or with EXT_ARG a structure
    // holding that mask and a relative timeout.
    const io_uring_getevents_arg* ext = nullptr;
    const void* mask = arg;
    if (flags & IORING_ENTER_EXT_ARG) {
        if (!arg || argsz != sizeof *ext)
            return real(to_submit, min_complete, flags, arg, argsz);  // the kernel's error
        ext = static_cast<const io_uring_getevents_arg*>(arg);
        mask = reinterpret_cast<const void*>(uintptr_t(ext->sigmask));
    }
    if (mask) return real(to_submit, min_complete, flags, arg, argsz);
    const auto* ts = ext ? reinterpret_cast<const __kernel_timespec*>(uintptr_t(ext->ts)) : nullptr;
    double deadline = -1;
    if (ts) {
        if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
            return real(to_submit, min_complete, flags, arg, argsz);
        deadline = detail::monotonic_now() + double(ts->tv_sec) + double(ts->tv_nsec) * 1e-9;
    }
    // Submission first, as the kernel's: when it did not take every entry it returns that count at
    // once; otherwise the count is the result whatever the wait gives (the wait's only if zero).
    long submitted = 0;
    if (to_submit || (flags & IORING_ENTER_SQ_WAKEUP)) {
        submitted = real(to_submit, 0, flags & IORING_ENTER_SQ_WAKEUP, nullptr, 0);
        if (submitted < 0 || unsigned(submitted) != to_submit) return submitted;
    }
    if (!ready_now(fd, Dir::In)) {
        const double left = deadline < 0 ? -1 : deadline - detail::monotonic_now();
        if (deadline < 0 || left > 0) {
            detail::FdInterest it{fd, detail::kRead, 0};
            const detail::ParkSpec spec{left, {"io_uring_enter", nullptr, fd}, detail::kInterruptAlways};
            // Timed out: the kernel, asked with no time left, says ETIME or takes what came.
            if (const int e = wake_errno(h->wait_fds({&it, 1}, spec), 0)) {
                if (submitted > 0) return submitted;
                errno = e;
                return -1;
            }
        }
    }
    // A completion is there (or the time is up): the kernel's answer at once, with the time left.
    io_uring_getevents_arg copy;
    __kernel_timespec left_ts;
    if (ts) {
        double left = deadline - detail::monotonic_now();
        if (left < 0) left = 0;
        left_ts.tv_sec = int64_t(left);
        left_ts.tv_nsec = int64_t((left - double(left_ts.tv_sec)) * 1e9);
        copy = *ext;
        copy.ts = uint64_t(uintptr_t(&left_ts));
        arg = &copy;
    }
    long r = real(0, min_complete, flags & (IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG), arg, argsz);
    return submitted > 0 ? submitted : r;
}

}  // namespace green::preload
