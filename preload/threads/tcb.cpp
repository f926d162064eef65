// preload/threads/tcb.cpp: a thread control block per green thread, built as glibc builds a real thread's.
//
// glibc (x86-64) keeps a thread's descriptor, struct pthread, at its thread pointer, with the static
// TLS of every initially loaded library just below it; ld.so exports what nptl itself uses to make
// one (_dl_get_tls_static_info, _dl_allocate_tls, _dl_deallocate_tls, GLIBC_PRIVATE), and libc the
// descriptor's layout for debuggers (_thread_db_*). What neither says is learnt once from a real
// thread that glibc made (the probe below) and checked, never assumed.
#include "tcb.hpp"

#include "../../libgreen/context/thread_pointer.hpp"
#include "green_thread.hpp"
#include "../core/real.hpp"
#include "../core/runtime.hpp"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

extern "C" {
extern ptrdiff_t __rseq_offset __attribute__((weak));
extern unsigned int __rseq_size __attribute__((weak));
}

namespace green::preload {

namespace {

using detail::Task;

// x86-64 tcbhead_t: the words of a descriptor that compiled code and glibc read at fixed offsets.
constexpr ptrdiff_t kTcbSelf = 0x00;  // %fs:0, what every TLS access adds to
constexpr ptrdiff_t kTcbDtv = 0x08;
constexpr ptrdiff_t kTcbHeaderSelf = 0x10;  // THREAD_SELF
constexpr ptrdiff_t kTcbMultipleThreads = 0x18;
constexpr ptrdiff_t kTcbStackGuard = 0x28;            // -fstack-protector's canary: must match the creator's
constexpr ptrdiff_t kTcbPointerGuard = 0x30;          // setjmp/atexit pointer mangling: likewise
constexpr ptrdiff_t kTcbFeature1 = 0x48;              // CET state
constexpr int32_t kRseqCpuIdRegistrationFailed = -2;  // sched_getcpu() then asks the kernel

struct Layout {
    bool ok = false;
    const char* why = nullptr;  // when !ok
    void (*get_static_info)(size_t*, size_t*) = nullptr;
    void* (*allocate_tls)(void*) = nullptr;
    void (*deallocate_tls)(void*, bool) = nullptr;
    void (*ctype_init)() = nullptr;
    void (*call_tls_dtors)() = nullptr;
    size_t pthread_size = 0, static_size = 0, static_align = 0;
    ptrdiff_t list = 0, tid = 0, robust_head = 0, res = 0, strerror_buf = 0,
              strsignal_buf = 0;            // in the TCB; 0: unknown
    ptrdiff_t resp_var = 0, errno_var = 0;  // TLS variables, from the thread pointer
    ptrdiff_t own_block = 0;                // the runtime's static TLS block starts at tp - own_block
    size_t own_block_size = 0;
    ptrdiff_t libc_block = 0;
    size_t libc_block_size = 0;
    ptrdiff_t malloc_words[4] = {};  // malloc's per-thread words, from the thread pointer
    int nmalloc_words = 0;
    ptrdiff_t lm_tls_offset = 0, lm_tls_modid = 0;  // in struct link_map
    bool other_tls = false;                         // a library besides libc and the runtime has TLS
};

Layout g_layout;
std::atomic<TlsMode> g_mode{TlsMode::Shared};
bool g_auto = false;  // GREEN_TLS=auto: a library with TLS dlopened later turns TCBs on
std::once_flag g_once;

detail::SpinLock g_live_lock;
const bool g_live_lock_fork_reset = reset_in_fork_child(g_live_lock);
std::vector<char*>* g_live = nullptr;            // TCBs of green threads that have not ended
std::vector<size_t>* g_static_modids = nullptr;  // modules whose static TLS every live TCB holds
std::vector<size_t>* g_tls_modids = nullptr;     // every module with TLS seen so far

template <class T> T private_symbol(const char* name) {
    return reinterpret_cast<T>(dlvsym(RTLD_DEFAULT, name, "GLIBC_PRIVATE"));
}

// A field offset from a _thread_db descriptor: {size in bits, count, offset}.
ptrdiff_t db_offset(const char* name) {
    auto* d = private_symbol<const uint32_t*>(name);
    return d ? ptrdiff_t(d[2]) : -1;
}

size_t lm_word(const link_map* lm, ptrdiff_t off) {
    size_t v;
    memcpy(&v, reinterpret_cast<const char*>(lm) + off, sizeof v);
    return v;
}

// A module's TLS segment, as its program headers describe it.
struct TlsImage {
    size_t modid;
    const char* init;
    size_t filesz, memsz;
};

std::vector<TlsImage> tls_images() {
    std::vector<TlsImage> out;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* arg) {
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_TLS || !info->dlpi_tls_modid) continue;
                static_cast<std::vector<TlsImage>*>(arg)->push_back(
                    {info->dlpi_tls_modid, reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr), ph.p_filesz,
                     ph.p_memsz});
            }
            return 0;
        },
        &out);
    return out;
}

