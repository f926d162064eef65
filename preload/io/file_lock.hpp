// preload/io/file_lock.hpp: blocking file locks (fcntl F_SETLKW / F_OFD_SETLKW, flock, lockf F_LOCK)
// that park the green thread instead of the OS thread.
#pragma once

#include <cerrno>

namespace green::preload {

// Retry `try_lock` (the non-blocking form: 0, or -1 with errno) until it succeeds or fails with
// something other than "held by someone else" (EAGAIN, EACCES, EWOULDBLOCK), sleeping on the hub
// between tries (1 ms, doubling to 50 ms). A signal handler ends the wait with EINTR, as it ends
// the kernel's. Only for a caller that may wait green (wait_ctx().green).
template <class Try> int lock_wait(const char* what, Try try_lock);

// True if the caller should wait through lock_wait (a green wait is possible).
bool lock_wait_green() noexcept;
int lock_sleep(double seconds) noexcept;  // 0, or -1 with EINTR

template <class Try> int lock_wait(const char* what, Try try_lock) {
    (void)what;
    for (double delay = 0.001;; delay = delay * 2 > 0.05 ? 0.05 : delay * 2) {
        int r = try_lock();
        if (r == 0) return 0;
        int e = errno;
        if (e != EAGAIN && e != EACCES && e != EWOULDBLOCK) return r;
        if (lock_sleep(delay) != 0) return -1;
    }
}

}  // namespace green::preload
