// green/group.hpp: Group and Pool (gevent.pool), with map, imap_unordered, apply, apply_async.
//
// Contract: a Group tracks greenlets until they end (they leave it by themselves); join() waits for
// all, kill() kills all. A Pool is a Group with a capacity: spawn() parks the caller while
// `size` greenlets are running. map / imap_unordered run f(item) in member greenlets, so a Pool
// runs at most `size` at once; apply_async never parks the caller (gevent's).
// Destruction: no member outlives its Group. The destructor kills the members still running (not
// the greenlet running the destructor, if it is one) and waits until they have ended, also while
// the scope unwinds from an exception; a member that ignores GreenletExit keeps it waiting. A kill
// or Timeout aimed at the destroying greenlet meanwhile does not cut the wait short: it is thrown
// at that greenlet's next wait point instead. Only LoopExit (no member can ever end) ends it early.
#pragma once

#include <green/queue.hpp>
#include <green/sync.hpp>

#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <unordered_map>
#include <vector>

namespace green {

namespace detail {
// map / imap_unordered: each item's greenlet puts its outcome here, in the order they end.
template <class R> struct MapOutcome {
    size_t index;
    std::optional<std::conditional_t<std::is_void_v<R>, Unit, R>> value;
    std::exception_ptr error;
};
template <class F, class R> struct MapShared {
    explicit MapShared(F fn) : f(std::move(fn)) {}
    F f;
    Queue<MapOutcome<R>> outcomes;  // unbounded: a put never parks
};
// The body of item `i`'s greenlet: f(item), its value or exception handed to the collector (a
// GreenletExit too, rethrown: the greenlet ends killed).
template <class R, class F, class Item> auto map_body(std::shared_ptr<MapShared<F, R>> s, size_t i, Item item) {
    return [s = std::move(s), i, item = std::move(item)]() mutable {
        MapOutcome<R> o{i, std::nullopt, nullptr};
        bool killed = false;
        try {
            if constexpr (std::is_void_v<R>) {
                std::invoke(s->f, std::move(item));
                o.value.emplace();
            } else {
                o.value.emplace(std::invoke(s->f, std::move(item)));
            }
        } catch (const GreenletExit&) {
            o.error = std::current_exception();
            killed = true;
        } catch (...) {
            o.error = std::current_exception();
        }
        std::exception_ptr e = killed ? o.error : nullptr;
        s->outcomes.put(std::move(o));
        if (e) std::rethrow_exception(e);
    };
}
}  // namespace detail

template <class R> class IMapUnordered;

class Group {
public:
    Group() : s_(std::make_shared<State>()) {}
    virtual ~Group();
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;

    template <class F, class... A> auto spawn(F&& f, A&&... a) {
        before_spawn();
        auto g = green::spawn(std::forward<F>(f), std::forward<A>(a)...);
        track(g);
        return g;
    }
    // spawn() with options (a name, a stack size, the hub it runs on: SpawnOptions).
    template <class F, class... A> auto spawn_with(const SpawnOptions& opts, F&& f, A&&... a) {
        before_spawn();
        auto g = green::spawn_with(opts, std::forward<F>(f), std::forward<A>(a)...);
        track(g);
        return g;
    }
    // Track `g` until it ends (in a Pool, waits for a free slot first).
    void add(const GreenletBase& g) {
        before_spawn();
        track(g);
    }
    // Stop tracking `g` (it keeps running).
    void discard(const GreenletBase& g);
    bool contains(const GreenletBase& g) const;
    size_t size() const;
    std::vector<GreenletBase> greenlets() const;
    // Wait until the group is empty; false if `timeout` passed first. With raise_error, rethrows
    // the exception of the first member found failed.
    bool join(Seconds timeout = forever, bool raise_error = false);
    // Kill every member and wait for them (up to `timeout`).
    void kill(Seconds timeout = forever);
    // Whether spawn() would park now (a Pool with no free slot; a Group never).
    virtual bool full() const { return false; }

    // f(item) for every item of `items`, each in a greenlet of the group (a Pool(n): n at a time),
    // the results in the order of the items (void if f returns nothing). The first failure kills
    // the item greenlets still running, waits for them, and is rethrown (a killed one's
    // GreenletExit too, as Greenlet::get does). The caller parks meanwhile.
    template <class F, std::ranges::input_range Range> auto map(F f, const Range& items) {
        using Item = std::ranges::range_value_t<Range>;
        using R = std::invoke_result_t<F&, Item>;
        using V = std::conditional_t<std::is_void_v<R>, detail::Unit, R>;
        auto s = std::make_shared<detail::MapShared<F, R>>(std::move(f));
        std::vector<GreenletBase> spawned;
        std::vector<std::optional<V>> results;
        size_t received = 0;
        std::exception_ptr error;
        auto take = [&](detail::MapOutcome<R>&& o) {
            ++received;
            if (o.error) {
                if (!error) error = o.error;
            } else {
                results[o.index] = std::move(o.value);
            }
        };
        for (const auto& item : items) {
            while (auto o = s->outcomes.try_get()) take(std::move(*o));
            if (error) break;
            results.emplace_back();
            spawned.push_back(spawn(detail::map_body<R>(s, spawned.size(), Item(item))));
        }
        while (!error && received < spawned.size()) take(s->outcomes.get());
        if (error) {
            killall(spawned);
            std::rethrow_exception(error);
        }
        if constexpr (!std::is_void_v<R>) {
            std::vector<R> out;
            out.reserve(results.size());
            for (auto& r : results) out.push_back(std::move(*r));
            return out;
        }
    }

