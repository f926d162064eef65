// sync/condition.cpp
#include <green/sync.hpp>

namespace green {

bool Condition::wait(Seconds timeout) {
    detail::Task* self = detail::current_task();
    if (reentrant_ ? !reentrant_->owned() : !plain_->locked())
        throw std::logic_error("green::Condition::wait without holding its lock");
    // Join the waiters before letting the lock go, so a notify issued right after cannot be missed.
    lock_.lock();
    unsigned depth = 0;
    if (reentrant_) {
        std::lock_guard g(reentrant_->lock_);
        depth = reentrant_->depth_;
        reentrant_->depth_ = 0;
        reentrant_->owner_ = nullptr;
        reentrant_->waiters_.notify_one();
    } else {
        plain_->release();
    }
    bool notified = false;
    std::exception_ptr interrupted;
    try {
        notified = detail::wait_on(lock_, waiters_, timeout.value, {"Condition", this, -1});
        lock_.unlock();
    } catch (...) {
        interrupted = std::current_exception();  // wait_on released lock_
    }
    // The caller holds the lock again however the wait ended, even when killed: take it without
    // accepting interruptions, then throw the first one with the lock held (RAII guards of the
    // caller release it as the exception passes).
    std::exception_ptr later = std::exchange(self->pending, nullptr);
    for (;;) {
        try {
            if (reentrant_) {
                reentrant_->acquire();
                reentrant_->depth_ = depth;
            } else {
                plain_->acquire();
            }
            break;
        } catch (...) {
            if (!later) later = std::current_exception();
        }
    }
    if (interrupted) {
        self->pending = later;  // a second interruption waits for the next wait point
        std::rethrow_exception(interrupted);
    }
    if (later) std::rethrow_exception(later);
    return notified;
}

void Condition::notify(unsigned n) {
    std::lock_guard g(lock_);
    while (n-- && waiters_.notify_one()) {}
}

void Condition::notify_all() {
    std::lock_guard g(lock_);
    waiters_.notify_all();
}

}  // namespace green
