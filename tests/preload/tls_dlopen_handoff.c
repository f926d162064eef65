/* tls_dlopen_handoff: hand-off goes on after GREEN_TLS=auto switches to TCBs per green thread.
 * A plain C program (auto: its green threads may share their OS thread's TLS) starts a ticker,
 * then dlopen()s libtls_plugin.so, a library with TLS of its own: threads made from then on get
 * TCBs of their own. One of those spins on a flag with no call at all, using the plugin's TLS,
 * while the ticker must tick 20 times (5 ms sleeps) and then set the flag. Natively each has an
 * OS thread. Preloaded, the hub must go on on another OS thread while the spinner keeps its own
 * (hand-off); once that was turned off at the switch, and the spinner and ticker never ended.
 * The spinner gives up after 5e7 pauses (seconds) and says it was starved. */
#include "t.h"
#include <dlfcn.h>

static int (*get_gd)(void), (*gd_init)(void), (*get_ie)(void), (*ie_init)(void);
static void (*incr)(void);
static atomic_int done, ticking;

static void *ticker(void *p)
{
    (void)p;
    atomic_store(&ticking, 1);
    while (atomic_load(&ticking) == 1) usleep(1000); /* until the spinner starts */
    for (int i = 0; i < 20; i++) usleep(5000);
    atomic_store(&done, 1);
    return NULL;
}

struct spun {
    int starved, gd, ie; /* the spinner's plugin TLS after two increments, less the initializers */
};

static void *spinner(void *p)
{
    struct spun *r = p;
    incr();
    atomic_store(&ticking, 2);
    unsigned long turns = 0;
    while (!atomic_load_explicit(&done, memory_order_relaxed) && ++turns < 50000000UL)
        __asm__ volatile("pause");
    r->starved = !atomic_load(&done);
    incr();
    r->gd = get_gd() - gd_init();
    r->ie = get_ie() - ie_init();
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    t_init();
    char path[4096];
    const char *slash = strrchr(argv[0], '/');
    snprintf(path, sizeof path, "%.*s/libtls_plugin.so", slash ? (int)(slash - argv[0]) : 1,
             slash ? argv[0] : ".");

    pthread_t tick, spin;
    CHECK(pthread_create(&tick, NULL, ticker, NULL) == 0);
    while (!atomic_load(&ticking)) usleep(1000);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("FAIL dlopen libtls_plugin.so: %s\n", dlerror());
        return 1;
    }
    get_gd = (int (*)(void))dlsym(h, "plugin_get_gd");
    gd_init = (int (*)(void))dlsym(h, "plugin_gd_init");
    get_ie = (int (*)(void))dlsym(h, "plugin_get_ie");
    ie_init = (int (*)(void))dlsym(h, "plugin_ie_init");
    incr = (void (*)(void))dlsym(h, "plugin_incr");
    CHECK(get_gd && gd_init && get_ie && ie_init && incr);

    struct spun r = {-1, 0, 0};
    CHECK(pthread_create(&spin, NULL, spinner, &r) == 0);
    CHECK(pthread_join(spin, NULL) == 0);
    CHECK(pthread_join(tick, NULL) == 0);
    printf("the ticker ticked while a thread made after the dlopen spun: %s\n",
           r.starved ? "no (starved)" : "yes");
    CHECK(r.starved == 0);
    printf("the spinner's plugin TLS: gd +%d ie +%d\n", r.gd, r.ie);
    CHECK(r.gd == 2 && r.ie == 2);
    printf("main's plugin TLS untouched: %s\n",
           get_gd() == gd_init() && get_ie() == ie_init() ? "yes" : "no");
    CHECK(get_gd() == gd_init() && get_ie() == ie_init());
    return t_done();
}
