// api/group.cpp: Group and Pool.
#include <green/group.hpp>

#include "../hub/hub.hpp"

namespace green {

Group::~Group() {
    waiting_.reset();  // apply_async's greenlets waiting for a slot: killed and joined first
    std::vector<GreenletBase> left;
    {
        std::lock_guard lk(s_->lock);
        s_->owner = nullptr;  // members that end from now on must not call back into this object
        for (auto& [t, g] : s_->members) left.push_back(g);
    }
    if (left.empty()) return;  // the common case touches no hub
    detail::Task* self = detail::current_task();
    std::erase_if(left, [self](const GreenletBase& g) { return g.task() == self || g.dead(); });
    for (auto& g : left) g.kill(0);  // throw GreenletExit in all of them first
    std::exception_ptr deferred;     // an interruption of this wait, rethrown at the next one
    bool give_up = false;
    for (auto& g : left) {
        while (!give_up) {
            try {
                g.join();
                break;
            } catch (const LoopExit&) {
                give_up = true;  // nothing can ever end it
            } catch (const GreenletExit&) {
                deferred = std::current_exception();  // a kill outranks a Timeout
            } catch (...) {
                if (!deferred) deferred = std::current_exception();
            }
        }
    }
    if (deferred) detail::Hub::current().interrupt(self, deferred);
}

void Group::track(const GreenletBase& g) {
    {
        std::lock_guard lk(s_->lock);
        s_->owner = this;
        s_->members.emplace(g.task(), g);
    }
    std::weak_ptr<State> weak = s_;
    g.link([weak](GreenletBase done) {
        auto s = weak.lock();
        if (!s) return;
        Group* owner = nullptr;
        {
            std::lock_guard lk(s->lock);
            if (!s->members.erase(done.task())) return;  // discarded meanwhile
            if (done.task()->error && !s->first_error) {
                s->first_error = done.task()->error;
                done.task()->error_observed = true;  // the group reports it (join(raise_error))
            }
            if (s->members.empty()) s->empty_waiters.notify_all();
            owner = s->owner;
        }
        if (owner) owner->on_removed();
    });
}

void Group::discard(const GreenletBase& g) {
    bool removed;
    {
        std::lock_guard lk(s_->lock);
        removed = s_->members.erase(g.task()) > 0;
        if (s_->members.empty()) s_->empty_waiters.notify_all();
    }
    if (removed) on_removed();
}

bool Group::contains(const GreenletBase& g) const {
    std::lock_guard lk(s_->lock);
    return s_->members.count(g.task()) > 0;
}

size_t Group::size() const {
    std::lock_guard lk(s_->lock);
    return s_->members.size();
}

std::vector<GreenletBase> Group::greenlets() const {
    std::lock_guard lk(s_->lock);
    std::vector<GreenletBase> out;
    for (auto& [t, g] : s_->members) out.push_back(g);
    return out;
}

bool Group::join(Seconds timeout, bool raise_error) {
    s_->lock.lock();
    bool ok = detail::wait_until(s_->lock, s_->empty_waiters, timeout.value, {"Group::join", this, -1},
                                 [&] { return s_->members.empty(); });
    std::exception_ptr e = raise_error ? s_->first_error : nullptr;
    s_->lock.unlock();
    if (e) std::rethrow_exception(e);
    return ok;
}

void Group::kill(Seconds timeout) { killall(greenlets(), timeout); }

Pool::~Pool() {
    waiting_.reset();  // apply_async's greenlets parked on slots_: killed and joined before it goes
    std::lock_guard lk(s_->lock);
    s_->owner = nullptr;  // members that end later must not touch the destroyed slots
}

bool Pool::wait_available(Seconds timeout) {
    if (!slots_.acquire(timeout)) return false;
    slots_.release();
    return true;
}

}  // namespace green
