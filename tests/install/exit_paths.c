/* Ends the way argv[1] says, after one pthread has run (under the preload: a green thread, so a hub
 * exists, with its own SIGSEGV handler in front of the default). tests/install/stats.sh runs each
 * way natively and with GREEN_STATS, and compares: the same status (signal, core dump), and one
 * report each time.
 *   exit_paths exit|_exit|_Exit|abort|segv|quit|term|dispositions
 *   exit_paths wait PROGRAM ARGS...   runs PROGRAM, prints "exit N" or "signal N[ core]" */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void* nap(void* arg) {
    usleep(1000);
    return arg;
}

static void on_signal(int sig) { (void)sig; }

/* What a query answers: the default, ignored, or a handler. */
static const char* seen(int sig) {
    struct sigaction a;
    if (sigaction(sig, NULL, &a) != 0) return "error";
    return a.sa_handler == SIG_DFL ? "default" : a.sa_handler == SIG_IGN ? "ignored" : "handler";
}

static int wait_for(char** argv) {
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return 1;
    if (WIFSIGNALED(st)) printf("signal %d%s\n", WTERMSIG(st), WCOREDUMP(st) ? " core" : "");
    else printf("exit %d\n", WEXITSTATUS(st));
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 2 && strcmp(argv[1], "wait") == 0) return wait_for(argv + 2);
    if (argc != 2) return 2;
    pthread_t t;
    pthread_create(&t, NULL, nap, NULL);
    pthread_join(t, NULL);
    const char* how = argv[1];
    if (strcmp(how, "exit") == 0) exit(3);
    if (strcmp(how, "_exit") == 0) _exit(4);
    if (strcmp(how, "_Exit") == 0) _Exit(5);
    if (strcmp(how, "abort") == 0) abort();
    if (strcmp(how, "segv") == 0) {
        volatile int* volatile nowhere = NULL;
        *nowhere = 1;
    }
    if (strcmp(how, "quit") == 0) raise(SIGQUIT);
    if (strcmp(how, "term") == 0) {
        /* Killed from outside while it sleeps (under the preload: parked, the OS thread in the hub). */
        printf("ready %d\n", getpid());
        fflush(stdout);
        sleep(20);
        return 9;
    }
    if (strcmp(how, "dispositions") == 0) {
        /* The program sees SIG_DFL wherever it has not set something else, and gets back what it set. */
        printf("TERM %s, SEGV %s, PIPE %s, HUP %s\n", seen(SIGTERM), seen(SIGSEGV), seen(SIGPIPE), seen(SIGHUP));
        printf("signal(TERM, handler) was %s\n", signal(SIGTERM, on_signal) == SIG_DFL ? "default" : "other");
        printf("signal(TERM, SIG_DFL) was %s\n", signal(SIGTERM, SIG_DFL) == on_signal ? "handler" : "other");
        printf("signal(TERM, SIG_IGN) was %s\n", signal(SIGTERM, SIG_IGN) == SIG_DFL ? "default" : "other");
        printf("signal(TERM, SIG_DFL) was %s\n", signal(SIGTERM, SIG_DFL) == SIG_IGN ? "ignored" : "other");
        printf("TERM %s\n", seen(SIGTERM));
        fflush(stdout);
        raise(SIGTERM); /* the default the program set again: death by SIGTERM */
        return 9;
    }
    return 2;
}
