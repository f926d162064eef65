// preload/threads/cancel.cpp: pthread_exit's and cancellation's unwinding of a green thread, the
// cancellation calls, and the frame a green thread's routine runs in (GreenThread::run).

#include "../core/hook.hpp"
#include "green_thread.hpp"

#include "../../libgreen/context/stack_pool.hpp"
#include "../../libgreen/hub/hub_group.hpp"
#include "../core/real.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <exception>

using namespace green::preload;
using green::detail::Hub;
using green::detail::HubGroup;
using green::detail::Task;
using green::detail::Wake;

namespace green::preload {

// ---- unwinding a green thread (pthread_exit, cancellation) ------------------------------------
//
// As glibc does for real threads: a forced unwind (_Unwind_ForcedUnwind) runs the C++ destructors
// and catch(...) blocks of the frames it crosses; its stop function runs the cleanup handlers C
// code pushed (pthread_cleanup_push registers a jump buffer, see __pthread_register_cancel below)
// by jumping into the frame that pushed them, and ends the unwinding by jumping back into
// guarded(), the frame that called the thread's start routine. glibc's own unwinder cannot be used:
// its cleanup list lives in the OS thread's descriptor, shared by all the green threads.

namespace {

// The stack pointer saved in a jump buffer (glibc mangles it with the thread's pointer guard).
uintptr_t jmpbuf_sp(const __pthread_unwind_buf_t* buf) noexcept {
    constexpr int kJbRsp = 6;
    uintptr_t v = uintptr_t(buf->__cancel_jmp_buf[0].__cancel_jmp_buf[kJbRsp]);
    uintptr_t guard;
    __asm__("mov %%fs:0x30, %0" : "=r"(guard));
    v = (v >> 0x11) | (v << (64 - 0x11));
    return v ^ guard;
}

_Unwind_Reason_Code unwind_stop(int, _Unwind_Action actions, _Unwind_Exception_Class, _Unwind_Exception*,
                                _Unwind_Context* ctx, void* arg) {
    auto* g = static_cast<GreenThread*>(arg);
    const bool end = actions & _UA_END_OF_STACK;
    const uintptr_t cfa = end ? 0 : _Unwind_GetCFA(ctx);
    if (__pthread_unwind_buf_t* buf = g->cleanup_top) {
        if (end || cfa > jmpbuf_sp(buf)) {
            // This frame pushed a cleanup handler: run it there (it then calls __pthread_unwind_next).
            g->cleanup_top = static_cast<__pthread_unwind_buf_t*>(buf->__pad[0]);
            longjmp(reinterpret_cast<__jmp_buf_tag*>(buf->__cancel_jmp_buf), 1);
        }
    }
    if (end || cfa > g->unwind_stop) siglongjmp(g->unwinding->done, 1);
    return _URC_NO_REASON;
}

// The frame that bounds the unwinding: the stop function jumps out once it reaches a frame whose
// CFA lies above this frame's base (this frame's caller, or this frame itself, depending on which
// CFA the unwinder reports), before any handler in guarded() could see the forced unwind.
__attribute__((noinline)) void call_body(GreenThread* g, void (*body)(GreenThread*)) {
    g->unwind_stop = uintptr_t(__builtin_frame_address(0));
    body(g);
    __asm__ volatile("" ::: "memory");  // a real call above, not a tail jump: this frame must stay
}

// Runs body(g); a pthread_exit or a cancellation inside it unwinds back to here (false).
__attribute__((noinline)) bool guarded(GreenThread* g, void (*body)(GreenThread*)) {
    Unwinding here;
    g->unwinding = &here;
    if (sigsetjmp(here.done, 0) != 0) {
        g->unwind_stop = 0;
        g->unwinding = nullptr;
        return false;
    }
    try {
        call_body(g, body);
    } catch (...) {
        std::terminate();  // as natively: an exception leaving a thread's start routine
    }
    g->unwind_stop = 0;
    g->unwinding = nullptr;
    return true;
}

[[noreturn]] void cancel_now(GreenThread* g) {
    g->result = PTHREAD_CANCELED;
    unwind(g);
}

}  // namespace

[[noreturn]] void unwind(GreenThread* g) {
    if (!g->unwind_stop) {
        const char msg[] = "green: pthread_exit/pthread_cancel outside a green thread's routine\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    g->exiting = true;
    g->cancel_state = PTHREAD_CANCEL_DISABLE;  // cleanup handlers are not cancelled again
    _Unwind_Exception* exc = &g->unwinding->exc;
    memset(exc, 0, sizeof *exc);
    exc->exception_class = 0x47524e4c45584954ull;  // "GRNLEXIT"
    _Unwind_ForcedUnwind(exc, unwind_stop, g);
    const char msg[] = "green: cannot unwind a green thread for pthread_exit/pthread_cancel\n";
    (void)!write(2, msg, sizeof msg - 1);
    abort();
}

bool cancel_pending() noexcept {
    GreenThread* g = current_green();
    return g && g->cancel_state == PTHREAD_CANCEL_ENABLE && !g->exiting &&
           g->cancel_requested.load(std::memory_order_relaxed);
}

void cancel_point() {
    if (__builtin_expect(cancel_pending(), 0)) cancel_now(current_green());
}

void GreenThread::run() {
    const bool own_tls = tcb != nullptr;
    if (own_tls) tcb_thread_started();
    guarded(this, [](GreenThread* g) {
        if (g->c11)
            g->result = reinterpret_cast<void*>(
                intptr_t(reinterpret_cast<int (*)(void*)>(reinterpret_cast<void (*)()>(g->start))(g->arg)));
        else g->result = g->start(g->arg);
    });
    // As glibc: C++ thread_local destructors first, then the key destructors.
    if (own_tls) guarded(this, [](GreenThread*) { tcb_run_tls_destructors(); });
    // A destructor calling pthread_exit ends only its own round.
    for (int i = 0; i < PTHREAD_DESTRUCTOR_ITERATIONS; ++i)
        if (guarded(this, [](GreenThread* g) { run_key_destructors(g->keys); })) break;
    // In a fork child the forking green thread became its process's only thread: as natively,
    // the process ends when it does.
    if (hub->root() == this) exit(0);
    if (own_tls) tcb_thread_ending(this);
}

}  // namespace green::preload

// ---- cancellation --------------------------------------------------------------------------
//
// Deferred cancellation of green threads: pthread_cancel marks the thread and, if it is parked in
// an interruptible wait, wakes it as a signal would; the cancellation acts at the next
// cancellation point (cond waits, sem waits, join, testcancel here; the I/O hooks call
// cancel_point()). Asynchronous cancellation is treated as deferred. Native threads: libc's.

GREEN_HOOK(int, pthread_cancel, pthread_t t) {
    HOOK_ENTER(pthread_cancel);
    GreenThread* g = find_green(t);
    if (!g) return REAL(pthread_cancel)(t);
    g->cancel_requested.store(true, std::memory_order_relaxed);
    if (g->cancel_state == PTHREAD_CANCEL_ENABLE && !g->exiting && g != current_green()) {
        Hub::wake_for_signal(g);
    }
    g->release();
    return 0;
}

GREEN_HOOK(int, pthread_setcancelstate, int state, int* old) {
    HOOK_ENTER(pthread_setcancelstate);
    GreenThread* g = current_green();
    if (!g) return REAL(pthread_setcancelstate)(state, old);
    if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE) return EINVAL;
    if (old) *old = g->exiting ? PTHREAD_CANCEL_DISABLE : g->cancel_state;
    if (!g->exiting) g->cancel_state = state;
    return 0;
}

