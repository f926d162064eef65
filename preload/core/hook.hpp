// preload/core/hook.hpp: how a hook is defined, and the table that counts its calls.
//
//   GREEN_HOOK(ssize_t, read, int fd, void* buf, size_t n) {
//       HOOK_ENTER(read);
//       ...  REAL(read)(fd, buf, n) for libc's own
//   }
//
// As compiler-rt's INTERCEPTOR: GREEN_HOOK defines the exported libc name (the build exports
// exactly these: tools/preload_exports.sh) and gives it a slot in one table, the section
// green_hooks, which GREEN_STATS prints ("read 5"). Its name also goes in the section
// green_hook_names, so that `readelf -p green_hook_names libgreen_preload.so` lists every hook
// (tests/symbols/run.sh compares that list with the exports). HOOK_ENTER(name) counts the call;
// a hook that forgets it leaves its static entry function unused, which -Werror builds refuse.
// A trailing noexcept, where glibc declares the function so, follows the macro.
#pragma once

#include "runtime.hpp"

#include <atomic>
#include <cstdint>
#include <span>

namespace green::preload {

struct HookSlot {
    const char* name;
    std::atomic<uint64_t> calls;
};

// The table: every GREEN_HOOK's slot, in link order (the linker names its ends).
std::span<HookSlot> hook_slots() noexcept;

// The runtime's own calls that reach a hook (libev's epoll_wait, its wake-up write, what a hub
// makes while it is created) are not the program's: not counted.
inline void count_call(HookSlot& slot) noexcept {
    if (__builtin_expect(config.stats, 0) && !detail::Hub::in_runtime() && !detail::Hub::constructing())
        slot.calls.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace green::preload

#define GREEN_HOOK(ret, name, ...)                                                                           \
    GREEN_HOOK_SLOT(name);                                                                                   \
    static void green_hook_enter_##name() noexcept { ::green::preload::count_call(green_hook_slot_##name); } \
    extern "C" ret name(__VA_ARGS__)

#define HOOK_ENTER(name) green_hook_enter_##name()

// A hook written in assembly (vfork: nothing may use the stack before its system call) is in the
// table, never counted.
#define GREEN_HOOK_IN_ASM(name) GREEN_HOOK_SLOT(name)

#define GREEN_HOOK_SLOT(name)                                                                                       \
    [[gnu::section("green_hook_names"), gnu::used]] static const char green_hook_name_##name[] = #name;             \
    [[gnu::section("green_hooks"), gnu::used]] static constinit ::green::preload::HookSlot green_hook_slot_##name { \
        green_hook_name_##name, { 0 }                                                                               \
    }
