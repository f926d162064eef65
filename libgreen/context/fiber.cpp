// context/fiber.cpp: the one file that includes Boost.Context.
//
// Symmetric switching on Boost.Context's fcontext layer: jump_fcontext(to, from) hands the resumed
// side the suspended context of the side that left together with `from`, so whoever runs next
// stores it where `from` will be resumed. A fiber that ends leaves with ontop_fcontext, which
// releases its stack on the next fiber's stack, after nothing runs on it any more.
//
// Under AddressSanitizer and ThreadSanitizer every switch is announced to the sanitizer (see
// "Sanitizers" below); without them those hooks are empty inline functions.
#include <green/detail/task.hpp>

#include "stack_pool.hpp"

#include <boost/context/detail/fcontext.hpp>

#include <execinfo.h>

#include <new>

#include "sanitizers.hpp"

#if GREEN_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if GREEN_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if GREEN_ASAN || GREEN_TSAN
#define GREEN_SAN_FIBERS 1
#endif

// The switch below, the thread pointer and the preload's hooks are x86-64 Linux and glibc only
// (after the includes: <features.h> defines __GLIBC__).
#if !defined(__x86_64__) || !defined(__linux__) || !defined(__GLIBC__)
#error "libgreen supports x86-64 Linux with glibc only"
#endif

// Boost's jump_fcontext (x86-64 SysV), except that it returns with `ret` instead of
// `movq 0x38(%rsp), %r8; ...; jmp *%r8`: the call into it and the ret out of it stay paired, so
// the CPU's return-stack predictor keeps matching the (shared) switch path of every greenlet; and
// it reloads MXCSR and the x87 control word only when they differ (each fiber keeps its own, as a
// thread does, but ldmxcsr/fldcw are slow and the two nearly never differ).
extern "C" boost::context::detail::transfer_t green_jump_fcontext(boost::context::detail::fcontext_t, void*);
asm(R"(
.text
.p2align 4
.globl green_jump_fcontext
.hidden green_jump_fcontext
.type green_jump_fcontext,@function
green_jump_fcontext:
    leaq  -0x38(%rsp), %rsp
    stmxcsr (%rsp)
    fnstcw 0x4(%rsp)
    movq  %r12, 0x8(%rsp)
    movq  %r13, 0x10(%rsp)
    movq  %r14, 0x18(%rsp)
    movq  %r15, 0x20(%rsp)
    movq  %rbx, 0x28(%rsp)
    movq  %rbp, 0x30(%rsp)
    movq  %rsp, %rax
    movq  %rdi, %rsp
    movl  (%rsp), %ecx
    cmpl  (%rax), %ecx
    je    1f
    ldmxcsr (%rsp)
1:  movw  0x4(%rsp), %cx
    cmpw  0x4(%rax), %cx
    je    2f
    fldcw 0x4(%rsp)
2:
    movq  0x8(%rsp), %r12
    movq  0x10(%rsp), %r13
    movq  0x18(%rsp), %r14
    movq  0x20(%rsp), %r15
    movq  0x28(%rsp), %rbx
    movq  0x30(%rsp), %rbp
    leaq  0x38(%rsp), %rsp
    movq  %rsi, %rdx
    movq  %rax, %rdi
    ret
.size green_jump_fcontext,.-green_jump_fcontext
.section .note.GNU-stack,"",%progbits
.text
)");

// A fresh fiber's first instructions: Boost's entry stub calls the context function with the
// transfer in rdi/rsi; the fiber's own Context rides in r12, which make_fcontext's frame restores
// like any callee-saved register. It cannot come from thread-local storage: the thread pointer may
// change at this very switch (a green thread with a TCB of its own).
extern "C" [[noreturn]] void green_fiber_start(boost::context::detail::transfer_t, green::detail::Context*);
asm(R"(
.text
.p2align 4
.globl green_fiber_entry
.hidden green_fiber_entry
.type green_fiber_entry,@function
green_fiber_entry:
    movq  %r12, %rdx
    jmp   green_fiber_start
.size green_fiber_entry,.-green_fiber_entry
.section .note.GNU-stack,"",%progbits
.text
)");
extern "C" void green_fiber_entry(boost::context::detail::transfer_t);

