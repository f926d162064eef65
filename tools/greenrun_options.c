/* greenrun's options: each sets a GREEN_* variable that the preload reads. Every value is checked
 * here, before exec, because the preload can only warn and carry on with its default once the
 * program is running (or, for a size it misreads, crash every thread). The same checks apply to
 * GREEN_* values already in the environment, which the program would otherwise inherit. */
#define _GNU_SOURCE
#include "greenrun.h"

#include "../libgreen/context/size_syntax.h"
#include "../preload/core/signal_syntax.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef GREEN_VERSION
#error "GREEN_VERSION is defined by the Makefile (VERSION)"
#endif

static void usage(FILE *out) {
    fputs("usage: greenrun [options] [--] program [args...]\n"
          "Runs an unmodified program with libgreen's LD_PRELOAD library: its blocking calls\n"
          "become green-thread waits on libev hubs, its pthreads green threads on one hub per\n"
          "CPU it may use (--hubs).\n"
          "\n"
          "options (--opt=value or --opt value; each sets the environment variable shown):\n"
          "  --threads=green|native  pthread_create makes green threads on the caller's hub\n"
          "                          (default), or real threads whose calls go to libc as\n"
          "                          without greenrun (only the main thread has a hub;\n"
          "                          mutexes, condition variables and semaphores still work\n"
          "                          between the two)                          [GREEN_THREADS]\n"
          "  --tls=thread|shared|auto  each green thread has its own thread-local storage, or\n"
          "                          they share their OS thread's; auto (default): their own\n"
          "                          where switching it is cheap or a library besides libc\n"
          "                          keeps thread-local state                  [GREEN_TLS]\n"
          "  --stack-size=SIZE       stack of each green thread: bytes, or a number with K, M\n"
          "                          or G, from 16K to 1G (default 256K; a size the program\n"
          "                          sets with pthread_attr_setstacksize wins) [GREEN_STACK_SIZE]\n"
          "  --handoff=MS|off        when a green thread keeps the OS thread MS milliseconds\n"
          "                          without switching (a call no hook sees, a spin-wait),\n"
          "                          the others go on on another OS thread (default 10)\n"
          "                                                                    [GREEN_HANDOFF]\n"
          "  --hubs=N|auto           run the green threads on N hubs, each on an OS thread of\n"
          "                          its own, so that they use N cores (1 to 256; auto, the\n"
          "                          default: the CPUs the program may run on; 1: all on\n"
          "                          one OS thread)                             [GREEN_HUBS]\n"
          "  --stats[=FILE]          print counts of greenlets, switches and calls however the\n"
          "                          program ends (exit, _exit, a fatal signal), on stderr or\n"
          "                          appended to FILE (each process of the program adds its\n"
          "                          own)                 [GREEN_STATS=1, GREEN_STATS_FILE=FILE]\n"
          "  --dump-signal=SIG       on signal SIG (a name such as USR2, or a number), print\n"
          "                          every green thread of every hub (state, what it waits on,\n"
          "                          where it started) and the --stats report if on, and go on\n"
          "                          running; off while the program has a handler of its own\n"
          "                          for SIG                                [GREEN_DUMP_SIGNAL]\n"
          "  --block-report=MS       report a green thread that keeps its OS thread MS\n"
          "                          milliseconds without switching (a spin-wait, a call no\n"
          "                          hook sees), with what that OS thread is doing; once per\n"
          "                          green thread, at most 20 reports   [GREEN_BLOCK_REPORT]\n"
          "  --debug                 report once per call site each call that had to block the\n"
          "                          OS thread, and a green thread that keeps the OS thread\n"
          "                          for a second without switching            [GREEN_DEBUG=1]\n"
          "  --strict                refuse to run a program the preload cannot apply to\n"
          "                          (static, setuid/setgid, another architecture) instead of\n"
          "                          warning and running it without libgreen\n"
          "  --version               print greenrun's version\n"
          "  -h, --help              this text\n"
          "\n"
          "GREEN_STATS and GREEN_DEBUG take 1, on, yes, true or 0, off, no, false.\n"
          "GREEN_PRELOAD: the path of libgreen_preload.so (default: beside greenrun, or in the\n"
          "lib directory next to greenrun's bin directory).\n"
          "\n"
          "exit status: the program's own; 2 for a bad option or GREEN_* value; 126 when\n"
          "--strict refuses the program; 127 when the program or the preload is not found.\n",
          out);
}

