/* stdio_sock: stdio streams on sockets and pipes between threads: fdopen'ed
 * FILEs with fgets/fputs/fflush ping-pong (200 round trips), fprintf/fscanf,
 * and a large fwrite/fread through a pipe. stdio's internal read()/write()
 * calls (inside libc) must become fiber waits too, or the two threads
 * deadlock on the single OS thread. */
#include "t.h"
#include <pthread.h>
#include <sys/socket.h>

#define ROUNDS 200

static void *ponger(void *p)
{
    int fd = *(int *)p;
    FILE *in = fdopen(fd, "r"), *out = fdopen(dup(fd), "w");
    char line[128];
    int n = 0;
    while (fgets(line, sizeof line, in)) {
        int k;
        if (sscanf(line, "ping %d", &k) != 1) break;
        fprintf(out, "pong %d\n", k * 2);
        fflush(out);
        n++;
    }
    fclose(in);
    fclose(out);
    return (void *)(intptr_t)n;
}

static void *pipe_writer(void *p)
{
    FILE *w = fdopen(*(int *)p, "w");
    static char block[1 << 16];
    for (size_t i = 0; i < sizeof block; i++) block[i] = (char)(i % 251);
    for (int i = 0; i < 16; i++) fwrite(block, 1, sizeof block, w);
    fclose(w);
    return NULL;
}

int main(void)
{
    t_init();
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pthread_t th;
    pthread_create(&th, NULL, ponger, &sv[1]);
    FILE *in = fdopen(sv[0], "r"), *out = fdopen(dup(sv[0]), "w");
    char line[128];
    long sum = 0;
    int good = 0;
    for (int i = 0; i < ROUNDS; i++) {
        fputs("ping ", out);
        fprintf(out, "%d\n", i);
        fflush(out);
        int k;
        if (fgets(line, sizeof line, in) && sscanf(line, "pong %d", &k) == 1 && k == i * 2) {
            good++;
            sum += k;
        }
    }
    printf("last line: %s", line);
    fclose(out);
    shutdown(sv[0], SHUT_WR);
    void *rv;
    pthread_join(th, &rv);
    printf("round trips ok: %d/%d sum=%ld ponger handled=%d\n", good, ROUNDS, sum, (int)(intptr_t)rv);
    CHECK(good == ROUNDS && (intptr_t)rv == ROUNDS);
    printf("fgets at EOF: %s\n", fgets(line, sizeof line, in) == NULL && feof(in) ? "NULL+eof" : "data?");
    fclose(in);

    /* 1 MiB through a pipe via fwrite/fread with a fully buffered FILE */
    int p[2];
    CHECK(pipe(p) == 0);
    pthread_create(&th, NULL, pipe_writer, &p[1]);
    FILE *r = fdopen(p[0], "r");
    static char buf[10000];
    size_t n, total = 0;
    unsigned long long h = FNV0;
    while ((n = fread(buf, 1, sizeof buf, r)) > 0) {
        h = fnv(h, buf, n);
        total += n;
    }
    pthread_join(th, NULL);
    fclose(r);
    static char block[1 << 16];
    unsigned long long want = FNV0;
    for (size_t i = 0; i < sizeof block; i++) block[i] = (char)(i % 251);
    for (int i = 0; i < 16; i++) want = fnv(want, block, sizeof block);
    printf("fread through pipe: %zu bytes checksum %s\n", total, h == want ? "matches" : "differs");
    CHECK(total == 16 * sizeof block && h == want);
    return t_done();
}