    // As map, but the results one at a time in the order they are ready (gevent's imap_unordered):
    // for (auto& v : pool.imap_unordered(f, items)). Items are copied; their greenlets are
    // spawned as slots free up while the caller iterates. A failure is rethrown by the step that
    // reaches it (the iteration may go on). The group must outlive the iteration.
    template <class F, std::ranges::input_range Range> auto imap_unordered(F f, const Range& items) {
        using Item = std::ranges::range_value_t<Range>;
        using R = std::invoke_result_t<F&, Item>;
        static_assert(!std::is_void_v<R>, "green::Group::imap_unordered: f must return a value");
        auto s = std::make_shared<detail::MapShared<F, R>>(std::move(f));
        auto list = std::make_shared<std::vector<Item>>(std::ranges::begin(items), std::ranges::end(items));
        size_t next = 0;
        auto feed = [this, s, list, next](bool may_wait) mutable {
            if (next == list->size() || (!may_wait && full())) return false;
            spawn(detail::map_body<R>(s, next, std::move((*list)[next])));
            ++next;
            return true;
        };
        return IMapUnordered<R>(s, std::move(feed));
    }

    // Run f(args...) in a greenlet of the group and return its result (its exception rethrown).
    // Called from a member of the group, it runs f in the caller (no slot to wait for).
    template <class F, class... A> spawn_result_t<F, A...> apply(F&& f, A&&... a) {
        if (contains(getcurrent())) return std::invoke(std::forward<F>(f), std::forward<A>(a)...);
        return spawn(std::forward<F>(f), std::forward<A>(a)...).get();
    }
    // spawn() that never parks the caller: the member greenlet at once, or, when the Pool is full,
    // a greenlet that waits for a slot, joins the pool and runs f there (gevent's apply_async).
    // Link to it, or get() it, for the result.
    template <class F, class... A> Greenlet<spawn_result_t<F, A...>> apply_async(F&& f, A&&... a) {
        if (!full()) return spawn(std::forward<F>(f), std::forward<A>(a)...);
        auto g = green::spawn(
            [this](auto&& fn, auto&&... args) -> spawn_result_t<F, A...> {
                add(getcurrent());  // waits for a slot; a member from now on
                waiting_->discard(getcurrent());
                return std::invoke(std::move(fn), std::move(args)...);
            },
            std::forward<F>(f), std::forward<A>(a)...);
        if (!waiting_) waiting_ = std::make_unique<Group>();
        waiting_->track(g);  // killed first when the group is destroyed
        return g;
    }

protected:
    void track(const GreenletBase& g);
    virtual void before_spawn() {}
    virtual void on_removed() {}
    // apply_async's greenlets still waiting for a slot (they hold `this`).
    std::unique_ptr<Group> waiting_;
    struct State {
        detail::SpinLock lock;
        detail::WaitList empty_waiters;
        std::unordered_map<detail::Task*, GreenletBase> members;
        std::exception_ptr first_error;
        Group* owner;
    };
    std::shared_ptr<State> s_;
};

class Pool : public Group {
public:
    explicit Pool(size_t size) : slots_(static_cast<unsigned>(size)), size_(size) {}
    ~Pool() override;
    size_t free_count() const { return slots_.counter(); }
    bool full() const override { return free_count() == 0; }
    // Wait until a slot is free; false if `timeout` passed first.
    bool wait_available(Seconds timeout = forever);
    size_t capacity() const noexcept { return size_; }

protected:
    void before_spawn() override { slots_.acquire(); }
    void on_removed() override { slots_.release(); }

private:
    Semaphore slots_;
    size_t size_;
};

// Group::imap_unordered's results, in the order their greenlets end. Move-only.
template <class R> class IMapUnordered {
public:
    // The next result; nullopt once every item's was given; a failed item's exception rethrown.
    // Empty if none is ready within `timeout` (the spawning of items may park longer in a full Pool).
    std::optional<R> next(Seconds timeout = forever) {
        while (feed_(false)) ++outstanding_;  // fill the free slots
        if (outstanding_ == 0) {
            if (!feed_(true)) return std::nullopt;  // all given
            ++outstanding_;
        }
        detail::MapOutcome<R> o = s_->get(timeout);
        --outstanding_;
        if (o.error) std::rethrow_exception(o.error);
        return std::move(o.value);
    }

    class iterator {
    public:
        using value_type = R;
        using difference_type = std::ptrdiff_t;
        R& operator*() const { return *cur_; }
        iterator& operator++() {
            cur_ = it_->next();
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(std::default_sentinel_t) const noexcept { return !cur_; }

    private:
        friend class IMapUnordered;
        iterator(IMapUnordered* it, std::optional<R> cur) : it_(it), cur_(std::move(cur)) {}
        IMapUnordered* it_;
        mutable std::optional<R> cur_;
    };
    iterator begin() { return iterator(this, next()); }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    friend class Group;
    template <class Shared, class Feed> IMapUnordered(std::shared_ptr<Shared> s, Feed feed)
        : s_(std::shared_ptr<Queue<detail::MapOutcome<R>>>(s, &s->outcomes)), feed_(std::move(feed)) {}
    std::shared_ptr<Queue<detail::MapOutcome<R>>> s_;
    std::function<bool(bool)> feed_;  // spawn the next item (unless it would wait): false if none
    size_t outstanding_ = 0;          // spawned, outcome not yet taken
};

}  // namespace green
