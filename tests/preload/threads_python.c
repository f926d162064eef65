/* threads_python: /usr/bin/python3 running threads_python.py (40 threads:
 * sleep, socket I/O, Lock, Condition, Event and Queue timeouts, the GIL's
 * pthread_cond_timedwait) prints the same natively and preloaded. */
#include "t.h"

int main(void)
{
    t_init();
    char script[4096];
    snprintf(script, sizeof script, "%s", __FILE__);
    strcpy(script + strlen(script) - 2, ".py");
    fflush(stdout);
    execl("/usr/bin/python3", "python3", script, (char *)NULL);
    printf("cannot run /usr/bin/python3: %s\n", en(errno));
    return 1;
}
