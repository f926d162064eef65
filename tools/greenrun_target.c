/* Whether the dynamic loader will apply LD_PRELOAD to the program greenrun is about to exec. It
 * will not for a static binary (no loader runs at all), in secure-execution mode (a setuid or
 * setgid program that changes our ids, or file capabilities: ld.so then ignores a preload given
 * by path), nor for an ELF of another class or machine (ld.so skips the preload as "wrong ELF
 * class"). In each case the program would run without libgreen in silence; greenrun says so
 * first, as torsocks does. */
#define _GNU_SOURCE
#include "greenrun.h"

#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* As execvp searches: a name with a slash is a path; otherwise the first executable regular
 * file in PATH (an empty entry is the current directory; glibc's default when PATH is unset). */
static int resolve(const char *program, char *path, size_t size) {
    if (strchr(program, '/')) return snprintf(path, size, "%s", program), 1;
    const char *p = getenv("PATH");
    if (!p) p = "/bin:/usr/bin";
    for (;;) {
        const char *end = strchrnul(p, ':');
        int n = (int)(end - p);
        snprintf(path, size, "%.*s%s%s", n, p, n ? "/" : "", program);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0) return 1;
        if (!*end) return 0;
        p = end + 1;
    }
}

/* Secure execution (AT_SECURE): the set-id bits count unless the file system is mounted nosuid
 * or we run with no_new_privs; an id that is already ours changes nothing. */
static const char *secure_reason(const char *path, const struct stat *st) {
    struct statvfs fs;
    if ((statvfs(path, &fs) == 0 && (fs.f_flag & ST_NOSUID)) || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
        return NULL;
    if ((st->st_mode & S_ISUID) && st->st_uid != getuid()) return "is setuid: the loader ignores LD_PRELOAD for it";
    /* setgid without group execute is a mandatory-locking mark, not a set-id program. */
    if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != getgid())
        return "is setgid: the loader ignores LD_PRELOAD for it";
    if (getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0)
        return "has file capabilities: the loader ignores LD_PRELOAD for it";
    return NULL;
}

static int same_machine(const ElfW(Ehdr) * eh) {
    static ElfW(Ehdr) self;
    static int known = -1;
    if (known < 0) {
        int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        known = fd >= 0 && pread(fd, &self, sizeof self, 0) == (ssize_t)sizeof self;
        if (fd >= 0) close(fd);
    }
    return !known || (eh->e_ident[EI_CLASS] == self.e_ident[EI_CLASS] &&
                      eh->e_ident[EI_DATA] == self.e_ident[EI_DATA] && eh->e_machine == self.e_machine);
}

static int has_interp(int fd, const ElfW(Ehdr) * eh) {
    if (eh->e_phentsize != sizeof(ElfW(Phdr)) || eh->e_phnum == 0 || eh->e_phnum > 512) return 1;
    ElfW(Phdr) ph[512];
    ssize_t want = (ssize_t)(eh->e_phnum * sizeof ph[0]);
    if (pread(fd, ph, (size_t)want, (off_t)eh->e_phoff) != want) return 1; /* cannot tell */
    for (int i = 0; i < eh->e_phnum; ++i)
        if (ph[i].p_type == PT_INTERP) return 1;
    return 0;
}

/* The reason, after `path` in a sentence, or NULL. A script is judged by its interpreter (as
 * the kernel nests them, up to 4 deep); "#!/usr/bin/env x" is not followed. */
static const char *reason(const char *path, int depth, char *interp, size_t size) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return secure_reason(path, &st); /* execute-only: the mode still tells */
    union {
        ElfW(Ehdr) eh;
        char text[256];
    } head;
    memset(&head, 0, sizeof head);
    ssize_t got = pread(fd, &head, sizeof head - 1, 0);
    const char *r = NULL;
    if (got >= 2 && head.text[0] == '#' && head.text[1] == '!') {
        char *p = head.text + 2;
        p += strspn(p, " \t");
        p[strcspn(p, " \t\n")] = 0;
        const char *base = strrchr(p, '/');
        if (*p && depth < 4 && !(base && strcmp(base, "/env") == 0)) {
            snprintf(interp, size, "%s", p);
            char inner[1]; /* a nested script names only the first interpreter */
            r = reason(p, depth + 1, inner, 0);
        }
    } else if (got >= (ssize_t)sizeof head.eh && memcmp(head.eh.e_ident, ELFMAG, SELFMAG) == 0) {
        if (!same_machine(&head.eh)) r = "is an ELF for another machine or word size: the preload cannot load into it";
        else if (!(r = secure_reason(path, &st)) && !has_interp(fd, &head.eh))
            r = "is statically linked: LD_PRELOAD cannot apply";
    }
    close(fd);
    return r;
}

int gr_preload_blocked(const char *program, char *why, size_t size) {
    char path[4096], interp[4096] = "";
    if (!resolve(program, path, sizeof path)) return 0;
    const char *r = reason(path, 0, interp, sizeof interp);
    if (!r) return 0;
    if (*interp) snprintf(why, size, "%s runs under %s, which %s", program, interp, r);
    else snprintf(why, size, "%s %s", program, r);
    return 1;
}
