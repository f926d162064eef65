// green/coroutine.hpp: symmetric coroutines, as the greenlet module's (switch, throw, parent, dead).
//
//   green::Coroutine<int> twice([](int v) {
//       for (;;) v = green::Coroutine<int>::current().parent().switch_to(v * 2);
//   });
//   int a = twice.switch_to(1);  // 2: starts it; it switches back to its parent, main
//   int b = twice.switch_to(5);  // 10
//
// Contract:
//  - A Coroutine<T> is a greenlet that runs only when switched to. c.switch_to(v) suspends the
//    caller and resumes c: the first switch starts c's body with v (a body may also take no
//    argument); a later one makes the switch_to that suspended c return v. The caller's switch_to
//    returns the value of the next switch back to it. Coroutine<void> switches carry no value.
//  - Any greenlet, the thread's main context too, can take part: Coroutine<T>::current() names the
//    running one. A coroutine's parent is the greenlet that created it, unless one is given. When
//    its body returns, the result is switched to its parent (the nearest one that is not dead);
//    when it throws, the parent's switch_to throws that exception; when it is killed
//    (GreenletExit), the parent's switch_to returns T{} (greenlet hands over the GreenletExit
//    object; killed() tells). A switch to a dead coroutine goes to its parent in the same way.
//  - With the hub: a switch parks the caller and hands the calling thread's hub straight to the
//    target, ahead of greenlets that are ready (as greenlet's switch: no queue in between). Once
//    the hub has made 1,024 switches since its loop last ran, the target goes after the ready
//    greenlets instead, and the loop polls I/O and timers: scheduled greenlets keep running beside
//    coroutines that switch for ever. A coroutine's first switch starts it after the ready ones.
//    Between switches a coroutine may wait on anything (sleep, I/O, a Queue): that parks only it,
//    and whoever switched to it stays suspended in switch_to until something switches back.
//  - Only a greenlet suspended in switch_to (or a coroutine not yet started) can be switched to,
//    and only from its own thread: a switch to one that runs, is ready, waits on something else, or
//    lives on another thread's hub throws std::logic_error in the caller.
//  - switch_to and throw_into are wait points: a kill or a green::Timeout of the caller is thrown
//    from them, and then no switch back is awaited; one that comes together with a switch back is
//    thrown at the caller's next wait point instead.
//  - Lifetime: the handles made by the constructor (and their copies) own the coroutine; current()
//    and parent() only name one. A started coroutine suspended in a switch when its last owning
//    handle goes is killed (GreenletExit at its switch point; its parent is not resumed), as
//    greenlet's garbage collector does; one never started is freed. Owning handles that
//    coroutines hold on each other keep them alive.
#pragma once

#include <green/greenlet.hpp>

#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace green {

namespace detail {
struct SwitchUnit {};
struct SwitchHandle;

// One greenlet's side of symmetric switching, shared by the handles that name it and, while it
// lives, by the greenlet itself (from its green::local-style slot). coroutine.cpp does the switching.
// Switching happens on one hub only, so the switch state is confined to it: changed only by that
// hub's greenlets while they hold it (no lock on the switch path); other threads read the flags
// that say whether it started or ended.
struct SwitchState : std::enable_shared_from_this<SwitchState> {
    virtual ~SwitchState() = default;
    // Store (move) the value a switch carries (`arg`: the switcher's V*, null for none).
    virtual void put_value(void* arg) = 0;
    virtual void clear_value() noexcept = 0;
    // Make the greenlet find this state (current()) from now on, before it first runs.
    virtual void register_in_task() = 0;
    // Any thread (a snapshot).
    bool dead() const noexcept {
        return coroutine ? finished.load(std::memory_order_acquire) || task->dead.load()
                         : gone.load(std::memory_order_acquire);
    }

