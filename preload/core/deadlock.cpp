// preload/core/deadlock.cpp: what happens when every green thread of a process is blocked.
//
// The hub calls Hub::on_deadlock when its main task waits, nothing else can run, no watcher or
// timer is armed and no other OS thread could wake anything: the program would hang forever. Like
// Go ("all goroutines are asleep - deadlock!"), the preload says so on stderr, one line per green
// thread (name, start routine, what it waits on), flushes stdio and exits with status 2.
//
// One exception: if the main task's wait is one a signal handler ends (sem_wait, pause...), a
// signal may still come; then the hub's thread sleeps until a handler runs instead.
#include "../threads/green_thread.hpp"
#include "real.hpp"
#include "symbolize.hpp"
#include "../../libgreen/hub/hub_group.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

namespace green::preload {
namespace {

using detail::Hub;
using detail::Task;

void put(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = REAL(write)(2, s.data() + off, s.size() - off);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return;
        }
        off += size_t(n);
    }
}

// A start routine by name (symbolize: the object's full symbol table, thread routines being
// usually static), else its address and object.
std::string symbol(void* fn) {
    char buf[256];
    Symbol sym;
    if (!symbolize(fn, true, sym)) {
        snprintf(buf, sizeof buf, "%p", fn);
    } else if (sym.name[0]) {
        if (sym.offset) snprintf(buf, sizeof buf, "%s+0x%" PRIxPTR, sym.name, sym.offset);
        else snprintf(buf, sizeof buf, "%s", sym.name);
    } else {
        const char* base = strrchr(sym.file, '/');
        snprintf(buf, sizeof buf, "%p in %s", fn, base ? base + 1 : sym.file);
    }
    return buf;
}

std::string describe(Hub& h, Task* t) {
    char buf[512];
    std::string line;
    auto* g = static_cast<GreenThread*>(t->user);
    if (t == h.root()) {
        snprintf(buf, sizeof buf, "  #%" PRIu64 " main thread", t->id);
    } else if (g) {
        snprintf(buf, sizeof buf, "  #%" PRIu64 " '%s' (pthread %#lx, start routine %s)", t->id, t->name.c_str(),
                 static_cast<unsigned long>(reinterpret_cast<uintptr_t>(g)),
                 symbol(reinterpret_cast<void*>(g->start)).c_str());
    } else {
        snprintf(buf, sizeof buf, "  #%" PRIu64 " greenlet '%s'", t->id, t->name.c_str());
    }
    line = buf;
    const detail::WaitInfo& on = t->waiting_on();
    switch (t->state_now()) {
    case Task::State::Parked:
        snprintf(buf, sizeof buf, ": waiting on %s", on.what ? on.what : "?");
        line += buf;
        if (on.object) {
            snprintf(buf, sizeof buf, " %p", on.object);
            line += buf;
        }
        if (on.arg >= 0) {
            snprintf(buf, sizeof buf, " (%ld)", on.arg);
            line += buf;
        }
        if (char holder[160]; describe_holder(on, holder, sizeof holder)) {
            line += ", held by ";
            line += holder;
        }
        break;
    case Task::State::New: line += ": not started"; break;
    case Task::State::Ready: line += ": ready"; break;
    default: line += ": running"; break;
    }
    return line + "\n";
}

void on_deadlock(Hub& h) {
    Task* root = h.root();
    // A wait that a signal handler ends may still end: sleep until a handler runs.
    while (root->parked_interruptibly()) {
        sigset_t mask;
        pthread_sigmask(SIG_BLOCK, nullptr, &mask);
        REAL(sigsuspend)(&mask);
        h.poll_remote();
        if (root->state_now() != Task::State::Parked || h.has_ready()) return;
    }
    std::string out = "green: deadlock: every green thread is blocked\n";
    try {
        // The live list is newest first: print in creation order. With a group (GREEN_HUBS) the
        // other hubs are idle in their poll now: their lists hold still.
        const int n = detail::HubGroup::size();
        for (int i = 0; i < n; ++i) {
            Hub& hub = n > 1 ? *detail::HubGroup::at(i) : h;
            std::string lines;
            hub.for_each_task([&](Task* t) {
                if (!(hub.serving() && t == hub.root())) lines.insert(0, describe(hub, t));
            });
            out += lines;
        }
    } catch (...) {}
    put(out);
    fflush(nullptr);
    _exit(2);
}

__attribute__((constructor(103))) void install() { detail::Hub::on_deadlock = on_deadlock; }

}  // namespace
}  // namespace green::preload