// Static TLS offset (tp - block) of the module `lm`; 0 when its TLS is not static.
size_t static_offset(const link_map* lm) {
    size_t off = lm_word(lm, g_layout.lm_tls_offset);
    return off == size_t(-1) ? 0 : off;  // glibc's FORCED_DYNAMIC_TLS_OFFSET
}

// The closure of DT_NEEDED from `root` among the loaded modules, `skip` left out.
std::vector<const link_map*> needed_closure(const link_map* root, const link_map* skip) {
    std::vector<const link_map*> all, out;
    for (const link_map* lm = _r_debug.r_map; lm; lm = lm->l_next) all.push_back(lm);
    auto needed_names = [](const link_map* lm) {
        std::vector<const char*> names;
        const char* strtab = nullptr;
        for (const ElfW(Dyn)* d = lm->l_ld; d && d->d_tag != DT_NULL; ++d)
            if (d->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(d->d_un.d_ptr);
        if (!strtab) return names;
        for (const ElfW(Dyn)* d = lm->l_ld; d && d->d_tag != DT_NULL; ++d)
            if (d->d_tag == DT_NEEDED) names.push_back(strtab + d->d_un.d_val);
        return names;
    };
    auto basename_of = [](const char* path) {
        const char* s = strrchr(path, '/');
        return s ? s + 1 : path;
    };
    if (!root) return out;
    out.push_back(root);
    for (size_t i = 0; i < out.size(); ++i)
        for (const char* name : needed_names(out[i]))
            for (const link_map* lm : all)
                if (lm != skip && strcmp(basename_of(lm->l_name), name) == 0 &&
                    std::find(out.begin(), out.end(), lm) == out.end())
                    out.push_back(lm);
    return out;
}

const link_map* module_of(const void* addr) {
    Dl_info info;
    link_map* lm = nullptr;
    if (!dladdr1(addr, &info, reinterpret_cast<void**>(&lm), RTLD_DL_LINKMAP)) return nullptr;
    return lm;
}

size_t image_size(size_t modid) {
    for (const TlsImage& im : tls_images())
        if (im.modid == modid) return im.memsz;
    return 0;
}

// ---- the probe: a real thread, to learn what glibc sets up in one ---------------------------

struct Probe {
    ptrdiff_t res = 0;
    bool robust_ok = false;
    ptrdiff_t malloc_words[4] = {};
    int nmalloc_words = -1;  // -1: could not tell
    ptrdiff_t strerror_buf = 0, strsignal_buf = 0;
};

constexpr size_t kMaxWords = 512;

// The one word of [base, base + n words) that changed from zero to non-zero; 0 if not exactly one.
ptrdiff_t one_new_word(const uint64_t* before, const char* base, size_t n, ptrdiff_t base_off) {
    ptrdiff_t found = 0;
    int count = 0;
    for (size_t i = 0; i < n; ++i) {
        uint64_t now;
        memcpy(&now, base + i * 8, 8);
        if (before[i] == 0 && now != 0) {
            found = base_off + ptrdiff_t(i * 8);
            ++count;
        }
    }
    return count == 1 ? found : 0;
}

void* probe_main(void* arg) {
    detail::Hub::mark_worker_thread();  // nothing here may make a hub
    auto* p = static_cast<Probe*>(arg);
    const Layout& L = g_layout;
    char* tp = static_cast<char*>(detail::thread_pointer());

    char* resp;
    memcpy(&resp, tp + L.resp_var, sizeof resp);
    if (resp > tp && resp < tp + ptrdiff_t(L.pthread_size)) p->res = resp - tp;
    void* robust;
    memcpy(&robust, tp + L.robust_head, sizeof robust);
    p->robust_ok = robust == tp + L.robust_head;

    // malloc's words: what its first call in a fresh thread changes in libc's TLS block.
    size_t n = L.libc_block_size / 8;
    uint64_t before[kMaxWords];
    if (n && n <= kMaxWords) {
        char* block = tp - L.libc_block;
        memcpy(before, block, n * 8);
        void* volatile chunk = malloc(48);  // volatile: the compiler may not elide the pair
        free(chunk);
        int k = 0;
        for (size_t i = 0; i < n && k <= 4; ++i) {
            uint64_t now;
            memcpy(&now, block + i * 8, 8);
            ptrdiff_t off = -L.libc_block + ptrdiff_t(i * 8);
            if (now != before[i] && off != L.errno_var) {
                if (k < 4) p->malloc_words[k] = off;
                ++k;
            }
        }
        if (k >= 1 && k <= 4) p->nmalloc_words = k;
    }

    // libc's per-thread string buffers live in the descriptor (tls_internal_t).
    size_t words = L.pthread_size / 8;
    if (words <= kMaxWords) {
        memcpy(before, tp, words * 8);
        (void)strerror(4321);
        p->strerror_buf = one_new_word(before, tp, words, 0);
        memcpy(before, tp, words * 8);
        (void)strsignal(77);
        p->strsignal_buf = one_new_word(before, tp, words, 0);
    }
    return nullptr;
}

void learn_layout() {
    Layout& L = g_layout;
    L.get_static_info = private_symbol<void (*)(size_t*, size_t*)>("_dl_get_tls_static_info");
    L.allocate_tls = private_symbol<void* (*)(void*)>("_dl_allocate_tls");
    L.deallocate_tls = private_symbol<void (*)(void*, bool)>("_dl_deallocate_tls");
    L.ctype_init = private_symbol<void (*)()>("__ctype_init");
    L.call_tls_dtors = private_symbol<void (*)()>("__call_tls_dtors");
    auto* size = private_symbol<const uint32_t*>("_thread_db_sizeof_pthread");
    L.tid = db_offset("_thread_db_pthread_tid");
    L.list = db_offset("_thread_db_pthread_list");
    ptrdiff_t cancel = db_offset("_thread_db_pthread_cancelhandling");
    L.lm_tls_offset = db_offset("_thread_db_link_map_l_tls_offset");
    L.lm_tls_modid = db_offset("_thread_db_link_map_l_tls_modid");
    auto* resp = private_symbol<char*>("__resp");
    auto* err = reinterpret_cast<char*>(&errno);
    if (!L.get_static_info || !L.allocate_tls || !L.deallocate_tls || !L.ctype_init || !size || L.tid < 0 ||
        L.list < 0 || cancel < 0 || L.lm_tls_offset < 0 || L.lm_tls_modid < 0 || !resp || !&__rseq_offset) {
        L.why = "this libc does not export what a thread control block needs (glibc 2.35+ does)";
        return;
    }
    L.pthread_size = *size;
    L.get_static_info(&L.static_size, &L.static_align);
    // glibc 2.x: robust_prev, robust_head {list, futex_offset, list_op_pending}, cleanup,
    // cleanup_jmp_buf, then cancelhandling; the probe checks the list points at itself.
    L.robust_head = cancel - 40;
    char* tp = static_cast<char*>(detail::thread_pointer());
    L.resp_var = resp - tp;
    L.errno_var = err - tp;

    const link_map* own = module_of(reinterpret_cast<const void*>(&tcb_place));
    const link_map* libc = module_of(reinterpret_cast<const void*>(L.ctype_init));
    if (!own || !libc || !static_offset(own) || !static_offset(libc)) {
        L.why = "cannot locate the static TLS of libc and of the runtime";
        return;
    }
    L.own_block = ptrdiff_t(static_offset(own));
    L.own_block_size = image_size(lm_word(own, L.lm_tls_modid));
    L.libc_block = ptrdiff_t(static_offset(libc));
    L.libc_block_size = image_size(lm_word(libc, L.lm_tls_modid));
    // Libraries loaded only for the runtime (libstdc++ under this library) do not count; anything
    // the program loaded does, dlopened ones included (the JVM's libjvm.so).
    std::vector<const link_map*> program = needed_closure(_r_debug.r_map, own);
    std::vector<const link_map*> runtime_only = needed_closure(own, nullptr);
    for (const link_map* lm = _r_debug.r_map; lm; lm = lm->l_next) {
        if (lm == own || lm == libc || lm_word(lm, L.lm_tls_modid) == 0) continue;
        bool ours = std::find(runtime_only.begin(), runtime_only.end(), lm) != runtime_only.end() &&
                    std::find(program.begin(), program.end(), lm) == program.end();
        if (!ours) L.other_tls = true;
    }

    Probe probe;
    pthread_t t;
    if (REAL(pthread_create)(&t, nullptr, probe_main, &probe) != 0 || REAL(pthread_join)(t, nullptr) != 0) {
        L.why = "cannot start a thread to learn glibc's thread set-up";
        return;
    }
    if (!probe.robust_ok) {
        L.why = "glibc's thread descriptor has an unknown layout";
        return;
    }
    L.res = probe.res;
    L.strerror_buf = probe.strerror_buf;
    L.strsignal_buf = probe.strsignal_buf;
    if (probe.nmalloc_words < 0) {
        // A green thread would get a malloc cache of its own that is never given back.
        L.why = "cannot tell malloc's per-thread state";
        return;
    }
    L.nmalloc_words = probe.nmalloc_words;
    std::copy(probe.malloc_words, probe.malloc_words + 4, L.malloc_words);

    // Modules with static TLS now: every TCB made from here on gets their images.
    g_static_modids = new std::vector<size_t>;
    g_tls_modids = new std::vector<size_t>;
    for (const link_map* lm = _r_debug.r_map; lm; lm = lm->l_next) {
        size_t id = lm_word(lm, L.lm_tls_modid);
        if (id) g_tls_modids->push_back(id);
        if (id && static_offset(lm)) g_static_modids->push_back(id);
    }
    g_live = new std::vector<char*>;
    L.ok = true;
}

void decide_mode() {
    const char* env = getenv("GREEN_TLS");
    std::string want = env && *env ? env : "auto";
    if (want != "thread" && want != "shared" && want != "auto") {
        fprintf(stderr, "green: ignoring GREEN_TLS='%s' (thread, shared or auto)\n", env);
        want = "auto";
    }
    if (want == "shared") return;
    learn_layout();
    if (!g_layout.ok) {
        if (want == "thread" || config.debug)
            fprintf(stderr, "green: green threads share their OS thread's TLS: %s\n", g_layout.why);
        return;
    }
    // auto: without wrfsbase each switch between two TCBs is a system call; pay it where a library
    // keeps per-thread state in TLS (C++, Rust, language runtimes), and wherever hand-off may
    // resume a green thread on another OS thread: compiled code keeps TLS addresses across calls
    // (`errno = 0; read(...); errno` computes errno's address once), which would then be another
    // thread's. Plain C with hand-off off shares its OS thread's TLS.
    if (want == "thread" || detail::thread_pointer_switch_is_fast() || g_layout.other_tls || handoff_seconds() > 0)
        g_mode = TlsMode::Thread;
    g_auto = want == "auto";
    if (config.debug)
        fprintf(stderr, "green: GREEN_TLS=%s: green threads %s\n", want.c_str(),
                g_mode == TlsMode::Thread ? "have TCBs of their own" : "share their OS thread's TLS");
}

template <class T> void put(char* tcb, ptrdiff_t off, T v) { memcpy(tcb + off, &v, sizeof v); }
template <class T> T get(const char* tcb, ptrdiff_t off) {
    T v;
    memcpy(&v, tcb + off, sizeof v);
    return v;
}

}  // namespace

