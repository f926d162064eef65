// context/raw_syscall.hpp: system calls the runtime makes for itself.
//
// The rule (README, "The runtime's own calls"): inside the runtime (context, hub, sync), a call
// never lands on a preload hook. A system call is made with the `syscall` instruction, never
// through libc's wrapper of it or libc's syscall(): under the preload those are hooks, which would
// turn the runtime's own futex waits into green waits, its sleeps into parks, its descriptors into
// the fd table's. What has no plain system call goes through libc.hpp. Returns the kernel's
// result: >= 0, or -errno (errno is left alone; nor is it a cancellation point).
#pragma once

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/types.h>

namespace green::detail {

inline long raw_syscall(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
                        long a6 = 0) noexcept {
    long rc;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(rc)
                     : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return rc;
}

// Name the calling OS thread (its comm: top, gdb, /proc/PID/task/TID/comm), at most 15 bytes:
// the runtime's own threads say what they are (green-hub1, green-monitor...). prctl is a hook.
inline void name_os_thread(const char* name) noexcept { raw_syscall(SYS_prctl, 15 /* PR_SET_NAME */, long(name)); }

// A small file (/proc) read whole into buf, NUL-terminated: the bytes read, or -1.
inline long raw_read_file(const char* path, char* buf, size_t size) noexcept {
    long fd = raw_syscall(SYS_openat, AT_FDCWD, long(path), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long n = raw_syscall(SYS_pread64, fd, long(buf), long(size - 1), 0);
    raw_syscall(SYS_close, fd);
    buf[n > 0 ? n : 0] = 0;
    return n < 0 ? -1 : n;
}

// The OS thread sleeps (usleep's system call); a signal may end it early.
inline void raw_sleep_us(long usec) noexcept {
    struct {
        long sec, nsec;
    } ts{usec / 1000000, usec % 1000000 * 1000};
    raw_syscall(SYS_nanosleep, long(&ts), 0);
}

}  // namespace green::detail
