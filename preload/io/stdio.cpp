// preload/io/stdio.cpp: reading a FILE on a socket or pipe parks the green thread, not the OS thread.
//
// glibc's stdio calls its internal read and write, out of the preload's sight: a FILE on a socket
// or pipe would block the whole OS thread in the kernel. Two measures:
//  - fdopen() on a socket or pipe returns a FILE whose I/O goes through the preload's own read and
//    write (fopencookie); fileno() still answers its descriptor.
//  - for other FILEs (stdin on a pipe, popen's), each stdio read entry point first waits, green,
//    until the descriptor is readable; the real function then finds data without blocking.
#include "../core/hook.hpp"
#include "stdio.hpp"
#include "../core/io_wait.hpp"
#include "../core/real.hpp"

#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <mutex>
#include <unordered_map>

using namespace green::preload;

extern "C" {
int __uflow(FILE*);
int __underflow(FILE*);
ssize_t __getdelim(char**, size_t*, int, FILE*);
int __isoc99_fscanf(FILE*, const char*, ...);
int __isoc99_vfscanf(FILE*, const char*, va_list);
int _IO_getc(FILE*);
}

namespace {

// FILEs made by fdopen() on a socket or pipe, and their descriptors.
green::detail::SpinLock cookie_lock;
const bool cookie_lock_fork_reset = reset_in_fork_child(cookie_lock);
std::unordered_map<FILE*, int>* cookie_files;

ssize_t cookie_read(void* c, char* buf, size_t n) { return read(int(intptr_t(c)), buf, n); }
ssize_t cookie_write(void* c, const char* buf, size_t n) {
    ssize_t r = write(int(intptr_t(c)), buf, n);
    return r < 0 ? 0 : r;  // stdio's cookie convention: 0 is the error
}
int cookie_close(void* c) { return close(int(intptr_t(c))); }

int cookie_fd(FILE* f) {
    std::lock_guard g(cookie_lock);
    if (!cookie_files) return -1;
    auto it = cookie_files->find(f);
    return it == cookie_files->end() ? -1 : it->second;
}

void before_read(FILE* f) {
    if (!f || f->_IO_read_ptr < f->_IO_read_end) return;  // buffered data: no system call ahead
    const int fd = f->_fileno;
    green::detail::Hub* h;
    FdState* st;
    if (fd < 0 || !(h = hub()) || !(st = FdTable::get(fd)) || st->kind == FdKind::Passthrough) return;
    if (st->nonblock || ready_now(fd, Dir::In)) return;
    // Errors (a timeout, EINTR) are left for the real call to report as it would.
    wait_fd(*h, fd, Dir::In, deadline_after(st->rcv_timeout), "stdio read");  // SO_RCVTIMEO: -1 none
}

}  // namespace

bool green::preload::stdio_forget(FILE* f) noexcept {
    std::lock_guard g(cookie_lock);
    return cookie_files && cookie_files->erase(f);
}

GREEN_HOOK(FILE*, fdopen, int fd, const char* mode) {
    HOOK_ENTER(fdopen);
    FdState* st;
    if (!mode || !hub() || !(st = FdTable::get(fd)) || st->kind == FdKind::Passthrough) return REAL(fdopen)(fd, mode);
    // Let libc judge the mode against the descriptor (EINVAL), then swap in the cookie FILE.
    FILE* probe = REAL(fdopen)(fd, mode);
    if (!probe) return nullptr;
    cookie_io_functions_t io{cookie_read, cookie_write, nullptr, cookie_close};
    FILE* f = fopencookie(reinterpret_cast<void*>(intptr_t(fd)), mode, io);
    if (!f) return probe;
    // Drop the probe without closing fd: give it a descriptor of its own to close.
    int spare = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 0);
    if (spare >= 0) {
        probe->_fileno = spare;
        REAL(fclose)(probe);
    }
    std::lock_guard g(cookie_lock);
    if (!cookie_files) cookie_files = new std::unordered_map<FILE*, int>;
    (*cookie_files)[f] = fd;
    return f;
}

