// green/nursery.hpp: structured concurrency (Trio's nursery, Python 3.11's asyncio.TaskGroup).
//
//   int n = green::open_nursery([](green::Nursery& nursery) {
//       nursery.spawn(fetch, "a");
//       nursery.spawn(fetch, "b");
//       return 2;
//   });  // here both fetches have ended, or the first failure is thrown
//
// Contract:
//  - open_nursery(body) runs body(nursery) in the calling greenlet, then waits until every greenlet
//    spawned into the nursery has ended (they may spawn more into it meanwhile), and returns what
//    body returned. No child outlives the call, whatever ends it.
//  - The first failure cancels the nursery: a child ending with an exception (GreenletExit is no
//    failure), or the body throwing. The children still running are killed (GreenletExit at their
//    next wait point; one not started never runs), and the body, if it still runs, gets
//    NurseryCancelled at its next wait point. Once all have ended, open_nursery rethrows that first
//    failure; a child's failure is then retrieved (not reported as unretrieved).
//  - An exception the caller itself is sent while in open_nursery (a kill, an outer Timeout) wins:
//    the children are killed and waited for, then it is rethrown (of two, a kill outranks a
//    Timeout, as everywhere).
//  - cancel() kills the children still running, without failure: open_nursery returns normally
//    once they have ended. A greenlet spawned into a cancelled nursery is killed before it runs.
//  - The Nursery lives as long as open_nursery runs: children may keep a reference to spawn more.
#pragma once

#include <green/greenlet.hpp>

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace green {

// Thrown at the wait point of the greenlet running a nursery's body when a child failed: the
// nursery then rethrows the child's exception. Not a std::exception (as GreenletExit).
struct NurseryCancelled {
    const char* what() const noexcept { return "green::Nursery cancelled: a child failed"; }
};

namespace detail {
struct NurseryState;
}

class Nursery {
public:
    Nursery(const Nursery&) = delete;
    Nursery& operator=(const Nursery&) = delete;

    template <class F, class... A> auto spawn(F&& f, A&&... a) {
        auto g = green::spawn(std::forward<F>(f), std::forward<A>(a)...);
        adopt(g);
        return g;
    }
    // Kill the children still running; not a failure.
    void cancel();
    bool cancelled() const noexcept;
    // Children that have not ended yet.
    size_t size() const noexcept;

private:
    template <class F> friend std::invoke_result_t<F&, Nursery&> open_nursery(F&& body);
    Nursery();
    ~Nursery();
    void adopt(const GreenletBase& g);
    // Waits for every child; rethrows the exception that wins (see the contract). `body_error`:
    // what the body threw, or null.
    void close(std::exception_ptr body_error);
    std::shared_ptr<detail::NurseryState> s_;
};

template <class F> std::invoke_result_t<F&, Nursery&> open_nursery(F&& body) {
    using R = std::invoke_result_t<F&, Nursery&>;
    Nursery n;
    std::exception_ptr body_error;
    if constexpr (std::is_void_v<R>) {
        try {
            body(n);
        } catch (...) {
            body_error = std::current_exception();
        }
        n.close(body_error);
    } else {
        std::optional<R> result;
        try {
            result.emplace(body(n));
        } catch (...) {
            body_error = std::current_exception();
        }
        n.close(body_error);
        return std::move(*result);
    }
}

}  // namespace green
