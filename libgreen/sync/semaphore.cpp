// sync/semaphore.cpp: Semaphore, BoundedSemaphore (and so Lock).
#include <green/sync.hpp>

namespace green {

bool Semaphore::acquire(Seconds timeout) {
    lock_.lock();
    bool ok = detail::wait_until(lock_, waiters_, timeout.value, {"Semaphore", this, -1}, [&] { return count_ > 0; });
    if (ok) --count_;
    lock_.unlock();
    return ok;
}

void Semaphore::release() {
    std::lock_guard g(lock_);
    ++count_;
    waiters_.notify_one();
}

unsigned Semaphore::counter() const {
    std::lock_guard g(lock_);
    return count_;
}

void BoundedSemaphore::release() {
    {
        std::lock_guard g(lock_);
        if (count_ >= initial_) throw std::logic_error("green::BoundedSemaphore released too many times");
    }
    Semaphore::release();
}

}  // namespace green
