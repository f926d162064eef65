# threads_python.py: CPython's threads on libgreen (run by threads_python.c and
# preload_only_threads_python.c). 40 threads sleep, talk over socketpairs,
# take a Lock, wait on a Condition, an Event and a Queue with timeouts, and
# compute a little while holding the GIL (a pthread_cond_timedwait on a
# CLOCK_MONOTONIC condattr). The output is deterministic; with the argument
# "count" the script also checks that the process never had more than 2 OS
# threads (everything runs as green threads on one OS thread).
import os, queue, socket, sys, threading, time

N = 40
lock = threading.Lock()
cond = threading.Condition()
event = threading.Event()
q = queue.Queue()
total = 0
arrived = 0
max_os_threads = 0
timeouts = 0

def os_threads():
    return len(os.listdir('/proc/self/task'))

def worker(i):
    global total, arrived, max_os_threads, timeouts
    a, b = socket.socketpair()
    for r in range(5):
        time.sleep(0.01)
        a.sendall(b'msg %d %d;' % (i, r))
        data = b.recv(100)
        x = sum(range(3000))  # CPU work holding the GIL
        with lock:
            total += sum(data) + x
            max_os_threads = max(max_os_threads, os_threads())
    a.close()
    b.close()
    with cond:
        arrived += 1
        cond.notify_all()
        while arrived < N:
            cond.wait()
    if not event.wait(0.02):  # nobody sets it: times out
        with lock:
            timeouts += 1
    q.put(i)

ts = [threading.Thread(target=worker, args=(i,), name='w%d' % i) for i in range(N)]
t0 = time.monotonic()
for t in ts:
    t.start()
got = sorted(q.get(timeout=10) for _ in range(N))
for t in ts:
    t.join()
elapsed = time.monotonic() - t0
try:
    q.get(timeout=0.05)
except queue.Empty:
    print('empty queue timed out: yes')
print('total', total)
print('all arrived:', arrived == N, 'event timeouts:', timeouts, 'queue items ok:', got == list(range(N)))
print('threads alive after join:', sum(t.is_alive() for t in ts))
print('concurrent:', 'yes' if elapsed < 3 else 'no (%.2f s)' % elapsed)
if len(sys.argv) > 1 and sys.argv[1] == 'count':
    # With GREEN_HUBS=N, each hub beyond the first is one more OS thread.
    hubs = os.environ.get('GREEN_HUBS', 'auto')
    hubs = len(os.sched_getaffinity(0)) if hubs == 'auto' else int(hubs) if hubs.isdigit() else 1
    limit = 2 + max(hubs - 1, 0)
    print('at most 2 OS threads:', 'yes' if max_os_threads <= limit else 'no (%d)' % max_os_threads)
    sys.exit(0 if max_os_threads <= limit else 1)
