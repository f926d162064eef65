// green/wait.hpp: waiting for several objects at once (gevent's wait / iwait, asyncio's wait /
// as_completed).
//
//   auto done = green::wait({g1, ev, q}, 1, 0.5);    // indices of the ready ones: here at most 1
//   for (size_t i : green::iwait(gs)) use(gs[i].get());  // each greenlet as it ends
//
// Contract:
//  - An object is Waitable if it offers the one interface these functions use:
//      bool watch(detail::Waiter* w) const;       true if ready now; otherwise, if w is not null,
//                                                 link w (its waker set) where the object's next
//                                                 change of state wakes it (a notify_all list)
//      void unwatch(detail::Waiter& w) const noexcept;  take w off again if it is still linked
//    Ready means a wait on the object would return at once: a greenlet that ended (Greenlet<T>,
//    GreenletBase), a set Event, an AsyncResult that has its value or exception, a Queue (any
//    kind) or a Channel with something to get, or closed.
//  - wait() and iwait() report indices into the objects given, and never take anything: a Queue
//    reported ready still holds its item (another greenlet may get it first).
//  - One park for all the objects, from any OS thread. Each round looks at every object not yet
//    reported: O(n) per park.
//  - Like every wait: kill() and green::Timeout are thrown at it, and LoopExit when nothing could
//    ever make one ready. The objects must outlive the call (the Iwait).
#pragma once

#include <green/greenlet.hpp>

#include <concepts>
#include <functional>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <ranges>
#include <span>
#include <vector>

namespace green {

template <class W>
concept Waitable = requires(const W& w, detail::Waiter* p, detail::Waiter& r) {
    { w.watch(p) } -> std::convertible_to<bool>;
    w.unwatch(r);
};

// A reference to any Waitable object, so that one list can mix them: wait({g, ev, q}).
class WaitRef {
public:
    template <Waitable W>
    requires(!std::same_as<W, WaitRef>) WaitRef(const W& w)
    noexcept  // NOLINT: implicit on purpose
        : obj_(&w),
          watch_([](const void* o, detail::Waiter* x) -> bool { return static_cast<const W*>(o)->watch(x); }),
          unwatch_([](const void* o, detail::Waiter& x) noexcept { static_cast<const W*>(o)->unwatch(x); }) {}
    bool watch(detail::Waiter* w) const { return watch_(obj_, w); }
    void unwatch(detail::Waiter& w) const noexcept { unwatch_(obj_, w); }
    const void* object() const noexcept { return obj_; }

private:
    const void* obj_;
    bool (*watch_)(const void*, detail::Waiter*);
    void (*unwatch_)(const void*, detail::Waiter&) noexcept;
};

// The objects in the order they become ready (those ready at the start first, in their order),
// each once: gevent's iwait. next() parks while none is; nullopt once all were reported or the
// timeout (for the whole iteration, from construction) has passed. A range: for (size_t i : it).
class Iwait {
public:
    Iwait(std::vector<WaitRef> objects, Seconds timeout = forever);
    Iwait(const Iwait&) = delete;
    Iwait& operator=(const Iwait&) = delete;
    Iwait(Iwait&&) = default;
    std::optional<size_t> next();
    size_t remaining() const noexcept { return pending_.size() + ready_.size() - head_; }

