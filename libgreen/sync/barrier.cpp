// sync/barrier.cpp: Barrier (Python's threading.Barrier).
#include <green/sync.hpp>

namespace green {

Barrier::Barrier(size_t parties) : parties_(parties) {
    if (parties == 0) throw std::invalid_argument("green::Barrier needs at least one party");
}

size_t Barrier::wait(Seconds timeout) {
    lock_.lock();
    if (broken_) {
        lock_.unlock();
        throw BrokenBarrier();
    }
    size_t index = count_++;
    if (count_ == parties_) {  // the last arrival: release the round, never park
        count_ = 0;
        ++round_;
        waiters_.notify_all();
        lock_.unlock();
        return index;
    }
    const uint64_t round = round_;
    bool passed;
    try {
        detail::wait_until(lock_, waiters_, timeout.value, {"Barrier", this, -1},
                           [&] { return round_ != round || broken_; });
        passed = round_ != round;
    } catch (...) {  // killed or a green::Timeout (the lock was released): the round is broken
        std::lock_guard g(lock_);
        if (round_ == round) {
            break_locked();
            leave_broken_locked();
        }
        throw;
    }
    if (passed) {  // even if the barrier broke later: this round was complete
        lock_.unlock();
        return index;
    }
    break_locked();  // our own timeout, or someone else broke it
    leave_broken_locked();
    lock_.unlock();
    throw BrokenBarrier();
}

void Barrier::break_locked() {
    broken_ = true;
    waiters_.notify_all();
}

// A waiter of a broken round goes: the last one out completes a pending reset().
void Barrier::leave_broken_locked() {
    if (--count_ == 0 && resetting_) {
        resetting_ = false;
        broken_ = false;
    }
}

void Barrier::abort() {
    std::lock_guard g(lock_);
    break_locked();
}

void Barrier::reset() {
    std::lock_guard g(lock_);
    if (count_ == 0) {
        broken_ = false;
        resetting_ = false;
        return;
    }
    resetting_ = true;  // the waiters still inside leave with BrokenBarrier first
    break_locked();
}

size_t Barrier::n_waiting() const {
    std::lock_guard g(lock_);
    return broken_ ? 0 : count_;
}

bool Barrier::broken() const {
    std::lock_guard g(lock_);
    return broken_;
}

}  // namespace green
