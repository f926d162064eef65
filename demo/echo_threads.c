/*
 * echo_threads.c - an ordinary thread-per-connection blocking echo server.
 *
 * Usage: echo_threads [-b BYTES] [-w ROUNDS] PORT   (PORT 0 = let the kernel pick a free port)
 *
 * Binds 127.0.0.1:PORT, prints exactly one line "listening on PORT" to stdout,
 * then accepts forever, starting one detached pthread (default attributes,
 * but see -b) per client that echoes with a blocking read()/write() loop.
 *
 * -b BYTES: size of each client thread's read buffer, 64 to 1048576 (1 MiB),
 * default 16384; a bad value is a usage error (exit status 2).  The buffer is
 * a local array (a VLA) on the thread's own stack, as in any ordinary
 * program, so it sets how much stack a client touches: a 64-byte message
 * lands in the buffer's first bytes, BYTES below the top of the stack, and
 * read() and what it calls run below that.  With 16 KiB a busy thread touches
 * the top page and the page(s) 16 KiB down, with 1 KiB only the top one or
 * two.  Above 64 KiB the threads get a stack of BYTES + 256 KiB
 * (pthread_attr_setstacksize), so that the buffer fits whatever the default
 * stack is (8 MiB natively, 256 KiB for green threads).
 *
 * -w ROUNDS: before echoing each message, compute ROUNDS rounds of an integer
 * hash (0 to 100000000, default 0): CPU work per request, as a server that
 * parses, renders or compresses has (20000 rounds: some tens of microseconds).
 * A fixed count, not a time, so that every run does the same work.
 *
 * Deliberately uses nothing from libgreen: this is the "unmodified program"
 * that the demo runs both natively and under LD_PRELOAD=libgreen_preload.so.
 *
 * Build: gcc -std=c11 -O2 -Wall -Wextra -pthread -o echo_threads echo_threads.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Read-buffer size of every client thread (-b), set once in main() before
 * the first thread starts. */
#define DEFAULT_BUFSIZE 16384
#define MIN_BUFSIZE 64
#define MAX_BUFSIZE (1024 * 1024)
#define BIG_BUFSIZE (64 * 1024) /* above this, threads get a stack sized for it */
static size_t bufsize = DEFAULT_BUFSIZE;
static long work_rounds; /* -w */
static volatile uint64_t work_sink;

/* CPU work per request (-w): a multiply-xorshift hash the compiler cannot skip. */
static void do_work(const char* buf, size_t n) {
    uint64_t h = 1469598103934665603ull ^ (n ? (unsigned char)buf[0] : 0);
    for (long i = 0; i < work_rounds; i++) {
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ull;
        h += (uint64_t)i;
    }
    work_sink = h;
}

/*
 * SIGTERM/SIGINT: exit immediately with status 0.  A "set a flag and let
 * accept() fail with EINTR" design is fragile here: with thousands of
 * threads the signal is usually delivered to some client thread, not to the
 * one blocked in accept(), and under the preload accept() may be a fiber
 * yield that never sees EINTR.  _exit() is async-signal-safe and the kernel
 * closes every socket for us, so this is the simplest clean shutdown.
 */
static void on_term(int sig) {
    (void)sig;
    _exit(0);
}

/* Write all of buf, retrying on partial writes and EINTR. 0 = ok, -1 = error. */
static int write_all(int fd, const char* buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void* client_main(void* arg) {
    int fd = (int)(intptr_t)arg;
    char buf[bufsize]; /* on this thread's stack, like any local array */

    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            break; /* ECONNRESET etc. */
        }
        if (n == 0) break; /* EOF */
        if (work_rounds) do_work(buf, (size_t)n);
        if (write_all(fd, buf, (size_t)n) < 0) break;
    }
    close(fd);
    return NULL;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int usage(const char* argv0) {
    fprintf(stderr,
            "usage: %s [-b BYTES] [-w ROUNDS] PORT   (BYTES: read buffer, %d to %d, default %d;"
            " ROUNDS: hash rounds per message, 0 to 100000000, default 0)\n",
            argv0, MIN_BUFSIZE, MAX_BUFSIZE, DEFAULT_BUFSIZE);
    return 2;
}

