// api/thread_pool.cpp: native worker threads for blocking functions.
//
// Workers park on a futex, not a pthread condition variable: the preload hooks pthread_cond_*,
// and the runtime's own threads must never meet its hooks.
#include <green/thread_pool.hpp>

#include "../context/libc.hpp"
#include "../context/raw_syscall.hpp"
#include "../hub/hub.hpp"

#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <vector>

namespace green {

struct ThreadPool::Impl {
    detail::SpinLock lock;
    std::deque<std::function<void()>> jobs;
    std::vector<pthread_t> threads;
    std::atomic<uint32_t> seq{0};  // futex word: bumped on every submit and on shutdown
    bool stopping = false;

    static void* worker(void* arg) {
        auto* self = static_cast<Impl*>(arg);
        detail::name_os_thread("green-pool");
        detail::Hub::mark_worker_thread();  // its blocking calls must stay blocking
        // Signals are the program's business: let them land on its own threads, never here.
        // (The preload runs its own pools: raw, not its pthread_sigmask hook.)
        sigset_t all;
        sigfillset(&all);
        detail::raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, long(&all), 0, long(_NSIG / 8));
        for (;;) {
            uint32_t seen = self->seq.load(std::memory_order_acquire);
            std::function<void()> job;
            {
                std::lock_guard g(self->lock);
                if (!self->jobs.empty()) {
                    job = std::move(self->jobs.front());
                    self->jobs.pop_front();
                } else if (self->stopping) {
                    return nullptr;
                }
            }
            if (job) {
                job();
                continue;
            }
            detail::idle_internal_threads.fetch_add(1);
            detail::raw_syscall(SYS_futex, long(&self->seq), FUTEX_WAIT_PRIVATE, long(seen));
            detail::idle_internal_threads.fetch_sub(1);
        }
    }
};

ThreadPool::ThreadPool(size_t threads) : impl_(new Impl) {
    if (threads == 0) threads = 1;
    for (size_t i = 0; i < threads; ++i) {
        pthread_t t;
        int rc = detail::native_pthread_create(&t, nullptr, &Impl::worker, impl_);
        if (rc != 0) {
            fprintf(stderr, "green: ThreadPool cannot start a worker thread: %s\n", strerror(rc));
            if (impl_->threads.empty()) throw std::system_error(rc, std::generic_category(), "green::ThreadPool");
            break;
        }
        impl_->threads.push_back(t);
    }
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard g(impl_->lock);
        impl_->stopping = true;
    }
    impl_->seq.fetch_add(1, std::memory_order_release);
    detail::raw_syscall(SYS_futex, long(&impl_->seq), FUTEX_WAKE_PRIVATE, INT32_MAX);
    for (pthread_t t : impl_->threads) detail::libc::pthread_join(t, nullptr);
    delete impl_;
}

size_t ThreadPool::size() const noexcept { return impl_->threads.size(); }

void ThreadPool::submit(std::function<void()> job) {
    // The submitting hub must not take an empty loop for a deadlock while the job runs.
    detail::Hub* hub = &detail::Hub::current();
    hub->add_external();
    {
        std::lock_guard g(impl_->lock);
        impl_->jobs.push_back([hub, job = std::move(job)] {
            job();
            hub->remove_external();
        });
    }
    impl_->seq.fetch_add(1, std::memory_order_release);
    detail::raw_syscall(SYS_futex, long(&impl_->seq), FUTEX_WAKE_PRIVATE, 1);
}

}  // namespace green
