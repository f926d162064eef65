/* sock_tcp: TCP over 127.0.0.1 (port 0) with exact libc results:
 * ECONNREFUSED on a closed port, blocking accept woken by a later connect,
 * accept/accept4 flags (SOCK_CLOEXEC visible via F_GETFD, SOCK_NONBLOCK via
 * F_GETFL), peer address, partial read, 4 MiB single write()/sendmsg() with a
 * reader thread (full length returned, checksum verified), sendfile from a
 * regular file (offset updated / file position advanced), shutdown -> EOF,
 * and EPIPE after the peer closed. */
#include "t.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

static struct sockaddr_in srv;

static int listener(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(l, 16) == 0);
    socklen_t sl = sizeof srv;
    getsockname(l, (struct sockaddr *)&srv, &sl);
    return l;
}

static int dial(void)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&srv, sizeof srv) != 0) {
        printf("connect failed: %s\n", en(errno));
        close(c);
        return -1;
    }
    return c;
}

static void *late_dial(void *p)
{
    msleep(100);
    *(int *)p = dial();
    return NULL;
}

#define BIG (4 << 20)
static unsigned long got;
static unsigned long long got_sum;
static void *reader(void *p)
{
    int fd = *(int *)p;
    char buf[65536];
    ssize_t r;
    got = 0;
    got_sum = FNV0;
    while ((r = recv(fd, buf, sizeof buf, 0)) > 0) {
        got_sum = fnv(got_sum, buf, (size_t)r);
        got += (unsigned long)r;
    }
    return NULL;
}

