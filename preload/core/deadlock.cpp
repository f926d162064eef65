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
#include "../../libgreen/hub/hub_group.hpp"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

// The function containing file offset `addr` (an address relative to the module's load base),
// from the module's full symbol table (.symtab): thread routines are usually static, or live in
// an executable that exports nothing, so dladdr alone rarely names them. Empty if stripped.
std::string symtab_lookup(const char* path, uintptr_t addr) {
    std::string found;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return found;
    struct stat st;
    void* map = MAP_FAILED;
    if (fstat(fd, &st) == 0 && size_t(st.st_size) >= sizeof(Elf64_Ehdr))
        map = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return found;
    const char* base = static_cast<const char*>(map);
    size_t size = size_t(st.st_size);
    auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
    bool ok = memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_shoff &&
              eh->e_shoff + size_t(eh->e_shnum) * sizeof(Elf64_Shdr) <= size;
    for (unsigned i = 0; ok && i < eh->e_shnum; ++i) {
        auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff) + i;
        if (sh->sh_type != SHT_SYMTAB || sh->sh_link >= eh->e_shnum) continue;
        auto* strsh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff) + sh->sh_link;
        if (sh->sh_offset + sh->sh_size > size || strsh->sh_offset + strsh->sh_size > size) break;
        auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh->sh_offset);
        size_t n = sh->sh_size / sizeof(Elf64_Sym);
        for (size_t k = 0; k < n; ++k) {
            const Elf64_Sym& s = syms[k];
            if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_name >= strsh->sh_size) continue;
            if (addr >= s.st_value && addr < s.st_value + (s.st_size ? s.st_size : 1)) {
                found = base + strsh->sh_offset + s.st_name;
                if (addr != s.st_value) {
                    char off[32];
                    snprintf(off, sizeof off, "+0x%" PRIxPTR, addr - uintptr_t(s.st_value));
                    found += off;
                }
                break;
            }
        }
        break;
    }
    munmap(map, size);
    return found;
}

std::string symbol(void* fn) {
    char buf[256];
    Dl_info info;
    if (dladdr(fn, &info) && !info.dli_sname && info.dli_fname) {
        // An executable's dli_fname may be empty: /proc/self/exe then.
        const char* path = *info.dli_fname ? info.dli_fname : "/proc/self/exe";
        std::string name = symtab_lookup(path, uintptr_t(fn) - uintptr_t(info.dli_fbase));
        if (name.empty()) name = symtab_lookup(path, uintptr_t(fn));  // a non-PIE executable
        if (!name.empty()) return name;
    }
    if (dladdr(fn, &info) && info.dli_sname) {
        uintptr_t off = uintptr_t(fn) - uintptr_t(info.dli_saddr);
        if (off) snprintf(buf, sizeof buf, "%s+0x%" PRIxPTR, info.dli_sname, off);
        else snprintf(buf, sizeof buf, "%s", info.dli_sname);
    } else if (dladdr(fn, &info) && info.dli_fname) {
        const char* base = strrchr(info.dli_fname, '/');
        snprintf(buf, sizeof buf, "%p in %s", fn, base ? base + 1 : info.dli_fname);
    } else {
        snprintf(buf, sizeof buf, "%p", fn);
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