    // Fixed once made:
    Task* task = nullptr;                 // the greenlet; owned through `owner` for a coroutine, else
                                          // valid until `gone`
    GreenletBase owner;                   // a coroutine's reference to its greenlet
    Hub* home = nullptr;                  // the hub it runs on
    std::shared_ptr<SwitchState> parent;  // a coroutine's (null for other greenlets)
    bool coroutine = false;               // made by Coroutine; else a greenlet taking part (adopted)
    // Written on the home hub only; read anywhere:
    std::atomic<bool> started{false};   // a coroutine switched to once; adopted ones always
    std::atomic<bool> finished{false};  // a coroutine whose body has ended (its greenlet dies next)
    std::atomic<bool> gone{false};      // an adopted greenlet that has ended
    // On the home hub only:
    Waker waker;                // the park of its switch_to
    bool waiting = false;       // suspended in switch_to, nothing delivered yet
    bool delivered = false;     // a switch to it left its value or exception
    bool abandoned = false;     // killed for want of handles: its end resumes nobody
    std::exception_ptr thrown;  // to throw from its switch_to (throw_into, a child's failure)
    void* incoming = nullptr;   // a switch's value, in the suspended switcher's frame (it waits
                                // until this one took it); owned values (a start, a coroutine's
                                // result) go to ValueState::value
};

// What a coroutine's owning handles share: the last one gone abandons it if it is suspended.
struct SwitchHandle {
    explicit SwitchHandle(std::shared_ptr<SwitchState> st) : s(std::move(st)) {}
    ~SwitchHandle();
    SwitchHandle(const SwitchHandle&) = delete;
    SwitchHandle& operator=(const SwitchHandle&) = delete;
    std::shared_ptr<SwitchState> s;
};

// Switch from `self` (the running greenlet's) to `target` (or its nearest live parent), handing it
// `*arg` (or `*thrown`, if not null). Returns once something switched back: the value is in self.
void switch_between(SwitchState& self, SwitchState& target, void* arg, const std::exception_ptr* thrown);
// switch_between from the running greenlet, whose state is found by its slot `key` in
// Task::locals; null, and nothing done, if it has none yet. Returns that state.
SwitchState* switch_from_running(const void* key, SwitchState& target, void* arg, const std::exception_ptr* thrown);
// A coroutine's body ended: hand `arg` (null: killed, nothing) or `error` to its nearest live
// parent if that one is suspended in a switch (unless abandoned). True if handed over.
bool finish_coroutine(SwitchState& self, void* arg, std::exception_ptr error);

template <class T> using SwitchValue = std::conditional_t<std::is_void_v<T>, SwitchUnit, T>;

template <class T> struct ValueState final : SwitchState {
    inline static const char key = 0;  // its slot in Task::locals
    std::optional<SwitchValue<T>> value;
    void put_value(void* arg) override {
        incoming = nullptr;
        if (arg) value.emplace(std::move(*static_cast<SwitchValue<T>*>(arg)));
        else value.reset();
    }
    void clear_value() noexcept override {
        incoming = nullptr;
        value.reset();
    }
    void register_in_task() override {
        task->locals.push_back({&key, new std::shared_ptr<SwitchState>(shared_from_this()), [](void* p) {
                                    auto* sp = static_cast<std::shared_ptr<SwitchState>*>(p);
                                    if ((*sp)->task->switch_state == sp->get()) (*sp)->task->switch_key = nullptr;
                                    if (!(*sp)->coroutine) (*sp)->gone.store(true, std::memory_order_release);
                                    delete sp;
                                }});
        task->switch_key = &key;
        task->switch_state = static_cast<SwitchState*>(this);
    }
    // After switch_between: what was switched to us (no longer waiting, nobody else writes it).
    SwitchValue<T> take() {
        if (__builtin_expect(thrown != nullptr, 0)) {
            incoming = nullptr;
            value.reset();
            std::rethrow_exception(std::exchange(thrown, nullptr));
        }
        if (__builtin_expect(incoming != nullptr, 1))
            return std::move(*static_cast<SwitchValue<T>*>(std::exchange(incoming, nullptr)));
        std::optional<SwitchValue<T>> v = std::move(value);
        value.reset();
        if (v) return std::move(*v);
        // A coroutine that was killed switched nothing back.
        if constexpr (std::is_default_constructible_v<SwitchValue<T>>) return SwitchValue<T>{};
        else throw std::logic_error("green::Coroutine: the coroutine switching back was killed");
    }
};

// The running greenlet's state for Coroutine<T> switches (made on first use). The greenlet's slot
// keeps it alive while it runs: the raw pointer is for the running greenlet's own use.
template <class T> ValueState<T>* running_switch_state(Task* t) {
    for (auto& slot : t->locals)
        if (slot.key == &ValueState<T>::key)
            return static_cast<ValueState<T>*>(static_cast<std::shared_ptr<SwitchState>*>(slot.value)->get());
    return nullptr;
}
template <class T> std::shared_ptr<ValueState<T>> current_switch_state() {
    Task* t = current_task();
    if (ValueState<T>* s = running_switch_state<T>(t))
        return std::static_pointer_cast<ValueState<T>>(s->shared_from_this());
    auto s = std::make_shared<ValueState<T>>();
    s->task = t;
    s->home = t->hub;
    s->started = true;
    s->register_in_task();
    return s;
}

template <class T, class F> struct CoroutineTask final : Task {
    explicit CoroutineTask(F&& f) : body(std::in_place, std::move(f)) {}
    std::optional<F> body;
    ValueState<T>* state = nullptr;  // alive while this runs: its slot in `locals` holds it
    void run() override {
        // Release what the body captured once it is done (as FnTask does): handles of other
        // coroutines in it would otherwise keep them alive as long as this one is named.
        struct Release {
            std::optional<F>& b;
            ~Release() { b.reset(); }
        } release{body};
        ValueState<T>& s = *state;
        std::exception_ptr first_error;
        std::optional<SwitchValue<T>> first;
        {  // delivered before it was scheduled; nobody writes them again before it waits
            first_error = std::exchange(s.thrown, nullptr);
            first = std::move(s.value);
            s.value.reset();
            s.delivered = false;
        }
        try {
            if (first_error) std::rethrow_exception(first_error);  // thrown into it before it started
            SwitchValue<T> result = call(std::move(*first));
            finish_coroutine(s, &result, nullptr);
        } catch (const GreenletExit&) {
            finish_coroutine(s, nullptr, nullptr);
            throw;
        } catch (...) {
            if (finish_coroutine(s, nullptr, std::current_exception())) error_observed = true;
            throw;
        }
    }
    SwitchValue<T> call(SwitchValue<T>&& first) {
        if constexpr (std::is_void_v<T>) {
            (void)first;
            std::invoke(*body);
            return {};
        } else if constexpr (std::is_invocable_v<F&, T>) {
            return std::invoke(*body, std::move(first));
        } else {
            (void)first;
            return std::invoke(*body);
        }
    }
};
}  // namespace detail

