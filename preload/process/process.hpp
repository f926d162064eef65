// preload/process/process.hpp: what the other hooks need to know about vfork.
//
// A vfork child runs on its parent's memory (and stack) until it calls execve or _exit, while the
// parent thread is suspended. Nothing of the runtime may run there: a green wait would switch to
// another fiber of the *parent*, and bookkeeping (fd table, hub waiters, signal actions) would be
// changed for the parent. in_vfork_child() is true in such a child, where every hook must pass
// straight to libc (hub() must return null) and leave the preload's tables alone.
#pragma once

// Set by our vfork (an assembly wrapper) for the calling OS thread just before the system call:
// the child shares that thread's TLS block, so it sees it set; the parent clears it when it
// resumes. Other OS threads are not affected.
extern "C" __attribute__((visibility("hidden"))) __thread unsigned char green_vfork_child
    __attribute__((tls_model("initial-exec")));

namespace green::preload {

inline bool in_vfork_child() noexcept { return __builtin_expect(green_vfork_child != 0, 0); }

}  // namespace green::preload
