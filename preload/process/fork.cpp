// preload/process/fork.cpp: fork, _Fork and vfork.
//
//  - fork/_Fork: in the child only the calling green thread survives (Hub::after_fork: it becomes
//    the thread's root task, the loop is reset with ev_loop_fork). Works from any green thread.
//  - vfork: libc's own system call sequence, in assembly (a C wrapper would return through a stack
//    frame the child then overwrites); it only marks the child (process.hpp) so that no hook
//    parks or touches the runtime's state there.
#include "../core/hook.hpp"
#include "process.hpp"

#include "../core/fd_table.hpp"
#include "../core/real.hpp"
#include "../threads/green_thread.hpp"

#include <unistd.h>

using namespace green::preload;
using green::detail::Hub;
using green::detail::Wake;

// ---- vfork ---------------------------------------------------------------------------------

__thread unsigned char green_vfork_child = 0;

GREEN_HOOK_IN_ASM(vfork);
GREEN_HOOK_IN_ASM(__vfork);

// glibc's sysdeps/unix/sysv/linux/x86_64/vfork.S plus the child mark: the return address is kept
// in %rdi across the system call (the child will have used the stack by the time the parent
// resumes), the parent clears the mark, an error goes to errno.
asm(R"(
    .pushsection .text
    .globl vfork
    .globl __vfork
    .type vfork, @function
    .type __vfork, @function
    .p2align 4
vfork:
__vfork:
    .cfi_startproc
    endbr64
    movq green_vfork_child@gottpoff(%rip), %rcx
    movb $1, %fs:(%rcx)
    popq %rdi
    .cfi_adjust_cfa_offset -8
    .cfi_register rip, rdi
    movl $58, %eax
    syscall
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    testq %rax, %rax
    je 1f
    movq green_vfork_child@gottpoff(%rip), %rcx
    movb $0, %fs:(%rcx)
    cmpq $-4095, %rax
    jae 2f
1:  ret
2:  negl %eax
    pushq %rax
    .cfi_adjust_cfa_offset 8
    call __errno_location@PLT
    popq %rcx
    .cfi_adjust_cfa_offset -8
    movl %ecx, (%rax)
    movq $-1, %rax
    ret
    .cfi_endproc
    .size vfork, .-vfork
    .size __vfork, .-__vfork
    .popsection
)");

namespace {

// ---- fork ----------------------------------------------------------------------------------

// atfork: whether real_fork runs the pthread_atfork handlers (fork does, _Fork does not: then
// what the preload registered there is done here).
template <class Fork> pid_t fork_with(Fork real_fork, bool atfork) {
    // The hub this thread has, if any (a fork does not create one); none inside the runtime's own
    // loop, and none in a vfork child, whose hub is its parent's.
    const bool ours = ready && !in_vfork_child();
    Hub* h = ours && !Hub::in_runtime() ? Hub::current_or_null() : nullptr;
    pid_t pid = real_fork();
    if (pid >= 0 && ours) {
        int e = errno;
        if (pid == 0) fork_child_reset_locks();  // before anything here takes one of them
        if (!atfork) FdTable::after_fork();      // every descriptor is now shared with another process
        if (pid == 0 && h) h->after_fork();
        if (pid == 0) sigmask_after_fork();
        errno = e;
    }
    return pid;
}

}  // namespace

GREEN_HOOK(pid_t, fork) {
    HOOK_ENTER(fork);
    return fork_with([] { return REAL(fork)(); }, true);
}

GREEN_HOOK(pid_t, _Fork) {
    HOOK_ENTER(_Fork);
    return fork_with([] { return REAL(_Fork)(); }, false);
}
