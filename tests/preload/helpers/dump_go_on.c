/* dump_go_on: three threads parked in three ways (a pipe read, a mutex, a sleep); main signals
 * itself SIGUSR2, then lets them go and joins them. With "handler", the program catches SIGUSR2
 * itself first. Prints what it saw: "handler ran" (with "handler"), then "done". For
 * tests/preload/dump_signal.sh (GREEN_DUMP_SIGNAL). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int p[2];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t caught;

static void on_usr2(int sig)
{
    caught = sig;
}
static void *reader(void *a)
{
    char c;
    (void)a;
    return (void *)(long)read(p[0], &c, 1);
}
static void *sleeper(void *a)
{
    (void)a;
    usleep(300000);
    return NULL;
}
static void *locker(void *a)
{
    (void)a;
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(20);
    if (argc > 1 && strcmp(argv[1], "handler") == 0) signal(SIGUSR2, on_usr2);
    if (pipe(p) != 0) return 1;
    pthread_mutex_lock(&m);
    pthread_t t[3];
    pthread_create(&t[0], NULL, reader, NULL);
    pthread_create(&t[1], NULL, sleeper, NULL);
    pthread_create(&t[2], NULL, locker, NULL);
    usleep(100000);
    kill(getpid(), SIGUSR2);
    usleep(100000);
    if (caught) printf("handler ran\n");
    if (write(p[1], "x", 1) != 1) return 1;
    pthread_mutex_unlock(&m);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    printf("done\n");
    return 0;
}
