/* greenrun: run a program with libgreen's preload.
 *
 *   greenrun [--threads=green|native] [--tls=thread|shared|auto] [--stack-size=SIZE] [--stats] [--debug]
 *            [--] program args...
 *
 * Sets LD_PRELOAD to the libgreen_preload.so that sits beside this executable (or $GREEN_PRELOAD)
 * and the GREEN_* variables for the options, then execs the program: same PID, its exit status
 * and signals are the program's own. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out) {
    fputs("usage: greenrun [options] [--] program [args...]\n"
          "Runs an unmodified program with its blocking calls turned into green-thread waits and\n"
          "its pthreads into green threads on one OS thread (libgreen's LD_PRELOAD library).\n"
          "\n"
          "options (each is also an environment variable):\n"
          "  --threads=green|native  pthread_create makes green threads (default) or real ones\n"
          "                          that call libc directly                   [GREEN_THREADS]\n"
          "  --tls=thread|shared|auto  each green thread has its own thread-local storage, or\n"
          "                          they share their OS thread's; auto (default): their own\n"
          "                          where switching it is cheap or a library besides libc\n"
          "                          keeps thread-local state                  [GREEN_TLS]\n"
          "  --stack-size=SIZE       stack of each green thread, e.g. 64K, 1M (default 256K;\n"
          "                          pthread_attr_setstacksize still wins)     [GREEN_STACK_SIZE]\n"
          "  --stats                 print counts of greenlets, switches and calls at exit\n"
          "                                                                    [GREEN_STATS=1]\n"
          "  --debug                 report, once per call site, calls that had to block the OS\n"
          "                          thread (regular files, unsupported flags) [GREEN_DEBUG=1]\n"
          "  -h, --help              this text\n"
          "\n"
          "GREEN_PRELOAD overrides the path of libgreen_preload.so.\n",
          out);
}

static const char *value_of(const char *arg, const char *name) {
    size_t n = strlen(name);
    if (strncmp(arg, name, n) == 0 && arg[n] == '=') return arg + n + 1;
    return NULL;
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc; ++i) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--") == 0) { ++i; break; }
        if (a[0] != '-') break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if ((v = value_of(a, "--threads"))) {
            if (strcmp(v, "green") != 0 && strcmp(v, "native") != 0) {
                fprintf(stderr, "greenrun: --threads takes green or native, not '%s'\n", v);
                return 2;
            }
            setenv("GREEN_THREADS", v, 1);
        } else if ((v = value_of(a, "--tls"))) {
            if (strcmp(v, "thread") != 0 && strcmp(v, "shared") != 0 && strcmp(v, "auto") != 0) {
                fprintf(stderr, "greenrun: --tls takes thread, shared or auto, not '%s'\n", v);
                return 2;
            }
            setenv("GREEN_TLS", v, 1);
        } else if ((v = value_of(a, "--stack-size"))) {
            setenv("GREEN_STACK_SIZE", v, 1);
        } else if (strcmp(a, "--stats") == 0) {
            setenv("GREEN_STATS", "1", 1);
        } else if (strcmp(a, "--debug") == 0) {
            setenv("GREEN_DEBUG", "1", 1);
        } else {
            fprintf(stderr, "greenrun: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }

    char lib[PATH_MAX];
    const char *override = getenv("GREEN_PRELOAD");
    if (override && *override) {
        snprintf(lib, sizeof lib, "%s", override);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0) { perror("greenrun: /proc/self/exe"); return 127; }
        self[n] = 0;
        snprintf(lib, sizeof lib, "%s/libgreen_preload.so", dirname(self));
    }
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "greenrun: cannot read %s: %s\n", lib, strerror(errno));
        return 127;
    }
    const char *old = getenv("LD_PRELOAD");
    if (old && *old) {
        size_t len = strlen(lib) + strlen(old) + 2;
        char *both = malloc(len);
        if (!both) return 127;
        snprintf(both, len, "%s:%s", lib, old);
        setenv("LD_PRELOAD", both, 1);
    } else {
        setenv("LD_PRELOAD", lib, 1);
    }
    execvp(argv[i], argv + i);
    fprintf(stderr, "greenrun: cannot run %s: %s\n", argv[i], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