namespace green::detail {

namespace bcd = boost::context::detail;

// Sanitizers. ASan must know which stack runs (it unpoisons the current stack when an exception
// is thrown, and keeps a fake stack per fiber for use-after-return); TSan keeps a shadow call stack
// and a vector clock per fiber. Every switch is bracketed:
//   before: __sanitizer_start_switch_fiber(&fake, target's stack bottom, size), NULL instead of
//           &fake when the fiber ends for good; then __tsan_switch_to_fiber(target, 0), which also
//           makes everything before the switch happen-before everything after it;
//   after:  __sanitizer_finish_switch_fiber(fake, &old_bottom, &old_size) in the resumed fiber.
// Task.hpp's Context has no room for this, and must not change with the build flags, so:
//  - a fiber's record (SanFiber) sits at the top of its stack, just below reserved_top; arg_
//    points to it and the record holds the entry's real argument;
//  - a thread's root context (adopt_running_thread: no entry, no stack) keeps its TSan fiber in
//    arg_ (the thread's own, taken when it first leaves) and its ASan stack bounds in stack_ (not
//    known before it first leaves: finish_switch_fiber reports them to whoever runs next).
// A fiber's TSan fiber is destroyed when its stack is released on its end (release_stack). The
// hub's own fiber is abandoned instead (Hub::~Hub gives its stack straight to StackPool::release,
// which calls sanitizer_stack_released below): its record is found at the top of the stack,
// where it is for any fiber without reserved_top, and recognized by its magic word and bottom.
// StackPool::release unpoisons what ASan left poisoned on a stack (frames that never returned).
// The hooks are forced inline and nothing is read between __tsan_switch_to_fiber and the jump:
// TSan charges every access, and every instrumented function's exit, to the fiber it believes
// runs. A helper's own exit after the switch would pop the target's shadow call stack (below
// its base for a fresh fiber: corrupt reports, or a crash in TSan's stack depot).
struct SanFiber {
    static constexpr uint64_t kMagic = 0x6e65657267736174;  // while `tsan` is alive
    uint64_t magic;
    void* arg;           // the entry's argument
    void* tsan;          // TSan's fiber
    const void* bottom;  // ASan: the usable stack, below this record
    size_t size;
};

struct ContextAccess {
#if GREEN_SAN_FIBERS
    static bool is_root(const Context* c) { return c->entry_ == nullptr; }
    static SanFiber* record(const Context* c) { return static_cast<SanFiber*>(c->arg_); }
    static void* entry_arg(const Context* c) { return record(c)->arg; }
    // Where create() puts the record of a fiber on `stack`.
    static SanFiber* record_at(const Stack& stack, size_t reserved_top) {
        auto top = reinterpret_cast<uintptr_t>(stack.lo + stack.size - reserved_top);
        return reinterpret_cast<SanFiber*>((top - sizeof(SanFiber)) & ~uintptr_t(15));
    }
    static void destroy_tsan([[maybe_unused]] SanFiber* rec) {
#if GREEN_TSAN
        __tsan_destroy_fiber(rec->tsan);
#endif
        rec->magic = 0;
    }
#else
    static void* entry_arg(const Context* c) { return c->arg_; }
#endif

    // `from` is running and hands over to `to`; fake_save: where ASan keeps from's fake stack,
    // null if `from` ends. The last thing before the jump.
    __attribute__((always_inline)) static void before_switch([[maybe_unused]] Context* from,
                                                             [[maybe_unused]] Context* to,
                                                             [[maybe_unused]] void** fake_save) {
#if GREEN_ASAN
        if (is_root(to)) __sanitizer_start_switch_fiber(fake_save, to->stack_.lo, to->stack_.size);
        else __sanitizer_start_switch_fiber(fake_save, record(to)->bottom, record(to)->size);
#endif
#if GREEN_TSAN
        if (is_root(from) && from->arg_ == nullptr) from->arg_ = __tsan_get_current_fiber();
        __tsan_switch_to_fiber(is_root(to) ? to->arg_ : record(to)->tsan, 0);
#endif
    }

    // Just resumed; `left` is the context that switched here, null if it ended (or unknown).
    __attribute__((always_inline)) static void after_switch([[maybe_unused]] void* fake,
                                                            [[maybe_unused]] Context* left) {
#if GREEN_ASAN
        const void* bottom = nullptr;
        size_t size = 0;
        __sanitizer_finish_switch_fiber(fake, &bottom, &size);
        if (left && is_root(left)) {
            left->stack_.lo = static_cast<char*>(const_cast<void*>(bottom));
            left->stack_.size = size;
        }
#endif
    }

    static void store(bcd::transfer_t t) {
        // data is the Context that left, null when it ended (its stack is gone).
        if (t.data) static_cast<Context*>(t.data)->fctx_ = t.fctx;
    }

