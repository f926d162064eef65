// context/libc.cpp: libc's own functions, reached by a pointer resolved on first use (libc.hpp).
#include "libc.hpp"

#include "raw_syscall.hpp"

#include <dlfcn.h>
#include <sys/syscall.h>

#include <cstdlib>
#include <cstring>

namespace green::detail::libc {

namespace {

[[noreturn]] void missing(const char* name) noexcept {
    static const char head[] = "green: cannot find libc's ";
    raw_syscall(SYS_write, 2, long(head), long(sizeof head - 1));
    raw_syscall(SYS_write, 2, long(name), long(strlen(name)));
    raw_syscall(SYS_write, 2, long("\n"), 1);
    abort();
}

// What `name` binds to for the program, or the next definition if that is this library's own
// (the preload's hook).
void* resolve(const char* name) noexcept {
    void* f = dlsym(RTLD_DEFAULT, name);
    Dl_info found{}, self{};
    if (!f ||
        (dladdr(f, &found) && dladdr(reinterpret_cast<void*>(&resolve), &self) && found.dli_fbase == self.dli_fbase))
        f = dlsym(RTLD_NEXT, name);
    if (!f) missing(name);
    return f;
}

// The slot's function, resolved once; threads racing here store the same pointer. (No
// function-local static: its guard, contended, waits in the kernel through libc's syscall(), a
// hook.)
template <class F> F resolved(F& slot, const char* name) noexcept {
    F f = __atomic_load_n(&slot, __ATOMIC_ACQUIRE);
    if (__builtin_expect(f != nullptr, 1)) return f;
    f = reinterpret_cast<F>(resolve(name));
    __atomic_store_n(&slot, f, __ATOMIC_RELEASE);
    return f;
}

int (*g_pthread_create)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*) = nullptr;
int (*g_sigaction)(int, const struct sigaction*, struct sigaction*) = nullptr;
int (*g_pthread_setcancelstate)(int, int*) = nullptr;
int (*g_pthread_join)(pthread_t, void**) = nullptr;

}  // namespace

int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) noexcept {
    return resolved(g_pthread_create, "pthread_create")(t, attr, fn, arg);
}

int sigaction(int sig, const struct sigaction* act, struct sigaction* old) noexcept {
    return resolved(g_sigaction, "sigaction")(sig, act, old);
}

int pthread_setcancelstate(int state, int* old) noexcept {
    return resolved(g_pthread_setcancelstate, "pthread_setcancelstate")(state, old);
}

int pthread_join(pthread_t t, void** ret) noexcept { return resolved(g_pthread_join, "pthread_join")(t, ret); }

}  // namespace green::detail::libc
