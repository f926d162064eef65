// preload/core/stats.hpp: GREEN_STATS, printed once however the process ends.
//
// Contract:
//  - start_stats() runs in the preload's constructor, after config is read. With GREEN_STATS on,
//    the report is printed once: at exit (after the program's own atexit handlers), at _exit and
//    _Exit, or at death by a signal whose action is the default one. It goes to a copy of the
//    stderr the program started with, kept out of the program's sight (fd_table.hpp), so that a
//    program that closes its stderr at exit (ls, sort: gnulib's close_stdout) is still reported.
//    GREEN_STATS_FILE names a file to append it to instead.
//  - print_stats() is async-signal-safe, and prints only the first time it is called;
//    write_stats() prints the report now, however often (GREEN_DUMP_SIGNAL).
//  - With GREEN_DEBUG on, SIGQUIT at its default action first prints every green thread of every
//    hub (id, name, state, what it waits on, its start routine), as Go does for its goroutines,
//    then the process dies of it as natively. GREEN_DUMP_SIGNAL names a signal whose default
//    action is stood in for by the same dump (and the report, with GREEN_STATS), after which the
//    program goes on, its interrupted calls restarted; then every hub prints the symbolized
//    backtraces of its suspended green threads at its next loop iteration (Hub::on_traces).
//  - For signal.cpp: while GREEN_STATS is on (GREEN_DEBUG: for SIGQUIT), the default action of a
//    signal that ends the process is stood in for by a handler that prints the report, restores
//    SIG_DFL and dies of the signal as natively (same status, a core dump where the default makes
//    one). stats_action() gives that handler's action (or the dump signal's) for a program asking
//    for SIG_DFL; the program is still told SIG_DFL.
#pragma once

#include <signal.h>

namespace green::preload {

void start_stats() noexcept;
void print_stats() noexcept;
void write_stats() noexcept;
bool stats_action(int sig, struct sigaction* act) noexcept;

}  // namespace green::preload
