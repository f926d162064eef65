/* close_while_waiting: a thread blocked in a call on a descriptor that another thread closes goes
 * on with the open file, as Linux keeps it for the call (close(2)): the number is freed at once
 * (reused here by a new pipe), and the blocked call still returns the peer's data.
 *  1. read() of a pipe: the read end closed, its number reused; the old pipe's writer succeeds
 *     and the reader gets its bytes, not the new pipe's.
 *  2. recv() on a socketpair end closed meanwhile: the peer's send succeeds (no EPIPE), the
 *     receiver gets the data.
 *  3. accept() on a listening socket closed meanwhile: a client still connects, accept returns. */
#include "t.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

static int rd_fd;
static char got[16];
static ssize_t got_n;

static void *reader(void *a)
{
    (void)a;
    got_n = read(rd_fd, got, sizeof got);
    return NULL;
}

static void *receiver(void *a)
{
    (void)a;
    got_n = recv(rd_fd, got, sizeof got, 0);
    return NULL;
}

static int accepted = -2;
static void *acceptor(void *a)
{
    (void)a;
    accepted = accept(rd_fd, NULL, NULL);
    return NULL;
}

int main(void)
{
    t_init();
    signal(SIGPIPE, SIG_IGN);

    /* 1 */
    int p[2], q[2];
    CHECK(pipe(p) == 0);
    rd_fd = p[0];
    pthread_t t;
    CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
    msleep(50);
    CHECK(close(p[0]) == 0);
    CHECK(pipe(q) == 0);
    int reused = q[0] == p[0];
    CHECK(write(q[1], "new", 3) == 3);
    ssize_t w = write(p[1], "old", 3);
    pthread_join(t, NULL);
    printf("1. read: number reused at once: %s; writer: %zd; reader got %zd '%.*s'\n", reused ? "yes" : "no",
           w, got_n, (int)(got_n > 0 ? got_n : 0), got);
    close(p[1]);
    close(q[0]);
    close(q[1]);

    /* 2 */
    int s[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
    rd_fd = s[0];
    got_n = -2;
    CHECK(pthread_create(&t, NULL, receiver, NULL) == 0);
    msleep(50);
    CHECK(close(s[0]) == 0);
    ssize_t sent = send(s[1], "data", 4, 0);
    int send_errno = sent < 0 ? errno : 0;
    pthread_join(t, NULL);
    printf("2. recv: peer's send %zd %s; receiver got %zd '%.*s'\n", sent, en(send_errno), got_n,
           (int)(got_n > 0 ? got_n : 0), got);
    close(s[1]);

    /* 3 */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0);
    CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);
    rd_fd = l;
    CHECK(pthread_create(&t, NULL, acceptor, NULL) == 0);
    msleep(50);
    CHECK(close(l) == 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    int rc = connect(c, (struct sockaddr *)&a, sizeof a);
    int conn_errno = rc < 0 ? errno : 0;
    pthread_join(t, NULL);
    printf("3. accept: client connect %d %s; accept returned a descriptor: %s\n", rc, en(conn_errno),
           accepted >= 0 ? "yes" : "no");
    close(c);
    if (accepted >= 0) close(accepted);
    return t_done();
}
