// preload/core/symbolize.hpp: code addresses to function names, for the dump's backtraces.
//
// Contract:
//  - symbolize(pc, entry, out) names the function holding `pc` (a return address, or with `entry`
//    a function's first byte): its object file (dladdr), and the function from that file's ELF
//    symbol table (.symtab, so static functions and programs built without -rdynamic are named
//    too; else the exported ones), demangled, with pc's offset into it. Without a name, `offset`
//    is pc's offset into the object, the one `addr2line -e FILE OFFSET` takes.
//  - Not for signal handlers: it opens and maps files and allocates. The files stay mapped
//    (at most 32) for the process's life: a dump names frames of the same few objects.
#pragma once

#include <cstddef>
#include <cstdint>

namespace green::preload {

struct Symbol {
    const char* file = nullptr;  // the object's path; null if pc is in none
    char name[160] = "";         // the function, demangled; "" if not known
    uintptr_t offset = 0;        // into the function, or into the object if no name
};

bool symbolize(const void* pc, bool entry, Symbol& out) noexcept;

}  // namespace green::preload
