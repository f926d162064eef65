// preload/threads/thread_ids.cpp: calls that name a thread by its kernel id.
//
// A green thread's id (gettid(), tcb.hpp) names no kernel thread: these calls act on the OS thread
// its hub runs on, as pthread_kill and pthread_setaffinity_np of a green thread do. An id that
// names no live green thread fails with ESRCH, as the kernel's would. Ids of real threads pass on.
#include "../core/hook.hpp"
#include "green_thread.hpp"
#include "../core/real.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

using green::preload::kernel_tid;

namespace {

// kernel_tid(tid), or -1 with errno ESRCH.
bool map_tid(pid_t& tid) noexcept {
    pid_t k = kernel_tid(tid);
    if (k < 0) {
        errno = ESRCH;
        return false;
    }
    tid = k;
    return true;
}

}  // namespace

GREEN_HOOK(int, tgkill, pid_t tgid, pid_t tid, int sig) {
    HOOK_ENTER(tgkill);
    // A signal for one of this process's green threads is pthread_kill's: its mask and its wait
    // decide, not those of whichever OS thread runs its hub (one of a group blocks them all).
    if (tid >= green::preload::kGreenTidBase && tgid == getpid()) {
        if (green::preload::GreenThread* g = green::preload::find_green_by_tid(tid)) {
            auto t = reinterpret_cast<pthread_t>(g);
            g->release();
            if (int rc = pthread_kill(t, sig)) {
                errno = rc;
                return -1;
            }
            return 0;
        }
    }
    if (!map_tid(tid)) return -1;
    return REAL(tgkill)(tgid, tid, sig);
}

GREEN_HOOK(int, sched_setaffinity, pid_t pid, size_t n, const cpu_set_t* set) {
    HOOK_ENTER(sched_setaffinity);
    if (!map_tid(pid)) return -1;
    return REAL(sched_setaffinity)(pid, n, set);
}

GREEN_HOOK(int, sched_getaffinity, pid_t pid, size_t n, cpu_set_t* set) {
    HOOK_ENTER(sched_getaffinity);
    if (!map_tid(pid)) return -1;
    return REAL(sched_getaffinity)(pid, n, set);
}

GREEN_HOOK(int, sched_setscheduler, pid_t pid, int policy, const struct sched_param* p) {
    HOOK_ENTER(sched_setscheduler);
    if (!map_tid(pid)) return -1;
    return REAL(sched_setscheduler)(pid, policy, p);
}

GREEN_HOOK(int, sched_getscheduler, pid_t pid) {
    HOOK_ENTER(sched_getscheduler);
    if (!map_tid(pid)) return -1;
    return REAL(sched_getscheduler)(pid);
}

GREEN_HOOK(int, sched_setparam, pid_t pid, const struct sched_param* p) {
    HOOK_ENTER(sched_setparam);
    if (!map_tid(pid)) return -1;
    return REAL(sched_setparam)(pid, p);
}

GREEN_HOOK(int, sched_getparam, pid_t pid, struct sched_param* p) {
    HOOK_ENTER(sched_getparam);
    if (!map_tid(pid)) return -1;
    return REAL(sched_getparam)(pid, p);
}

GREEN_HOOK(int, setpriority, __priority_which_t which, id_t who, int prio) {
    HOOK_ENTER(setpriority);
    pid_t id = pid_t(who);
    if (which == PRIO_PROCESS && !map_tid(id)) return -1;
    return REAL(setpriority)(which, id_t(id), prio);
}

GREEN_HOOK(int, getpriority, __priority_which_t which, id_t who) {
    HOOK_ENTER(getpriority);
    pid_t id = pid_t(who);
    if (which == PRIO_PROCESS && !map_tid(id)) return -1;
    return REAL(getpriority)(which, id_t(id));
}
