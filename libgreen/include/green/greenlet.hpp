// green/greenlet.hpp: greenlets (spawn, spawn_later, join, joinall, get, kill, link), sleep,
// sleep_until, Timeout, with_timeout and fd waits.
//
// Contract:
//  - spawn() never switches: the new greenlet starts when the caller next waits or yields, on the
//    calling OS thread's hub (created on first use; main() needs no set-up).
//  - Greenlet<T> is a cheap copyable handle sharing ownership of the greenlet; the greenlet runs to
//    its end whether or not handles remain.
//  - Timeouts are seconds (double, or any std::chrono duration); a negative value means "forever".
//  - Every wait is a point where kill() (GreenletExit, or the exception given to kill) or an
//    expired green::Timeout is thrown.
//  - An empty handle (default-constructed or moved-from) is safe to query: id() 0, name() "",
//    dead() false, exception() null, join() and kill() true at once, and it prints as
//    "<Greenlet empty>"; what needs a greenlet (get, set_name, link*) throws std::logic_error.
#pragma once

#include <green/detail/task.hpp>
#include <green/errors.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <stop_token>
#include <string>
#include <tuple>
#include <variant>
#include <type_traits>
#include <utility>
#include <vector>

namespace green {

// A timeout in seconds; negative = forever.
struct Seconds {
    double value;
    constexpr Seconds(double s) : value(s) {}  // NOLINT: implicit on purpose (g.join(0.5))
    template <class Rep, class Period> constexpr Seconds(std::chrono::duration<Rep, Period> d)  // NOLINT
        : value(std::chrono::duration<double>(d).count()) {}
};
inline constexpr double forever = -1;

// Park the calling greenlet for `s` seconds; sleep(0) lets every other ready greenlet run once.
void sleep(Seconds s);
// sleep(s) that ends early once `stop` is requested (from any greenlet or OS thread): true if it
// slept the whole time, false if a stop was requested before or during it.
bool sleep(Seconds s, std::stop_token stop);
void yield();  // == sleep(0)
// Park until Clock::now() >= tp (steady_clock, system_clock or any other clock); a time point
// already passed yields once, as sleep(0). The wait runs on the monotonic clock and is re-checked
// against Clock on waking: a system_clock set back meanwhile makes it sleep on, one set forward is
// noticed at the wake-up.
template <class Clock, class Duration> void sleep_until(const std::chrono::time_point<Clock, Duration>& tp) {
    auto now = Clock::now();
    if (now >= tp) return yield();
    do {
        sleep(Seconds(tp - now));
    } while ((now = Clock::now()) < tp);
}

// Wait until `fd` is readable / writable. True if ready, false on timeout. Throws
// std::system_error(EBADF) if `fd` is not an open descriptor, or is closed (cancel_wait) while
// waiting.
bool wait_readable(int fd, Seconds timeout = forever);
bool wait_writable(int fd, Seconds timeout = forever);
// Wake every greenlet of this thread waiting on `fd` with EBADF; call it before close(fd).
void cancel_wait(int fd);

class GreenletBase;
// The greenlet running now (the thread's root greenlet, "main", outside any spawned one).
GreenletBase getcurrent();

// A scoped deadline for the calling greenlet (gevent's Timeout): if it is still alive after
// `seconds`, TimeoutExpired is thrown at the greenlet's wait point. It must be named: a temporary
// (`green::Timeout{0.05};`) would be cancelled at the end of its statement, so the constructor is
// [[nodiscard]] and the compiler warns.
//   try { green::Timeout t(0.05); green::sleep(1); } catch (const green::Timeout::Expired&) {}
class Timeout {
public:
    using Expired = TimeoutExpired;
    [[nodiscard("a green::Timeout guards the scope it is named in; a temporary guards nothing")]] explicit Timeout(
        Seconds seconds);
    ~Timeout();
    Timeout(const Timeout&) = delete;
    Timeout& operator=(const Timeout&) = delete;
    void cancel();
    bool expired() const noexcept { return expired_; }
    double seconds() const noexcept { return seconds_; }

private:
    static void fire(void* self);
    detail::Task* owner_;
    void* timer_ = nullptr;
    double seconds_;
    bool expired_ = false;
};

// ---- several cores ------------------------------------------------------------------------------
// Run greenlets on `n` hubs, each on an OS thread of its own: the calling thread's hub becomes
// hub 0 and n - 1 more start (threads named green-hubN that only run the greenlets given them).
// n <= 0: one hub per CPU the process may run on (sched_getaffinity), as Go's GOMAXPROCS. Once
// per process (later calls change nothing); call it from the thread that will wait on the
// program's greenlets (main). Returns how many hubs run; fewer than asked only if OS threads
// cannot be started (said on stderr). A fork child runs one hub again.
int start_hubs(int n = 0);
// How many hubs run greenlets (1 until start_hubs).
int hub_count() noexcept;
// Which hub a new greenlet runs on (SpawnOptions::hub, spawn_on): the caller's (the default), the
// one with the fewest live greenlets, or hub i, 0 <= i < hub_count(). A greenlet stays on its hub;
// greenlets of different hubs share events, locks, queues, joins and kills as within one (their
// wake-ups cross OS threads through the target hub's queue).
inline constexpr int this_hub = -1;
inline constexpr int any_hub = -2;

struct SpawnOptions {
    size_t stack_size = 0;  // bytes; 0 = GREEN_STACK_SIZE or 256 KiB
    std::string name;
    int hub = this_hub;  // this_hub, any_hub or an index (std::out_of_range if none such)
};

// A handle to a greenlet of any result type.
class GreenletBase {
public:
    GreenletBase() = default;
    explicit GreenletBase(detail::Task* t, bool adopt = false) : t_(t) {
        if (t_ && !adopt) t_->add_ref();
    }
    GreenletBase(const GreenletBase& o) : GreenletBase(o.t_) {}
    GreenletBase(GreenletBase&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
    GreenletBase& operator=(GreenletBase o) noexcept {
        std::swap(t_, o.t_);
        return *this;
    }
    ~GreenletBase() {
        if (t_) t_->release();
    }

    // Wait for it to end; true if it has, false after `timeout`.
    bool join(Seconds timeout = forever) const;
    // Throw GreenletExit in it at its wait point (it never runs if not started yet) and wait up to
    // `timeout` for it to end; true if it ended.
    bool kill(Seconds timeout = forever) const;
    // kill() with a chosen exception instead of GreenletExit (gevent's kill(exception=...)): an
    // exception object or a std::exception_ptr (a null one means GreenletExit). Unless the greenlet
    // catches it, it dies of it: failed, not killed (exception() and get() give it; killed() is
    // for GreenletExit only), and not reported as an unretrieved failure. A greenlet killing itself
    // throws it at once.
    template <class E>
    requires(!std::is_convertible_v<E, Seconds>) bool kill(E&& exception, Seconds timeout = forever) const {
        if constexpr (std::is_same_v<std::decay_t<E>, std::exception_ptr>)
            return kill_with(std::forward<E>(exception), timeout);
        else return kill_with(std::make_exception_ptr(std::forward<E>(exception)), timeout);
    }
    // Cooperative stop (std::jthread's): a greenlet whose body takes a std::stop_token first gets
    // one; request_stop() asks it to stop (true if this call did), and green::sleep(s, token)
    // ends early for it. kill() is the forcible way. False / an empty token for other greenlets.
    bool request_stop() const noexcept { return t_ && t_->request_stop(); }
    std::stop_token get_stop_token() const noexcept { return t_ ? t_->stop_token() : std::stop_token{}; }
    bool dead() const noexcept { return t_ && t_->dead.load(std::memory_order_acquire); }
    bool ready() const noexcept { return dead(); }
    bool started() const noexcept { return t_ && t_->state_now() != detail::Task::State::New; }
    bool successful() const noexcept { return dead() && !t_->error && !t_->killed; }
    bool killed() const noexcept { return dead() && t_->killed; }
    // The exception it died of (null if none).
    std::exception_ptr exception() const noexcept;
    // Run `f` when it ends (in its own context, just before its fiber exits); at once if dead.
    void link(std::function<void(GreenletBase)> f) const;
    void link_value(std::function<void(GreenletBase)> f) const;      // only if successful
    void link_exception(std::function<void(GreenletBase)> f) const;  // only if it failed
    uint64_t id() const noexcept { return t_ ? t_->id : 0; }
    const std::string& name() const noexcept {
        static const std::string none;
        return t_ ? t_->name : none;
    }
    void set_name(std::string n) const {
        if (!t_) throw_empty("set_name");
        t_->name = std::move(n);
    }
    explicit operator bool() const noexcept { return t_ != nullptr; }
    friend bool operator==(const GreenletBase& a, const GreenletBase& b) noexcept { return a.t_ == b.t_; }
    detail::Task* task() const noexcept { return t_; }

    // green::wait's interface (wait.hpp): true if it has ended (an empty handle too); else `w`
    // waits among its joiners until it does. unwatch takes `w` off again.
    bool watch(detail::Waiter* w) const;
    void unwatch(detail::Waiter& w) const noexcept;

protected:
    bool kill_with(std::exception_ptr e, Seconds timeout) const;
    void rethrow_if_failed() const;                        // joins first
    [[noreturn]] static void throw_empty(const char* op);  // std::logic_error
    detail::Task* t_ = nullptr;
};

// Prints `<Greenlet #3 "worker" parked (sleep)>`: id, name if any, state (new, ready, running,
// parked with what it waits on, dead, killed, failed); `<Greenlet empty>` for an empty handle.
// The state is exact on the greenlet's own OS thread, a snapshot from another.
std::ostream& operator<<(std::ostream& os, const GreenletBase& g);

namespace detail {
template <class T> struct ResultTask : Task { std::optional<T> value; };
template <> struct ResultTask<void> : Task {};

// A body that can only be called with a std::stop_token before its arguments gets its greenlet's
// (as std::jthread's; a body callable both ways, such as a variadic generic lambda, gets none).
template <class F, class... A> inline constexpr bool takes_stop_token_v =
    std::is_invocable_v<std::decay_t<F>, std::stop_token, std::decay_t<A>...> &&
    !std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>;

struct NoStopSource {};

template <class R, bool Token, class F, class... A> struct FnTask final : ResultTask<R> {
    std::optional<std::tuple<F, A...>> call;
    [[no_unique_address]] std::conditional_t<Token, std::stop_source, NoStopSource> stop;
    template <class F2, class... A2> explicit FnTask(F2&& f, A2&&... a)
        : call(std::in_place, std::forward<F2>(f), std::forward<A2>(a)...) {}
    bool request_stop() noexcept override {
        if constexpr (Token) return stop.request_stop();
        else return false;
    }
    std::stop_token stop_token() const noexcept override {
        if constexpr (Token) return stop.get_token();
        else return {};
    }
    void run() override {
        // Release what the body captured as soon as it is done, also when it throws (killed): a
        // capture may hold a handle to this very greenlet, a cycle that would keep both alive.
        struct Release {
            std::optional<std::tuple<F, A...>>& c;
            ~Release() { c.reset(); }
        } release{call};
        if constexpr (Token)
            finish([this](auto& f, auto&... a) -> decltype(auto) {
                return std::invoke(std::move(f), stop.get_token(), std::move(a)...);
            });
        else finish([](auto& f, auto&... a) -> decltype(auto) { return std::invoke(std::move(f), std::move(a)...); });
    }
    template <class Body> void finish(Body body) {
        if constexpr (std::is_void_v<R>) std::apply(body, *call);
        else this->value.emplace(std::apply(body, *call));
    }
};

void schedule_spawn(Task* t, const SpawnOptions* opts);
// joinall(..., raise_error=true): null entries count as ended.
bool join_all_raise(const std::vector<Task*>& tasks, double timeout);
}  // namespace detail

template <class T> class Greenlet : public GreenletBase {
public:
    using GreenletBase::GreenletBase;
    // Wait for the result: its value, or its exception rethrown (GreenletExit if killed);
    // TimeoutExpired if it is still running after `timeout`.
    T get(Seconds timeout = forever) const {
        if (!join(timeout)) throw TimeoutExpired{nullptr, timeout.value};
        rethrow_if_failed();
        return *static_cast<detail::ResultTask<T>*>(t_)->value;
    }
    // The value if it ended successfully, else nullopt; never waits.
    std::optional<T> value() const {
        if (!successful()) return std::nullopt;
        return static_cast<detail::ResultTask<T>*>(t_)->value;
    }
};

template <> class Greenlet<void> : public GreenletBase {
public:
    using GreenletBase::GreenletBase;
    void get(Seconds timeout = forever) const {
        if (!join(timeout)) throw TimeoutExpired{nullptr, timeout.value};
        rethrow_if_failed();
    }
};

namespace detail {
template <class F, class... A> struct SpawnResult {
    using type = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;
};
template <class F, class... A>
requires takes_stop_token_v<F, A...>
struct SpawnResult<F, A...> {
    using type = std::invoke_result_t<std::decay_t<F>, std::stop_token, std::decay_t<A>...>;
};
template <class F, class... A> using FnTaskFor =
    FnTask<typename SpawnResult<F, A...>::type, takes_stop_token_v<F, A...>, std::decay_t<F>, std::decay_t<A>...>;
}  // namespace detail

template <class F, class... A> using spawn_result_t = typename detail::SpawnResult<F, A...>::type;

template <class F, class... A> Greenlet<spawn_result_t<F, A...>> spawn_with(const SpawnOptions& opts, F&& f, A&&... a) {
    using R = spawn_result_t<F, A...>;
    auto* t = new detail::FnTaskFor<F, A...>(std::forward<F>(f), std::forward<A>(a)...);
    detail::schedule_spawn(t, &opts);
    return Greenlet<R>(t, /*adopt=*/true);
}

template <class F, class... A> Greenlet<spawn_result_t<F, A...>> spawn(F&& f, A&&... a) {
    using R = spawn_result_t<F, A...>;
    auto* t = new detail::FnTaskFor<F, A...>(std::forward<F>(f), std::forward<A>(a)...);
    detail::schedule_spawn(t, nullptr);
    return Greenlet<R>(t, /*adopt=*/true);
}

// spawn(f, args...) on hub `hub` (this_hub, any_hub or an index: see start_hubs).
template <class F, class... A> Greenlet<spawn_result_t<F, A...>> spawn_on(int hub, F&& f, A&&... a) {
    SpawnOptions opts;
    opts.hub = hub;
    return spawn_with(opts, std::forward<F>(f), std::forward<A>(a)...);
}

// spawn(f, args...) whose body waits `seconds` before calling f (gevent's spawn_later; seconds <= 0
// as spawn). The greenlet exists, and counts as started, from now on; killed during the delay, f
// never runs.
template <class F, class... A> Greenlet<spawn_result_t<F, A...>> spawn_later(Seconds seconds, F&& f, A&&... a) {
    double delay = seconds.value > 0 ? seconds.value : 0.0;
    if constexpr (detail::takes_stop_token_v<F, A...>)
        return spawn(
            [delay](std::stop_token st, auto&& fn, auto&&... args) -> spawn_result_t<F, A...> {
                sleep(delay);
                return std::invoke(std::move(fn), std::move(st), std::move(args)...);
            },
            std::forward<F>(f), std::forward<A>(a)...);
    else
        return spawn(
            [delay](auto&& fn, auto&&... args) -> spawn_result_t<F, A...> {
                sleep(delay);
                return std::invoke(std::move(fn), std::move(args)...);
            },
            std::forward<F>(f), std::forward<A>(a)...);
}

// Call f(args...) in the calling greenlet under a Timeout(seconds) (gevent's with_timeout): f's
// result, or Timeout::Expired if f is still running after `seconds`, thrown from f's wait point
// with `timeout` null (as Greenlet::get's own timeout). An outer Timeout's expiry passes through.
template <class F, class... A> std::invoke_result_t<F, A...> with_timeout(Seconds seconds, F&& f, A&&... a) {
    Timeout t(seconds);
    try {
        return std::invoke(std::forward<F>(f), std::forward<A>(a)...);
    } catch (const TimeoutExpired& e) {
        if (e.timeout != &t) throw;
        throw TimeoutExpired{nullptr, e.seconds};
    }
}

// Wait for every greenlet of a range (of Greenlet<T> or GreenletBase); false if `timeout` passed
// first. With raise_error, as gevent's: the first greenlet to fail makes joinall rethrow its
// exception as soon as it does, without waiting for the others (they keep running; a killed one
// is no failure).
template <class Range> bool joinall(const Range& greenlets, Seconds timeout = forever, bool raise_error = false) {
    if (raise_error) {
        std::vector<detail::Task*> tasks;
        for (const auto& g : greenlets) tasks.push_back(static_cast<const GreenletBase&>(g).task());
        return detail::join_all_raise(tasks, timeout.value);
    }
    double deadline = timeout.value >= 0 ? detail::monotonic_now() + timeout.value : -1;
    for (const auto& g : greenlets) {
        double left = deadline < 0 ? -1 : std::max(0.0, deadline - detail::monotonic_now());
        if (!static_cast<const GreenletBase&>(g).join(left)) return false;
    }
    return true;
}

template <class Range> void killall(const Range& greenlets, Seconds timeout = forever) {
    for (const auto& g : greenlets) static_cast<const GreenletBase&>(g).kill(0);  // throw in all first
    joinall(greenlets, timeout);
}
// killall with a chosen exception (see GreenletBase::kill(exception)).
template <class Range, class E>
requires(!std::is_convertible_v<E, Seconds>) void killall(const Range& greenlets, const E& exception,
                                                          Seconds timeout = forever) {
    std::exception_ptr e;
    if constexpr (std::is_same_v<E, std::exception_ptr>) e = exception;
    else e = std::make_exception_ptr(exception);
    for (const auto& g : greenlets) static_cast<const GreenletBase&>(g).kill(e, 0);
    joinall(greenlets, timeout);
}

// asyncio.gather for greenlets: waits for all of them and returns their values as a tuple (a
// Greenlet<void> gives a std::monostate). The first failure kills the others, waits for them, and
// is rethrown; so does an exception sent to the caller meanwhile. A greenlet killed by someone
// else is no failure: once all have ended, gather throws its GreenletExit (as get() does).
template <class... T> auto gather(const Greenlet<T>&... gs) {
    const std::vector<GreenletBase> all{gs...};
    try {
        joinall(all, forever, /*raise_error=*/true);  // all ended, or the first failure thrown
    } catch (...) {
        killall(all);
        throw;
    }
    auto value = []<class V>(const Greenlet<V>& g) {  // a killed one's get() throws GreenletExit
        if constexpr (std::is_void_v<V>) return (g.get(), std::monostate{});
        else return g.get();
    };
    return std::tuple{value(gs)...};
}

// Call f() every `interval` seconds in a new greenlet, the first call one interval from now,
// until f returns false (when it returns bool), the greenlet is killed, or a stop is requested
// (g.request_stop(): it then ends at once, mid-interval). The ticks keep to their schedule; ticks
// that passed while f ran long are skipped, not run late in a burst.
template <class F> Greenlet<void> every(Seconds interval, F f) {
    return spawn([period = interval.value, f = std::move(f)](std::stop_token st) mutable {
        double next = detail::monotonic_now() + period;
        for (;;) {
            double left = next - detail::monotonic_now();
            if (!sleep(left > 0 ? left : 0, st) || st.stop_requested()) return;
            if constexpr (std::is_same_v<std::invoke_result_t<F&>, bool>) {
                if (!f()) return;
            } else {
                f();
            }
            next += period;
            const double now = detail::monotonic_now();
            if (next <= now && period > 0) next += (std::floor((now - next) / period) + 1) * period;
        }
    });
}

// gevent.kill(greenlet, exception): g.kill(exception, timeout).
template <class E>
requires(!std::is_convertible_v<E, Seconds>) bool kill(const GreenletBase& g, E&& exception,
                                                       Seconds timeout = forever) {
    return g.kill(std::forward<E>(exception), timeout);
}

// Greenlet-local storage: each greenlet sees its own T, default-constructed on first use and
// destroyed when the greenlet ends.
template <class T> class local {
public:
    T& get() {
        detail::Task* t = detail::current_task();
        for (auto& s : t->locals)
            if (s.key == this) return *static_cast<T*>(s.value);
        T* v = new T();
        t->locals.push_back({this, v, [](void* p) { delete static_cast<T*>(p); }});
        return *v;
    }
    T& operator*() { return get(); }
    T* operator->() { return &get(); }
};

}  // namespace green