int main(int argc, char** argv) {
    int argi = 1;
    char* end;
    while (argi < argc && (strncmp(argv[argi], "-b", 2) == 0 || strncmp(argv[argi], "-w", 2) == 0)) {
        /* "-b BYTES" or "-bBYTES", "-w ROUNDS" or "-wROUNDS" */
        const char opt = argv[argi][1];
        const char* v = argv[argi][2] != '\0' ? argv[argi] + 2 : argv[++argi];
        if (v == NULL) return usage(argv[0]);
        errno = 0;
        long b = strtol(v, &end, 10);
        const int bad = *v == '\0' || *end != '\0' || errno != 0;
        if (opt == 'b') {
            if (bad || b < MIN_BUFSIZE || b > MAX_BUFSIZE) {
                fprintf(stderr, "echo_threads: bad buffer size '%s'\n", v);
                return usage(argv[0]);
            }
            bufsize = (size_t)b;
        } else {
            if (bad || b < 0 || b > 100000000) {
                fprintf(stderr, "echo_threads: bad work rounds '%s'\n", v);
                return usage(argv[0]);
            }
            work_rounds = b;
        }
        argi++;
    }
    if (argc - argi != 1) return usage(argv[0]);
    const char* port_arg = argv[argi];
    long port = strtol(port_arg, &end, 10);
    if (*port_arg == '\0' || *end != '\0' || port < 0 || port > 65535) {
        fprintf(stderr, "echo_threads: bad port '%s'\n", port_arg);
        return usage(argv[0]);
    }

    /* Default attributes, unless the buffer needs a bigger stack than a
     * green thread's default (see the header comment). */
    pthread_attr_t attr, *attrp = NULL;
    if (bufsize > BIG_BUFSIZE) {
        pthread_attr_init(&attr);
        int rc = pthread_attr_setstacksize(&attr, bufsize + 256 * 1024);
        if (rc != 0) {
            fprintf(stderr, "echo_threads: pthread_attr_setstacksize: %s\n", strerror(rc));
            return 1;
        }
        attrp = &attr;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* A client that disconnects mid-echo must not kill the whole server. */
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        perror("echo_threads: socket");
        return 1;
    }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr*)&addr, sizeof addr) < 0) {
        perror("echo_threads: bind");
        return 1;
    }
    /* 4096 = SOMAXCONN on current kernels; the kernel clamps it anyway. */
    if (listen(lfd, 4096) < 0) {
        perror("echo_threads: listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    if (getsockname(lfd, (struct sockaddr*)&addr, &alen) < 0) {
        perror("echo_threads: getsockname");
        return 1;
    }
    printf("listening on %u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);

    int warned_create = 0, warned_accept = 0;
    for (;;) {
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0) {
            switch (errno) {
            case EINTR:
            case ECONNABORTED:
            case EPROTO: continue;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* Out of resources: back off instead of spinning. */
                if (!warned_accept++) perror("echo_threads: accept (backing off)");
                sleep_ms(10);
                continue;
            default: perror("echo_threads: accept"); return 1;
            }
        }
        /* Echo replies are single small writes; avoid any Nagle/delayed-ACK
         * stall if a request ever arrives split in two segments. */
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

        pthread_t tid;
        int rc = pthread_create(&tid, attrp, client_main, (void*)(intptr_t)cfd);
        if (rc != 0) {
            if (!warned_create++)
                fprintf(stderr,
                        "echo_threads: pthread_create: %s "
                        "(dropping clients)\n",
                        strerror(rc));
            close(cfd);
            continue;
        }
        pthread_detach(tid);
    }
}