template <class T = void> class Coroutine {
public:
    using value_type = T;
    Coroutine() = default;  // empty: names nothing
    // A coroutine running f when first switched to: f(T) or f() returning T (void for T = void).
    // Its parent is the running greenlet unless `parent` names another.
    template <class F>
    requires(!std::is_same_v<std::decay_t<F>, Coroutine> &&
             !std::is_same_v<std::decay_t<F>, SpawnOptions>) explicit Coroutine(F&& f, const Coroutine& parent = {})
        : Coroutine(SpawnOptions{}, std::forward<F>(f), parent) {}
    template <class F> Coroutine(const SpawnOptions& opts, F&& f, const Coroutine& parent = {}) {
        using Fn = std::decay_t<F>;
        if constexpr (std::is_void_v<T>) {
            static_assert(std::is_invocable_v<Fn&>, "green::Coroutine<void>: the body takes no argument");
        } else {
            static_assert(std::is_invocable_r_v<T, Fn&, T> || std::is_invocable_r_v<T, Fn&>,
                          "green::Coroutine<T>: the body is T(T) or T()");
        }
        auto* t = new detail::CoroutineTask<T, Fn>(Fn(std::forward<F>(f)));
        t->stack_size = opts.stack_size;
        t->name = opts.name;
        auto s = std::make_shared<detail::ValueState<T>>();
        s->task = t;
        s->owner = GreenletBase(t, /*adopt=*/true);
        s->coroutine = true;
        s->home = detail::current_task()->hub;
        s->parent = parent ? parent.s_ : detail::current_switch_state<T>();
        t->state = s.get();
        h_ = std::make_shared<detail::SwitchHandle>(s);
        s_ = std::move(s);
    }

    // The running greenlet (main, a spawned one, or a coroutine) as a switch target; a naming
    // handle (see Lifetime).
    static Coroutine current() { return Coroutine(detail::current_switch_state<T>()); }

    // Suspend the caller, resume this coroutine with `value`; returns the value switched back.
    template <class U = T>
    requires(!std::is_void_v<U>) U switch_to(std::type_identity_t<U> value)
    const { return switch_with(&value, nullptr); }
    template <class U = T>
    requires std::is_void_v<U>
    void switch_to() const {
        detail::SwitchUnit none;
        switch_with(&none, nullptr);
    }
    // Switch to it and throw `e` at its switch point (greenlet's throw): GreenletExit by default,
    // an exception object, or a std::exception_ptr. Started never, it dies of it without running
    // (its parent is resumed as usual). Returns what is switched back, as switch_to.
    T throw_into(std::exception_ptr e = std::make_exception_ptr(GreenletExit{})) const {
        if (!e) e = std::make_exception_ptr(GreenletExit{});
        if constexpr (std::is_void_v<T>) switch_with(nullptr, &e);
        else return switch_with(nullptr, &e);
    }
    template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>) T throw_into(E&& e)
    const { return throw_into(std::make_exception_ptr(std::forward<E>(e))); }

    // Its parent (empty for a greenlet that is not a coroutine); a naming handle.
    Coroutine parent() const {
        detail::ValueState<T>* s = state(detail::current_task());
        return s->parent ? Coroutine(std::static_pointer_cast<detail::ValueState<T>>(s->parent)) : Coroutine();
    }
    // Ended (a coroutine whose body returned, threw or was killed; a greenlet that ended).
    bool dead() const { return s_ && s_->dead(); }
    bool started() const { return s_ && s_->started.load(std::memory_order_acquire); }
    bool killed() const { return s_ && greenlet().killed(); }
    // The greenlet it runs in: join, link, exception(), printing.
    GreenletBase greenlet() const {
        if (!s_) return {};
        return !s_->coroutine && s_->gone.load(std::memory_order_acquire) ? GreenletBase() : GreenletBase(s_->task);
    }
    explicit operator bool() const noexcept { return s_ != nullptr; }
    friend bool operator==(const Coroutine& a, const Coroutine& b) noexcept { return a.s_ == b.s_; }

