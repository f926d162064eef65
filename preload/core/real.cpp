#include "real.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace green::preload {

void* resolve_real(const char* name, const char* version) noexcept {
    void* f = version ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
    if (!f && version) f = dlsym(RTLD_NEXT, name);
    if (!f) {
        // No stdio here: this may run before libc's own initialisation is complete.
        const char* a = "green: the preload cannot find libc's ";
        (void)!write(2, a, strlen(a));
        (void)!write(2, name, strlen(name));
        (void)!write(2, "; aborting\n", 11);
        abort();
    }
    return f;
}

}  // namespace green::preload
