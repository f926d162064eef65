// sync/condition.cpp
#include <green/sync.hpp>

namespace green {

bool Condition::wait(Seconds timeout) {
    detail::Task* self = detail::current_task();
    unsigned depth = 0;
    if (reentrant_) {
        std::lock_guard g(reentrant_->lock_);
        if (reentrant_->owner_ != self) throw std::logic_error("green::Condition::wait without holding its lock");
    }
    // Join the waiters before letting the lock go, so a notify issued right after cannot be missed.
    lock_.lock();
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
    struct Reacquire {  // the lock is held again however the wait ends (even by kill/Timeout)
        Condition* c;
        detail::Task* self;
        unsigned depth;
        ~Reacquire() {
            if (c->reentrant_) {
                c->reentrant_->acquire();
                c->reentrant_->depth_ = depth;
            } else {
                c->plain_->acquire();
            }
        }
    } reacquire{this, self, depth};
    notified = detail::wait_on(lock_, waiters_, timeout.value, {"Condition", this, -1});
    lock_.unlock();
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
