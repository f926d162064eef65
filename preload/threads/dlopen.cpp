// preload/threads/dlopen.cpp: libraries loaded while green threads exist.
//
// glibc gives a library with static (initial-exec) TLS its initial image only in the threads on
// its own lists; green threads with TCBs of their own get it here (tcb.hpp).
#include "../core/hook.hpp"
#include "../core/real.hpp"
#include "tcb.hpp"

#include <dlfcn.h>

GREEN_HOOK(void*, dlopen, const char* file, int mode) {
    HOOK_ENTER(dlopen);
    void* h = REAL(dlopen)(file, mode);
    if (h) green::preload::tcb_after_dlopen();
    return h;
}
