// context/libc.hpp: libc's own functions, for the runtime's calls that no raw system call makes.
//
// Contract: each function here calls the definition its name has for the program (libc's, or a
// sanitizer's interceptor), unless that is this library's own: in the preload, the runtime is
// linked into the library that defines libc's names as its hooks, and a call by name binds to the
// hook (-Bsymbolic-functions). Then the next definition after it, libc's, is taken (as
// compiler-rt's interceptors reject their own symbol). Resolved with dlsym on first use; a name
// that cannot be resolved ends the process with a message, never a silent crash later.
// Async-signal-safe once resolved: call each once outside a signal handler first.
#pragma once

#include <pthread.h>
#include <signal.h>

namespace green::detail::libc {

int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) noexcept;
int sigaction(int sig, const struct sigaction* act, struct sigaction* old) noexcept;
int pthread_setcancelstate(int state, int* old) noexcept;
int pthread_join(pthread_t t, void** ret) noexcept;

}  // namespace green::detail::libc
