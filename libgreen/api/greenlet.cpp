// api/greenlet.cpp: spawn/join/kill/link, sleep, fd waits and Timeout on top of the hub.
#include <green/greenlet.hpp>

#include "../hub/hub.hpp"
#include "../hub/hub_group.hpp"

#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace green {
using detail::Hub;
using detail::HubGroup;
using detail::Task;
using detail::Wake;

namespace detail {
void schedule_spawn(Task* t, const SpawnOptions* opts) {
    Hub& mine = Hub::current();
    Hub* target = &mine;
    if (opts) {
        if (opts->hub == any_hub) {
            target = &HubGroup::pick(mine);
        } else if (opts->hub != this_hub) {
            if (opts->hub < 0 || opts->hub >= HubGroup::size()) {
                t->release();  // never scheduled: the caller gets no handle
                throw std::out_of_range("green::spawn: no hub " + std::to_string(opts->hub) + " (hub_count() is " +
                                        std::to_string(HubGroup::size()) + ")");
            }
            target = HubGroup::size() > 1 ? HubGroup::at(opts->hub) : &mine;
        }
        t->stack_size = opts->stack_size;
        t->name = opts->name;
    }
    target->schedule(t);
}
}  // namespace detail

void sleep(Seconds s) {
    Hub& h = Hub::current();
    if (s.value <= 0) return h.yield();
    Wake why = h.park({s.value, {"sleep", nullptr, -1}});
    if (why == Wake::Interrupted || why == Wake::LoopExit) detail::throw_pending(why);
}

void yield() { Hub::current().yield(); }

int start_hubs(int n) {
    if (n <= 0) {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    }
    Hub::current();  // the caller's hub is the group's first
    return HubGroup::start(n, nullptr);
}

int hub_count() noexcept { return HubGroup::size(); }

bool sleep(Seconds s, std::stop_token stop) {
    if (stop.stop_requested()) return false;
    if (!stop.stop_possible()) {
        sleep(s);
        return true;
    }
    Hub& h = Hub::current();
    if (s.value <= 0) {
        h.yield();
        return !stop.stop_requested();
    }
    detail::Waker w = h.prepare_park();
    // Runs in the requesting thread (or here at once, if the stop came meanwhile: the park then
    // returns at once, its waker used before it parked).
    std::stop_callback on_stop(stop, [w] { Hub::wake(w, Wake::Notified); });
    if (stop.stop_requested()) return false;
    Wake why = h.park(w, {s.value, {"sleep", nullptr, -1}});
    if (why == Wake::Interrupted || why == Wake::LoopExit) detail::throw_pending(why);
    return why == Wake::TimedOut || !stop.stop_requested();
}

namespace {
bool wait_fd(int fd, int events, Seconds timeout, const char* what) {
    // A number that is not an open descriptor would reach libev (which asserts on negative ones
    // and indexes its tables by the number): refuse it as the kernel would.
    if (fd < 0 || ::fcntl(fd, F_GETFD) < 0)
        throw std::system_error(EBADF, std::generic_category(), "green::wait on a descriptor that is not open");
    Hub& h = Hub::current();
    detail::FdInterest it{fd, events, 0};
    Wake why = h.wait_fds({&it, 1}, {timeout.value, {what, nullptr, fd}});
    switch (why) {
    case Wake::Notified: return true;
    case Wake::TimedOut: return false;
    case Wake::Closed: throw std::system_error(EBADF, std::generic_category(), "descriptor closed while waiting");
    default: detail::throw_pending(why); return false;
    }
}
}  // namespace

bool wait_readable(int fd, Seconds timeout) { return wait_fd(fd, detail::kRead, timeout, "wait_readable"); }
bool wait_writable(int fd, Seconds timeout) { return wait_fd(fd, detail::kWrite, timeout, "wait_writable"); }
void cancel_wait(int fd) { Hub::current().cancel_fd(fd); }

GreenletBase getcurrent() { return GreenletBase(Hub::current().running()); }

bool GreenletBase::join(Seconds timeout) const {
    if (!t_) return true;
    if (dead()) return true;
    if (t_ == detail::current_task()) throw std::logic_error("green: a greenlet cannot join itself");
    t_->lock.lock();
    bool done = detail::wait_until(t_->lock, t_->joiners, timeout.value, {"join", t_, -1},
                                   [&] { return t_->dead.load(std::memory_order_acquire); });
    t_->lock.unlock();
    return done;
}

bool GreenletBase::kill(Seconds timeout) const {
    if (!t_ || dead()) return true;
    if (t_ == detail::current_task()) throw GreenletExit{};
    Hub::current().interrupt(t_, std::make_exception_ptr(GreenletExit{}));
    return timeout.value == 0 ? dead() : join(timeout);
}

bool GreenletBase::kill_with(std::exception_ptr e, Seconds timeout) const {
    if (!e) return kill(timeout);
    if (!t_ || dead()) return true;
    if (t_ == detail::current_task()) std::rethrow_exception(e);
    // Dying of exactly the exception it was killed with was asked for: not an unretrieved failure.
    link([e](GreenletBase g) {
        if (g.task()->error == e) g.task()->error_observed = true;
    });
    Hub::current().interrupt(t_, std::move(e));
    return timeout.value == 0 ? dead() : join(timeout);
}