TlsMode tls_mode() noexcept {
    std::call_once(g_once, decide_mode);
    return g_mode;
}

namespace {

// glibc's descriptor and static TLS for a thread with id `tid`, built below `top` within `room`
// bytes (keeping 16 KiB of it free); null if it does not fit or its DTV cannot be allocated.
// `*reserved`: the bytes taken.
char* build_tcb(char* top, size_t room, pid_t tid, size_t* reserved) noexcept {
    const Layout& L = g_layout;
    auto tcb_addr = (uintptr_t(top) - L.pthread_size) & ~uintptr_t(L.static_align - 1);
    char* tcb = reinterpret_cast<char*>(tcb_addr);
    size_t taken = size_t(top - tcb) + (L.static_size - L.pthread_size);
    taken = (taken + 63) & ~size_t(63);
    if (taken + (16 << 10) > room) return nullptr;

    memset(tcb, 0, L.pthread_size);  // a reused stack is not zeroed
    put(tcb, kTcbSelf, tcb);
    if (!L.allocate_tls(tcb)) return nullptr;
    char* cur = static_cast<char*>(detail::thread_pointer());
    put(tcb, kTcbHeaderSelf, tcb);
    put<int>(tcb, kTcbMultipleThreads, 1);
    put(tcb, kTcbStackGuard, get<uintptr_t>(cur, kTcbStackGuard));
    put(tcb, kTcbPointerGuard, get<uintptr_t>(cur, kTcbPointerGuard));
    put(tcb, kTcbFeature1, get<uint32_t>(cur, kTcbFeature1));
    put<pid_t>(tcb, L.tid, tid);
    put(tcb, L.robust_head, tcb + L.robust_head);  // an empty robust-mutex list
    // On no list of glibc's (setxid would signal its made-up tid), but linked to itself: a fork
    // child unlinks the forking thread's descriptor from its list, then keeps it as its only one.
    put(tcb, L.list, tcb + L.list);
    put(tcb, L.list + ptrdiff_t(sizeof(void*)), tcb + L.list);
    if (&__rseq_size && __rseq_size >= 8) {
        // Not registered with the kernel (only the OS thread's own area is): readers fall back.
        put<uint32_t>(tcb, __rseq_offset, 0);
        put<int32_t>(tcb, __rseq_offset + 4, kRseqCpuIdRegistrationFailed);
    }
    if (L.res) put(tcb, L.resp_var, tcb + L.res);  // the resolver state (_res) in the descriptor, as nptl
    tcb_sync(tcb, cur);

    std::lock_guard lk(g_live_lock);
    try {
        g_live->push_back(tcb);
    } catch (...) {
        return nullptr;
    }
    *reserved = taken;
    return tcb;
}

}  // namespace

