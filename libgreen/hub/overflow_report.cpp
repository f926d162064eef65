// hub/overflow_report.cpp: a greenlet that overflows its stack is named, not a bare SIGSEGV.
//
// A hit on the running task's guard page (SIGSEGV, handled on the thread's alternate signal stack)
// or a canary a switch finds overwritten (hub.cpp) ends the process with the greenlet named; any
// other fault goes to the handler the program had, or to the default action.
#include "hub_parts.hpp"

#include "hub.hpp"
#include "../context/once.hpp"
#include "../context/raw_syscall.hpp"
#include "../context/stack_pool.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

namespace green::detail {

namespace {

constexpr size_t kAltStackSize = 64 << 10;
struct sigaction previous_segv;  // the program's handler, for faults that are not an overflow

}  // namespace

namespace {

// Twice the size, rounded up to a power of two: the next size worth trying.
size_t bigger_stack(size_t size) {
    size_t b = 64 << 10;
    while (b < 2 * size && b < (size_t(1) << 40)) b <<= 1;
    return b;
}

// "128K", "2M": how GREEN_STACK_SIZE and greenrun --stack-size write it.
void size_text(size_t bytes, char* out, size_t n) {
    if (bytes % (1 << 20) == 0) snprintf(out, n, "%zuM", bytes >> 20);
    else snprintf(out, n, "%zuK", bytes >> 10);
}

}  // namespace

[[noreturn]] void report_overflow(const Task* t, const char* how) {
    const size_t bigger = bigger_stack(t->stack.size);
    char advice[320], text[32];
    size_text(bigger, text, sizeof text);
    if (Hub::overflow_advice) {
        Hub::overflow_advice(t, bigger, text, advice, sizeof advice);
    } else {
        snprintf(advice, sizeof advice,
                 "give it a larger stack, e.g. twice this one: green::spawn_with({.stack_size = %zu}, ...), or "
                 "GREEN_STACK_SIZE=%s for the greenlets spawned without a size",
                 bigger, text);
    }
    char buf[640];
    int n = snprintf(
        buf, sizeof buf, "green: stack overflow in greenlet #%" PRIu64 "%s%s%s (%s; stack of %zu bytes).\ngreen: %s.\n",
        t->id, t->name.empty() ? "" : " '", t->name.c_str(), t->name.empty() ? "" : "'", how, t->stack.size, advice);
    if (n > 0) raw_syscall(SYS_write, 2, long(buf), long(std::min<size_t>(n, sizeof buf - 1)));
    abort();
}

namespace {

void segv_handler(int sig, siginfo_t* si, void* uc) {
    Hub* h = tls_hub;
    if (h) {
        Task* t = h->running();
        if (t && t->stack.lo && StackPool::in_guard(t->stack, si->si_addr)) report_overflow(t, "guard page hit");
    }
    // Not a fiber's overflow: hand it to whoever had SIGSEGV before, or re-fault with the default.
    if (previous_segv.sa_flags & SA_SIGINFO) {
        if (previous_segv.sa_sigaction) return previous_segv.sa_sigaction(sig, si, uc);
    } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
        return previous_segv.sa_handler(sig);
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    native_sigaction(SIGSEGV, &dfl, nullptr);
}

}  // namespace

void install_segv_handler() {
    static Once once;
    once([] {
        struct sigaction sa {};
        sa.sa_sigaction = segv_handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        native_sigaction(SIGSEGV, &sa, &previous_segv);
    });
}

// The signal handler needs a stack of its own: the overflowing one is exhausted.
void* install_altstack() {
    stack_t old{};
    if (sigaltstack(nullptr, &old) == 0 && !(old.ss_flags & SS_DISABLE)) return nullptr;  // the program's
    size_t size = kAltStackSize;
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    stack_t ss{};
    ss.ss_sp = p;
    ss.ss_size = size;
    if (sigaltstack(&ss, nullptr) != 0) {
        munmap(p, size);
        return nullptr;
    }
    return p;
}

void remove_altstack(void* stack) noexcept {
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    munmap(stack, kAltStackSize);
}

}  // namespace green::detail