    class iterator {
    public:
        using value_type = size_t;
        using difference_type = std::ptrdiff_t;
        size_t operator*() const { return *cur_; }
        iterator& operator++() {
            cur_ = it_->next();
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(std::default_sentinel_t) const noexcept { return !cur_; }

    private:
        friend class Iwait;
        iterator(Iwait* it, std::optional<size_t> cur) : it_(it), cur_(cur) {}
        Iwait* it_;
        std::optional<size_t> cur_;
    };
    iterator begin() { return iterator(this, next()); }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    bool round();  // collect what is ready into ready_, parking once if nothing is; false: timed out
    std::vector<WaitRef> objects_;
    std::vector<size_t> pending_;  // indices not yet reported
    std::vector<size_t> ready_;    // found ready, reported from head_ on
    size_t head_ = 0;
    std::vector<detail::Waiter> waiters_;  // one per pending object during a park
    double deadline_;                      // monotonic; < 0: none
};

namespace detail {
template <class R> std::vector<WaitRef> wait_refs(const R& objects) {
    std::vector<WaitRef> refs;
    if constexpr (std::ranges::sized_range<const R>) refs.reserve(std::ranges::size(objects));
    for (const auto& o : objects) refs.emplace_back(o);
    return refs;
}
}  // namespace detail

inline Iwait iwait(std::initializer_list<WaitRef> objects, Seconds timeout = forever) {
    return Iwait(std::vector<WaitRef>(objects), timeout);
}
template <std::ranges::input_range R>
requires Waitable<std::ranges::range_value_t<R>> Iwait iwait(const R& objects, Seconds timeout = forever) {
    return Iwait(detail::wait_refs(objects), timeout);
}
// asyncio's name for the same iteration.
inline Iwait as_completed(std::initializer_list<WaitRef> objects, Seconds timeout = forever) {
    return iwait(objects, timeout);
}
template <std::ranges::input_range R>
requires Waitable<std::ranges::range_value_t<R>> Iwait as_completed(const R& objects, Seconds timeout = forever) {
    return iwait(objects, timeout);
}

// Wait until `count` of the objects (all by default) are ready, or `timeout` passes; the indices of
// those found ready, in the order they became so (gevent's wait(objects, timeout, count); here
// count comes first). After the timeout: those ready by then, maybe fewer than `count`.
std::vector<size_t> wait(std::span<const WaitRef> objects, size_t count = SIZE_MAX, Seconds timeout = forever);
inline std::vector<size_t> wait(std::initializer_list<WaitRef> objects, size_t count = SIZE_MAX,
                                Seconds timeout = forever) {
    return wait(std::span<const WaitRef>(objects.begin(), objects.size()), count, timeout);
}
template <std::ranges::input_range R>
requires Waitable<std::ranges::range_value_t<R>> std::vector<size_t> wait(const R& objects, size_t count = SIZE_MAX,
                                                                          Seconds timeout = forever) {
    std::vector<WaitRef> refs = detail::wait_refs(objects);
    return wait(std::span<const WaitRef>(refs), count, timeout);
}

// ---- select: Go's select over receives ------------------------------------------------------
//
//   auto which = green::select(0.5, green::on_get(jobs, [](Job j) { run(j); }),
//                                   green::on_get(quit, [](bool) { stop = true; }));
//   // which: 0 or 1, the case that ran; nullopt after 0.5 s with nothing (timeout 0: Go's default)
//
// The cases are looked at in order; the first whose Queue (any kind) or Channel has an item takes
// it and runs its handler with it, in the calling greenlet. When none has one, the caller parks
// until one may (as wait() does), then looks again. A closed source that is empty never fires;
// when every one is, select throws green::Closed. Kills and green::Timeout are thrown at it.
template <class Q, class F> struct GetCase {
    Q& source;
    F handler;
};
template <class Q, class F> GetCase<Q, F> on_get(Q& source, F handler) { return {source, std::move(handler)}; }

template <class... Q, class... F> std::optional<size_t> select(Seconds timeout, GetCase<Q, F>... cases) {
    const double deadline = timeout.value < 0 ? -1 : detail::monotonic_now() + timeout.value;
    for (;;) {
        std::optional<size_t> fired;
        std::vector<WaitRef> open;
        size_t i = 0;
        auto look = [&](auto& c) {
            if (!fired) {
                if (auto item = c.source.try_get()) {
                    fired = i;
                    std::invoke(c.handler, std::move(*item));
                } else if (!c.source.closed()) {
                    open.emplace_back(c.source);
                }
            }
            ++i;
        };
        (look(cases), ...);
        if (fired) return fired;
        if (open.empty()) throw Closed();
        double left = deadline < 0 ? -1 : deadline - detail::monotonic_now();
        if (deadline >= 0 && left <= 0) return std::nullopt;
        wait(std::span<const WaitRef>(open), 1, left);  // ready, or the time is up: look again
    }
}

}  // namespace green
