// preload/io/stdio.hpp: what fclose (fd.cpp) needs of the stdio hooks (stdio.cpp).
#pragma once

#include <cstdio>

namespace green::preload {

// Whether `f` is a FILE our fdopen made over a socket or pipe (a cookie FILE, which closes its
// descriptor through close()); it is forgotten either way.
bool stdio_forget(FILE* f) noexcept;

}  // namespace green::preload
