/* fifo_open: open() of a FIFO without O_NONBLOCK waits for the other end, as the kernel's does,
 * between two threads of the process while a ticker ticks. Under libgreen an open that blocks the
 * one OS thread stops the thread that would open the other end: a deadlock.
 *
 * 1. The reader opens first (O_RDONLY waits), the writer 100 ms later (O_WRONLY, at once): the
 *    reader's open returns, its descriptor is blocking (F_GETFL as asked), it reads the line, then
 *    EOF once the writer closes.
 * 2. The writer opens first (O_WRONLY waits, also openat and creat), the reader 100 ms later.
 * 3. The two-FIFO request/response handshake: the server opens the request FIFO for reading then
 *    the response FIFO for writing; the client opens the request FIFO for writing, the response
 *    FIFO for reading, then writes. Each open waits for its partner's.
 * 4. A reader whose writer opens and closes without writing: open returns, read gives EOF.
 * 5. Unchanged: O_RDONLY|O_NONBLOCK opens at once, O_WRONLY|O_NONBLOCK without a reader is ENXIO,
 *    O_RDWR never waits, O_CREAT|O_EXCL on the FIFO is EEXIST.
 * 6. connect() on an AF_UNIX stream socket whose listener's backlog is full waits until the
 *    listener (another thread, 100 ms later) accepts. */
#include "t.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static char dir[64], fifo1[96], fifo2[96];

static void *opener_after(void *p)
{
    /* p: 1 = open fifo1 O_WRONLY, write a line, close; 2 = open it O_RDONLY and read it */
    msleep(100);
    if ((intptr_t)p == 1) {
        int fd = open(fifo1, O_WRONLY);
        if (fd < 0 || write(fd, "hello\n", 6) != 6) printf("FAIL writer: %s\n", en(errno)), t_failed = 1;
        close(fd);
    } else {
        int fd = open(fifo1, O_RDONLY);
        char buf[16] = {0};
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
        ssize_t n2 = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
        printf("reader (opened second) read %zd bytes: %s, then %zd\n", n,
               n == 6 && !memcmp(buf, "hello\n", 6) ? "hello" : "?", n2);
        close(fd);
    }
    return NULL;
}

static void reader_first(void)
{
    ticker_start();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, opener_after, (void *)1) == 0);
    int t0 = atomic_load(&ticks);
    double s0 = now_s();
    int fd = open(fifo1, O_RDONLY | O_CLOEXEC);
    double waited = now_s() - s0;
    int t1 = atomic_load(&ticks) - t0;
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    char buf[16] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    ssize_t n2 = read(fd, buf + 6, sizeof buf - 7);
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    printf("open(O_RDONLY) before the writer: fd ok %s, waited for it: %s, ticker ran: %s\n",
           fd >= 0 ? "yes" : "no", waited >= 0.09 ? "yes" : "no", t1 >= 3 ? "yes" : "no");
    printf("  flags: O_NONBLOCK %s, accmode O_RDONLY %s, FD_CLOEXEC %s; read %zd: %s, then %zd (EOF)\n",
           fl & O_NONBLOCK ? "set" : "clear", (fl & O_ACCMODE) == O_RDONLY ? "yes" : "no",
           fdfl & FD_CLOEXEC ? "yes" : "no", n, n == 6 && !memcmp(buf, "hello\n", 6) ? "hello" : "?", n2);
    CHECK(fd >= 0 && waited >= 0.09 && t1 >= 3 && !(fl & O_NONBLOCK) && n == 6 && n2 == 0);
    close(fd);
}

static void writer_first(int how)
{
    static const char *names[] = {"open(O_WRONLY)", "openat(AT_FDCWD, O_WRONLY)", "creat"};
    ticker_start();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, opener_after, (void *)2) == 0);
    int t0 = atomic_load(&ticks);
    double s0 = now_s();
    int fd = how == 0   ? open(fifo1, O_WRONLY)
             : how == 1 ? openat(AT_FDCWD, fifo1, O_WRONLY)
                        : creat(fifo1, 0600);
    double waited = now_s() - s0;
    int t1 = atomic_load(&ticks) - t0;
    int fl = fcntl(fd, F_GETFL);
    ssize_t w = write(fd, "hello\n", 6);
    close(fd);
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    printf("%s before the reader: fd ok %s, waited for it: %s, ticker ran: %s, O_NONBLOCK %s, wrote %zd\n",
           names[how], fd >= 0 ? "yes" : "no", waited >= 0.09 ? "yes" : "no", t1 >= 3 ? "yes" : "no",
           fl & O_NONBLOCK ? "set" : "clear", w);
    CHECK(fd >= 0 && waited >= 0.09 && t1 >= 3 && !(fl & O_NONBLOCK) && w == 6);
}

/* ---- the two-FIFO handshake */
static char srv_line[32];
static void *server(void *p)
{
    (void)p;
    int req = open(fifo1, O_RDONLY);
    int resp = open(fifo2, O_WRONLY);
    char buf[32] = {0};
    ssize_t n = read(req, buf, sizeof buf - 1);
    if (n > 0) {
        snprintf(srv_line, sizeof srv_line, "got %.*s", (int)n, buf);
        char out[40];
        int l = snprintf(out, sizeof out, "re: %.*s", (int)n, buf);
        if (write(resp, out, (size_t)l) != l) t_failed = 1;
    }
    close(req);
    close(resp);
    return NULL;
}

