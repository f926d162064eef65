/* greenrun: run a program with libgreen's preload.
 *
 *   greenrun [--threads=green|native] [--tls=thread|shared|auto] [--stack-size=SIZE]
 *            [--handoff=MS|off] [--hubs=N|auto] [--stats] [--debug] [--strict] [--] program args...
 *
 * --threads=native keeps the preload too: the program's pthreads are then real threads whose
 * blocking calls go to libc (only the main thread has a hub), while mutexes, condition
 * variables, semaphores and futex words still work between them and the main thread's green
 * threads; hand-off is off.
 *
 * Sets the GREEN_* variables for the options (greenrun_options.c) and LD_PRELOAD to
 * libgreen_preload.so, then execs the program: same PID, its exit status and signals are the
 * program's own. Before that it says when the loader will not apply the preload to the program
 * (greenrun_target.c), instead of letting it run without libgreen in silence. */
#define _GNU_SOURCE
#include "greenrun.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRELOAD_NAME "libgreen_preload.so"

/* lib = dir/libgreen_preload.so if that is readable; else dir's candidate is added to tried. */
static int try_dir(const char *dir, char *lib, size_t size, char *tried, size_t tried_size) {
    char real[PATH_MAX];
    /* LD_PRELOAD gets a plain absolute path, not ".../bin/../lib/...". */
    int n = snprintf(lib, size, "%s/" PRELOAD_NAME, realpath(dir, real) ? real : dir);
    if (n > 0 && (size_t)n < size && access(lib, R_OK) == 0) return 1;
    size_t used = strlen(tried);
    if (snprintf(tried + used, tried_size - used, "%s%s", used ? ", " : "", lib) < 0) tried[used] = 0;
    return 0;
}

/* Where the preload is, first match: $GREEN_PRELOAD; beside greenrun (the build tree); the lib
 * directory of greenrun's prefix, ../lib and ../lib/<multiarch> (an install, wherever it was
 * moved or staged with DESTDIR); the path the install compiled in. */
static int find_preload(char *lib, size_t size) {
    const char *override = getenv("GREEN_PRELOAD");
    if (override && *override) {
        snprintf(lib, size, "%s", override);
        if (access(lib, R_OK) == 0) return 1;
        fprintf(stderr, "greenrun: cannot read GREEN_PRELOAD=%s: %s\n", override, strerror(errno));
        return 0;
    }
    static const char *const beside_bin[] = {
        "",
        "/../lib",
#ifdef GREEN_MULTIARCH
        /* one element, concatenated on purpose: the parentheses say so to clang's
         * -Wstring-concatenation (a missing comma, it suspects) */
        ("/../lib/" GREEN_MULTIARCH),
#endif
    };
    char self[PATH_MAX], dir[PATH_MAX + 64], tried[4 * PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) { /* without /proc only the compiled-in path is left */
        self[n] = 0;
        const char *bin = dirname(self);
        for (size_t i = 0; i < sizeof beside_bin / sizeof beside_bin[0]; ++i) {
            if (snprintf(dir, sizeof dir, "%s%s", bin, beside_bin[i]) >= (int)sizeof dir) continue;
            if (try_dir(dir, lib, size, tried, sizeof tried)) return 1;
        }
    }
#ifdef GREEN_PRELOAD_PATH
    snprintf(lib, size, "%s", GREEN_PRELOAD_PATH);
    if (access(lib, R_OK) == 0) return 1;
    size_t used = strlen(tried);
    snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "", lib);
#endif
    fprintf(stderr, "greenrun: cannot find " PRELOAD_NAME " (looked for %s); set GREEN_PRELOAD to its path\n", tried);
    return 0;
}

int main(int argc, char **argv) {
    struct gr_options opts;
    int status = gr_parse_options(argc, argv, &opts);
    if (status >= 0) return status;
    const char *program = argv[opts.first];

    char lib[PATH_MAX];
    if (!find_preload(lib, sizeof lib)) return GR_EXIT_NOT_FOUND;

    char why[2 * PATH_MAX];
    if (gr_preload_blocked(program, why, sizeof why)) {
        fprintf(stderr, "greenrun: %s; %s\n", why,
                opts.strict ? "not running it (--strict)" : "running it without libgreen");
        if (opts.strict) return GR_EXIT_REFUSED;
    }

    const char *old = getenv("LD_PRELOAD");
    if (old && *old) {
        size_t len = strlen(lib) + strlen(old) + 2;
        char *both = malloc(len);
        if (!both) return GR_EXIT_NOT_FOUND;
        snprintf(both, len, "%s:%s", lib, old);
        setenv("LD_PRELOAD", both, 1);
    } else {
        setenv("LD_PRELOAD", lib, 1);
    }
    execvp(program, argv + opts.first);
    fprintf(stderr, "greenrun: cannot run %s: %s\n", program, strerror(errno));
    return errno == ENOENT ? GR_EXIT_NOT_FOUND : GR_EXIT_REFUSED;
}
