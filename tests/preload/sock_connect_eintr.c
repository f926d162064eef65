/* sock_connect_eintr: a blocking connect interrupted by a signal handler (EINTR) and retried.
 * The listener's accept queue is full, so the kernel drops the SYN and the connection completes
 * only on a retransmission, after the queue has room. Natively the retried blocking connect waits
 * for that attempt and returns 0; it once returned EALREADY at once under the preload. Also: a
 * pipe written at its read end and read at its write end fails with EBADF at once (the preload
 * once waited for a readiness that never comes). */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

static int lfd;
static void on_alarm(int sig)
{
    (void)sig;
}

static void *drain(void *arg)
{
    (void)arg;
    usleep(300000);
    for (int i = 0; i < 3; i++) {
        int c = accept(lfd, NULL, NULL);
        if (c >= 0) close(c);
    }
    return NULL;
}

int main(void)
{
    t_init();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(lfd, 0) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &al) == 0);
    /* Fill the accept queue (backlog 0 holds one connection; the next SYN is dropped). */
    int fill[2];
    for (int i = 0; i < 2; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(50000);

    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct itimerval it = {.it_value = {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    printf("first connect: %d %s\n", r, r ? en(e) : "0");
    pthread_t th;
    pthread_create(&th, NULL, drain, NULL);
    r = connect(s, (struct sockaddr *)&a, sizeof a);
    e = errno;
    printf("retried connect: %d %s\n", r, r ? en(e) : "0");
    r = connect(s, (struct sockaddr *)&a, sizeof a);
    printf("connect once connected: %d %s\n", r, r ? en(errno) : "0");
    pthread_join(th, NULL);
    close(s);
    close(fill[0]);
    close(fill[1]);
    close(lfd);

    int p[2];
    CHECK(pipe(p) == 0);
    errno = 0;
    ssize_t w = write(p[0], "x", 1);
    printf("write at the read end: %zd %s\n", w, en(errno));
    errno = 0;
    char c;
    ssize_t rd = read(p[1], &c, 1);
    printf("read at the write end: %zd %s\n", rd, en(errno));
    return t_done();
}
