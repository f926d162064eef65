// context/fiber.cpp: the one file that includes Boost.Context.
//
// Symmetric switching on Boost.Context's fcontext layer: jump_fcontext(to, from) hands the resumed
// side the suspended context of the side that left together with `from`, so whoever runs next
// stores it where `from` will be resumed. A fiber that ends leaves with ontop_fcontext, which
// releases its stack on the next fiber's stack, after nothing runs on it any more.
#include <green/detail/task.hpp>

#include "stack_pool.hpp"

#include <boost/context/detail/fcontext.hpp>

namespace green::detail {

namespace bcd = boost::context::detail;

struct ContextAccess {
    // The fresh context a first jump is entering (its entry needs to know which one it is).
    static inline thread_local Context* entering __attribute__((tls_model("initial-exec"))) = nullptr;

    static void store(bcd::transfer_t t) {
        // data is the Context that left, null when it ended (its stack is gone).
        if (t.data) static_cast<Context*>(t.data)->fctx_ = t.fctx;
    }

    static bcd::transfer_t release_stack(bcd::transfer_t t) {
        StackPool::release(static_cast<Context*>(t.data)->stack_);
        return {nullptr, nullptr};
    }

    [[noreturn]] static void trampoline(bcd::transfer_t t) {
        store(t);
        Context* self = entering;
        Context* next = self->entry_(self->arg_);
        entering = next;  // in case next is fresh: its trampoline reads this
        bcd::ontop_fcontext(next->fctx_, self, &release_stack);
        __builtin_unreachable();
    }
};

void Context::create(Stack stack, Entry entry, void* arg) {
    stack_ = stack;
    entry_ = entry;
    arg_ = arg;
    fctx_ = bcd::make_fcontext(stack.lo + stack.size, stack.size, &ContextAccess::trampoline);
    started_ = true;
}

void Context::switch_to(Context* to) {
    ContextAccess::entering = to;
    ContextAccess::store(bcd::jump_fcontext(to->fctx_, this));
}

}  // namespace green::detail
