// sync/event.cpp
#include <green/sync.hpp>

namespace green {

void Event::set() {
    std::lock_guard g(lock_);
    flag_ = true;
    waiters_.notify_all();
}

void Event::clear() {
    std::lock_guard g(lock_);
    flag_ = false;
}

bool Event::is_set() const {
    std::lock_guard g(lock_);
    return flag_;
}

bool Event::wait(Seconds timeout) {
    lock_.lock();
    bool ok = detail::wait_until(lock_, waiters_, timeout.value, {"Event", this, -1}, [&] { return flag_; });
    lock_.unlock();
    return ok;
}

bool Event::watch(detail::Waiter* w) const {
    std::lock_guard g(lock_);
    if (flag_) return true;
    if (w) waiters_.push_back(w);
    return false;
}

void Event::unwatch(detail::Waiter& w) const noexcept {
    std::lock_guard g(lock_);
    if (w.linked) waiters_.erase(&w);
}

}  // namespace green
