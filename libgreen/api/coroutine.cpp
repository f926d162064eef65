// api/coroutine.cpp: symmetric switching between greenlets of one hub (coroutine.hpp).
//
// A switch is the hub's one wait primitive used twice: the switcher marks itself waiting (with the
// waker of its next park), leaves its value in the target's state and wakes the target's park (or
// schedules a coroutine never started), then parks. Everything is on one hub, so no switch is
// ever lost: the target's waker is the one it parked with, and it stays the target's latest
// until that park ends.
#include <green/coroutine.hpp>

#include "../hub/hub.hpp"

#include <mutex>
#include <sstream>

namespace green::detail {

namespace {
// `s` if it is not dead, else its nearest parent that is not; null if none is.
SwitchState* live_target(SwitchState* s) {
    while (s) {
        std::lock_guard g(s->lock);
        if (!s->dead_locked()) return s;
        s = s->parent.get();  // kept alive by the child's reference
    }
    return nullptr;
}

std::string describe(const SwitchState& s) {
    std::ostringstream os;
    os << GreenletBase(s.task);
    return os.str();
}
}  // namespace

SwitchHandle::~SwitchHandle() {
    SwitchState& st = *s;
    bool abandon;
    {
        std::lock_guard g(st.lock);
        abandon = st.coroutine && st.started && !st.finished && st.waiting && !st.task->dead.load();
        if (abandon) st.abandoned = true;
    }
    if (!abandon) return;
    try {
        st.owner.kill(0);  // GreenletExit at its switch point, when its hub next runs it
    } catch (...) {}
}

void switch_between(SwitchState& self, SwitchState& to, void* arg, const std::exception_ptr* thrown) {
    Hub& hub = Hub::current();
    // The target, locked: `to`, or its nearest parent that is not dead.
    SwitchState* target = &to;
    target->lock.lock();
    while (__builtin_expect(target->dead_locked(), 0)) {
        SwitchState* up = target->parent.get();  // kept alive by the child's reference
        target->lock.unlock();
        if (!up) throw std::logic_error("green::Coroutine: switch to a dead coroutine whose parents are all dead");
        target = up;
        target->lock.lock();
    }
    if (__builtin_expect(target->home != &hub, 0)) {
        target->lock.unlock();
        throw std::logic_error("green::Coroutine: switch to " + describe(*target) + " of another thread's hub");
    }
    auto deliver = [&](SwitchState& s) {  // s locked
        s.delivered = true;
        if (thrown) {
            s.thrown = *thrown;
            s.clear_value();
        } else {
            if (s.thrown) s.thrown = nullptr;
            s.put_value(arg);
        }
    };
    if (target == &self) {  // greenlet: switching to oneself returns what was passed
        deliver(self);
        self.lock.unlock();
        return;
    }
    Waker resume;
    bool start = false;
    if (!target->started) {
        target->started = true;
        start = true;
    } else if (target->waiting) {
        target->waiting = false;
        resume = target->waker;
    } else {
        std::string what = describe(*target);
        target->lock.unlock();
        throw std::logic_error("green::Coroutine: switch to " + what + ", which is not suspended in a switch");
    }
    deliver(*target);
    target->lock.unlock();
    // Nothing of ours can run before the park below: marking ourselves waiting after delivering
    // cannot miss a switch back.
    Waker waker = hub.prepare_park();
    self.lock.lock();
    self.waker = waker;
    self.waiting = true;
    self.delivered = false;
    if (self.thrown) self.thrown = nullptr;
    self.clear_value();
    self.lock.unlock();
    if (start) {
        target->register_in_task();
        schedule_spawn(target->task, nullptr);
    } else {
        Hub::wake(resume, Wake::Notified);
    }
    Wake why = hub.park(waker, {-1, {"switch", target->task, -1}});
    self.lock.lock();
    bool got = self.delivered;
    self.waiting = false;
    self.lock.unlock();
    // Switched back: the value is ours; a kill or Timeout that came with it stays pending for the
    // next wait point. Not switched back: that kill, Timeout or LoopExit is thrown now.
    if (!got) {
        throw_pending(why);
        throw std::logic_error("green::Coroutine: resumed without a switch");
    }
}

bool finish_coroutine(SwitchState& self, void* arg, std::exception_ptr error) {
    SwitchState* parent;
    {
        std::lock_guard g(self.lock);
        self.finished = true;
        if (self.abandoned) return false;
        parent = self.parent.get();
    }
    SwitchState* target = live_target(parent);
    if (!target || target->home != self.home) return false;
    Waker resume;
    {
        std::lock_guard g(target->lock);
        if (!target->waiting) return false;  // it waits on something else, or runs: nobody to resume
        target->waiting = false;
        target->delivered = true;
        target->thrown = error;
        if (error || !arg) target->clear_value();
        else target->put_value(arg);
        resume = target->waker;
    }
    Hub::wake(resume, Wake::Notified);
    return true;
}

}  // namespace green::detail
