// JavaThreads: the JVM (HotSpot) under the preload, for run.sh's ordinary_java_threads: four
// Threads released by a CountDownLatch, synchronized, Thread.sleep, join; a producer on an
// ArrayBlockingQueue; an ExecutorService whose tasks allocate enough for the GC to run (-Xmx64m).
// Compiled (natively) by run.sh before the case; the output is the same on every run.
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

public class JavaThreads {
    public static void main(String[] args) throws Exception {
        long[] res = new long[4];
        AtomicLong shared = new AtomicLong();
        CountDownLatch start = new CountDownLatch(1);
        Thread[] ts = new Thread[4];
        for (int i = 0; i < 4; i++) {
            final int id = i;
            ts[i] = new Thread(() -> {
                try {
                    start.await();
                    long s = 0;
                    for (int k = 0; k < 2_000_000; k++) s += (k * (id + 3)) % 13;
                    Thread.sleep(50);
                    synchronized (res) { res[id] = s; }
                    shared.addAndGet(id + 1);
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            ts[i].start();
        }
        start.countDown();
        for (Thread t : ts) t.join();
        for (int i = 0; i < 4; i++) System.out.println("thread " + i + ": " + res[i]);
        System.out.println("shared " + shared.get());

        BlockingQueue<Integer> q = new ArrayBlockingQueue<>(2);
        Thread p = new Thread(() -> {
            try {
                for (int i = 1; i <= 100; i++) q.put(i);
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        p.start();
        int sum = 0;
        for (int i = 0; i < 100; i++) sum += q.take();
        p.join();
        System.out.println("queue " + sum);

        ExecutorService ex = Executors.newFixedThreadPool(4);
        List<Future<Long>> fs = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            final int id = t;
            fs.add(ex.submit(() -> {
                long h = 0;
                for (int r = 0; r < 100; r++) {
                    Map<Integer, String> m = new HashMap<>();
                    for (int i = 0; i < 2000; i++) m.put(i, "v" + (i * id + r));
                    for (int i = 0; i < 2000; i++) h = h * 31 + m.get(i).hashCode();
                }
                return h;
            }));
        }
        for (Future<Long> f : fs) System.out.println("task " + f.get());
        ex.shutdown();
        System.out.println("terminated " + ex.awaitTermination(20, TimeUnit.SECONDS));
    }
}