void tcb_sync(void* task_tcb, const void* carrier_tcb) noexcept {
    const Layout& L = g_layout;
    char* t = static_cast<char*>(task_tcb);
    const char* c = static_cast<const char*>(carrier_tcb);
    for (int i = 0; i < L.nmalloc_words; ++i) put(t, L.malloc_words[i], get<uintptr_t>(c, L.malloc_words[i]));
    memcpy(t - L.own_block, c - L.own_block, L.own_block_size);  // the runtime's per-OS-thread pointers
}

size_t tcb_place(Task* t) noexcept {
    auto* g = static_cast<GreenThread*>(t);
    size_t reserved = 0;
    char* tcb = build_tcb(t->stack.lo + t->stack.size, t->stack.size, kGreenTidBase + pid_t(g->number), &reserved);
    if (!tcb) return 0;  // too small a stack, or no DTV: it shares its OS thread's TLS
    t->tcb = tcb;
    // It may come to run on another OS thread (a hand-off, or another hub of a group: Hub::may_move).
    if (!detail::Hub::sync_tcb) detail::Hub::sync_tcb = tcb_sync;
    return reserved;
}

void* tcb_make_carrier() noexcept {
    const Layout& L = g_layout;
    if (!L.ok) return nullptr;
    const size_t room = ((L.static_size + L.static_align + (16 << 10)) + 4095) & ~size_t(4095);
    void* p = mmap(nullptr, room, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    size_t reserved = 0;
    // Its real id: glibc's abort() and raise() signal THREAD_SELF's tid.
    char* tcb = build_tcb(static_cast<char*>(p) + room, room, gettid(), &reserved);
    if (!tcb) munmap(p, room);
    return tcb;  // kept for the process's life, as its OS thread
}

void tcb_thread_started() noexcept { g_layout.ctype_init(); }

void tcb_run_tls_destructors() noexcept {
    if (g_layout.call_tls_dtors) g_layout.call_tls_dtors();
}

void tcb_thread_ending(Task* t) noexcept {
    auto* g = static_cast<GreenThread*>(t);
    char* tcb = static_cast<char*>(t->tcb);
    {
        std::lock_guard lk(g_live_lock);
        auto it = std::find(g_live->begin(), g_live->end(), tcb);
        if (it != g_live->end()) {
            *it = g_live->back();
            g_live->pop_back();
        }
    }
    // Kept in the record: the stack (and the descriptor in it) goes back to the pool with the fiber.
    g->tls_dtv = get<void*>(tcb, kTcbDtv);
    if (g_layout.strerror_buf) g->tls_buffers[0] = get<void*>(tcb, g_layout.strerror_buf);
    if (g_layout.strsignal_buf) g->tls_buffers[1] = get<void*>(tcb, g_layout.strsignal_buf);
}

void tcb_release(GreenThread* g) noexcept {
    if (g->tls_dtv) {
        // _dl_deallocate_tls reads only the DTV pointer of the descriptor it is given.
        alignas(64) char head[64] = {};
        put(head, kTcbDtv, g->tls_dtv);
        g_layout.deallocate_tls(head, false);
        g->tls_dtv = nullptr;
    }
    for (void*& p : g->tls_buffers) free(std::exchange(p, nullptr));
}

void tcb_after_dlopen() noexcept {
    if (!g_layout.ok) return;
    std::lock_guard lk(g_live_lock);
    if (g_mode == TlsMode::Shared) {
        // auto: if the library brought TLS, threads created from now on get TCBs of their own
        // (those made before keep sharing: a TLS block cannot be split afterwards).
        bool fresh_tls = false;
        for (const link_map* lm = _r_debug.r_map; lm; lm = lm->l_next) {
            size_t id = lm_word(lm, g_layout.lm_tls_modid);
            if (!id || std::find(g_tls_modids->begin(), g_tls_modids->end(), id) != g_tls_modids->end()) continue;
            fresh_tls = true;
            try {
                g_tls_modids->push_back(id);
            } catch (...) {}
        }
        if (!fresh_tls || !g_auto) return;
        g_mode = TlsMode::Thread;
        // Their TCBs copy per-OS-thread words (malloc's cache): when a hand-off moves their hub to
        // another OS thread, they take that thread's before running there (Hub::install_tcb).
        detail::Hub::sync_tcb = tcb_sync;
        if (config.debug)
            fprintf(stderr, "green: a library with TLS was loaded: new green threads get TCBs of their own\n");
    }
    std::vector<TlsImage> images = tls_images();
    for (const link_map* lm = _r_debug.r_map; lm; lm = lm->l_next) {
        size_t id = lm_word(lm, g_layout.lm_tls_modid);
        size_t off = id ? static_offset(lm) : 0;
        if (!off || std::find(g_static_modids->begin(), g_static_modids->end(), id) != g_static_modids->end()) continue;
        for (const TlsImage& im : images) {
            if (im.modid != id) continue;
            for (char* tcb : *g_live) {
                memcpy(tcb - off, im.init, im.filesz);
                memset(tcb - off + im.filesz, 0, im.memsz - im.filesz);
            }
        }
        try {
            g_static_modids->push_back(id);
        } catch (...) {}
    }
}

}  // namespace green::preload
