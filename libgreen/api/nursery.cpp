// api/nursery.cpp: Nursery (see green/nursery.hpp).
#include <green/nursery.hpp>

#include "../hub/hub.hpp"

namespace green {

namespace detail {
// Shared with the children's link callbacks, which may run after a LoopExit ended the nursery.
// Everything here is touched on the nursery's hub only.
struct NurseryState {
    Task* owner = nullptr;               // the greenlet running open_nursery
    std::vector<GreenletBase> children;  // in spawn order, ended ones too
    size_t running = 0;
    std::exception_ptr failure;  // the first child's failure, or the body's exception
    bool body_running = true;
    bool cancelled = false;
};
}  // namespace detail

namespace {

void kill_children(detail::NurseryState& s) {
    detail::Task* self = detail::current_task();
    for (auto& g : s.children)
        if (g.task() != self && !g.dead()) g.kill(0);
}

// Whether `e` holds an E.
template <class E> bool holds(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
}

// What the caller itself was sent (a kill, an outer Timeout), as opposed to a failure.
bool is_interruption(const std::exception_ptr& e) { return holds<GreenletExit>(e) || holds<TimeoutExpired>(e); }

}  // namespace

Nursery::Nursery() : s_(std::make_shared<detail::NurseryState>()) { s_->owner = detail::current_task(); }

Nursery::~Nursery() = default;

bool Nursery::cancelled() const noexcept { return s_->cancelled; }

size_t Nursery::size() const noexcept { return s_->running; }

void Nursery::cancel() {
    s_->cancelled = true;
    kill_children(*s_);
}

void Nursery::adopt(const GreenletBase& g) {
    s_->children.push_back(g);
    ++s_->running;
    std::weak_ptr<detail::NurseryState> weak = s_;
    g.link([weak](GreenletBase done) {
        auto s = weak.lock();
        if (!s) return;
        --s->running;
        detail::Task* t = done.task();
        if (!t->error || t->killed || s->failure) return;
        // The first failure: the nursery rethrows it, so it is retrieved.
        s->failure = t->error;
        t->error_observed = true;
        s->cancelled = true;
        kill_children(*s);
        if (s->body_running) detail::Hub::current().interrupt(s->owner, std::make_exception_ptr(NurseryCancelled{}));
    });
    if (s_->cancelled) g.kill(0);  // never runs
}

void Nursery::close(std::exception_ptr body_error) {
    detail::NurseryState& s = *s_;
    s.body_running = false;
    std::exception_ptr interruption;  // sent to the caller: rethrown once the children have ended
    if (body_error && !holds<NurseryCancelled>(body_error)) {
        if (is_interruption(body_error)) interruption = body_error;
        else if (!s.failure) s.failure = body_error;
        s.cancelled = true;
        kill_children(s);
    }
    for (size_t i = 0; i < s.children.size(); ++i) {  // children may spawn more meanwhile
        for (;;) {
            try {
                s.children[i].join();
                break;
            } catch (const NurseryCancelled&) {
                // sent as the body returned: the failure is rethrown below
            } catch (const LoopExit&) {
                throw;  // nothing can ever end the children left
            } catch (...) {
                std::exception_ptr e = std::current_exception();
                if (!interruption || (holds<GreenletExit>(e) && !holds<GreenletExit>(interruption))) interruption = e;
                s.cancelled = true;
                kill_children(s);
            }
        }
    }
    // A failure just as the body returned sent it NurseryCancelled after its last wait point: that
    // must not surface at the caller's next, unrelated wait.
    if (s.owner->pending && holds<NurseryCancelled>(s.owner->pending)) s.owner->pending = nullptr;
    if (interruption) std::rethrow_exception(interruption);
    if (s.failure) std::rethrow_exception(s.failure);
}

}  // namespace green
