// preload/io/io_uring.hpp: io_uring_setup and io_uring_enter made through libc's syscall().
//
// Contract:
//  - io_uring_enter with IORING_ENTER_GETEVENTS and min_complete 1 waits in the kernel for a
//    completion. Made by a green thread while others live, on a ring whose io_uring_setup also went
//    through syscall() (so its flags are known), it submits first (to_submit, as the kernel would,
//    returning early when not all were taken), then parks the green thread until the ring's
//    descriptor polls readable (a completion is there), the timeout of IORING_ENTER_EXT_ARG
//    passes, or a signal handler runs (EINTR); then the kernel is asked with the program's own
//    arguments and the time left, and answers at once.
//  - Passed to the kernel unchanged (blocking the OS thread: hand-off moves the hub on):
//    min_complete > 1 (a completion of IORING_OP_TIMEOUT ends such a wait early: readiness cannot
//    tell which completion came), a signal mask for the wait, a registered ring
//    (IORING_ENTER_REGISTERED_RING), SQ_WAIT and flags this code does not know, IOPOLL and DEFER_TASKRUN rings (their completions are reaped or run only
//    inside io_uring_enter itself: the descriptor would never become readable), rings set up
//    with the syscall instruction (liburing 2.2 and later on x86_64 make every call so: the
//    preload never sees them).
//  - Results as syscall()'s: -1 and errno on failure.
#pragma once

namespace green::preload {

long io_uring_setup_call(unsigned entries, void* params) noexcept;
long io_uring_enter_call(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg,
                         unsigned long argsz) noexcept;

}  // namespace green::preload
