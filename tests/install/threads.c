/* A plain threaded C program, nothing of libgreen in it: 4 pthreads sleep 100 ms at once, and
 * each asks the kernel which OS thread it runs on (/proc/thread-self names it; gettid() would be
 * the preload's answer). Natively none runs on the main OS thread; under greenrun --hubs=1 all 4 do, as
 * green threads (the runtime may have helper threads of its own: they are not counted). Prints
 * that count and the LD_PRELOAD it was given. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void* nap(void* arg) {
    char link[64] = "";
    readlink("/proc/thread-self", link, sizeof link - 1); /* "PID/task/TID" */
    const char* tid = strrchr(link, '/');
    *(int*)arg = tid && atoi(tid + 1) == getpid();
    usleep(100 * 1000);
    return NULL;
}

int main(void) {
    pthread_t t[4];
    int on_main[4] = {0}, n = 0;
    for (int i = 0; i < 4; ++i) pthread_create(&t[i], NULL, nap, &on_main[i]);
    for (int i = 0; i < 4; ++i) {
        pthread_join(t[i], NULL);
        n += on_main[i];
    }
    const char* pre = getenv("LD_PRELOAD");
    printf("4 threads joined, %d on the main OS thread, LD_PRELOAD=%s\n", n, pre ? pre : "");
    return 0;
}
