/* greenrun's parts: options (greenrun_options.c), the check of the program it is about to run
 * (greenrun_target.c), and main (greenrun.c), which finds the preload and execs. */
#ifndef GREENRUN_H
#define GREENRUN_H

#include <stddef.h>

/* Exit statuses of greenrun itself (the program's own status passes through exec). */
enum {
    GR_EXIT_USAGE = 2,      /* a bad option or GREEN_* value */
    GR_EXIT_REFUSED = 126,  /* --strict: the preload cannot apply to the program */
    GR_EXIT_NOT_FOUND = 127 /* no preload library, or no program */
};

struct gr_options {
    int strict; /* refuse to run a program the preload cannot apply to */
    int first;  /* index in argv of the program */
};

/* Parses argv, validates the GREEN_* variables the options set (and those already in the
 * environment) and sets them. Returns -1 to go on, else the status to exit with (0 after
 * --help or --version). */
int gr_parse_options(int argc, char **argv, struct gr_options *opts);

/* Why the dynamic loader will not apply LD_PRELOAD to `program` (found through PATH as execvp
 * does): a sentence for the user, written to why; or 0 when the preload applies or greenrun
 * cannot tell (execvp then reports a missing program). */
int gr_preload_blocked(const char *program, char *why, size_t size);

#endif
