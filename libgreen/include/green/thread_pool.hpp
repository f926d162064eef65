// green/thread_pool.hpp: run blocking functions on native worker threads (gevent's ThreadPool).
//
// Contract: spawn(f) queues f for a worker thread and returns an AsyncResult at once; the calling
// greenlet (or any other) waits on it without blocking its hub. While a job is outstanding, its
// submitting hub does not report LoopExit. The destructor finishes queued jobs and joins the
// workers. Workers are created with the real pthread_create even under the preload.
#pragma once

#include <green/sync.hpp>

#include <functional>

namespace green {

class ThreadPool {
public:
    explicit ThreadPool(size_t threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    template <class F> auto spawn(F f) -> AsyncResult<std::invoke_result_t<F>> {
        using R = std::invoke_result_t<F>;
        AsyncResult<R> result;
        submit([result, f = std::move(f)]() mutable {
            try {
                if constexpr (std::is_void_v<R>) {
                    f();
                    result.set();
                } else {
                    result.set(f());
                }
            } catch (...) {
                result.set_exception(std::current_exception());
            }
        });
        return result;
    }
    // spawn(f).get(): run f on a worker and wait for its result.
    template <class F> auto apply(F f) -> std::invoke_result_t<F> { return spawn(std::move(f)).get(); }
    size_t size() const noexcept;

private:
    void submit(std::function<void()> job);
    struct Impl;
    Impl* impl_;
};

}  // namespace green
