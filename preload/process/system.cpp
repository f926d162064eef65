// preload/process/system.cpp: system and pclose.
//
//  - system: glibc's algorithm (posix_spawn of /bin/sh -c, SIGINT and SIGQUIT ignored and SIGCHLD
//    blocked in the caller meanwhile, 127 << 8 when the shell cannot be started), with the wait
//    made green. The mask change applies to the OS thread, so the other green threads see SIGCHLD
//    blocked for that time.
//  - pclose: libc's own, run on a native worker thread (glibc's internal waitpid cannot be
//    interposed) while the green thread waits; popen itself does not block and is left alone.
#include "../core/hook.hpp"
#include "child_wait.hpp"

#include "../core/io_wait.hpp"
#include "../core/real.hpp"

#include <green/thread_pool.hpp>

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

using namespace green::preload;
using green::detail::Hub;
using green::detail::Wake;

extern "C" {
extern char** environ;
}

namespace {

// ---- system ---------------------------------------------------------------------------------

// glibc's sysdeps/posix/system.c: the first of concurrent calls ignores SIGINT and SIGQUIT, the
// last one restores them.
green::detail::SpinLock system_lock;
int system_refs = 0;
struct sigaction system_intr, system_quit;

int green_system(Hub& h, const char* line) {
    int status = -1;
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    {
        std::lock_guard g(system_lock);
        if (system_refs++ == 0) {
            sigaction(SIGINT, &sa, &system_intr);
            sigaction(SIGQUIT, &sa, &system_quit);
        }
    }
    sigaddset(&sa.sa_mask, SIGCHLD);
    sigset_t omask;
    sigprocmask(SIG_BLOCK, &sa.sa_mask, &omask);

    sigset_t reset;
    sigemptyset(&reset);
    if (system_intr.sa_handler != SIG_IGN) sigaddset(&reset, SIGINT);
    if (system_quit.sa_handler != SIG_IGN) sigaddset(&reset, SIGQUIT);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &omask);
    posix_spawnattr_setsigdefault(&attr, &reset);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(line), nullptr};
    int ret = posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);

    if (ret == 0) {
        pid_t r;
        do {
            r = REAL(wait4)(pid, &status, WNOHANG, nullptr);
            if (r == 0) {
                auto probe = [&]() -> long { return REAL(wait4)(pid, &status, WNOHANG, nullptr); };
                r = pid_t(wait_child(h, {Target::Pid, pid}, true, pid, probe));
            }
        } while (r == -1 && errno == EINTR);
        if (r != pid) status = -1;
    } else {
        // POSIX: as if the shell had terminated with _exit(127).
        status = 127 << 8;
    }

    {
        std::lock_guard g(system_lock);
        if (--system_refs == 0) {
            sigaction(SIGINT, &system_intr, nullptr);
            sigaction(SIGQUIT, &system_quit, nullptr);
        }
    }
    sigprocmask(SIG_SETMASK, &omask, nullptr);
    if (ret != 0) errno = ret;
    return status;
}

// ---- pclose ---------------------------------------------------------------------------------

// Native threads for pclose (they block every signal: handlers run where the program's threads
// are). Made again in a fork child, where the parent's workers do not exist; the parent's pool is
// left behind there, never destroyed.
green::ThreadPool& pclose_pool() {
    static green::detail::SpinLock lock;
    static green::ThreadPool* pool = nullptr;
    static pid_t owner = 0;
    std::lock_guard g(lock);
    pid_t me = getpid();
    if (!pool || owner != me) {
        pool = new green::ThreadPool(4);
        owner = me;
    }
    return *pool;
}

struct CallResult {
    int value;
    int error;
};

}  // namespace

GREEN_HOOK(int, system, const char* line) {
    HOOK_ENTER(system);
    Hub* h = hub();
    if (!h) return REAL(system)(line);
    // glibc: whether a shell is available is whether "exit 0" runs.
    if (!line) return green_system(*h, "exit 0") == 0;
    return green_system(*h, line);
}

GREEN_HOOK(int, pclose, FILE* stream) {
    HOOK_ENTER(pclose);
    Hub* h = hub();
    if (!h || !stream) return REAL(pclose)(stream);
    // libc closes the descriptor inside: wake its green waiters and forget it first, as close does.
    int fd = fileno(stream);
    if (fd >= 0) {
        retire_fd_waits(fd, /*keep=*/false);
        FdTable::forget(fd);
    }
    try {
        CallResult res = pclose_pool().apply([stream] {
            int r = REAL(pclose)(stream);
            return CallResult{r, errno};
        });
        if (res.value < 0) errno = res.error;
        return res.value;
    } catch (...) {
        // The green thread is being killed (green::kill): libc finishes the pclose on its own.
        errno = EINTR;
        return -1;
    }
}
