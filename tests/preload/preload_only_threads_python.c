/* preload_only_threads_python: threads_python.py under the preload must also
 * keep CPython's 40 threads on at most 2 OS threads (the script samples
 * /proc/self/task and exits 1 otherwise). */
#include "t.h"

int main(void)
{
    t_init();
    char script[4096];
    snprintf(script, sizeof script, "%s", __FILE__);
    char *slash = strrchr(script, '/');
    strcpy(slash ? slash + 1 : script, "threads_python.py");
    fflush(stdout);
    execl("/usr/bin/python3", "python3", script, "count", (char *)NULL);
    printf("cannot run /usr/bin/python3: %s\n", en(errno));
    return 1;
}
