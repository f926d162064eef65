// preload/core/real.hpp: reaching the libc functions the preload shadows.
//
// REAL(read)(fd, buf, n) calls the next definition of `read` after this library (libc's). Each is
// resolved once, on first use, with dlsym(RTLD_NEXT) (dlvsym for versioned symbols): hooks may run
// before any constructor, while other libraries initialise. A symbol that cannot be found is a
// loud error, never a silent crash later.
#pragma once

namespace green::preload {

void* resolve_real(const char* name, const char* version) noexcept;

template <auto Hook> struct RealSlot { static inline decltype(Hook) fn = nullptr; };

template <auto Hook> decltype(Hook) resolve_slot(const char* name, const char* version) noexcept {
    auto f = reinterpret_cast<decltype(Hook)>(resolve_real(name, version));
    RealSlot<Hook>::fn = f;
    return f;
}

}  // namespace green::preload

#define REAL(name)                                                           \
    (__builtin_expect(::green::preload::RealSlot<&::name>::fn != nullptr, 1) \
         ? ::green::preload::RealSlot<&::name>::fn                           \
         : ::green::preload::resolve_slot<&::name>(#name, nullptr))
// For symbols with several versions (pthread_cond_* has GLIBC_2.2.5 and GLIBC_2.3.2).
#define REAL_V(name, version)                                                \
    (__builtin_expect(::green::preload::RealSlot<&::name>::fn != nullptr, 1) \
         ? ::green::preload::RealSlot<&::name>::fn                           \
         : ::green::preload::resolve_slot<&::name>(#name, version))
