// preload/threads/c11_threads.cpp: C11 <threads.h> on the pthread hooks.

#include "../core/hook.hpp"
#include "green_thread.hpp"

#include "../../libgreen/context/stack_pool.hpp"
#include "../../libgreen/hub/hub_group.hpp"
#include "../core/real.hpp"

#include <cstdint>

using namespace green::preload;
using green::detail::Hub;
using green::detail::HubGroup;
using green::detail::Task;
using green::detail::Wake;

// ---- C11 <threads.h> -------------------------------------------------------------------------
//
// Since glibc 2.34 these call libc's internal pthread functions, which no hook sees: without these
// wrappers thrd_create would start real threads and mtx_lock would block the OS thread. Each maps
// onto the hooks above (the types are glibc's pthread types) and glibc's error mapping.

namespace {

int thrd_result(int err) noexcept {
    switch (err) {
    case 0: return 0;          // thrd_success
    case EBUSY: return 1;      // thrd_busy
    case ENOMEM: return 3;     // thrd_nomem
    case ETIMEDOUT: return 4;  // thrd_timedout
    default: return 2;         // thrd_error
    }
}

}  // namespace

GREEN_HOOK(int, thrd_create, unsigned long* thr, int (*func)(void*), void* arg) {
    HOOK_ENTER(thrd_create);
    if (!config.green_threads || !hub()) return REAL(thrd_create)(thr, func, arg);
    pthread_t t;
    int rc = pthread_create(&t, nullptr, reinterpret_cast<void* (*)(void*)>(reinterpret_cast<void (*)()>(func)), arg);
    if (rc == 0) {
        if (GreenThread* g = find_green(t)) {
            g->c11 = true;  // it has not run yet: it starts at this hub's next switch
            g->release();
        }
        *thr = t;
    }
    return thrd_result(rc);
}

GREEN_HOOK(int, thrd_join, unsigned long thr, int* res) {
    HOOK_ENTER(thrd_join);
    void* r = nullptr;
    int rc = pthread_join(thr, &r);
    if (rc == 0 && res) *res = int(reinterpret_cast<intptr_t>(r));
    return rc == 0 ? 0 : 2;
}

GREEN_HOOK(int, thrd_detach, unsigned long thr) {
    HOOK_ENTER(thrd_detach);
    return pthread_detach(thr) == 0 ? 0 : 2;
}
GREEN_HOOK(unsigned long, thrd_current) {
    HOOK_ENTER(thrd_current);
    return pthread_self();
}
GREEN_HOOK(int, thrd_equal, unsigned long a, unsigned long b) {
    HOOK_ENTER(thrd_equal);
    return a == b;
}
GREEN_HOOK(void, thrd_exit, int res) {
    HOOK_ENTER(thrd_exit);
    pthread_exit(reinterpret_cast<void*>(intptr_t(res)));
}
GREEN_HOOK(void, thrd_yield) {
    HOOK_ENTER(thrd_yield);
    sched_yield();
}

GREEN_HOOK(int, thrd_sleep, const struct timespec* req, struct timespec* rem) {
    HOOK_ENTER(thrd_sleep);
    if (nanosleep(req, rem) == 0) return 0;
    return errno == EINTR ? -1 : -2;
}

GREEN_HOOK(int, mtx_lock, pthread_mutex_t* m) {
    HOOK_ENTER(mtx_lock);
    return thrd_result(pthread_mutex_lock(m));
}
GREEN_HOOK(int, mtx_trylock, pthread_mutex_t* m) {
    HOOK_ENTER(mtx_trylock);
    return thrd_result(pthread_mutex_trylock(m));
}
GREEN_HOOK(int, mtx_timedlock, pthread_mutex_t* m, const struct timespec* abstime) {
    HOOK_ENTER(mtx_timedlock);
    return thrd_result(pthread_mutex_timedlock(m, abstime));
}
GREEN_HOOK(int, mtx_unlock, pthread_mutex_t* m) {
    HOOK_ENTER(mtx_unlock);
    return thrd_result(pthread_mutex_unlock(m));
}

GREEN_HOOK(int, cnd_wait, pthread_cond_t* c, pthread_mutex_t* m) {
    HOOK_ENTER(cnd_wait);
    return thrd_result(pthread_cond_wait(c, m));
}
GREEN_HOOK(int, cnd_timedwait, pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* abstime) {
    HOOK_ENTER(cnd_timedwait);
    return thrd_result(pthread_cond_timedwait(c, m, abstime));
}
GREEN_HOOK(int, cnd_signal, pthread_cond_t* c) {
    HOOK_ENTER(cnd_signal);
    return thrd_result(pthread_cond_signal(c));
}
GREEN_HOOK(int, cnd_broadcast, pthread_cond_t* c) {
    HOOK_ENTER(cnd_broadcast);
    return thrd_result(pthread_cond_broadcast(c));
}

GREEN_HOOK(int, tss_create, unsigned int* key, void (*dtor)(void*)) {
    HOOK_ENTER(tss_create);
    pthread_key_t k;
    int rc = pthread_key_create(&k, dtor);
    if (rc == 0) *key = k;
    return rc == 0 ? 0 : 2;
}
GREEN_HOOK(void*, tss_get, unsigned int key) {
    HOOK_ENTER(tss_get);
    return pthread_getspecific(key);
}
GREEN_HOOK(int, tss_set, unsigned int key, void* value) {
    HOOK_ENTER(tss_set);
    return pthread_setspecific(key, value) == 0 ? 0 : 2;
}
GREEN_HOOK(void, tss_delete, unsigned int key) {
    HOOK_ENTER(tss_delete);
    pthread_key_delete(key);
}

GREEN_HOOK(void, call_once, pthread_once_t* flag, void (*func)(void)) {
    HOOK_ENTER(call_once);
    pthread_once(flag, func);
}