private:
    explicit Coroutine(std::shared_ptr<detail::ValueState<T>> s) : s_(std::move(s)) {}  // names only
    // Raw pointers: the switch touches the target only before the caller parks, and the caller's
    // own state lives as long as the caller.
    detail::SwitchValue<T> switch_with(void* arg, const std::exception_ptr* thrown) const {
        if (!s_) throw std::logic_error("green::Coroutine: empty handle");
        auto* self = static_cast<detail::ValueState<T>*>(
            detail::switch_from_running(&detail::ValueState<T>::key, *s_, arg, thrown));
        if (__builtin_expect(!self, 0)) {   // its first switch: its state is made now (its slot holds it)
            state(detail::current_task());  // (not for a switch that cannot be made)
            self = detail::current_switch_state<T>().get();
            detail::switch_between(*self, *s_, arg, thrown);
        }
        return self->take();
    }
    // The target's state; std::logic_error for an empty handle or one of another thread's hub
    // (checked before the caller takes part in switching).
    detail::ValueState<T>* state(detail::Task* me) const {
        if (!s_) throw std::logic_error("green::Coroutine: empty handle");
        if (s_->home != me->hub) throw std::logic_error("green::Coroutine: a coroutine of another thread's hub");
        return s_.get();
    }
    std::shared_ptr<detail::ValueState<T>> s_;
    std::shared_ptr<detail::SwitchHandle> h_;  // owning handles only
};

// Prints its greenlet: <Greenlet #5 parked (switch)>.
template <class T> std::ostream& operator<<(std::ostream& os, const Coroutine<T>& c) { return os << c.greenlet(); }

}  // namespace green
