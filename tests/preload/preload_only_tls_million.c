/* preload_only_tls_million: tls_many.c with 1,000,000 short-lived green threads, each with a TCB
 * and TLS of its own: every one starts with a fresh __thread value, and RSS stays flat (malloc's
 * per-thread cache is the OS thread's, the TLS block lives in the recycled stack). Preloaded only:
 * natively a million thread creations take minutes. */
#define NTOTAL 1000000
#include "tls_many.c"
