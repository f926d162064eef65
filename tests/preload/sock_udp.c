/* sock_udp: UDP on 127.0.0.1 and ::1: sendto/recvfrom report the sender's
 * address, datagram boundaries, MSG_TRUNC (return value and msg_flags),
 * recvmsg, a blocking recvfrom woken by a datagram sent 100 ms later from
 * another thread, connected-UDP send/recv and the asynchronous ECONNREFUSED
 * (ICMP port unreachable) reported by the next recv. */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

static int udp4(struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in b = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(s, (struct sockaddr *)&b, sizeof b) == 0);
    socklen_t l = sizeof *a;
    getsockname(s, (struct sockaddr *)a, &l);
    return s;
}

struct late {
    int fd;
    struct sockaddr_in to;
};
static void *late_send(void *p)
{
    struct late *l = p;
    msleep(100);
    sendto(l->fd, "late-dgram", 10, 0, (struct sockaddr *)&l->to, sizeof l->to);
    return NULL;
}

int main(void)
{
    t_init();
    struct sockaddr_in aa, ba, from;
    int a = udp4(&aa), b = udp4(&ba);
    char buf[256];
    socklen_t fl;
    ssize_t r;

    r = sendto(a, "one", 3, 0, (struct sockaddr *)&ba, sizeof ba);
    printf("sendto = %zd\n", r);
    sendto(a, "two-two", 7, 0, (struct sockaddr *)&ba, sizeof ba);
    sendto(a, "three-three-three", 17, 0, (struct sockaddr *)&ba, sizeof ba);
    fl = sizeof from;
    r = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("recvfrom = %zd '%.*s' from sender: %s\n", r, (int)(r > 0 ? r : 0), buf,
           fl == sizeof from && from.sin_port == aa.sin_port && from.sin_addr.s_addr == aa.sin_addr.s_addr
               ? "yes"
               : "no");
    CHECK(r == 3);
    r = recv(b, buf, 3, 0);
    printf("recv(3) of 7-byte datagram = %zd (rest discarded)\n", r);
    struct iovec iov = {buf, 5};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
    r = recvmsg(b, &m, 0);
    printf("recvmsg(5) of 17-byte datagram = %zd MSG_TRUNC in flags: %s namelen=%u\n", r,
           (m.msg_flags & MSG_TRUNC) ? "yes" : "no", (unsigned)m.msg_namelen);
    CHECK(r == 5 && (m.msg_flags & MSG_TRUNC));
    sendto(a, "0123456789abcdef", 16, 0, (struct sockaddr *)&ba, sizeof ba);
    r = recv(b, buf, 4, MSG_TRUNC);
    printf("recv(4, MSG_TRUNC) of 16-byte datagram = %zd\n", r);
    CHECK(r == 16);

    /* blocking recvfrom woken by another thread */
    struct late l = {a, ba};
    pthread_t th;
    double t0 = now_s();
    pthread_create(&th, NULL, late_send, &l);
    fl = sizeof from;
    r = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    double el = now_s() - t0;
    pthread_join(th, NULL);
    printf("blocking recvfrom = %zd '%.*s' waited: %s\n", r, (int)(r > 0 ? r : 0), buf,
           el >= 0.09 ? "yes" : "no");
    CHECK(r == 10 && el >= 0.09 && el < 2);

    /* connected UDP */
    CHECK(connect(a, (struct sockaddr *)&ba, sizeof ba) == 0);
    CHECK(connect(b, (struct sockaddr *)&aa, sizeof aa) == 0);
    CHECK(send(a, "conn", 4, 0) == 4);
    r = recv(b, buf, sizeof buf, 0);
    printf("connected recv = %zd\n", r);
    /* async ECONNREFUSED: close b, send to its port, next recv reports it */
    close(b);
    CHECK(send(a, "void", 4, 0) == 4);
    msleep(50);
    errno = 0;
    r = recv(a, buf, sizeof buf, 0);
    printf("recv after send to closed port = %zd %s\n", r, en(errno));
    CHECK(r == -1 && errno == ECONNREFUSED);
    close(a);

    /* IPv6 ::1 */
    int x = socket(AF_INET6, SOCK_DGRAM, 0), y = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 ya = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT}, f6;
    CHECK(bind(y, (struct sockaddr *)&ya, sizeof ya) == 0);
    socklen_t yl = sizeof ya;
    getsockname(y, (struct sockaddr *)&ya, &yl);
    r = sendto(x, "v6", 2, 0, (struct sockaddr *)&ya, sizeof ya);
    fl = sizeof f6;
    ssize_t r2 = recvfrom(y, buf, sizeof buf, 0, (struct sockaddr *)&f6, &fl);
    char as[64];
    inet_ntop(AF_INET6, &f6.sin6_addr, as, sizeof as);
    printf("udp6 sendto = %zd recvfrom = %zd from %s\n", r, r2, as);
    CHECK(r2 == 2);
    close(x);
    close(y);
    return t_done();
}
