/* echo_1000: thread-per-connection echo server plus 1000 concurrent client
 * threads in the same process (2000+ threads). All 1000 connections are open
 * at the same time (clients meet at a barrier after connecting), then each
 * client sends 8 rounds of 1000 bytes and verifies every echoed byte.
 * Prints "ok". The runner additionally checks that under the preload the
 * process never has more than 2 OS threads (/proc/PID/task). */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define CLIENTS 1000
#define ROUNDS 8
#define CHUNK 1000

static struct sockaddr_in srv;
static int lfd;
static pthread_attr_t attr;
static pthread_barrier_t all_connected;
static atomic_int verified, handled;
static atomic_long echoed;

static void *handler(void *p)
{
    int fd = (int)(intptr_t)p;
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        if (write_all(fd, buf, (size_t)r) != r) break;
        atomic_fetch_add(&echoed, r);
    }
    close(fd);
    atomic_fetch_add(&handled, 1);
    return NULL;
}

static void *acceptor(void *p)
{
    (void)p;
    for (int i = 0; i < CLIENTS; i++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            printf("accept failed: %s\n", en(errno));
            return NULL;
        }
        pthread_t th;
        if (pthread_create(&th, &attr, handler, (void *)(intptr_t)fd) != 0) {
            printf("pthread_create(handler) failed\n");
            close(fd);
            continue;
        }
        pthread_detach(th);
    }
    return NULL;
}

static void *client(void *p)
{
    int id = (int)(intptr_t)p, ok = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&srv, sizeof srv) != 0) {
        printf("client connect failed: %s\n", en(errno));
        ok = 0;
    }
    pthread_barrier_wait(&all_connected);
    char out[CHUNK], in[CHUNK];
    for (int r = 0; ok && r < ROUNDS; r++) {
        for (int i = 0; i < CHUNK; i++) out[i] = (char)(id * 31 + r * 7 + i);
        if (write_all(fd, out, CHUNK) != CHUNK || read_all(fd, in, CHUNK) != CHUNK || memcmp(in, out, CHUNK))
            ok = 0;
    }
    if (fd >= 0) close(fd);
    if (ok) atomic_fetch_add(&verified, 1);
    return NULL;
}

int main(void)
{
    t_init();
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_barrier_init(&all_connected, NULL, CLIENTS);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    srv.sin_family = AF_INET;
    srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(lfd, (struct sockaddr *)&srv, sizeof srv) == 0);
    CHECK(listen(lfd, 2048) == 0);
    socklen_t sl = sizeof srv;
    getsockname(lfd, (struct sockaddr *)&srv, &sl);

    pthread_t acc, cl[CLIENTS];
    pthread_create(&acc, NULL, acceptor, NULL);
    int created = 0;
    for (int i = 0; i < CLIENTS; i++)
        if (pthread_create(&cl[i], &attr, client, (void *)(intptr_t)i) == 0) created++;
    CHECK(created == CLIENTS);
    for (int i = 0; i < created; i++) pthread_join(cl[i], NULL);
    pthread_join(acc, NULL);
    for (int i = 0; i < 500 && atomic_load(&handled) < CLIENTS; i++) usleep(10000);
    printf("clients verified: %d/%d, handlers finished: %d, bytes echoed: %ld\n", atomic_load(&verified),
           CLIENTS, atomic_load(&handled), atomic_load(&echoed));
    CHECK(atomic_load(&verified) == CLIENTS && atomic_load(&handled) == CLIENTS &&
          atomic_load(&echoed) == (long)CLIENTS * ROUNDS * CHUNK);
    printf("%s\n", t_failed ? "not ok" : "ok");
    return t_done();
}
