/*
 * read_overhead.c - the cost of a 1-byte read() that does not block.
 *
 * Usage: read_overhead [N]      (default 2,000,000 reads)
 *
 * A blocking AF_UNIX socketpair; per batch, one write() puts 4096 bytes in, then 4096 read()s of
 * 1 byte each take them out, data always ready: only the reads are timed. Run natively and with
 * LD_PRELOAD=libgreen_preload.so, the difference is what the preload adds to a read that would
 * not block (its fd-table lookup and the non-blocking attempt). Best of 5 passes.
 *
 * Output: "RESULT read_ns X" and "RESULT preloaded 0|1" (libgreen_preload.so mapped in this
 * process).  Plain C, nothing from libgreen: the "unmodified program".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 4096

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int preloaded(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "libgreen_preload") != NULL;
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("read_overhead: socketpair");
        return 1;
    }
    static char wbuf[BATCH];
    memset(wbuf, 'x', sizeof wbuf);
    long batches = n / BATCH > 0 ? n / BATCH : 1;
    double best = 1e300;
    for (int pass = 0; pass < 6; pass++) { /* pass 0 warms up */
        double total = 0;
        for (long b = 0; b < batches; b++) {
            if (write(sv[0], wbuf, BATCH) != BATCH) {
                perror("read_overhead: write");
                return 1;
            }
            char c;
            double t0 = now();
            for (int i = 0; i < BATCH; i++)
                if (read(sv[1], &c, 1) != 1) {
                    perror("read_overhead: read");
                    return 1;
                }
            total += now() - t0;
        }
        double ns = total / (double)(batches * BATCH) * 1e9;
        if (pass > 0 && ns < best)
            best = ns;
    }
    printf("RESULT read_ns %.2f\n", best);
    printf("RESULT preloaded %d\n", preloaded());
    return 0;
}
