// preload/process/child_wait.hpp: parking a green thread until a child process changes state
// (wait.cpp), for the wait family and system (system.cpp).
#pragma once

#include "../../libgreen/hub/hub.hpp"

#include <sys/types.h>

namespace green::preload {

// Which children a wait is about.
struct Target {
    enum Kind { Any, Group, Pid, Pidfd } kind;
    long id;  // the pgid, pid or pidfd
};

// After a WNOHANG probe found no child to report: park until probe() reports one (its result,
// non-zero) or fails (-1 and its errno), or a signal handler without SA_RESTART runs (-1, EINTR).
// what_arg is what the deadlock report and GREEN_DEBUG show the wait on.
long wait_child(detail::Hub& h, const Target& t, bool exits_only, long what_arg, long (*probe)(void*), void* probe_arg);

template <class Probe> long wait_child(detail::Hub& h, const Target& t, bool exits_only, long what_arg, Probe& probe) {
    return wait_child(
        h, t, exits_only, what_arg, [](void* p) -> long { return (*static_cast<Probe*>(p))(); }, &probe);
}

}  // namespace green::preload
