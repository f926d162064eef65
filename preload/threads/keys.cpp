// preload/threads/keys.cpp: thread-specific data (pthread_key_*) and pthread_once.
//
// Keys are implemented here for every kind of thread (green, root, native), so a key works the
// same whichever thread uses it: green threads keep their values in their record, others in a
// table that a real key's destructor frees at thread exit.
#include "../core/hook.hpp"
#include "green_thread.hpp"
#include "../core/real.hpp"

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <new>

namespace green::preload {

using detail::Hub;
using detail::Task;
using detail::Wake;

// ---- keys ------------------------------------------------------------------------------------

namespace {

struct KeyDef {
    std::atomic<uint64_t> seq{0};  // odd while the key exists
    std::atomic<void (*)(void*)> dtor{nullptr};
};
constinit KeyDef g_keys[PTHREAD_KEYS_MAX];

// Root tasks and native threads keep their values here; a real key's destructor runs them at
// thread exit (not at exit(), as natively for main).
thread_local KeyTable* tls_keys __attribute__((tls_model("initial-exec"))) = nullptr;

void native_keys_dtor(void* p) {
    auto* t = static_cast<KeyTable*>(p);
    run_key_destructors(*t);
    if (tls_keys == t) tls_keys = nullptr;
    delete t;
}

pthread_key_t real_key() noexcept {
    static pthread_key_t k = [] {
        pthread_key_t key;
        if (REAL(pthread_key_create)(&key, native_keys_dtor) != 0) {
            const char msg[] = "green: cannot create the preload's own pthread key\n";
            (void)!write(2, msg, sizeof msg - 1);
            abort();
        }
        return key;
    }();
    return k;
}

// The real key is made before main(), while the process has one thread.
__attribute__((constructor(102))) void keys_init() { (void)real_key(); }

KeyTable* current_keys(bool create) noexcept {
    if (GreenThread* g = current_green()) return &g->keys;
    KeyTable* t = tls_keys;
    if (!t && create) {
        t = new (std::nothrow) KeyTable;
        if (!t) return nullptr;
        tls_keys = t;
        REAL(pthread_setspecific)(real_key(), t);
    }
    return t;
}

}  // namespace

void run_own_key_destructors() {
    if (KeyTable* t = tls_keys) run_key_destructors(*t);
}

void run_key_destructors(KeyTable& t) {
    for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; ++round) {
        bool ran = false;
        for (size_t i = 0; i < t.values.size(); ++i) {
            void* v = t.values[i];
            if (!v) continue;
            t.values[i] = nullptr;
            uint64_t s = g_keys[i].seq.load(std::memory_order_acquire);
            if (t.stamps[i] != s || !(s & 1)) continue;
            void (*d)(void*) = g_keys[i].dtor.load(std::memory_order_acquire);
            if (!d) continue;
            d(v);
            ran = true;
        }
        if (!ran) break;
    }
}

}  // namespace green::preload

using namespace green::preload;
using green::detail::Hub;
using green::detail::Task;
using green::detail::Wake;

GREEN_HOOK(int, pthread_key_create, pthread_key_t* key, void (*dtor)(void*)) {
    HOOK_ENTER(pthread_key_create);
    for (unsigned i = 0; i < PTHREAD_KEYS_MAX; ++i) {
        uint64_t s = g_keys[i].seq.load(std::memory_order_relaxed);
        if ((s & 1) || s == UINT64_MAX - 1) continue;
        if (g_keys[i].seq.compare_exchange_strong(s, s + 1, std::memory_order_acq_rel)) {
            g_keys[i].dtor.store(dtor, std::memory_order_release);
            *key = i;
            return 0;
        }
    }
    return EAGAIN;
}

