/* closefrom_all: a daemon-style program closes every descriptor it did not open (closefrom,
 * close_range, close in a loop) after the runtime has made its own (libev's epoll and eventfd,
 * on the first wait). Those must survive, invisible: the program's calls behave as natively and
 * blocking calls still wait green afterwards. */
#define _GNU_SOURCE
#include "t.h"
#include <linux/close_range.h>
#include <sys/socket.h>

static void *writer(void *arg)
{
    msleep(50);
    CHECK(write(*(int *)arg, "ok", 2) == 2);
    return NULL;
}

/* A blocking read that another thread satisfies after 50 ms. */
static void read_from_thread(const char *label)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pthread_t t;
    pthread_create(&t, NULL, writer, &sv[1]);
    char buf[2];
    ssize_t r = read(sv[0], buf, 2);
    pthread_join(t, NULL);
    printf("%s: read = %zd '%.*s'\n", label, r, (int)(r > 0 ? r : 0), buf);
    CHECK(r == 2);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    t_init();
    msleep(10); /* the first wait: the runtime opens its descriptors under the preload */
    read_from_thread("before");
    closefrom(3);
    read_from_thread("after closefrom(3)");
    printf("close_range(3, ~0U) = %d\n", close_range(3, ~0U, 0));
    read_from_thread("after close_range");
    int closed = 0;
    for (int fd = 3; fd < 1024; fd++)
        if (close(fd) == 0) closed++;
    printf("close() loop closed %d descriptors\n", closed);
    read_from_thread("after the close loop");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    printf("next socket gets descriptor %d\n", fd);
    CHECK(fd == 3);
    return t_done();
}
