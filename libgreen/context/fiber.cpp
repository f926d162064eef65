// context/fiber.cpp: the one file that includes Boost.Context.
//
// Symmetric switching on Boost.Context's fcontext layer: jump_fcontext(to, from) hands the resumed
// side the suspended context of the side that left together with `from`, so whoever runs next
// stores it where `from` will be resumed. A fiber that ends leaves with ontop_fcontext, which
// releases its stack on the next fiber's stack, after nothing runs on it any more.
#include <green/detail/task.hpp>

#include "stack_pool.hpp"

#include <boost/context/detail/fcontext.hpp>

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

struct ContextAccess {
    static void store(bcd::transfer_t t) {
        // data is the Context that left, null when it ended (its stack is gone).
        if (t.data) static_cast<Context*>(t.data)->fctx_ = t.fctx;
    }

    static bcd::transfer_t release_stack(bcd::transfer_t t) {
        StackPool::release(static_cast<Context*>(t.data)->stack_);
        return {nullptr, nullptr};
    }

    // A fiber's first entry. Entered by a jump, `t` names the context that left; entered on top
    // of release_stack (the previous fiber ended), Boost's entry stub passes whatever that call
    // left in the argument registers, not a transfer: it must not be stored through.
    [[noreturn]] static void start(bcd::transfer_t t, Context* self) {
        if (self->entered_after_end_)
            self->entered_after_end_ = false;
        else
            store(t);
        self->fresh_ = false;
        Context* next = self->entry_(self->arg_);
        if (next->fresh_) next->entered_after_end_ = true;
        bcd::ontop_fcontext(next->fctx_, self, &release_stack);
        __builtin_unreachable();
    }
};

void Context::create(Stack stack, size_t reserved_top, Entry entry, void* arg) {
    stack_ = stack;
    entry_ = entry;
    arg_ = arg;
    size_t size = stack.size - reserved_top;
    fctx_ = bcd::make_fcontext(stack.lo + size, size, &green_fiber_entry);
    static_cast<void**>(fctx_)[1] = this;  // the saved r12 (see green_fiber_entry)
    started_ = true;
    fresh_ = true;
    entered_after_end_ = false;
}

void Context::switch_to(Context* to) {
    ContextAccess::store(green_jump_fcontext(to->fctx_, this));
}

}  // namespace green::detail

extern "C" void green_fiber_start(boost::context::detail::transfer_t t, green::detail::Context* self) {
    green::detail::ContextAccess::start(t, self);
}