static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("greenrun: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return GR_EXIT_USAGE;
}

/* Each check takes the name to blame (the option, or the variable when the value came from the
 * environment) and returns 0 or an exit status after saying what is wrong. */
static int check_threads(const char *who, const char *v) {
    if (strcmp(v, "green") == 0 || strcmp(v, "native") == 0) return 0;
    return fail("%s takes green or native, not '%s'", who, v);
}

static int check_tls(const char *who, const char *v) {
    if (strcmp(v, "thread") == 0 || strcmp(v, "shared") == 0 || strcmp(v, "auto") == 0) return 0;
    return fail("%s takes thread, shared or auto, not '%s'", who, v);
}

/* What the preload reads (preload/core/runtime.cpp, handoff_seconds): milliseconds up to a minute
 * (0 or off: no hand-off). */
static int check_handoff(const char *who, const char *v) {
    if (strcmp(v, "off") == 0) return 0;
    char *end;
    double ms = strtod(v, &end);
    if (!*v || *end || ms < 0 || ms > 60000) return fail("%s takes milliseconds (0 to 60000) or off, not '%s'", who, v);
    return 0;
}

/* What the preload reads (preload/core/runtime.cpp, block_report_seconds): 1 to 60000 ms. */
static int check_block_report(const char *who, const char *v) {
    char *end;
    double ms = strtod(v, &end);
    if (!*v || *end || !(ms >= 1 && ms <= 60000)) return fail("%s takes milliseconds (1 to 60000), not '%s'", who, v);
    return 0;
}

/* What the preload reads (preload/core/runtime.cpp, hubs_wanted): 1 to 256, or auto. */
static int check_hubs(const char *who, const char *v) {
    if (strcmp(v, "auto") == 0) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > 256) return fail("%s takes a number of hubs (1 to 256) or auto, not '%s'", who, v);
    return 0;
}

/* The preload's own syntax (signal_syntax.h): the program gets the signal it will dump on. */
static int check_dump_signal(const char *who, const char *v) {
    const char *why = "";
    if (!green_parse_dump_signal(v, &why)) return fail("%s: '%s' is %s", who, v, why);
    return 0;
}

/* The syntax and bounds the library reads (StackPool::parse_size, default_size): digits, then K,
 * M or G, optionally followed by "i" and "B", from 16K to 1G (beyond, every thread reserves more
 * address space than is sensible). The library, run without greenrun, warns and uses the default
 * or the nearest bound; here each is an error. */
#define SIZE_RANGE "from 16K to 1G"
static int check_size(const char *who, const char *v) {
    const size_t min = (size_t)16 << 10, max = (size_t)1 << 30;
    if (!*v) return fail("%s needs a size, e.g. 256K (%s)", who, SIZE_RANGE);
    if (!isdigit((unsigned char)*v))
        return fail("%s: '%s' is not a size: give bytes or a number with K, M or G (%s)", who, v, SIZE_RANGE);
    size_t n;
    const char *rest;
    if (!green_parse_size(v, &n, &rest))
        return fail("%s: '%s' has an unknown unit '%s': use K, M or G (%s)", who, v, rest, SIZE_RANGE);
    if (n > max) return fail("%s: '%s' is above the maximum, 1G", who, v);
    if (n < min) return fail("%s: '%s' is below the minimum, 16K", who, v);
    return 0;
}

struct value_option {
    const char *name; /* --name */
    const char *var;  /* the variable it sets */
    int (*check)(const char *who, const char *value);
    int given; /* set by an option, so the environment's value is not checked */
};

static struct value_option value_options[] = {
    {"--threads", "GREEN_THREADS", check_threads, 0},
    {"--tls", "GREEN_TLS", check_tls, 0},
    {"--stack-size", "GREEN_STACK_SIZE", check_size, 0},
    {"--handoff", "GREEN_HANDOFF", check_handoff, 0},
    {"--hubs", "GREEN_HUBS", check_hubs, 0},
    {"--dump-signal", "GREEN_DUMP_SIGNAL", check_dump_signal, 0},
    {"--block-report", "GREEN_BLOCK_REPORT", check_block_report, 0},
};
#define N_VALUE_OPTIONS (sizeof value_options / sizeof value_options[0])

/* Flags set "1". The preload reads the same words (preload/core/runtime.cpp, env_flag), and takes any
 * other value as off with a warning: greenrun hands it 1, or nothing for off. */