int main(void)
{
    t_init();
    signal(SIGPIPE, SIG_IGN);
    char buf[256];
    ssize_t r;

    /* ECONNREFUSED: bind a port, close it, connect to it */
    int t = listener();
    close(t);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    int rc = connect(c, (struct sockaddr *)&srv, sizeof srv);
    printf("connect to closed port = %d %s\n", rc, en(errno));
    CHECK(rc == -1 && errno == ECONNREFUSED);
    close(c);

    int l = listener();

    /* blocking accept, client connects from another thread 100 ms later */
    pthread_t th;
    int cfd = -1;
    double t0 = now_s();
    pthread_create(&th, NULL, late_dial, &cfd);
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int s = accept(l, (struct sockaddr *)&peer, &pl);
    double el = now_s() - t0;
    pthread_join(th, NULL);
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    getsockname(cfd, (struct sockaddr *)&me, &ml);
    printf("accept: ok=%s waited=%s peer matches client: %s cloexec=%d nonblock=%d\n", s >= 0 ? "yes" : "no",
           el >= 0.09 ? "yes" : "no",
           pl == sizeof peer && peer.sin_addr.s_addr == me.sin_addr.s_addr && peer.sin_port == me.sin_port
               ? "yes"
               : "no",
           fcntl(s, F_GETFD) & FD_CLOEXEC, !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    CHECK(s >= 0 && cfd >= 0 && el >= 0.09);

    /* accept4 flags */
    int c2 = dial();
    int s2 = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    printf("accept4(SOCK_CLOEXEC): cloexec=%d nonblock=%d\n", fcntl(s2, F_GETFD) & FD_CLOEXEC,
           !!(fcntl(s2, F_GETFL) & O_NONBLOCK));
    CHECK(s2 >= 0 && (fcntl(s2, F_GETFD) & FD_CLOEXEC));
    int c3 = dial();
    int s3 = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    printf("accept4(SOCK_NONBLOCK): cloexec=%d nonblock=%d\n", fcntl(s3, F_GETFD) & FD_CLOEXEC,
           !!(fcntl(s3, F_GETFL) & O_NONBLOCK));
    CHECK(s3 >= 0 && (fcntl(s3, F_GETFL) & O_NONBLOCK));
    errno = 0;
    r = read(s3, buf, sizeof buf);
    printf("read on accept4(SOCK_NONBLOCK) socket = %zd %s\n", r, en(errno));
    close(c2);
    close(s2);
    close(c3);
    close(s3);

    /* partial read and echo */
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    CHECK(send(cfd, "0123456789", 10, 0) == 10);
    r = read(s, buf, 100);
    printf("read(100) after 10 sent = %zd\n", r);
    CHECK(r == 10);
    CHECK(write(s, "pong", 4) == 4);
    r = recv(cfd, buf, sizeof buf, 0);
    printf("recv = %zd '%.*s'\n", r, (int)(r > 0 ? r : 0), buf);

    /* 4 MiB in one write() and one sendmsg(2 iovecs), checksummed by a reader thread */
    char *big = malloc(BIG);
    for (int i = 0; i < BIG; i++) big[i] = (char)(i * 13 + (i >> 10));
    unsigned long long sum = fnv(FNV0, big, BIG);
    for (int round = 0; round < 2; round++) {
        int a = dial();
        int b = accept(l, NULL, NULL);
        pthread_create(&th, NULL, reader, &b);
        if (round == 0) {
            r = write(a, big, BIG);
        } else {
            struct iovec iov[2] = {{big, BIG / 2}, {big + BIG / 2, BIG / 2}};
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
            r = sendmsg(a, &m, 0);
        }
        close(a);
        pthread_join(th, NULL);
        printf("%s(4 MiB) = %zd; reader got %lu bytes, checksum %s\n", round ? "sendmsg" : "write", r, got,
               got_sum == sum ? "matches" : "differs");
        CHECK(r == BIG && got == BIG && got_sum == sum);
        close(b);
    }

    /* sendfile from a regular file to the socket */
    char path[] = "/tmp/libgreen-sendfile-XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    CHECK(write_all(f, big, 1 << 20) == 1 << 20);
    unsigned long long fsum = fnv(FNV0, big, 1 << 20);
    int a = dial();
    int b = accept(l, NULL, NULL);
    pthread_create(&th, NULL, reader, &b);
    off_t off = 0;
    long total = 0;
    while (total < (1 << 20)) {
        ssize_t n = sendfile(a, f, &off, (size_t)((1 << 20) - total));
        if (n <= 0) {
            printf("sendfile failed: %zd %s\n", n, en(errno));
            break;
        }
        total += n;
    }
    /* NULL offset: uses and advances the file position */
    lseek(f, 0, SEEK_SET);
    ssize_t n2 = sendfile(a, f, NULL, 4096);
    printf("sendfile: total=%ld offset=%ld; NULL-offset sendfile=%zd filepos=%ld\n", total, (long)off, n2,
           (long)lseek(f, 0, SEEK_CUR));
    close(a);
    pthread_join(th, NULL);
    fsum = fnv(fsum, big, 4096);
    printf("sendfile reader got %lu bytes, checksum %s\n", got, got_sum == fsum ? "matches" : "differs");
    CHECK(total == 1 << 20 && got == (1 << 20) + 4096 && got_sum == fsum);
    close(b);
    close(f);
    free(big);

    /* shutdown(SHUT_WR): peer sees EOF but can still answer */
    CHECK(shutdown(cfd, SHUT_WR) == 0);
    r = read(s, buf, sizeof buf);
    printf("read after peer SHUT_WR = %zd\n", r);
    CHECK(r == 0);
    CHECK(write(s, "still", 5) == 5);
    r = read(cfd, buf, sizeof buf);
    printf("half-closed side still reads = %zd\n", r);

    /* peer closed: the first writes may succeed, then EPIPE */
    close(s);
    int err = 0;
    for (int i = 0; i < 50 && !err; i++) {
        if (write(cfd, "x", 1) < 0) err = errno;
        else msleep(10);
    }
    printf("write after peer close eventually fails with %s\n", en(err));
    CHECK(err == EPIPE);
    close(cfd);
    close(l);
    return t_done();
}
