/* sock_mmsg: recvmmsg and sendmmsg on blocking sockets between two threads, while a ticker thread
 * ticks. Under libgreen a recvmmsg or sendmmsg that blocks the one OS thread stops the peer thread
 * that would unblock it.
 *
 * 1. recvmmsg(vlen 8, no flags, no timeout) on a UDP socket waits for all 8 datagrams: the sender
 *    sends 3 (sendmmsg), pauses, then 5 more.
 * 2. MSG_WAITFORONE: returns as soon as at least one datagram is there (1 or 2 of the 2 sent).
 * 3. The timeout argument, as the kernel has it (recvmmsg(2), BUGS): checked only after each
 *    datagram, so a 50 ms timeout with one datagram now and one 150 ms later returns 2, the
 *    timeout written back as 0; a 10 s timeout with both already there returns 2 and time left;
 *    a zero timeout returns the first datagram alone.
 * 4. sendmmsg of 1024 datagrams on an AF_UNIX SOCK_DGRAM socketpair blocks when the peer's queue
 *    is full and completes (1024) once the receiving thread, started 100 ms later, drains it.
 * 5. A non-blocking socket: recvmmsg with nothing queued says EAGAIN at once. */
#include "t.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int udp_rx, udp_tx;

static void udp_pair(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    udp_rx = socket(AF_INET, SOCK_DGRAM, 0);
    udp_tx = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(udp_rx >= 0 && udp_tx >= 0);
    CHECK(bind(udp_rx, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(udp_rx, (struct sockaddr *)&a, &len) == 0);
    CHECK(connect(udp_tx, (struct sockaddr *)&a, sizeof a) == 0);
}

/* Send n datagrams "tag-i" for i in [first, first+n) with one sendmmsg. */
static int send_batch(int fd, const char *tag, int first, int n)
{
    char bufs[16][32];
    struct iovec iov[16];
    struct mmsghdr v[16];
    memset(v, 0, sizeof v);
    for (int i = 0; i < n; i++) {
        int l = snprintf(bufs[i], sizeof bufs[i], "%s-%d", tag, first + i);
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = (size_t)l;
        v[i].msg_hdr.msg_iov = &iov[i];
        v[i].msg_hdr.msg_iovlen = 1;
    }
    return sendmmsg(fd, v, (unsigned)n, 0);
}

static char rbufs[16][64];
static struct iovec riov[16];
static struct mmsghdr rv[16];

static void prep_recv(int n)
{
    memset(rv, 0, sizeof rv);
    for (int i = 0; i < n; i++) {
        memset(rbufs[i], 0, sizeof rbufs[i]);
        riov[i].iov_base = rbufs[i];
        riov[i].iov_len = sizeof rbufs[i] - 1;
        rv[i].msg_hdr.msg_iov = &riov[i];
        rv[i].msg_hdr.msg_iovlen = 1;
    }
}

static void print_got(const char *what, int r)
{
    printf("%s: %d", what, r);
    for (int i = 0; i < r; i++) printf(" %s(%u)", rbufs[i], rv[i].msg_len);
    printf("\n");
}

/* ---- 1 and 2: the receiving thread */
static int rx_ret, rx_err, rx_ticks;
static int rx_flags;
static void *receiver(void *p)
{
    (void)p;
    prep_recv(8);
    int t0 = atomic_load(&ticks);
    errno = 0;
    rx_ret = recvmmsg(udp_rx, rv, 8, rx_flags, NULL);
    rx_err = errno;
    rx_ticks = atomic_load(&ticks) - t0;
    return NULL;
}

static void all_eight(void)
{
    ticker_start();
    pthread_t th;
    rx_flags = 0;
    CHECK(pthread_create(&th, NULL, receiver, NULL) == 0);
    msleep(50);
    CHECK(send_batch(udp_tx, "a", 0, 3) == 3);
    msleep(50);
    CHECK(send_batch(udp_tx, "a", 3, 5) == 5);
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    print_got("recvmmsg(8)", rx_ret);
    printf("ticker ran during the wait: %s\n", rx_ticks >= 3 ? "yes" : "no");
    CHECK(rx_ret == 8 && rx_ticks >= 3);
}

static void wait_for_one(void)
{
    ticker_start();
    pthread_t th;
    rx_flags = MSG_WAITFORONE;
    CHECK(pthread_create(&th, NULL, receiver, NULL) == 0);
    msleep(100);
    CHECK(send_batch(udp_tx, "b", 0, 2) == 2);
    CHECK(pthread_join(th, NULL) == 0);
    int got = rx_ret;
    int first_ok = got >= 1 && strcmp(rbufs[0], "b-0") == 0;
    if (got == 1) { /* the second one came after the first was taken */
        prep_recv(8);
        CHECK(recvmmsg(udp_rx, rv, 8, MSG_WAITFORONE, NULL) == 1 && strcmp(rbufs[0], "b-1") == 0);
        got++;
    }
    ticker_stop();
    printf("recvmmsg(8, MSG_WAITFORONE): returned with 1 or 2: %s, first is b-0: %s, both received: %s, "
           "ticker ran: %s\n",
           rx_ret == 1 || rx_ret == 2 ? "yes" : "no", first_ok ? "yes" : "no", got == 2 ? "yes" : "no",
           rx_ticks >= 3 ? "yes" : "no");
    CHECK((rx_ret == 1 || rx_ret == 2) && first_ok && got == 2 && rx_ticks >= 3);
}

/* ---- 3: the timeout argument */
static void *late_sender(void *p)
{
    (void)p;
    msleep(20);
    send_batch(udp_tx, "c", 0, 1);
    msleep(150);
    send_batch(udp_tx, "c", 1, 1);
    return NULL;
}

static void timeouts(void)
{
    pthread_t th;
    CHECK(pthread_create(&th, NULL, late_sender, NULL) == 0);
    prep_recv(4);
    struct timespec to = {0, 50 * 1000000L};
    double t0 = now_s();
    int r = recvmmsg(udp_rx, rv, 4, 0, &to);
    double el = now_s() - t0;
    CHECK(pthread_join(th, NULL) == 0);
    print_got("recvmmsg(4, timeout 50 ms), second datagram after 150 ms", r);
    printf("returned after the second datagram: %s, timeout written back: %ld.%09ld\n",
           el >= 0.15 ? "yes" : "no", (long)to.tv_sec, to.tv_nsec);
    CHECK(r == 2 && el >= 0.15 && to.tv_sec == 0 && to.tv_nsec == 0);

    CHECK(send_batch(udp_tx, "d", 0, 2) == 2);
    msleep(10);
    prep_recv(2);
    struct timespec to2 = {10, 0};
    r = recvmmsg(udp_rx, rv, 2, 0, &to2);
    print_got("recvmmsg(2, timeout 10 s), both queued", r);
    printf("time left written back, under 10 s: %s\n",
           to2.tv_sec >= 8 && (to2.tv_sec < 10 || to2.tv_nsec == 0) && !(to2.tv_sec == 10 && to2.tv_nsec == 0)
               ? "yes"
               : "no");
    CHECK(r == 2);

    CHECK(send_batch(udp_tx, "e", 0, 3) == 3);
    msleep(10);
    prep_recv(4);
    struct timespec zero = {0, 0};
    r = recvmmsg(udp_rx, rv, 4, 0, &zero);
    print_got("recvmmsg(4, timeout 0), 3 queued", r);
    prep_recv(4);
    r = recvmmsg(udp_rx, rv, 4, MSG_WAITFORONE, NULL);
    print_got("then recvmmsg(4, MSG_WAITFORONE)", r);
    CHECK(r == 2);

    struct timespec bad = {0, 1000000000L};
    prep_recv(2);
    errno = 0;
    r = recvmmsg(udp_rx, rv, 2, 0, &bad);
    printf("recvmmsg with tv_nsec 1e9: %d %s\n", r, en(errno));
}

/* ---- 4: sendmmsg blocking on a full AF_UNIX datagram queue */
#define NBIG 1024
static int ux[2];
static int drained, drain_bad;
static void *drainer(void *p)
{
    (void)p;
    msleep(100);
    char bufs[64][128];
    struct iovec iov[64];
    struct mmsghdr v[64];
    while (drained < NBIG) {
        memset(v, 0, sizeof v);
        for (int i = 0; i < 64; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = sizeof bufs[i];
            v[i].msg_hdr.msg_iov = &iov[i];
            v[i].msg_hdr.msg_iovlen = 1;
        }
        int want = NBIG - drained < 64 ? NBIG - drained : 64;
        int r = recvmmsg(ux[1], v, (unsigned)want, MSG_WAITFORONE, NULL);
        if (r <= 0) {
            drain_bad = 1;
            break;
        }
        for (int i = 0; i < r; i++) {
            int n;
            if (v[i].msg_len != 100 || sscanf(bufs[i], "m%d", &n) != 1 || n != drained + i) drain_bad = 1;
        }
        drained += r;
    }
    return NULL;
}

static void send_full_queue(void)
{
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, ux) == 0);
    static char bufs[NBIG][100];
    static struct iovec iov[NBIG];
    static struct mmsghdr v[NBIG];
    for (int i = 0; i < NBIG; i++) {
        memset(bufs[i], 0, 100);
        snprintf(bufs[i], 100, "m%d", i);
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = 100;
        v[i].msg_hdr.msg_iov = &iov[i];
        v[i].msg_hdr.msg_iovlen = 1;
    }
    /* First: how many fit without blocking (shows the queue does fill up). */
    int fit = sendmmsg(ux[0], v, NBIG, MSG_DONTWAIT);
    printf("sendmmsg(MSG_DONTWAIT) fills the queue before 1024: %s\n", fit > 0 && fit < NBIG ? "yes" : "no");
    CHECK(fit > 0 && fit < NBIG);
    /* drain what fitted, then the real test */
    char tmp[128];
    for (int i = 0; i < fit; i++) CHECK(recv(ux[1], tmp, sizeof tmp, 0) == 100);

    ticker_start();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, drainer, NULL) == 0);
    int t0 = atomic_load(&ticks);
    int r = sendmmsg(ux[0], v, NBIG, 0);
    int sent_ticks = atomic_load(&ticks) - t0;
    CHECK(pthread_join(th, NULL) == 0);
    ticker_stop();
    int lens_ok = 1;
    for (int i = 0; i < NBIG; i++)
        if (v[i].msg_len != 100) lens_ok = 0;
    printf(
        "sendmmsg(1024) on a full queue: %d, msg_len all 100: %s; received in order: %d %s; ticker ran: %s\n",
        r, lens_ok ? "yes" : "no", drained, drain_bad ? "BAD" : "ok", sent_ticks >= 3 ? "yes" : "no");
    CHECK(r == NBIG && lens_ok && drained == NBIG && !drain_bad && sent_ticks >= 3);
}

static void nonblocking(void)
{
    int fl = fcntl(udp_rx, F_GETFL);
    CHECK(fcntl(udp_rx, F_SETFL, fl | O_NONBLOCK) == 0);
    prep_recv(4);
    double t0 = now_s();
    errno = 0;
    int r = recvmmsg(udp_rx, rv, 4, 0, NULL);
    printf("recvmmsg on a non-blocking empty socket: %d %s, at once: %s\n", r, en(errno),
           now_s() - t0 < 1 ? "yes" : "no");
    errno = 0;
    r = recvmmsg(ux[1], rv, 4, MSG_DONTWAIT, NULL);
    printf("recvmmsg(MSG_DONTWAIT) on an empty socket: %d %s\n", r, en(errno));
    CHECK(fcntl(udp_rx, F_SETFL, fl) == 0);
}

int main(void)
{
    /* Under libgreen: test the hooks, not the hand-off of an OS thread blocked in the kernel
     * (which would let the other threads go on, at the cost of an OS thread). Natively unused. */
    setenv("GREEN_HANDOFF", "off", 1);
    t_init();
    udp_pair();
    all_eight();
    wait_for_one();
    timeouts();
    send_full_queue();
    nonblocking();
    return t_done();
}
