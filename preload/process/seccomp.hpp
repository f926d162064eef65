// preload/process/seccomp.hpp: a process that installs a seccomp filter leaves green mode for good.
//
// Contract:
//  - A seccomp filter allows the system calls the program makes natively; the preload's own
//    translations (a socket write sent as sendto with MSG_DONTWAIT, a blocking read preceded by a
//    poll, a sleep spent in the hub's epoll_wait) would be killed or refused by it. So once
//    prctl(PR_SET_SECCOMP, ...) or seccomp(SECCOMP_SET_MODE_STRICT/FILTER, ...) succeeds, the
//    process is "sandboxed": `ready` is cleared as before the preload's initialisation, hub() is
//    null in every hook, each passes straight to libc, nothing parks and the hub's loop never runs
//    again in that process. A fork child inherits it; the parent is unaffected.
//  - The filter is installed only while the calling green thread is the only one of its hub (the
//    usual shape: a child just forked, OpenSSH's privilege-separated child): other green threads
//    could never run again under it. Otherwise the call fails with EBUSY (and says so on stderr),
//    before the kernel sees it: the program goes on green and unsandboxed, or gives up, as when
//    the kernel itself refuses.
//  - Before the filter goes on (every call still allowed): every open descriptor is looked at once
//    (later fcntl, dup, setsockopt need no probing fstat), GREEN_STATS is printed and the runtime's
//    own signal actions (the stats report's stand-ins for SIG_DFL, the stack-overflow reporter)
//    give way to the program's. At exit() the hub's own thread-exit check (gettid, getpid) is
//    skipped.
#pragma once

namespace green::preload {

// seccomp(op, flags, args) made through libc's syscall(): as above; -1 and errno on failure.
// (prctl is hooked in seccomp.cpp; glibc has no seccomp() wrapper.)
long seccomp_syscall(long op, long flags, long args) noexcept;

}  // namespace green::preload
