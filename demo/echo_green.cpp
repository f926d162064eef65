// echo_green.cpp - the echo server of the demo, written against libgreen's C++ API.
//
// Usage: echo_green [--hubs=N|auto] PORT      (PORT 0 = let the kernel pick a free port)
//
// Listens on 127.0.0.1:PORT (green::listen_tcp), prints exactly one line "listening on PORT" to
// stdout, then serves every connection in its own greenlet (green::StreamServer): a
// green::read / green::write_all loop that echoes what it reads (64-byte messages in the demo)
// until EOF or an error. One OS thread, one libev hub, no callbacks. With --hubs=N (auto: one per
// CPU), green::start_hubs(N) runs greenlets on N hubs, each on an OS thread of its own, and the
// StreamServer puts each connection on the hub with the fewest greenlets.
//
// SIGTERM / SIGINT are blocked and read from a signalfd by the main greenlet, so a signal is just
// another descriptor becoming readable: the server stops accepting and main() returns 0.
//
// RLIMIT_NOFILE is raised as far as allowed (10,000 connections need 10,000 descriptors).
//
// Build: see the Makefile (build/echo_green); links -lgreen.
#include <green/green.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// Soft limit up to the hard limit; as root also the hard limit up to fs.nr_open (or `want`).
void raise_nofile(rlim_t want) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        rlimit up{want, want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) return;
    }
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && rl.rlim_max == RLIM_INFINITY) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// One greenlet per connection. The buffer lives on the greenlet's stack: 1 KiB (the demo echoes
// 64-byte messages) keeps the whole parked stack of a connection within one 4 KiB page.
void serve_connection(int fd) {
    char buf[1024];
    for (;;) {
        ssize_t n = green::read(fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return;  // EOF, reset, or the descriptor was closed under us
        }
        if (green::write_all(fd, buf, size_t(n)) != n) return;
    }
}

}  // namespace

int main(int argc, char** argv) {
    int hubs = 1;  // --hubs: 0 = one per CPU
    int argi = 1;
    if (argi < argc && strncmp(argv[argi], "--hubs=", 7) == 0) {
        const char* v = argv[argi++] + 7;
        char* end = nullptr;
        long n = strcmp(v, "auto") == 0 ? 0 : strtol(v, &end, 10);
        if (end && (*v == '\0' || *end != '\0' || n < 1 || n > 256)) {
            fprintf(stderr, "echo_green: bad --hubs '%s' (1 to 256, or auto)\n", v);
            return 2;
        }
        hubs = int(n);
    }
    if (argc - argi != 1) {
        fprintf(stderr, "usage: %s [--hubs=N|auto] PORT\n", argv[0]);
        return 2;
    }
    char* end = nullptr;
    long port = strtol(argv[argi], &end, 10);
    if (*argv[argi] == '\0' || *end != '\0' || port < 0 || port > 65535) {
        fprintf(stderr, "echo_green: bad port '%s'\n", argv[argi]);
        return 2;
    }

    raise_nofile(1 << 17);
    signal(SIGPIPE, SIG_IGN);  // a client that disconnects mid-echo must not kill the server

    // Signals as a descriptor: blocked here (before any thread exists), read by a greenlet.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
        perror("echo_green: sigprocmask");
        return 1;
    }
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        perror("echo_green: signalfd");
        return 1;
    }

    // After the signals are blocked: the hubs' OS threads inherit the mask.
    if (hubs != 1) green::start_hubs(hubs);

    int lfd = green::listen_tcp("127.0.0.1", uint16_t(port), 4096);
    if (lfd < 0) {
        perror("echo_green: listen_tcp");
        return 1;
    }

    green::StreamServer server(lfd, serve_connection);
    printf("listening on %u\n", unsigned(server.port()));
    fflush(stdout);
    server.start();  // accepts in its own greenlet

    // The main greenlet waits for SIGTERM/SIGINT.
    for (;;) {
        signalfd_siginfo si;
        ssize_t n = green::read(sfd, &si, sizeof si);
        if (n == ssize_t(sizeof si) && (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) break;
        if (n < 0 && errno != EINTR) {
            perror("echo_green: read(signalfd)");
            break;
        }
    }
    server.stop();  // kills the acceptor and waits for it
    green::cancel_wait(lfd);
    close(lfd);
    close(sfd);
    // Connections still open are dropped with the process: exit without unwinding every greenlet.
    fflush(stdout);
    _exit(0);
}
