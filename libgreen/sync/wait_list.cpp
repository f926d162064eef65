// sync/wait_list.cpp: the waiter list every synchronization object is built on.
#include "../hub/hub.hpp"

namespace green::detail {

void WaitList::push_back(Waiter* w) noexcept {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_) tail_->next = w;
    else head_ = w;
    tail_ = w;
    w->linked = true;
}

void WaitList::erase(Waiter* w) noexcept {
    if (w->prev) w->prev->next = w->next;
    else head_ = w->next;
    if (w->next) w->next->prev = w->prev;
    else tail_ = w->prev;
    w->prev = w->next = nullptr;
    w->linked = false;
}

bool WaitList::notify_one() noexcept {
    Waiter* w = head_;
    if (!w) return false;
    erase(w);
    w->notified = true;
    Hub::wake(w->waker, Wake::Notified);
    return true;
}

size_t WaitList::notify_all() noexcept {
    size_t n = 0;
    while (notify_one()) ++n;
    return n;
}

bool wait_on(SpinLock& lock, WaitList& list, double timeout, WaitInfo info) {
    Hub& hub = Hub::current();
    Task* self = hub.running();
    if (self->pending) {
        lock.unlock();
        throw_pending(Wake::Interrupted);
    }
    Waiter w;
    w.waker = hub.prepare_park();
    list.push_back(&w);
    // A notifier on another thread may run as soon as the lock drops: its wake goes through this
    // hub's queue, which is drained only after park() below has switched away holding w.waker, so
    // the wake cannot be lost.
    lock.unlock();
    Wake why = hub.park(w.waker, {timeout, info});
    lock.lock();
    if (w.linked) list.erase(&w);
    if (why == Wake::Interrupted || why == Wake::LoopExit) {
        if (w.notified) list.notify_one();  // pass on a wake-up this waiter will not consume
        lock.unlock();
        throw_pending(why);
    }
    return w.notified;
}

}  // namespace green::detail