bool GreenletBase::watch(detail::Waiter* w) const {
    if (!t_) return true;
    std::lock_guard g(t_->lock);
    if (t_->dead.load(std::memory_order_acquire)) return true;
    if (w) t_->joiners.push_back(w);
    return false;
}

void GreenletBase::unwatch(detail::Waiter& w) const noexcept {
    if (!t_) return;
    std::lock_guard g(t_->lock);
    if (w.linked) t_->joiners.erase(&w);
}

namespace detail {
bool join_all_raise(const std::vector<Task*>& tasks, double timeout) {
    // Every greenlet tells a shared record when it ends (a link), so that one park waits for "all
    // ended or one failed" whatever the order: O(1) per greenlet.
    struct State {
        SpinLock lock;
        WaitList waiters;
        size_t left = 0;
        std::exception_ptr error;
    };
    auto s = std::make_shared<State>();
    Task* self = current_task();
    for (Task* t : tasks) {
        if (!t) continue;
        if (t == self) throw std::logic_error("green: a greenlet cannot join itself");
        ++s->left;
    }
    for (Task* t : tasks) {
        if (!t) continue;
        GreenletBase(t).link([s](GreenletBase g) {
            std::lock_guard lk(s->lock);
            --s->left;
            if (g.task()->error && !s->error) {
                s->error = g.task()->error;
                g.task()->error_observed = true;  // joinall rethrows it
            }
            if (s->left == 0 || s->error) s->waiters.notify_all();
        });
    }
    s->lock.lock();
    bool done =
        wait_until(s->lock, s->waiters, timeout, {"joinall", s.get(), -1}, [&] { return s->left == 0 || s->error; });
    std::exception_ptr e = s->error;
    s->lock.unlock();
    if (e) std::rethrow_exception(e);
    return done;
}
}  // namespace detail

std::exception_ptr GreenletBase::exception() const noexcept {
    if (!t_ || !dead()) return nullptr;
    t_->error_observed = true;
    return t_->error;
}

void GreenletBase::throw_empty(const char* op) {
    throw std::logic_error(std::string("green: ") + op + "() on an empty greenlet handle");
}

void GreenletBase::rethrow_if_failed() const {
    if (!t_) throw_empty("get");
    if (t_->error) {
        t_->error_observed = true;
        std::rethrow_exception(t_->error);
    }
    if (t_->killed) throw GreenletExit{};
}

void GreenletBase::link(std::function<void(GreenletBase)> f) const {
    if (!t_) throw_empty("link");
    {
        std::lock_guard g(t_->lock);
        if (!dead()) {
            Task* t = t_;
            t_->links.push_back([t, f = std::move(f)] { f(GreenletBase(t)); });
            return;
        }
    }
    f(*this);
}

void GreenletBase::link_value(std::function<void(GreenletBase)> f) const {
    link([f = std::move(f)](GreenletBase g) {
        if (g.successful()) f(g);
    });
}

void GreenletBase::link_exception(std::function<void(GreenletBase)> f) const {
    link([f = std::move(f)](GreenletBase g) {
        if (g.task()->error) {
            g.task()->error_observed = true;
            f(g);
        }
    });
}

std::ostream& operator<<(std::ostream& os, const GreenletBase& g) {
    Task* t = g.task();
    if (!t) return os << "<Greenlet empty>";
    os << "<Greenlet #" << t->id;
    if (!t->name.empty()) os << " \"" << t->name << '"';
    if (g.dead()) {
        os << (t->killed ? " killed" : t->error ? " failed" : " dead");
    } else {
        switch (t->state_now()) {
        case Task::State::New: os << " new"; break;
        case Task::State::Ready: os << " ready"; break;
        case Task::State::Running: os << " running"; break;
        case Task::State::Parked:
            os << " parked";
            if (const char* what = t->waiting_on().what) os << " (" << what << ')';
            break;
        case Task::State::Dead: os << " dead"; break;
        }
    }
    return os << '>';
}

// ---- Timeout ---------------------------------------------------------------------------------

Timeout::Timeout(Seconds seconds) : owner_(detail::current_task()), seconds_(seconds.value) {
    if (seconds_ >= 0) timer_ = owner_->hub->start_timer(seconds_, &Timeout::fire, this);
}

Timeout::~Timeout() { cancel(); }

void Timeout::fire(void* self) {
    auto* t = static_cast<Timeout*>(self);
    t->expired_ = true;
    t->owner_->hub->interrupt(t->owner_, std::make_exception_ptr(TimeoutExpired{t, t->seconds_}));
}

void Timeout::cancel() {
    if (!timer_) return;
    owner_->hub->stop_timer(std::exchange(timer_, nullptr));
    // Expired but not yet thrown (the block ended first): it must not leak into a later wait.
    if (expired_ && owner_->pending) {
        try {
            std::rethrow_exception(owner_->pending);
        } catch (const TimeoutExpired& e) {
            if (e.timeout == this) owner_->pending = nullptr;
        } catch (...) {}
    }
}

}  // namespace green
