// context/sanitizers.hpp: which sanitizer this file is compiled under (GCC says it with
// __SANITIZE_*__, clang with __has_feature), for the fiber annotations of fiber.cpp and
// stack_pool.cpp. Nothing here when no sanitizer is on.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define GREEN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GREEN_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GREEN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GREEN_TSAN 1
#endif
#endif
