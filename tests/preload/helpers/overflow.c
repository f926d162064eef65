/* overflow: a thread that recurses without end (1 KiB a frame), created without a stack size, or
 * with "attr" a 128 KiB one set by pthread_attr_setstacksize. For tests/preload/stack_overflow.sh. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int deep(int d)
{
    volatile char frame[1024];
    frame[0] = (char)d;
    return d > 1000000 ? 0 : deep(d + 1) + frame[0];
}

static void *dive(void *a)
{
    (void)a;
    printf("%d\n", deep(0)); /* never printed: the stack ends first */
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (argc > 1 && strcmp(argv[1], "attr") == 0) pthread_attr_setstacksize(&attr, 128 << 10);
    pthread_create(&t, &attr, dive, NULL);
    pthread_join(t, NULL);
    return 0;
}