GREEN_HOOK(int, fileno, FILE* f) {
    HOOK_ENTER(fileno);
    int fd = cookie_fd(f);
    return fd >= 0 ? fd : REAL(fileno)(f);
}

GREEN_HOOK(int, fileno_unlocked, FILE* f) {
    HOOK_ENTER(fileno_unlocked);
    int fd = cookie_fd(f);
    return fd >= 0 ? fd : REAL(fileno_unlocked)(f);
}

GREEN_HOOK(char*, fgets, char* s, int n, FILE* f) {
    HOOK_ENTER(fgets);
    before_read(f);
    return REAL(fgets)(s, n, f);
}
GREEN_HOOK(char*, fgets_unlocked, char* s, int n, FILE* f) {
    HOOK_ENTER(fgets_unlocked);
    before_read(f);
    return REAL(fgets_unlocked)(s, n, f);
}
GREEN_HOOK(int, fgetc, FILE* f) {
    HOOK_ENTER(fgetc);
    before_read(f);
    return REAL(fgetc)(f);
}
GREEN_HOOK(int, getc, FILE* f) {
    HOOK_ENTER(getc);
    before_read(f);
    return REAL(getc)(f);
}
GREEN_HOOK(int, _IO_getc, FILE* f) {
    HOOK_ENTER(_IO_getc);
    before_read(f);
    return REAL(_IO_getc)(f);
}
GREEN_HOOK(int, fgetc_unlocked, FILE* f) {
    HOOK_ENTER(fgetc_unlocked);
    before_read(f);
    return REAL(fgetc_unlocked)(f);
}
GREEN_HOOK(int, getc_unlocked, FILE* f) {
    HOOK_ENTER(getc_unlocked);
    before_read(f);
    return REAL(getc_unlocked)(f);
}
GREEN_HOOK(int, getchar) {
    HOOK_ENTER(getchar);
    before_read(stdin);
    return REAL(getchar)();
}
// What the getc/getc_unlocked macros call once the buffer is empty.
GREEN_HOOK(int, __uflow, FILE* f) {
    HOOK_ENTER(__uflow);
    before_read(f);
    return REAL(__uflow)(f);
}
GREEN_HOOK(int, __underflow, FILE* f) {
    HOOK_ENTER(__underflow);
    before_read(f);
    return REAL(__underflow)(f);
}
GREEN_HOOK(size_t, fread, void* p, size_t size, size_t n, FILE* f) {
    HOOK_ENTER(fread);
    before_read(f);
    return REAL(fread)(p, size, n, f);
}
GREEN_HOOK(size_t, fread_unlocked, void* p, size_t size, size_t n, FILE* f) {
    HOOK_ENTER(fread_unlocked);
    before_read(f);
    return REAL(fread_unlocked)(p, size, n, f);
}
GREEN_HOOK(ssize_t, getline, char** line, size_t* n, FILE* f) {
    HOOK_ENTER(getline);
    before_read(f);
    return REAL(getline)(line, n, f);
}
GREEN_HOOK(ssize_t, getdelim, char** line, size_t* n, int delim, FILE* f) {
    HOOK_ENTER(getdelim);
    before_read(f);
    return REAL(getdelim)(line, n, delim, f);
}
GREEN_HOOK(ssize_t, __getdelim, char** line, size_t* n, int delim, FILE* f) {
    HOOK_ENTER(__getdelim);
    before_read(f);
    return REAL(__getdelim)(line, n, delim, f);
}
GREEN_HOOK(int, __isoc99_vfscanf, FILE* f, const char* fmt, va_list ap) {
    HOOK_ENTER(__isoc99_vfscanf);
    before_read(f);
    return REAL(__isoc99_vfscanf)(f, fmt, ap);
}
// (fscanf and vfscanf are these two under glibc's headers.)
GREEN_HOOK(int, __isoc99_fscanf, FILE* f, const char* fmt, ...) {
    HOOK_ENTER(__isoc99_fscanf);
    va_list ap;
    va_start(ap, fmt);
    before_read(f);
    int r = REAL(__isoc99_vfscanf)(f, fmt, ap);
    va_end(ap);
    return r;
}
