/* preload/core/signal_syntax.h: the one syntax of a signal, read by greenrun (C, tools/:
 * --dump-signal) and by the preload (GREEN_DUMP_SIGNAL): a name as kill -l prints it, with or
 * without "SIG", in any case ("USR2", "sigquit"), or a number from 1 to 64.
 * Returns the signal, or 0 with *why saying what is wrong: not a signal, or one that cannot ask
 * for a dump (SIGKILL and SIGSTOP cannot be caught; a fault, SIGTRAP and SIGABRT belong to the
 * program's code and its debugger; 32 and 33 to glibc's threads). */
#ifndef GREEN_SIGNAL_SYNTAX_H
#define GREEN_SIGNAL_SYNTAX_H

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static inline int green_parse_dump_signal(const char* text, const char** why) {
    int sig = 0;
    if (text && *text >= '0' && *text <= '9') {
        char* end;
        long n = strtol(text, &end, 10);
        if (*end == 0 && n >= 1 && n <= 64) sig = (int)n;
    } else if (text) {
        const char* name = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
        for (int s = 1; s < 32 && !sig; ++s) {
            const char* abbrev = sigabbrev_np(s);
            if (abbrev && *name && strcasecmp(name, abbrev) == 0) sig = s;
        }
    }
    if (!sig) {
        *why = "not a signal (a name such as USR2 or QUIT, or a number from 1 to 64)";
        return 0;
    }
    switch (sig) {
    case SIGKILL:
    case SIGSTOP: *why = "a signal no program can catch"; return 0;
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
    case SIGABRT: *why = "a signal the program's own code raises (a fault, abort, a breakpoint)"; return 0;
    case 32:
    case 33: *why = "a signal glibc keeps for its threads"; return 0;
    default: return sig;
    }
}

#endif
