// api/coroutine.cpp: symmetric switching between greenlets of one hub (coroutine.hpp).
//
// A switch is the hub's one wait primitive, handing the hub over: the switcher, holding its hub,
// leaves its value in the target's state, marks itself waiting (with the waker of its next park)
// and parks handing the hub to the target's park (or schedules a coroutine never started). Every
// switch state is confined to its hub and touched only by greenlets holding it, so a switch takes
// no lock and no switch is ever lost: the target's waker is the one it parked with, and it stays
// the target's latest until that park ends.
#include <green/coroutine.hpp>

#include "../hub/hub.hpp"

#include <algorithm>
#include <sstream>

namespace green::detail {

namespace {
std::string describe(const SwitchState& s) {
    std::ostringstream os;
    os << GreenletBase(s.task);
    return os.str();
}

// `s` if it is not dead, else its nearest parent that is not; null if none is.
inline SwitchState* live_target(SwitchState* s) {
    while (s && __builtin_expect(s->dead(), 0)) s = s->parent.get();  // kept alive by the child's reference
    return s;
}

// The last owning handle is gone (on the home hub, holding it): a coroutine suspended in a switch
// is killed there, and its end resumes nobody.
void abandon_if_suspended(SwitchState& st) noexcept {
    if (!st.started.load(std::memory_order_relaxed) || st.dead() || !st.waiting) return;
    st.abandoned = true;
    try {
        st.owner.kill(0);  // GreenletExit at its switch point, when its hub next runs it
    } catch (...) {}
}
}  // namespace

SwitchHandle::~SwitchHandle() {
    SwitchState& st = *s;
    if (!st.coroutine || !st.started.load(std::memory_order_acquire) || st.dead()) return;
    Task* me = tls_task;
    if (me && me->hub == st.home) {
        Hub::Hold hold(*st.home);
        abandon_if_suspended(st);
        return;
    }
    // Dropped on another thread: the decision is the home hub's, made there by a greenlet of its own.
    try {
        auto* t = new FnTaskFor<void (*)(std::shared_ptr<SwitchState>), std::shared_ptr<SwitchState>>(
            [](std::shared_ptr<SwitchState> st) {
                Hub::Hold hold(*st->home);
                abandon_if_suspended(*st);
            },
            s);
        GreenletBase handle(t, /*adopt=*/true);  // the hub takes its own reference
        st.home->schedule(t);
    } catch (...) {}
}

namespace {
__attribute__((always_inline)) inline void switch_from(Hub& hub, Task* me, SwitchState& self, SwitchState& to,
                                                       void* arg, const std::exception_ptr* thrown) {
    Hub::Hold hold(hub, me);
    // The target: `to`, or its nearest parent that is not dead.
    if (__builtin_expect(to.home != &hub, 0))
        throw std::logic_error("green::Coroutine: a coroutine of another thread's hub");
    SwitchState* target = live_target(&to);
    if (__builtin_expect(!target, 0))
        throw std::logic_error("green::Coroutine: switch to a dead coroutine whose parents are all dead");
    if (__builtin_expect(target->home != &hub, 0))
        throw std::logic_error("green::Coroutine: switch to " + describe(*target) + " of another thread's hub");
    // The value stays in the caller's frame (`incoming`) unless the target is to start: a
    // suspended target takes it as soon as it resumes, before the caller can run again.
    auto deliver = [&](SwitchState& s, bool to_start) {
        s.delivered = true;
        if (thrown) {
            s.thrown = *thrown;
            s.clear_value();
        } else if (to_start) {
            s.thrown = nullptr;
            s.put_value(arg);
        } else {
            if (s.thrown) s.thrown = nullptr;
            s.incoming = arg;
        }
    };
    if (target == &self) {  // greenlet: switching to oneself returns what was passed
        deliver(self, false);
        return;
    }
    Waker resume;
    const bool start = !target->started.load(std::memory_order_relaxed);
    if (start) {
        target->started.store(true, std::memory_order_release);
    } else if (target->waiting) {
        target->waiting = false;
        resume = target->waker;
    } else {
        throw std::logic_error("green::Coroutine: switch to " + describe(*target) +
                               ", which is not suspended in a switch");
    }
    deliver(*target, start);
    const Waker waker = hub.prepare_park();
    self.waker.task = waker.task;  // (not as one 16-byte copy: see Hub::park_then)
    self.waker.epoch = waker.epoch;
    self.waiting = true;
    self.delivered = false;  // (its value and exception are empty: take() emptied them)
    const ParkSpec spec{-1, {"switch", target->task, -1}};
    Wake why;
    if (start) {
        target->register_in_task();
        schedule_spawn(target->task, nullptr);
        why = hub.park(waker, spec);
    } else {
        why = hub.park_handing_to(waker, spec, resume, Wake::Notified);
    }
    const bool got = self.delivered;
    self.waiting = false;
    // Switched back: the value is ours; a kill or Timeout that came with it stays pending for the
    // next wait point. Not switched back: that kill, Timeout or LoopExit is thrown now.
    if (!got) {
        throw_pending(why);
        throw std::logic_error("green::Coroutine: resumed without a switch");
    }
}

}  // namespace

void switch_between(SwitchState& self, SwitchState& to, void* arg, const std::exception_ptr* thrown) {
    Hub& hub = Hub::current();
    switch_from(hub, hub.running(), self, to, arg, thrown);
}

SwitchState* switch_from_running(const void* key, SwitchState& to, void* arg, const std::exception_ptr* thrown) {
    Hub& hub = Hub::current();
    Task* me = hub.running();
    if (__builtin_expect(me->switch_key != key, 0)) {  // another value type's state, or none yet
        auto slot =
            std::find_if(me->locals.begin(), me->locals.end(), [&](const LocalSlot& s) { return s.key == key; });
        if (slot == me->locals.end()) return nullptr;
        me->switch_key = key;
        me->switch_state = static_cast<std::shared_ptr<SwitchState>*>(slot->value)->get();
    }
    SwitchState* self = static_cast<SwitchState*>(me->switch_state);
    switch_from(hub, me, *self, to, arg, thrown);
    return self;
}

bool finish_coroutine(SwitchState& self, void* arg, std::exception_ptr error) {
    Hub::Hold hold(*self.home);
    self.finished.store(true, std::memory_order_release);
    if (self.abandoned) return false;
    SwitchState* target = live_target(self.parent.get());
    if (!target || target->home != self.home) return false;
    if (!target->waiting) return false;  // it waits on something else, or runs: nobody to resume
    target->waiting = false;
    target->delivered = true;
    target->thrown = error;
    if (error || !arg) target->clear_value();
    else target->put_value(arg);
    Hub::wake(target->waker, Wake::Notified);
    return true;
}

}  // namespace green::detail
