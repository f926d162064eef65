// preload/threads/tcb.hpp: a thread control block of its own for each green thread.
//
// Contract:
//  - A green thread is a thread in what a program sees of its TLS: under TlsMode::Thread each one
//    gets glibc's thread descriptor (struct pthread) and static TLS, built as glibc builds them
//    for a real thread (_dl_allocate_tls, the initial images, __ctype_init, __resp, the stack
//    guard and pointer guard copied), at the top of its own stack; the hub installs it at each
//    switch (Task::tcb). Under TlsMode::Shared the green threads of a hub share its OS thread's
//    TLS (errno is still each one's own).
//  - What the runtime keeps per OS thread stays reachable through any TCB of that OS thread: a
//    new TCB gets a copy of the runtime's own TLS block (pointers to per-OS-thread records, never
//    state that changes), and of malloc's per-thread words (its cache and arena), so that every
//    green thread of an OS thread allocates as that OS thread does and nothing is lost when one
//    ends (glibc frees a thread's malloc cache only at a real thread's exit). When a hand-off
//    moves a green thread to another OS thread, its TCB takes that thread's words (tcb_sync).
//  - Each green thread has a thread id of its own (gettid(), and glibc's descriptor), above any
//    id the kernel hands out (PID_MAX_LIMIT): the main thread keeps getpid().
//  - Nothing here throws. If glibc does not offer what is needed, the mode is Shared and
//    GREEN_DEBUG says why.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace green::detail {
struct Task;
}

namespace green::preload {

struct GreenThread;

enum class TlsMode : unsigned char { Shared, Thread };

// GREEN_TLS: thread | shared | auto (the default: thread where switching the thread pointer is
// an instruction, or where a library besides libc keeps thread-local state; else shared).
// Decided at the first pthread_create, in the creating thread.
TlsMode tls_mode() noexcept;

// Task::place_tcb for green threads (see the contract); returns the bytes taken at the stack top.
size_t tcb_place(detail::Task* t) noexcept;
// Hub::sync_tcb: a green thread's TCB takes the per-OS-thread words (malloc's cache and arena,
// the runtime's own TLS block) of the OS thread it is about to run on (a hand-off moved it).
void tcb_sync(void* task_tcb, const void* carrier_tcb) noexcept;
// A TCB for the runtime's own code on the calling OS thread, once hand-off lets its root thread
// (and that thread's own TCB) run elsewhere; null if none can be made.
void* tcb_make_carrier() noexcept;
// In the green thread's own context, before its start routine.
void tcb_thread_started() noexcept;
// In the green thread's own context after its routine: C++ thread_local destructors (before the
// key destructors, as glibc orders them).
void tcb_run_tls_destructors() noexcept;
// Last thing in the green thread's own context: its dynamic TLS, DTV and libc buffers are freed.
void tcb_thread_ending(detail::Task* t) noexcept;
// When the record dies (after the fiber ended): frees what tcb_thread_ending kept.
void tcb_release(GreenThread* g) noexcept;
// After a dlopen: a library with static (initial-exec) TLS gets its initial image in every live
// green thread's TCB (glibc initialises it only in threads on its own lists).
void tcb_after_dlopen() noexcept;

// Thread ids of green threads: kGreenTidBase + the thread's number.
inline constexpr pid_t kGreenTidBase = 1 << 22;

}  // namespace green::preload
