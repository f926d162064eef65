// build: -fopenmp
/* futex_openmp: an unmodified OpenMP program. libgomp's worker threads are
 * pthreads that sleep in futex(2) between parallel regions and at barriers
 * (after a spin phase), so under libgreen those waits must park only their
 * green thread. Note: libgomp (x86-64) makes its futex calls with inline
 * `syscall` instructions, not through libc's syscall(), so a hook of
 * syscall() alone does not reach them: a worker blocked there keeps its OS
 * thread and the hub goes on on another (hand-off, hub/handoff.cpp). Checked: `#pragma omp parallel for
 * reduction(+:sum)` over 1..1000000, 20 times (each must be 500000500000; a
 * 5 ms pause after every 5th, so idle workers go past their spin into futex
 * waits), and a parallel region with `#pragma omp barrier`s, 10 rounds: every
 * thread arrives, meets the barrier, and then sees every thread's arrival; a
 * `single` inside runs once. OMP_NUM_THREADS from the environment is left
 * alone; the thread count never reaches stdout. */
#include "t.h"
#include <omp.h>

int main(void)
{
    t_init();
    const long long want = 1000000LL * 1000001LL / 2;
    int right = 0;
    for (int rep = 0; rep < 20; rep++) {
        long long sum = 0;
#pragma omp parallel for reduction(+ : sum)
        for (int i = 1; i <= 1000000; i++) sum += i;
        right += sum == want;
        if (rep % 5 == 4) usleep(5000); /* the idle workers get past their spin, into futex waits */
    }
    printf("parallel for reduction 1..1000000: %lld, right %d/20\n", want, right);
    CHECK(right == 20);

    atomic_int arrived[10];
    for (int r = 0; r < 10; r++) atomic_init(&arrived[r], 0);
    atomic_int saw_all = 0, saw_some = 0, regions = 0;
#pragma omp parallel
    {
        int n = omp_get_num_threads();
#pragma omp single
        atomic_fetch_add(&regions, 1);
        for (int r = 0; r < 10; r++) {
            if ((r + omp_get_thread_num()) % 4 == 0) usleep(1000);
            atomic_fetch_add(&arrived[r], 1);
#pragma omp barrier
            if (atomic_load(&arrived[r]) == n) atomic_fetch_add(&saw_all, 1);
            else atomic_fetch_add(&saw_some, 1);
        }
    }
    printf("parallel region, 10 barriers: the single ran %d time(s), every thread saw all "
           "arrivals: %s (short %d)\n",
           atomic_load(&regions), atomic_load(&saw_some) == 0 && atomic_load(&saw_all) >= 10 ? "yes" : "no",
           atomic_load(&saw_some));
    CHECK(atomic_load(&regions) == 1 && atomic_load(&saw_some) == 0 && atomic_load(&saw_all) >= 10);
    return t_done();
}
