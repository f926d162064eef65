/* libtls_plugin: a shared library with TLS of its own, dlopen()ed by tls_dlopen
 * after threads exist. run.sh builds it as BUILD/tests/preload/libtls_plugin.so
 * (-shared -fPIC). One variable in the global-dynamic model (allocated lazily
 * per thread through __tls_get_addr/the DTV) and one in the initial-exec model
 * (placed in the static TLS surplus; dlopen copies its initial image into
 * every existing thread's block), both with non-zero initializers. */
#define PLUGIN_GD_INIT 4242
#define PLUGIN_IE_INIT 777

__thread int plugin_gd __attribute__((tls_model("global-dynamic"))) = PLUGIN_GD_INIT;
__thread int plugin_ie __attribute__((tls_model("initial-exec"))) = PLUGIN_IE_INIT;

int plugin_gd_init(void)
{
    return PLUGIN_GD_INIT;
}
int plugin_ie_init(void)
{
    return PLUGIN_IE_INIT;
}
int plugin_get_gd(void)
{
    return plugin_gd;
}
int plugin_get_ie(void)
{
    return plugin_ie;
}
void plugin_incr(void)
{
    plugin_gd++;
    plugin_ie++;
}