static void handshake(void)
{
    pthread_t th;
    CHECK(pthread_create(&th, NULL, server, NULL) == 0);
    msleep(20);
    int req = open(fifo1, O_WRONLY);
    int resp = open(fifo2, O_RDONLY);
    CHECK(req >= 0 && resp >= 0);
    CHECK(write(req, "ping", 4) == 4);
    char buf[32] = {0};
    ssize_t n = read(resp, buf, sizeof buf - 1);
    CHECK(pthread_join(th, NULL) == 0);
    printf("two-FIFO handshake: server %s, client read %zd: %s\n", srv_line, n, buf);
    CHECK(n == 8 && !strcmp(buf, "re: ping"));
    close(req);
    close(resp);
}

static void *open_close_writer(void *p)
{
    (void)p;
    msleep(50);
    int fd = open(fifo1, O_WRONLY);
    close(fd);
    return NULL;
}

static void writer_comes_and_goes(void)
{
    pthread_t th;
    CHECK(pthread_create(&th, NULL, open_close_writer, NULL) == 0);
    int fd = open(fifo1, O_RDONLY);
    char c;
    CHECK(pthread_join(th, NULL) == 0);
    ssize_t n = read(fd, &c, 1);
    printf("writer opened and closed without writing: open ok %s, read %zd\n", fd >= 0 ? "yes" : "no", n);
    CHECK(fd >= 0 && n == 0);
    close(fd);
}

static void unchanged(void)
{
    double s0 = now_s();
    int r = open(fifo1, O_RDONLY | O_NONBLOCK);
    int fl = fcntl(r, F_GETFL);
    errno = 0;
    int w = open(fifo1, O_WRONLY | O_NONBLOCK); /* a reader exists now */
    int e = errno;
    close(w);
    close(r);
    errno = 0;
    int w2 = open(fifo1, O_WRONLY | O_NONBLOCK);
    int e2 = errno;
    int rw = open(fifo1, O_RDWR);
    errno = 0;
    int ex = open(fifo1, O_WRONLY | O_CREAT | O_EXCL, 0600);
    int e3 = errno;
    close(rw);
    errno = 0;
    int nx = open("/nonexistent/fifo", O_RDONLY);
    int e4 = errno;
    printf("O_RDONLY|O_NONBLOCK: ok %s, O_NONBLOCK %s; then O_WRONLY|O_NONBLOCK: ok %s %s\n",
           r >= 0 ? "yes" : "no", fl & O_NONBLOCK ? "set" : "clear", w >= 0 ? "yes" : "no", en(e));
    printf("O_WRONLY|O_NONBLOCK without a reader: %d %s; O_RDWR: ok %s; O_CREAT|O_EXCL: %d %s; missing: %d "
           "%s; at once: %s\n",
           w2, en(e2), rw >= 0 ? "yes" : "no", ex, en(e3), nx, en(e4), now_s() - s0 < 1 ? "yes" : "no");
}

/* ---- connect on a full AF_UNIX backlog */
static int lfd;
static int accepted;
static void *late_acceptor(void *p)
{
    (void)p;
    msleep(100);
    for (int i = 0; i < 3; i++) {
        int c = accept(lfd, NULL, NULL);
        if (c >= 0) {
            accepted++;
            close(c);
        }
    }
    return NULL;
}

static void unix_backlog(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/sock", dir);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(lfd, 0) == 0);
    int c[3];
    /* backlog 0 takes one connection; the second finds it full. Probe with a non-blocking one. */
    c[0] = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(c[0], (struct sockaddr *)&a, sizeof a) == 0);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    errno = 0;
    int pr = connect(probe, (struct sockaddr *)&a, sizeof a);
    printf("AF_UNIX backlog full, non-blocking connect: %d %s\n", pr, en(errno));
    close(probe);
    ticker_start();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, late_acceptor, NULL) == 0);
    int t0 = atomic_load(&ticks);
    double s0 = now_s();
    c[1] = socket(AF_UNIX, SOCK_STREAM, 0);
    int r = connect(c[1], (struct sockaddr *)&a, sizeof a);
    double waited = now_s() - s0;
    int t1 = atomic_load(&ticks) - t0;
    c[2] = socket(AF_UNIX, SOCK_STREAM, 0);
    int r2 = connect(c[2], (struct sockaddr *)&a, sizeof a);
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    printf("blocking connect on the full backlog: %d, waited for the accept: %s, ticker ran: %s; next: %d; "
           "accepted %d\n",
           r, waited >= 0.09 ? "yes" : "no", t1 >= 3 ? "yes" : "no", r2, accepted);
    CHECK(r == 0 && waited >= 0.09 && t1 >= 3 && r2 == 0 && accepted == 3);
    for (int i = 0; i < 3; i++) close(c[i]);
    close(lfd);
    unlink(a.sun_path);
}

int main(void)
{
    /* Under libgreen: test the hooks, not the hand-off of an OS thread blocked in the kernel
     * (which would let the other threads go on, at the cost of an OS thread). Natively unused. */
    setenv("GREEN_HANDOFF", "off", 1);
    t_init();
    signal(SIGPIPE, SIG_IGN);
    strcpy(dir, "/tmp/fifo_open.XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(fifo1, sizeof fifo1, "%s/one", dir);
    snprintf(fifo2, sizeof fifo2, "%s/two", dir);
    CHECK(mkfifo(fifo1, 0600) == 0 && mkfifo(fifo2, 0600) == 0);

    reader_first();
    writer_first(0);
    writer_first(1);
    writer_first(2);
    handshake();
    writer_comes_and_goes();
    unchanged();
    unix_backlog();

    unlink(fifo1);
    unlink(fifo2);
    rmdir(dir);
    return t_done();
}
