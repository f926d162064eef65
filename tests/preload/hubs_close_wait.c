/* hubs_close_wait: blocked calls on descriptors while other threads close, create and reuse
 * descriptor numbers, for GREEN_HUBS where the closing thread and the waiting one may run on
 * different OS threads at once.
 *  1. A blocks in read() on a socketpair end; C writes 1 MiB (a fixed pattern, in chunks of
 *     varied sizes, pausing now and then so A really waits) to the peer; meanwhile B opens and
 *     closes /dev/null, pipes and sockets over and over (their numbers are reused). A must read
 *     every byte, in order: its checksum equals the writer's.
 *  2. A2 blocks in accept() on a listening loopback TCP socket; B2 connects 20 ms later and
 *     sends 64 KiB; A2 accepts and reads it all (checksum). */
#include "t.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

enum { kTotal = 1 << 20, kNet = 64 << 10 };
static int sp[2];
static atomic_int stop_churn;
static unsigned long long sum_read, sum_written;
static long n_read;
static int churn_errors;

static unsigned char pattern(long i)
{
    return (unsigned char)(i * 131 + (i >> 9));
}

static void *reader_a(void *a)
{
    (void)a;
    static unsigned char buf[5000];
    unsigned long long h = FNV0;
    for (;;) {
        ssize_t r = read(sp[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        h = fnv(h, buf, (size_t)r);
        n_read += r;
    }
    sum_read = h;
    return NULL;
}

static void *churner_b(void *a)
{
    (void)a;
    while (!atomic_load(&stop_churn)) {
        int n = open("/dev/null", O_RDONLY | O_CLOEXEC), p[2], s = socket(AF_UNIX, SOCK_STREAM, 0);
        int pr = pipe(p);
        churn_errors += n < 0 || pr != 0 || s < 0;
        if (n >= 0 && close(n) != 0) churn_errors++;
        if (s >= 0 && close(s) != 0) churn_errors++;
        if (pr == 0 && (close(p[0]) != 0 || close(p[1]) != 0)) churn_errors++;
        usleep(100);
    }
    return NULL;
}

static void *writer_c(void *a)
{
    (void)a;
    static unsigned char buf[kTotal];
    for (long i = 0; i < kTotal; i++) buf[i] = pattern(i);
    sum_written = fnv(FNV0, buf, kTotal);
    long off = 0;
    for (int k = 0; off < kTotal; k++) {
        long n = 1000 + (k * 7919) % 30000;
        if (n > kTotal - off) n = kTotal - off;
        if (write_all(sp[1], buf + off, (size_t)n) != n) break;
        off += n;
        if (k % 8 == 0) usleep(1000);
    }
    shutdown(sp[1], SHUT_WR); /* EOF for A */
    return NULL;
}

static int lsock;
static struct sockaddr_in addr;
static unsigned long long net_got, net_sent;
static long net_n;

static void *acceptor_a2(void *a)
{
    (void)a;
    int c = accept(lsock, NULL, NULL);
    if (c < 0) return NULL;
    static unsigned char buf[4096];
    unsigned long long h = FNV0;
    ssize_t r;
    while ((r = read(c, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) {
            h = fnv(h, buf, (size_t)r);
            net_n += r;
        }
    net_got = h;
    close(c);
    return NULL;
}

static void *connector_b2(void *a)
{
    (void)a;
    static unsigned char buf[kNet];
    for (long i = 0; i < kNet; i++) buf[i] = pattern(i * 3);
    net_sent = fnv(FNV0, buf, kNet);
    usleep(20000);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) != 0 || write_all(c, buf, kNet) != kNet)
        net_sent = 0;
    if (c >= 0) close(c);
    return NULL;
}

int main(void)
{
    t_init();
    alarm(20);
    signal(SIGPIPE, SIG_IGN);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
    pthread_t a, b, c;
    CHECK(pthread_create(&a, NULL, reader_a, NULL) == 0);
    CHECK(pthread_create(&b, NULL, churner_b, NULL) == 0);
    usleep(10000); /* A is blocked in read, B churning */
    CHECK(pthread_create(&c, NULL, writer_c, NULL) == 0);
    CHECK(pthread_join(c, NULL) == 0 && pthread_join(a, NULL) == 0);
    atomic_store(&stop_churn, 1);
    CHECK(pthread_join(b, NULL) == 0);
    printf("1. read %ld of %d bytes, checksum %016llx, writer's %016llx; churn errors %d\n", n_read, kTotal,
           sum_read, sum_written, churn_errors);
    CHECK(n_read == kTotal && sum_read == sum_written && churn_errors == 0);
    close(sp[0]);
    close(sp[1]);

    lsock = socket(AF_INET, SOCK_STREAM, 0);
    addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof addr;
    CHECK(lsock >= 0 && bind(lsock, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(lsock, 4) == 0);
    CHECK(getsockname(lsock, (struct sockaddr *)&addr, &al) == 0);
    CHECK(pthread_create(&a, NULL, acceptor_a2, NULL) == 0);
    CHECK(pthread_create(&b, NULL, connector_b2, NULL) == 0);
    CHECK(pthread_join(b, NULL) == 0 && pthread_join(a, NULL) == 0);
    printf("2. accepted and read %ld of %d bytes, checksum %016llx, sender's %016llx\n", net_n, kNet, net_got,
           net_sent);
    CHECK(net_n == kNet && net_got == net_sent && net_sent != 0);
    close(lsock);
    return t_done();
}
