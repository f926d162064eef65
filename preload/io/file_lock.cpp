// preload/io/file_lock.cpp: flock and lockf wait green (fcntl's F_SETLKW is in fd.cpp).
//
// The kernel has no readiness to wait for on a file lock: the non-blocking form is retried on a
// backing-off timer (file_lock.hpp). Held across processes or threads alike, released locks are
// seen within 50 ms. The kernel's deadlock detection (EDEADLK for F_SETLKW) is not reproduced.
#include "../core/hook.hpp"
#include "file_lock.hpp"

#include "../threads/green_thread.hpp"
#include "../core/real.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace green::preload {

bool lock_wait_green() noexcept { return wait_ctx().green; }

int lock_sleep(double seconds) noexcept {
    timespec ts{time_t(seconds), long((seconds - double(time_t(seconds))) * 1e9)};
    // The nanosleep hook: parks, and ends with EINTR when a signal handler runs.
    return nanosleep(&ts, nullptr) == 0 ? 0 : -1;
}

}  // namespace green::preload

using namespace green::preload;

GREEN_HOOK(int, flock, int fd, int op) {
    HOOK_ENTER(flock);
    if ((op & LOCK_NB) || (op & ~LOCK_NB) == LOCK_UN || !lock_wait_green()) return REAL(flock)(fd, op);
    return lock_wait("flock", [&] { return REAL(flock)(fd, op | LOCK_NB); });
}

GREEN_HOOK(int, lockf, int fd, int cmd, off_t len) {
    HOOK_ENTER(lockf);
    if (cmd != F_LOCK || !lock_wait_green()) return REAL(lockf)(fd, cmd, len);
    return lock_wait("lockf", [&] { return REAL(lockf)(fd, F_TLOCK, len); });
}
