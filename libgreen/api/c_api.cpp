// api/c_api.cpp: the C API. No exception crosses into C: each is turned into -1 and errno.
#include <green/green.h>
#include <green/green.hpp>

#include "../hub/hub.hpp"

#include <cerrno>
#include <stdexcept>

struct green_greenlet {
    green::Greenlet<void*> g;
};

namespace {
int fail_from_exception() {
    try {
        throw;
    } catch (const green::LoopExit&) {
        errno = EDEADLK;
    } catch (const std::system_error& e) {
        errno = e.code().value();
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
    } catch (...) {
        errno = EINTR;
    }
    return -1;
}
}  // namespace

extern "C" {

green_t* green_spawn_stack(void* (*fn)(void*), void* arg, unsigned long stack_size) {
    try {
        green::SpawnOptions opts;
        opts.stack_size = stack_size;
        return new green_greenlet{green::spawn_with(opts, fn, arg)};
    } catch (...) {
        fail_from_exception();
        return nullptr;
    }
}

green_t* green_spawn(void* (*fn)(void*), void* arg) { return green_spawn_stack(fn, arg, 0); }

int green_start_hubs(int n) { return green::start_hubs(n); }

int green_hub_count(void) { return green::hub_count(); }

static_assert(GREEN_THIS_HUB == green::this_hub && GREEN_ANY_HUB == green::any_hub);

green_t* green_spawn_on(int hub, void* (*fn)(void*), void* arg) {
    try {
        green::SpawnOptions opts;
        opts.hub = hub;
        return new green_greenlet{green::spawn_with(opts, fn, arg)};
    } catch (const std::out_of_range&) {
        errno = EINVAL;
        return nullptr;
    } catch (...) {
        fail_from_exception();
        return nullptr;
    }
}

int green_join(green_t* g, double timeout, void** result) {
    try {
        if (!g->g.join(timeout)) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (result) *result = g->g.value().value_or(nullptr);
        return 0;
    } catch (...) {
        return fail_from_exception();
    }
}

int green_dead(const green_t* g) { return g->g.dead(); }

void green_release(green_t* g) { delete g; }

int green_sleep(double seconds) {
    try {
        green::sleep(seconds);
        return 0;
    } catch (...) {
        return fail_from_exception();
    }
}

int green_yield(void) { return green_sleep(0); }

int green_wait_readable(int fd, double timeout) {
    try {
        return green::wait_readable(fd, timeout) ? 1 : 0;
    } catch (...) {
        return fail_from_exception();
    }
}

int green_wait_writable(int fd, double timeout) {
    try {
        return green::wait_writable(fd, timeout) ? 1 : 0;
    } catch (...) {
        return fail_from_exception();
    }
}

unsigned long long green_current_id(void) {
    green::detail::Hub& h = green::detail::Hub::current();
    return h.running() == h.root() ? 0 : h.running()->id;
}
}
