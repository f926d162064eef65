/* pipe_big_write: one write() of 1 MiB to a pipe (16 times its 64 KiB buffer) whose reader is
 * another thread of the process completes with the full count, as a blocking pipe write does;
 * the same for writev (4 x 256 KiB) and for a FIFO opened by name (O_RDWR: never blocks at open).
 * The reader starts 100 ms after the writer, so the write must wait; a ticker ticks meanwhile.
 * Under libgreen a write that blocks the one OS thread stops the reader: a deadlock.
 * Also: a pipe made non-blocking gets a partial write (65536), and EAGAIN when full, at once;
 * a write of 4096 bytes (PIPE_BUF) to a pipe with less room waits and is never split. */
#include "t.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define BIG (1 << 20)

static unsigned char *src;
static int rfd;
static size_t r_total;
static unsigned long long r_hash;
static int r_delay_ms = 100;

static void *reader(void *p)
{
    (void)p;
    msleep(r_delay_ms);
    static unsigned char buf[70000];
    r_total = 0;
    r_hash = FNV0;
    for (;;) {
        ssize_t n = read(rfd, buf, sizeof buf);
        if (n <= 0) break;
        r_hash = fnv(r_hash, buf, (size_t)n);
        r_total += (size_t)n;
    }
    return NULL;
}

static void one(const char *what, int wfd, int use_writev)
{
    ticker_start();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, reader, NULL) == 0);
    int t0 = atomic_load(&ticks);
    ssize_t w;
    errno = 0;
    if (use_writev) {
        struct iovec iov[4];
        for (int i = 0; i < 4; i++) {
            iov[i].iov_base = src + (size_t)i * (BIG / 4);
            iov[i].iov_len = BIG / 4;
        }
        w = writev(wfd, iov, 4);
    } else {
        w = write(wfd, src, BIG);
    }
    int e = errno;
    int wt = atomic_load(&ticks) - t0;
    close(wfd);
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    close(rfd);
    printf("%s: %zd %s, reader got %zu bytes, same bytes: %s, ticker ran: %s\n", what, w, en(e), r_total,
           r_hash == fnv(FNV0, src, BIG) ? "yes" : "no", wt >= 3 ? "yes" : "no");
    CHECK(w == BIG && r_total == BIG && r_hash == fnv(FNV0, src, BIG) && wt >= 3);
}

static void nonblocking(void)
{
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    errno = 0;
    ssize_t w = write(p[1], src, BIG);
    printf("non-blocking pipe, write 1 MiB: %zd\n", w);
    errno = 0;
    ssize_t w2 = write(p[1], src, 10);
    printf("then write 10 bytes: %zd %s\n", w2, en(errno));
    CHECK(w == 65536 && w2 == -1 && errno == EAGAIN);
    close(p[0]);
    close(p[1]);
}

/* A PIPE_BUF write is atomic: with 100 bytes of room left it waits for room for all of it. */
static int atomic_rfd;
static void *slow_drain(void *p)
{
    (void)p;
    msleep(50);
    static unsigned char buf[65536 + 4096];
    size_t got = 0;
    while (got < 65536 - 100 + 4096) {
        ssize_t n = read(atomic_rfd, buf, sizeof buf);
        if (n <= 0) break;
        got += (size_t)n;
    }
    return NULL;
}

static void atomic_small(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    atomic_rfd = p[0];
    CHECK(write(p[1], src, 65536 - 100) == 65536 - 100);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, slow_drain, NULL) == 0);
    ssize_t w = write(p[1], src, 4096);
    CHECK(pthread_join(th, NULL) == 0);
    printf("write(4096) to a pipe with less room: %zd\n", w);
    CHECK(w == 4096);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    /* Under libgreen: test the hooks, not the hand-off of an OS thread blocked in the kernel
     * (which would let the other threads go on, at the cost of an OS thread). Natively unused. */
    setenv("GREEN_HANDOFF", "off", 1);
    t_init();
    signal(SIGPIPE, SIG_IGN);
    src = malloc(BIG);
    for (size_t i = 0; i < BIG; i++) src[i] = (unsigned char)(i * 2654435761u >> 13);

    int p[2];
    CHECK(pipe(p) == 0);
    rfd = p[0];
    one("pipe, write 1 MiB", p[1], 0);

    CHECK(pipe(p) == 0);
    rfd = p[0];
    one("pipe, writev 4 x 256 KiB", p[1], 1);

    char dir[] = "/tmp/pipe_big_write.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0);
    rfd = open(path, O_RDWR); /* keeps the FIFO open: the O_WRONLY open below returns at once */
    int wfd = open(path, O_WRONLY);
    CHECK(rfd >= 0 && wfd >= 0);
    int rfd_ro = open(path, O_RDONLY); /* a writer exists: at once */
    CHECK(rfd_ro >= 0);
    close(rfd);
    rfd = rfd_ro;
    one("FIFO, write 1 MiB", wfd, 0);
    unlink(path);
    rmdir(dir);

    nonblocking();
    atomic_small();
    return t_done();
}
