/* file_locks: blocking file locks between the threads of one process (separate open files of one
 * file) and with a child process: flock(LOCK_EX), fcntl(F_OFD_SETLKW), lockf(F_LOCK). The waiter
 * must wait until the holder lets go, and a third thread must keep ticking meanwhile (preloaded,
 * a lock wait in the kernel once blocked the one OS thread: the holder never ran to unlock). */
#include "t.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>

static char path[64];
static atomic_int ticks, stop_ticking;
static atomic_int released;

static void *ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_ticking)) {
        usleep(10000);
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

enum kind { FLOCK, OFD, LOCKF };

static int lock_fd(int fd, enum kind k, int wait)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    switch (k) {
    case FLOCK: return flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
    case OFD: return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
    default: return lockf(fd, wait ? F_LOCK : F_TLOCK, 0);
    }
}

static void unlock_fd(int fd, enum kind k)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
    if (k == FLOCK) flock(fd, LOCK_UN);
    else if (k == OFD) fcntl(fd, F_OFD_SETLK, &fl);
    else lockf(fd, F_ULOCK, 0);
}

struct holder {
    int fd;
    enum kind k;
};

static void *hold(void *arg)
{
    struct holder *h = arg;
    CHECK(lock_fd(h->fd, h->k, 1) == 0);
    usleep(150000);
    atomic_store(&released, 1);
    unlock_fd(h->fd, h->k);
    return NULL;
}

static void contend(const char *name, enum kind k)
{
    int fd1 = open(path, O_RDWR), fd2 = open(path, O_RDWR);
    atomic_store(&released, 0);
    atomic_store(&ticks, 0);
    atomic_store(&stop_ticking, 0);
    pthread_t th, tk;
    pthread_create(&tk, NULL, ticker, NULL);
    pid_t child = -1;
    struct holder h = {fd1, k};
    if (k == LOCKF) {
        /* lockf locks belong to the process: the holder is a child. */
        child = fork();
        if (child == 0) {
            lock_fd(fd1, k, 1);
            usleep(150000);
            _exit(0);
        }
        usleep(50000);
    } else {
        pthread_create(&th, NULL, hold, &h);
        usleep(50000);
    }
    int busy = lock_fd(fd2, k, 0) == -1;
    int r = lock_fd(fd2, k, 1);
    int after = k == LOCKF ? 1 : atomic_load(&released);
    int t = atomic_load(&ticks);
    unlock_fd(fd2, k);
    atomic_store(&stop_ticking, 1);
    pthread_join(tk, NULL);
    if (k == LOCKF) waitpid(child, NULL, 0);
    else pthread_join(th, NULL);
    printf("%s: busy while held: %s, blocking lock -> %d, got it after the release: %s, others ran "
           "meanwhile: %s\n",
           name, busy ? "yes" : "no", r, after ? "yes" : "no", t >= 5 ? "yes" : "no");
    CHECK(busy && r == 0 && after && t >= 5);
    close(fd1);
    close(fd2);
}

int main(void)
{
    t_init();
    snprintf(path, sizeof path, "/tmp/file_locks.%d", (int)getpid());
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10);
    close(fd);
    contend("flock", FLOCK);
    contend("fcntl(F_OFD_SETLKW)", OFD);
    contend("lockf(F_LOCK), held by a child", LOCKF);
    unlink(path);
    return t_done();
}
