// preload/core/symbolize.cpp: see symbolize.hpp.
#include "symbolize.hpp"

#include "real.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <green/detail/task.hpp>

namespace green::preload {

namespace {

struct MappedElf {
    char path[256];
    const unsigned char* data = nullptr;  // the whole file, read-only; null if not an ELF we read
    size_t size = 0;
};

constexpr int kMaxFiles = 32;
MappedElf g_files[kMaxFiles];
int g_count = 0;
detail::SpinLock g_lock;  // (the hooks' own locks are not for the runtime's use)

bool in_file(const MappedElf& m, uint64_t off, uint64_t len) noexcept { return off <= m.size && len <= m.size - off; }

const Elf64_Ehdr* header(const MappedElf& m) noexcept { return reinterpret_cast<const Elf64_Ehdr*>(m.data); }

void map_elf(MappedElf& m, const char* path) noexcept {
    int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    void* p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && size_t(st.st_size) >= sizeof(Elf64_Ehdr))
        p = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    REAL(close)(fd);
    if (p == MAP_FAILED) return;
    m.data = static_cast<const unsigned char*>(p);
    m.size = size_t(st.st_size);
    const Elf64_Ehdr* e = header(m);
    if (memcmp(e->e_ident, ELFMAG, SELFMAG) != 0 || e->e_ident[EI_CLASS] != ELFCLASS64 ||
        e->e_shentsize != sizeof(Elf64_Shdr) || !in_file(m, e->e_shoff, uint64_t(e->e_shnum) * sizeof(Elf64_Shdr)) ||
        e->e_phentsize != sizeof(Elf64_Phdr) || !in_file(m, e->e_phoff, uint64_t(e->e_phnum) * sizeof(Elf64_Phdr))) {
        munmap(p, m.size);
        m.data = nullptr;
    }
}

// The mapped file of `path` (the main program also by /proc/self/exe: its name may be relative to
// a directory it has left); null once kMaxFiles are mapped. g_lock held.
const MappedElf* mapped(const char* path) noexcept {
    for (int i = 0; i < g_count; ++i)
        if (strcmp(g_files[i].path, path) == 0) return g_files[i].data ? &g_files[i] : nullptr;
    if (g_count == kMaxFiles) return nullptr;
    MappedElf& m = g_files[g_count++];
    snprintf(m.path, sizeof m.path, "%s", path);
    map_elf(m, path);
    if (!m.data && path[0] != '/') map_elf(m, "/proc/self/exe");
    return m.data ? &m : nullptr;
}

// The file's address of the first byte its loader mapped (dladdr's dli_fbase): an ET_DYN object
// runs at dli_fbase + (file address - this), an ET_EXEC one at its file addresses.
uint64_t first_load(const MappedElf& m) noexcept {
    const Elf64_Ehdr* e = header(m);
    const auto* ph = reinterpret_cast<const Elf64_Phdr*>(m.data + e->e_phoff);
    for (int i = 0; i < e->e_phnum; ++i)
        if (ph[i].p_type == PT_LOAD) return ph[i].p_vaddr & ~uint64_t(4095);
    return 0;
}

// The function symbol (of a section of `type`) that holds file address `at`; its start in `*start`.
const char* lookup(const MappedElf& m, uint32_t type, uint64_t at, uint64_t* start) noexcept {
    const Elf64_Ehdr* e = header(m);
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(m.data + e->e_shoff);
    const char* best = nullptr;
    for (int i = 0; i < e->e_shnum; ++i) {
        if (sh[i].sh_type != type || sh[i].sh_entsize != sizeof(Elf64_Sym) || sh[i].sh_link >= e->e_shnum) continue;
        const Elf64_Shdr& strs = sh[sh[i].sh_link];
        if (!in_file(m, sh[i].sh_offset, sh[i].sh_size) || !in_file(m, strs.sh_offset, strs.sh_size)) continue;
        const auto* sym = reinterpret_cast<const Elf64_Sym*>(m.data + sh[i].sh_offset);
        const size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
        for (size_t k = 0; k < n; ++k) {
            const unsigned t = ELF64_ST_TYPE(sym[k].st_info);
            if ((t != STT_FUNC && t != STT_GNU_IFUNC) || sym[k].st_shndx == SHN_UNDEF) continue;
            if (at < sym[k].st_value || at - sym[k].st_value >= (sym[k].st_size ? sym[k].st_size : 1)) continue;
            if (sym[k].st_name >= strs.sh_size) continue;
            if (!best || sym[k].st_value > *start) {
                best = reinterpret_cast<const char*>(m.data + strs.sh_offset + sym[k].st_name);
                *start = sym[k].st_value;
            }
        }
    }
    return best;
}

void demangle_into(char* out, size_t size, const char* name) noexcept {
    int status = 0;
    char* plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    snprintf(out, size, "%s", plain ? plain : name);
    free(plain);
}

}  // namespace

bool symbolize(const void* pc, bool entry, Symbol& out) noexcept {
    out = Symbol{};
    const uintptr_t at = uintptr_t(pc);
    // A return address: the call is the byte before it (the next function may start right there).
    const uintptr_t probe = at - (entry ? 0 : 1);
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void*>(probe), &info) || !info.dli_fname || !info.dli_fbase) return false;
    out.file = info.dli_fname;
    const uintptr_t base = uintptr_t(info.dli_fbase);
    out.offset = at - base;
    {
        std::lock_guard g(g_lock);
        if (const MappedElf* m = mapped(info.dli_fname)) {
            const uint64_t load = first_load(*m);
            const uint64_t file_at = (probe - base) + load;  // pc's address in the file's own terms
            uint64_t start = 0;
            const char* name = lookup(*m, SHT_SYMTAB, file_at, &start);
            if (!name) name = lookup(*m, SHT_DYNSYM, file_at, &start);
            if (name) {
                demangle_into(out.name, sizeof out.name, name);
                out.offset = (at - base) + load - start;
                return true;
            }
        }
    }
    if (info.dli_sname && info.dli_saddr) {
        demangle_into(out.name, sizeof out.name, info.dli_sname);
        out.offset = at - uintptr_t(info.dli_saddr);
    }
    return true;
}

}  // namespace green::preload
