/* tls_dlopen: TLS of a library dlopen()ed while threads exist. 4 threads start
 * and wait on a condition variable; then main dlopen()s libtls_plugin.so (built
 * by run.sh next to this binary, found through argv[0]'s directory) and wakes
 * them. Each thread must see the plugin's initializers in its own copies of a
 * global-dynamic and an initial-exec `__thread` variable, increment both 100
 * times with yields in between, and end at initializer + 100; a thread created
 * after the dlopen must do the same, and main's copies must still hold the
 * initializers at the end. */
#include "t.h"
#include <dlfcn.h>
#include <sched.h>

#define NEARLY 4
#define NINCR 100

static int (*get_gd)(void), (*get_ie)(void), (*gd_init)(void), (*ie_init)(void);
static void (*incr)(void);

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int waiting, loaded;

struct result {
    int initial_ok, gd, ie;
};
static struct result res[NEARLY + 1];

static void run_plugin(struct result *r)
{
    r->initial_ok = get_gd() == gd_init() && get_ie() == ie_init();
    for (int i = 1; i <= NINCR; i++) {
        incr();
        if (i % 10 == 0) usleep(100);
        else sched_yield();
    }
    r->gd = get_gd();
    r->ie = get_ie();
}

static void *early(void *p)
{
    pthread_mutex_lock(&mu);
    waiting++;
    pthread_cond_broadcast(&cv);
    while (!loaded) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    run_plugin(p);
    return NULL;
}

static void *late(void *p)
{
    run_plugin(p);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    t_init();
    /* Plain C whose only TLS is libc's: GREEN_TLS=auto may let its green threads share their OS
     * thread's TLS where a switch of TCB costs a system call. What is checked here needs a TCB
     * per thread: ask for it (no effect natively). */
    setenv("GREEN_TLS", "thread", 1);
    char path[4096];
    const char *slash = strrchr(argv[0], '/');
    snprintf(path, sizeof path, "%.*s/libtls_plugin.so", slash ? (int)(slash - argv[0]) : 1,
             slash ? argv[0] : ".");

    pthread_t th[NEARLY + 1];
    for (int i = 0; i < NEARLY; i++) CHECK(pthread_create(&th[i], NULL, early, &res[i]) == 0);
    pthread_mutex_lock(&mu);
    while (waiting < NEARLY) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);

    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("FAIL dlopen libtls_plugin.so: %s\n", dlerror());
        return 1;
    }
    get_gd = (int (*)(void))dlsym(h, "plugin_get_gd");
    get_ie = (int (*)(void))dlsym(h, "plugin_get_ie");
    gd_init = (int (*)(void))dlsym(h, "plugin_gd_init");
    ie_init = (int (*)(void))dlsym(h, "plugin_ie_init");
    incr = (void (*)(void))dlsym(h, "plugin_incr");
    if (!get_gd || !get_ie || !gd_init || !ie_init || !incr) {
        printf("FAIL dlsym: a plugin function is missing\n");
        return 1;
    }
    int gd0 = gd_init(), ie0 = ie_init();
    printf("plugin loaded with %d threads waiting; main sees gd %s ie %s\n", NEARLY,
           get_gd() == gd0 ? "initial" : "WRONG", get_ie() == ie0 ? "initial" : "WRONG");
    CHECK(get_gd() == gd0 && get_ie() == ie0);

    pthread_mutex_lock(&mu);
    loaded = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    CHECK(pthread_create(&th[NEARLY], NULL, late, &res[NEARLY]) == 0);
    for (int i = 0; i <= NEARLY; i++) CHECK(pthread_join(th[i], NULL) == 0);

    for (int i = 0; i <= NEARLY; i++) {
        struct result *r = &res[i];
        printf("%s thread %d: initial values %s, gd +%d ie +%d\n", i < NEARLY ? "early" : "late", i,
               r->initial_ok ? "ok" : "WRONG", r->gd - gd0, r->ie - ie0);
        CHECK(r->initial_ok && r->gd == gd0 + NINCR && r->ie == ie0 + NINCR);
    }
    printf("main at the end: gd +%d ie +%d\n", get_gd() - gd0, get_ie() - ie0);
    CHECK(get_gd() == gd0 && get_ie() == ie0);
    return t_done();
}
