// context/fiber.cpp: the one file that includes Boost.Context.
//
// Symmetric switching on top of boost::context::fiber: resume() hands the resumed side the
// continuation of the side that left, so the switcher leaves a pointer to its own Context in
// tls_from and whoever runs next stores the continuation there.
#include <green/detail/task.hpp>

#include "stack_pool.hpp"

#include <boost/context/fiber.hpp>

#include <new>
#include <utility>

namespace green::detail {
namespace {

namespace bc = boost::context;
static_assert(sizeof(bc::fiber) == sizeof(void*), "Context stores a fiber in one pointer's space");

// Whose continuation the next resume() returns (null when that side ended).
thread_local Context* tls_from __attribute__((tls_model("initial-exec"))) = nullptr;

bc::fiber& fiber_of(unsigned char* raw) { return *std::launder(reinterpret_cast<bc::fiber*>(raw)); }

struct PoolStack {
    Stack stack;
    bc::stack_context allocate() {
        bc::stack_context sc;
        sc.sp = stack.lo + stack.size;
        sc.size = stack.size;
        return sc;
    }
    // Boost runs this on the next fiber's stack once this one has ended.
    void deallocate(bc::stack_context&) noexcept { StackPool::release(stack); }
};

}  // namespace

void Context::create(Stack stack, Entry entry, void* arg) {
    new (fiber_) bc::fiber(std::allocator_arg, PoolStack{stack}, [entry, arg](bc::fiber&& from) {
        // tls_from is null when the side that left has ended (its stack is being released).
        if (tls_from) fiber_of(tls_from->fiber_) = std::move(from);
        Context* next = entry(arg);
        tls_from = nullptr;  // this side is gone: nothing to store
        return std::move(fiber_of(next->fiber_));
    });
    started_ = true;
}

void Context::switch_to(Context* to) {
    tls_from = this;
    bc::fiber back = std::move(fiber_of(to->fiber_)).resume();
    if (tls_from) fiber_of(tls_from->fiber_) = std::move(back);
}

}  // namespace green::detail
