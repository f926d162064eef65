// api/wait.cpp: green::wait and Iwait, one park on several objects (wait.hpp).
#include <green/wait.hpp>

#include "../hub/hub.hpp"

#include <algorithm>

namespace green {
using detail::Hub;
using detail::Wake;

Iwait::Iwait(std::vector<WaitRef> objects, Seconds timeout)
    : objects_(std::move(objects)), deadline_(timeout.value >= 0 ? detail::monotonic_now() + timeout.value : -1) {
    pending_.resize(objects_.size());
    for (size_t i = 0; i < pending_.size(); ++i) pending_[i] = i;
}

std::optional<size_t> Iwait::next() {
    for (;;) {
        if (head_ < ready_.size()) return ready_[head_++];
        if (pending_.empty()) return std::nullopt;
        if (!round()) return std::nullopt;
    }
}

bool Iwait::round() {
    Hub& hub = Hub::current();
    ready_.clear();
    head_ = 0;
    double left = deadline_ < 0 ? -1 : deadline_ - detail::monotonic_now();
    bool may_park = deadline_ < 0 || left > 0;
    // Register with every object (the same waker: whichever changes first ends the park), unless
    // one is ready already: then only look at the rest.
    waiters_.assign(pending_.size(), detail::Waiter{});
    detail::Waker waker = may_park ? hub.prepare_park() : detail::Waker{};
    size_t linked = 0;  // waiters_[0, linked) were offered to their objects
    bool any = false;
    std::vector<bool> is_ready(pending_.size(), false);
    for (size_t k = 0; k < pending_.size(); ++k) {
        detail::Waiter* w = nullptr;
        if (may_park && !any) {
            waiters_[k].waker = waker;
            w = &waiters_[k];
            linked = k + 1;
        }
        if (objects_[pending_[k]].watch(w)) {
            any = true;
            is_ready[k] = true;
        }
    }
    auto unwatch_all = [&]() noexcept {
        for (size_t k = 0; k < linked; ++k) objects_[pending_[k]].unwatch(waiters_[k]);
    };
    if (!any) {
        if (!may_park) return false;  // the timeout has passed: nothing more
        Wake why = hub.park(waker, {left, {"wait", this, -1}});
        unwatch_all();
        if (why == Wake::Interrupted || why == Wake::LoopExit) detail::throw_pending(why);
        return true;  // the next round reports what became ready (or times out)
    }
    unwatch_all();
    size_t keep = 0;
    for (size_t k = 0; k < pending_.size(); ++k) {
        if (is_ready[k]) ready_.push_back(pending_[k]);
        else pending_[keep++] = pending_[k];
    }
    pending_.resize(keep);
    return true;
}

std::vector<size_t> wait(std::span<const WaitRef> objects, size_t count, Seconds timeout) {
    Iwait it(std::vector<WaitRef>(objects.begin(), objects.end()), timeout);
    count = std::min(count, objects.size());
    std::vector<size_t> done;
    while (done.size() < count) {
        std::optional<size_t> i = it.next();
        if (!i) break;
        done.push_back(*i);
    }
    return done;
}

}  // namespace green
