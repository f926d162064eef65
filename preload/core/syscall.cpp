// preload/core/syscall.cpp: libc's syscall(), through which programs make the calls libc has no
// wrapper for (futex above all) and sometimes those it has.
//
// futex waits park the green thread (futex.cpp); a blocking call the preload already hooks takes
// its hook, so `syscall(SYS_read, ...)` waits as `read` does; gettid answers the green thread's
// id; io_uring_enter waiting for completions parks (io_uring.cpp); seccomp() and
// prctl(PR_SET_SECCOMP) end green mode for the process (seccomp.cpp). Everything else goes to
// libc's syscall() unchanged, and so does every call before the preload is initialised, once the
// process is sandboxed, and in a vfork child. Results follow syscall()'s convention: -1 and errno
// on failure.
#include "hook.hpp"
#include "../sync/futex.hpp"
#include "../threads/green_thread.hpp"
#include "../io/io_uring.hpp"
#include "real.hpp"
#include "../process/seccomp.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>

namespace {

// clock_nanosleep returns an error number; the system call, through syscall(), -1 and errno.
long errno_result(int rc) noexcept {
    if (rc == 0) return 0;
    errno = rc;
    return -1;
}

}  // namespace

GREEN_HOOK(long, syscall, long nr, ...) {
    HOOK_ENTER(syscall);
    // As glibc's syscall(): six argument registers, whatever the call uses.
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    auto p = [](long v) { return reinterpret_cast<void*>(v); };
    // Nothing of the runtime may run: the kernel's call as asked (after a seccomp filter, only
    // those the program makes natively; a vfork child's gettid is its own).
    if (__builtin_expect(!green::preload::ready || green::preload::in_vfork_child(), 0))
        return REAL(syscall)(nr, a1, a2, a3, a4, a5, a6);
    switch (nr) {
    case SYS_futex:
        return green::preload::futex_call(static_cast<uint32_t*>(p(a1)), int(a2), uint32_t(a3), a4,
                                          static_cast<uint32_t*>(p(a5)), uint32_t(a6));
    case SYS_futex_waitv:
        return green::preload::futex_waitv_call(p(a1), unsigned(a2), unsigned(a3), static_cast<const timespec*>(p(a4)),
                                                clockid_t(a5));
    case SYS_gettid: return gettid();
    case SYS_tgkill: return tgkill(pid_t(a1), pid_t(a2), int(a3));
    case SYS_tkill:
        if (pid_t(a1) >= green::preload::kGreenTidBase) return tgkill(getpid(), pid_t(a1), int(a2));
        [[fallthrough]];
    case SYS_sched_setaffinity:
    case SYS_sched_getaffinity:
    case SYS_sched_setscheduler:
    case SYS_sched_getscheduler:
    case SYS_sched_setparam:
    case SYS_sched_getparam: {
        // The first argument names a thread: a green thread's id stands for its OS thread.
        pid_t k = green::preload::kernel_tid(pid_t(a1));
        if (k < 0) {
            errno = ESRCH;
            return -1;
        }
        return REAL(syscall)(nr, long(k), a2, a3, a4, a5, a6);
    }
    case SYS_read: return read(int(a1), p(a2), size_t(a3));
    case SYS_write: return write(int(a1), p(a2), size_t(a3));
    case SYS_readv: return readv(int(a1), static_cast<const iovec*>(p(a2)), int(a3));
    case SYS_writev: return writev(int(a1), static_cast<const iovec*>(p(a2)), int(a3));
    case SYS_recvfrom:
        return recvfrom(int(a1), p(a2), size_t(a3), int(a4), static_cast<sockaddr*>(p(a5)),
                        static_cast<socklen_t*>(p(a6)));
    case SYS_sendto:
        return sendto(int(a1), p(a2), size_t(a3), int(a4), static_cast<const sockaddr*>(p(a5)), socklen_t(a6));
    case SYS_recvmsg: return recvmsg(int(a1), static_cast<msghdr*>(p(a2)), int(a3));
    case SYS_sendmsg: return sendmsg(int(a1), static_cast<const msghdr*>(p(a2)), int(a3));
    case SYS_accept: return accept(int(a1), static_cast<sockaddr*>(p(a2)), static_cast<socklen_t*>(p(a3)));
    case SYS_accept4: return accept4(int(a1), static_cast<sockaddr*>(p(a2)), static_cast<socklen_t*>(p(a3)), int(a4));
    case SYS_connect: return connect(int(a1), static_cast<const sockaddr*>(p(a2)), socklen_t(a3));
    case SYS_poll: return poll(static_cast<pollfd*>(p(a1)), nfds_t(a2), int(a3));
    case SYS_epoll_wait: return epoll_wait(int(a1), static_cast<epoll_event*>(p(a2)), int(a3), int(a4));
    case SYS_nanosleep: return nanosleep(static_cast<const timespec*>(p(a1)), static_cast<timespec*>(p(a2)));
    case SYS_clock_nanosleep:
        return errno_result(clock_nanosleep(clockid_t(a1), int(a2), static_cast<const timespec*>(p(a3)),
                                            static_cast<timespec*>(p(a4))));
    case SYS_wait4: return wait4(pid_t(a1), static_cast<int*>(p(a2)), int(a3), static_cast<struct rusage*>(p(a4)));
    case SYS_sched_yield: return sched_yield();
    case SYS_io_uring_setup: return green::preload::io_uring_setup_call(unsigned(a1), p(a2));
    case SYS_io_uring_enter:
        return green::preload::io_uring_enter_call(int(a1), unsigned(a2), unsigned(a3), unsigned(a4), p(a5),
                                                   static_cast<unsigned long>(a6));
    case SYS_seccomp: return green::preload::seccomp_syscall(a1, a2, a3);
    case SYS_prctl:
        if (a1 == PR_SET_SECCOMP) return prctl(int(a1), a2, a3, a4, a5);  // the hook (seccomp.cpp)
        return REAL(syscall)(nr, a1, a2, a3, a4, a5, a6);
    default: return REAL(syscall)(nr, a1, a2, a3, a4, a5, a6);
    }
}