    static bcd::transfer_t release_stack(bcd::transfer_t t) {
#if GREEN_SAN_FIBERS
        destroy_tsan(record(static_cast<Context*>(t.data)));
#endif
        StackPool::release(static_cast<Context*>(t.data)->stack_);
        return {nullptr, nullptr};
    }

    // A fiber's first entry. Entered by a jump, `t` names the context that left; entered on top
    // of release_stack (the previous fiber ended), Boost's entry stub passes whatever that call
    // left in the argument registers, not a transfer: it must not be stored through.
    [[noreturn]] static void start(bcd::transfer_t t, Context* self) {
        if (self->entered_after_end_) {
            self->entered_after_end_ = false;
            after_switch(nullptr, nullptr);
        } else {
            after_switch(nullptr, static_cast<Context*>(t.data));
            store(t);
        }
        self->fresh_ = false;
        Context* next = self->entry_(entry_arg(self));
        if (next->fresh_) next->entered_after_end_ = true;
        void* next_fctx = next->fctx_;
        before_switch(self, next, nullptr);
        bcd::ontop_fcontext(next_fctx, self, &release_stack);
        __builtin_unreachable();
    }
};

void Context::create(Stack stack, size_t reserved_top, Entry entry, void* arg) {
    stack_ = stack;
    entry_ = entry;
    arg_ = arg;
    size_t size = stack.size - reserved_top;
#if GREEN_SAN_FIBERS
    SanFiber* rec = ContextAccess::record_at(stack, reserved_top);
    size = size_t(reinterpret_cast<char*>(rec) - stack.lo);
    new (rec) SanFiber{SanFiber::kMagic, arg, nullptr, stack.lo, size};
#if GREEN_TSAN
    rec->tsan = __tsan_create_fiber(0);
#endif
    arg_ = rec;
#endif
    fctx_ = bcd::make_fcontext(stack.lo + size, size, &green_fiber_entry);
    static_cast<void**>(fctx_)[1] = this;  // the saved r12 (see green_fiber_entry)
    started_ = true;
    fresh_ = true;
    entered_after_end_ = false;
}

void Context::switch_to(Context* to) {
#if GREEN_SAN_FIBERS
    void* fake = nullptr;
    void* to_fctx = to->fctx_;
    ContextAccess::before_switch(this, to, &fake);
    bcd::transfer_t t = green_jump_fcontext(to_fctx, this);
    ContextAccess::after_switch(fake, static_cast<Context*>(t.data));
    ContextAccess::store(t);
#else
    ContextAccess::store(green_jump_fcontext(to->fctx_, this));
#endif
}

namespace {
struct TraceRequest {
    void** frames;
    int max;
    int n;
};

// Runs on top of a suspended fiber's stack (ontop_fcontext keeps the fiber's resume address as
// this call's return address, so the unwinder walks on into the fiber's frames). It switches back
// to the tracer at once and stays here: the fiber's next real resume lands below and returns
// that resume's transfer to the switch the fiber was suspended in.
bcd::transfer_t trace_on_top(bcd::transfer_t t) {
    auto* req = static_cast<TraceRequest*>(t.data);
    req->n = backtrace(req->frames, req->max);
    return green_jump_fcontext(t.fctx, nullptr);
}
}  // namespace

int Context::backtrace_suspended(void** frames, int max) {
#if GREEN_SAN_FIBERS
    (void)frames;
    (void)max;
    return 0;  // a stack switch the sanitizer was not told of would confuse it
#else
    if (!started_ || fresh_ || !fctx_ || max <= 0) return 0;
    // The unwinder needs a few KiB below the fiber's saved frame (thread stacks: no bound known).
    if (stack_.lo && static_cast<char*>(fctx_) - stack_.lo < (16 << 10)) return 0;
    TraceRequest req{frames, max, 0};
    fctx_ = bcd::ontop_fcontext(fctx_, &req, &trace_on_top).fctx;
    return req.n;
#endif
}

#if GREEN_SAN_FIBERS
// Called by StackPool::release (sanitizer builds): a fiber abandoned on `stack` (the hub's) has
// its TSan fiber destroyed. One that ended has already (its record's magic is cleared).
void sanitizer_stack_released(const Stack& stack) noexcept {
    SanFiber* rec = ContextAccess::record_at(stack, 0);
    if (rec->magic == SanFiber::kMagic && rec->bottom == stack.lo) ContextAccess::destroy_tsan(rec);
}
#endif

}  // namespace green::detail

extern "C" void green_fiber_start(boost::context::detail::transfer_t t, green::detail::Context* self) {
    green::detail::ContextAccess::start(t, self);
}