GREEN_HOOK(int, pthread_key_delete, pthread_key_t key) {
    HOOK_ENTER(pthread_key_delete);
    if (key >= PTHREAD_KEYS_MAX) return EINVAL;
    uint64_t s = g_keys[key].seq.load(std::memory_order_relaxed);
    if (!(s & 1) || !g_keys[key].seq.compare_exchange_strong(s, s + 1, std::memory_order_acq_rel)) return EINVAL;
    return 0;
}

GREEN_HOOK(void*, pthread_getspecific, pthread_key_t key) {
    HOOK_ENTER(pthread_getspecific);
    if (key >= PTHREAD_KEYS_MAX) return nullptr;
    KeyTable* t = current_keys(false);
    // Both sizes: an allocator that uses keys may call in while setspecific grows the table.
    if (!t || key >= t->values.size() || key >= t->stamps.size()) return nullptr;
    if (t->stamps[key] != g_keys[key].seq.load(std::memory_order_relaxed)) return nullptr;
    return t->values[key];
}

GREEN_HOOK(int, pthread_setspecific, pthread_key_t key, const void* value) {
    HOOK_ENTER(pthread_setspecific);
    if (key >= PTHREAD_KEYS_MAX) return EINVAL;
    uint64_t s = g_keys[key].seq.load(std::memory_order_relaxed);
    if (!(s & 1)) return EINVAL;
    KeyTable* t = current_keys(true);
    if (!t) return ENOMEM;
    if (key >= t->values.size()) {
        if (!value) return 0;
        // Grown into new storage, put in place by swaps (which neither allocate nor free), the old
        // buffers freed last: an allocator whose free() calls getspecific (ASan's does) must never
        // read a buffer while it is freed, as vector::resize would have it.
        std::vector<uint64_t> stamps;
        std::vector<void*> values;
        try {
            stamps.reserve(key + 1);
            values.reserve(key + 1);
        } catch (...) {
            return ENOMEM;
        }
        stamps.assign(t->stamps.begin(), t->stamps.end());
        stamps.resize(key + 1, 0);
        values.assign(t->values.begin(), t->values.end());
        values.resize(key + 1, nullptr);
        t->stamps.swap(stamps);
        t->values.swap(values);
    }
    t->values[key] = const_cast<void*>(value);
    t->stamps[key] = s;
    return 0;
}

// ---- pthread_once ----------------------------------------------------------------------------

// States of a pthread_once_t (only these hooks touch program controls): 0 not run, 1 running, 2 done.
GREEN_HOOK(int, pthread_once, pthread_once_t* once, void (*init)(void)) {
    HOOK_ENTER(pthread_once);
    if (__builtin_expect(__atomic_load_n(once, __ATOMIC_ACQUIRE) == 2, 1)) return 0;
    WaitBucket& b = bucket_for(once);
    for (;;) {
        int v = __atomic_load_n(once, __ATOMIC_ACQUIRE);
        if (v == 2) return 0;
        if (v == 0) {
            int expected = 0;
            if (!__atomic_compare_exchange_n(once, &expected, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
            // If init leaves by pthread_exit or an exception, the control is reset as natively.
            struct Finish {
                pthread_once_t* once;
                WaitBucket& b;
                int state = 0;
                ~Finish() {
                    __atomic_store_n(once, state, __ATOMIC_RELEASE);
                    if (b.count.load(std::memory_order_seq_cst)) {
                        b.acquire();
                        b.wake_all(once);
                        b.unlock();
                    }
                }
            } finish{once, b};
            init();
            finish.state = 2;
            return 0;
        }
        WaitCtx c = wait_ctx();
        ObjWaiter w;
        w.obj = once;
        w.type = WaitType::Once;
        w.hub = c.green ? c.hub : nullptr;
        b.acquire();
        if (__atomic_load_n(once, __ATOMIC_ACQUIRE) != 1) {
            b.unlock();
            continue;
        }
        b.add(w);
        b.unlock();
        sleep_on(b, w, Deadline::none(), {"pthread_once", once});
        b.acquire();
        b.remove(w);
        b.unlock();
    }
}
