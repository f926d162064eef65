// sync/rlock.cpp: a lock a greenlet may take again while it holds it.
#include <green/sync.hpp>

namespace green {

bool RLock::acquire(Seconds timeout) {
    detail::Task* self = detail::current_task();
    lock_.lock();
    if (owner_ == self) {
        ++depth_;
        lock_.unlock();
        return true;
    }
    bool ok =
        detail::wait_until(lock_, waiters_, timeout.value, {"RLock", this, -1}, [&] { return owner_ == nullptr; });
    if (ok) {
        owner_ = self;
        depth_ = 1;
    }
    lock_.unlock();
    return ok;
}

void RLock::release() {
    detail::Task* self = detail::current_task();
    std::lock_guard g(lock_);
    if (owner_ != self) throw std::logic_error("green::RLock released by a greenlet that does not own it");
    if (--depth_ == 0) {
        owner_ = nullptr;
        waiters_.notify_one();
    }
}

bool RLock::locked() const {
    std::lock_guard g(lock_);
    return owner_ != nullptr;
}

bool RLock::owned() const {
    detail::Task* self = detail::current_task();
    std::lock_guard g(lock_);
    return owner_ == self;
}

}  // namespace green
