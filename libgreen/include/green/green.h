/* green/green.h: libgreen's C API.
 *
 * Greenlets for C programs: spawn, join, sleep, yield and descriptor waits, on the calling OS
 * thread's hub (created on first use). Errors are reported as in libc: -1 and errno. A timeout is
 * in seconds; a negative one means forever.
 *
 *   static void *work(void *arg) { green_sleep(0.1); return arg; }
 *   green_t *g = green_spawn(work, "hi");
 *   void *result; green_join(g, -1, &result); green_release(g);
 */
#ifndef GREEN_GREEN_H
#define GREEN_GREEN_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct green_greenlet green_t;

/* Start fn(arg) in a new greenlet (it runs once the caller waits or yields). NULL/errno on failure.
 * stack_size 0 means GREEN_STACK_SIZE or 256 KiB. */
green_t* green_spawn(void* (*fn)(void*), void* arg);
green_t* green_spawn_stack(void* (*fn)(void*), void* arg, unsigned long stack_size);
/* Several cores: green_start_hubs(n) runs greenlets on n hubs, each on an OS thread of its own
 * (the caller's hub is hub 0; n <= 0: one per CPU the process may run on; once per process) and
 * returns how many run. green_spawn_on starts fn(arg) on hub `hub` (GREEN_ANY_HUB: the one with the
 * fewest live greenlets; GREEN_THIS_HUB: the caller's); an index out of range is NULL/EINVAL. */
int green_start_hubs(int n);
int green_hub_count(void);
#define GREEN_THIS_HUB (-1)
#define GREEN_ANY_HUB (-2)
green_t* green_spawn_on(int hub, void* (*fn)(void*), void* arg);
/* Wait for g to end: 0 (and *result = fn's return value, if result is not NULL), -1/ETIMEDOUT
 * after timeout, -1/EDEADLK if nothing could ever end it. */
int green_join(green_t* g, double timeout, void** result);
/* 1 if g has ended. */
int green_dead(const green_t* g);
/* Drop the handle (the greenlet runs on regardless). */
void green_release(green_t* g);
/* Park the calling greenlet; 0, or -1/EDEADLK. green_sleep(0) == green_yield(). */
int green_sleep(double seconds);
int green_yield(void);
/* Wait until fd is readable / writable: 1 ready, 0 timed out, -1 with errno (EBADF if closed
 * while waiting). */
int green_wait_readable(int fd, double timeout);
int green_wait_writable(int fd, double timeout);
/* Number of the calling greenlet (0 for a thread's main context). */
unsigned long long green_current_id(void);

#ifdef __cplusplus
}
#endif

#endif
