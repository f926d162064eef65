// preload/core/spread.hpp: a green thread woken from a wait may go on on an idle hub (GREEN_HUBS).
//
// A group of hubs moves a ready task only when it yields movably (Hub::yield, share_ready): inside
// a park the callers up the stack hold its hub. So a hook that waits declares a SpreadAfterWait
// first thing; when the hook ends, where nothing of the hub is held any more, a green thread that
// parked during the call yields movably if another hub has slept with nothing to run for a
// millisecond while this one has other green threads ready, and the busy hub gives it away.
// Threads that mostly wait (a thread per connection, workers on a condition variable) so follow
// the load to idle cores, not only where they started. Without a group, the cost is one relaxed
// load at the end of the hook.
#pragma once

#include "../../libgreen/hub/hub_group.hpp"

namespace green::preload {

// The end of a hook that parked: yield movably if the group has an idle hub and this hub has
// other ready green threads (errno kept).
void spread_after_wait(uint64_t epoch_before) noexcept;

class SpreadAfterWait {
public:
    SpreadAfterWait() noexcept {
        detail::Hub* h = detail::Hub::current_or_null();
        detail::Task* t = h ? h->running() : nullptr;
        epoch_ = t ? t->park_epoch() : 0;
    }
    ~SpreadAfterWait() {
        if (__builtin_expect(detail::HubGroup::anyone_sleeping(), 0)) spread_after_wait(epoch_);
    }
    SpreadAfterWait(const SpreadAfterWait&) = delete;
    SpreadAfterWait& operator=(const SpreadAfterWait&) = delete;

private:
    uint64_t epoch_;
};

}  // namespace green::preload