GREEN_HOOK(int, pthread_setcanceltype, int type, int* old) {
    HOOK_ENTER(pthread_setcanceltype);
    GreenThread* g = current_green();
    if (!g) return REAL(pthread_setcanceltype)(type, old);
    if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS) return EINVAL;
    if (type == PTHREAD_CANCEL_ASYNCHRONOUS)
        debug_once("pthread_setcanceltype", "asynchronous cancellation of green threads acts at cancellation points");
    if (old) *old = g->cancel_type;
    g->cancel_type = type;
    return 0;
}

GREEN_HOOK(void, pthread_testcancel) {
    HOOK_ENTER(pthread_testcancel);
    if (current_green()) return cancel_point();
    REAL(pthread_testcancel)();
}

// pthread_cleanup_push/pop in C code without -fexceptions: the handler's jump buffer is linked
// per green thread (glibc links it in the OS thread's descriptor, which green threads share).
GREEN_HOOK(void, __pthread_register_cancel, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_register_cancel);
    GreenThread* g = current_green();
    if (!g) return REAL(__pthread_register_cancel)(buf);
    buf->__pad[0] = g->cleanup_top;
    g->cleanup_top = buf;
}

GREEN_HOOK(void, __pthread_unregister_cancel, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_unregister_cancel);
    GreenThread* g = current_green();
    if (!g) return REAL(__pthread_unregister_cancel)(buf);
    g->cleanup_top = static_cast<__pthread_unwind_buf_t*>(buf->__pad[0]);
}

GREEN_HOOK(void, __pthread_register_cancel_defer, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_register_cancel_defer);
    GreenThread* g = current_green();
    if (!g) return REAL(__pthread_register_cancel_defer)(buf);
    buf->__pad[0] = g->cleanup_top;
    buf->__pad[2] = reinterpret_cast<void*>(intptr_t(g->cancel_type));
    g->cleanup_top = buf;
    g->cancel_type = PTHREAD_CANCEL_DEFERRED;
}

GREEN_HOOK(void, __pthread_unregister_cancel_restore, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_unregister_cancel_restore);
    GreenThread* g = current_green();
    if (!g) return REAL(__pthread_unregister_cancel_restore)(buf);
    g->cleanup_top = static_cast<__pthread_unwind_buf_t*>(buf->__pad[0]);
    g->cancel_type = int(reinterpret_cast<intptr_t>(buf->__pad[2]));
}

// A cleanup handler run by the unwinding has returned: go on unwinding.
GREEN_HOOK(void, __pthread_unwind_next, __pthread_unwind_buf_t* buf) {
    HOOK_ENTER(__pthread_unwind_next);
    GreenThread* g = current_green();
    if (!g) REAL(__pthread_unwind_next)(buf);
    else unwind(g);
    __builtin_unreachable();
}
