// preload/sync/barrier.cpp: pthread barriers whose waits park the green thread.
//
// pthread_barrier_init is libc's (it validates the count and attributes); the barrier's state
// (count, arrivals, round) then lives in a side table keyed by address, guarded by the object's
// wait-table bucket lock, so green and native threads may meet at the same barrier. The last
// arrival of a round gets PTHREAD_BARRIER_SERIAL_THREAD and wakes the others. Process-shared
// barriers stay libc's (they block the OS thread).
#include "../core/hook.hpp"
#include "../threads/green_thread.hpp"
#include "../core/real.hpp"

#include <cerrno>
#include <mutex>
#include <unordered_map>

namespace green::preload {
namespace {

using detail::Wake;

struct BarrierState {
    unsigned count = 0;
    unsigned arrived = 0;
    unsigned round = 0;
};

detail::SpinLock map_lock;
const bool map_lock_fork_reset = reset_in_fork_child(map_lock);
std::unordered_map<const void*, BarrierState>* barriers = nullptr;

// Entries are node-based: the pointer stays valid until pthread_barrier_destroy erases it.
BarrierState* find(const void* b) noexcept {
    std::lock_guard g(map_lock);
    if (!barriers) return nullptr;
    auto it = barriers->find(b);
    return it == barriers->end() ? nullptr : &it->second;
}

}  // namespace
}  // namespace green::preload

using namespace green::preload;

GREEN_HOOK(int, pthread_barrier_init, pthread_barrier_t* b, const pthread_barrierattr_t* attr, unsigned count)
noexcept {
    HOOK_ENTER(pthread_barrier_init);
    int rc = REAL(pthread_barrier_init)(b, attr, count);
    if (rc != 0) return rc;
    int pshared = PTHREAD_PROCESS_PRIVATE;
    if (attr) pthread_barrierattr_getpshared(attr, &pshared);
    std::lock_guard g(map_lock);
    try {
        if (!barriers) barriers = new std::unordered_map<const void*, BarrierState>;
        if (pshared == PTHREAD_PROCESS_SHARED) barriers->erase(b);
        else (*barriers)[b] = BarrierState{count, 0, 0};
    } catch (...) {
        REAL(pthread_barrier_destroy)(b);
        return ENOMEM;
    }
    return 0;
}

GREEN_HOOK(int, pthread_barrier_destroy, pthread_barrier_t* b) noexcept {
    HOOK_ENTER(pthread_barrier_destroy);
    if (BarrierState* st = find(b)) {
        WaitBucket& wb = bucket_for(b);
        wb.acquire();
        bool busy = st->arrived != 0;
        wb.unlock();
        if (busy) return EBUSY;
        std::lock_guard g(map_lock);
        barriers->erase(b);
    }
    return REAL(pthread_barrier_destroy)(b);
}

GREEN_HOOK(int, pthread_barrier_wait, pthread_barrier_t* b) {
    HOOK_ENTER(pthread_barrier_wait);
    BarrierState* st = find(b);
    if (!st) {
        if (wait_ctx().green) debug_once("pthread_barrier_wait", "process-shared barrier");
        return REAL(pthread_barrier_wait)(b);
    }
    WaitBucket& wb = bucket_for(b);
    wb.acquire();
    if (++st->arrived == st->count) {
        st->arrived = 0;
        st->round++;
        wb.wake_all(b);
        wb.unlock();
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    WaitCtx c = wait_ctx();
    ObjWaiter w;
    w.obj = b;
    w.type = WaitType::Barrier;
    w.tag = int(st->round);
    w.hub = c.green ? c.hub : nullptr;
    wb.add(w);
    wb.unlock();
    while (sleep_on(wb, w, Deadline::none(), {"pthread_barrier_wait", b, -1}) != Wake::Notified) {}
    wb.acquire();
    wb.remove(w);
    wb.unlock();
    return 0;
}
