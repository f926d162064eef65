/* debug_calls.c (for debug_report.sh): reads a regular file (which blocks the OS thread: the
 * kernel calls a file always ready) from two places in the code, the first one three times. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *nothing(void *a)
{
    return a;
}

static ssize_t read_from(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    ssize_t r = read(fd, buf, n);
    close(fd);
    return r;
}

int main(int argc, char **argv)
{
    pthread_t t; /* a green thread, so that the hub has something to keep waiting */
    pthread_create(&t, NULL, nothing, NULL);
    pthread_join(t, NULL);
    char buf[8];
    ssize_t total = 0;
    for (int i = 0; i < 3; i++) total += read_from(argv[argc - 1], buf, sizeof buf);
    int fd = open(argv[argc - 1], O_RDONLY);
    total += read(fd, buf, 1);
    close(fd);
    printf("read %zd bytes\n", total);
    return 0;
}