static const char *const flag_vars[] = {"GREEN_STATS", "GREEN_DEBUG"};

static int word_in(const char *v, const char *const *words) {
    for (; *words; ++words)
        if (strcasecmp(v, *words) == 0) return 1;
    return 0;
}

static int normalize_flag(const char *var) {
    static const char *const on[] = {"1", "on", "yes", "true", NULL};
    static const char *const off[] = {"", "0", "off", "no", "false", NULL};
    const char *v = getenv(var);
    if (!v) return 0;
    if (word_in(v, on)) return setenv(var, "1", 1), 0;
    if (word_in(v, off)) return unsetenv(var), 0;
    return fail("%s takes 1, on, yes, true or 0, off, no, false, not '%s'", var, v);
}

/* The stats report is appended to FILE by every process of the program: it must be a file they
 * can open for appending (made if missing), known now rather than lost at exit. */
static int check_stats_file(const char *who, const char *path) {
    if (!*path) return fail("%s=FILE needs a file name", who);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return fail("%s: cannot open %s for appending: %s", who, path, strerror(errno));
    struct stat st;
    int regular = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode));
    close(fd);
    if (!regular) return fail("%s: %s is not a file", who, path);
    return 0;
}

/* "--name=value" or "--name value": the value, or NULL (with *status set) when it is missing. */
static const char *value_of(int argc, char **argv, int *i, const char *name, int *status) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (a[n] == '=') return a + n + 1;
    if (*i + 1 < argc && strcmp(argv[*i + 1], "--") != 0) return argv[++*i];
    *status = fail("%s needs a value (greenrun --help lists them)", name);
    return NULL;
}

/* a is the option name, alone or followed by "=value". */
static int is_option(const char *a, const char *name) {
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=');
}

static int parse_flag(const char *a, const char *name, const char *var, int *status) {
    if (!is_option(a, name)) return 0;
    if (strchr(a, '=')) *status = fail("%s takes no value", name);
    else if (var) setenv(var, "1", 1);
    return 1;
}

int gr_parse_options(int argc, char **argv, struct gr_options *opts) {
    int i = 1, status = -1;
    opts->strict = 0;
    for (; i < argc && status < 0; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            ++i;
            break;
        }
        if (a[0] != '-' || a[1] == 0) break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            puts("greenrun (libgreen) " GREEN_VERSION);
            return 0;
        }
        if (is_option(a, "--stats") && a[7] == '=') {
            if ((status = check_stats_file("--stats", a + 8)) != 0) break;
            setenv("GREEN_STATS", "1", 1);
            setenv("GREEN_STATS_FILE", a + 8, 1);
            status = -1;
            continue;
        }
        if (parse_flag(a, "--stats", "GREEN_STATS", &status) || parse_flag(a, "--debug", "GREEN_DEBUG", &status))
            continue;
        if (parse_flag(a, "--strict", NULL, &status)) {
            opts->strict = 1;
            continue;
        }
        size_t k = 0;
        while (k < N_VALUE_OPTIONS && !is_option(a, value_options[k].name))
            ++k;
        if (k == N_VALUE_OPTIONS) return fail("unknown option '%s' (greenrun --help lists them)", a);
        struct value_option *o = &value_options[k];
        const char *v = value_of(argc, argv, &i, o->name, &status);
        if (!v) break;
        if ((status = o->check(o->name, v)) != 0) break;
        setenv(o->var, v, 1);
        o->given = 1;
        status = -1;
    }
    if (status >= 0) return status;
    for (size_t k = 0; k < N_VALUE_OPTIONS; ++k) {
        const char *v = getenv(value_options[k].var);
        if (value_options[k].given || !v) continue;
        if (!*v) unsetenv(value_options[k].var); /* empty: the default, as the preload reads it */
        else if ((status = value_options[k].check(value_options[k].var, v)) != 0) return status;
    }
    for (size_t k = 0; k < sizeof flag_vars / sizeof flag_vars[0]; ++k)
        if ((status = normalize_flag(flag_vars[k])) != 0) return status;
    const char *stats_file = getenv("GREEN_STATS_FILE");
    if (stats_file && *stats_file && (status = check_stats_file("GREEN_STATS_FILE", stats_file)) != 0) return status;
    if (i >= argc) {
        usage(stderr);
        return GR_EXIT_USAGE;
    }
    opts->first = i;
    return -1;
}
