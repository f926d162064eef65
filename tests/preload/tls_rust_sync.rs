// tls_rust_sync: Rust std's blocking primitives between threads, for when
// green threads have their own TLS *and* futex waits park green threads (std's
// Mutex, Condvar, mpsc and park/unpark all block in futex(2); their thread
// identity lives in TLS). Checks: 8 threads add 1000 each under a Mutex with
// yields inside; a Condvar ping-pong of 100 rounds between two threads; 4
// producers send 250 numbers each over an mpsc channel to main, and a
// sync_channel(0) rendezvous; std::thread::scope borrows a local array that 4
// scoped threads fill; park/unpark hands a token back and forth 50 times.
// Built by run.sh with `rustc -O --edition 2021`, std only.
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

extern "C" {
    fn alarm(seconds: u32) -> u32; // libc's, as the C tests' safety net
}

fn main() {
    unsafe {
        alarm(30);
    }
    let mut failed = false;
    let mut check = |ok: bool, what: &str| {
        if !ok {
            println!("FAIL {what}");
            failed = true;
        }
    };

    // Mutex: 8 threads x 1000, yielding while holding it now and then.
    let total = Arc::new(Mutex::new(0u32));
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let total = Arc::clone(&total);
            thread::spawn(move || {
                for i in 0..1000 {
                    let mut g = total.lock().unwrap();
                    *g += 1;
                    if i % 100 == 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                    drop(g);
                    thread::yield_now();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let t = *total.lock().unwrap();
    println!("mutex total: {t}");
    check(t == 8000, "mutex total");

    // Condvar ping-pong: a turn flag passed back and forth 100 times.
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let ponger = thread::spawn(move || {
        let (m, cv) = &*p2;
        for round in 0..100 {
            let mut g = m.lock().unwrap();
            while *g != 2 * round + 1 {
                g = cv.wait(g).unwrap();
            }
            *g += 1;
            cv.notify_all();
        }
    });
    {
        let (m, cv) = &*pair;
        for round in 0..100 {
            let mut g = m.lock().unwrap();
            while *g != 2 * round {
                g = cv.wait(g).unwrap();
            }
            *g += 1;
            cv.notify_all();
        }
        let g = cv.wait_while(m.lock().unwrap(), |v| *v != 200).unwrap();
        println!("condvar ping-pong: {}", *g);
        check(*g == 200, "condvar ping-pong");
    }
    ponger.join().unwrap();

    // mpsc: 4 producers, 250 numbers each.
    let (tx, rx) = mpsc::channel::<u32>();
    for p in 0..4 {
        let tx = tx.clone();
        thread::spawn(move || {
            for i in 0..250 {
                tx.send(p * 1000 + i).unwrap();
                if i % 50 == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
        });
    }
    drop(tx);
    let (mut n, mut sum) = (0u32, 0u64);
    for v in rx {
        n += 1;
        sum += v as u64;
    }
    println!("mpsc: received {n}, sum {sum}");
    check(n == 1000 && sum == (0..4u64).map(|p| p * 1000 * 250 + 249 * 250 / 2).sum::<u64>(), "mpsc");

    // sync_channel(0): each send waits for its receive.
    let (stx, srx) = mpsc::sync_channel::<u32>(0);
    let sender = thread::spawn(move || {
        for i in 0..20 {
            stx.send(i).unwrap();
        }
    });
    let got: Vec<u32> = srx.iter().collect();
    sender.join().unwrap();
    println!("rendezvous channel: {} values in order: {}", got.len(), got == (0..20).collect::<Vec<_>>());
    check(got == (0..20).collect::<Vec<_>>(), "rendezvous channel");

    // scoped threads borrowing a local array.
    let mut slots = [0u32; 4];
    thread::scope(|s| {
        for (i, slot) in slots.iter_mut().enumerate() {
            s.spawn(move || {
                thread::sleep(Duration::from_millis(1));
                *slot = (i as u32 + 1) * 10;
            });
        }
    });
    println!("scoped threads filled: {slots:?}");
    check(slots == [10, 20, 30, 40], "scoped threads");

    // park/unpark: a token passed back and forth 50 times.
    let main_thread = thread::current();
    let turn = Arc::new(AtomicU32::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (t2, d2) = (Arc::clone(&turn), Arc::clone(&done));
    let parker = thread::spawn(move || {
        for round in 0..50 {
            while t2.load(Ordering::Acquire) != 2 * round + 1 {
                thread::park();
            }
            t2.store(2 * round + 2, Ordering::Release);
            main_thread.unpark();
        }
        d2.store(true, Ordering::Release);
    });
    for round in 0..50 {
        while turn.load(Ordering::Acquire) != 2 * round {
            thread::park();
        }
        turn.store(2 * round + 1, Ordering::Release);
        parker.thread().unpark();
    }
    while !done.load(Ordering::Acquire) {
        thread::park_timeout(Duration::from_millis(10));
    }
    parker.join().unwrap();
    println!("park/unpark rounds: {}", turn.load(Ordering::Acquire) / 2);
    check(turn.load(Ordering::Acquire) == 100, "park/unpark");

    println!("{}", if failed { "RESULT: FAIL" } else { "RESULT: ok" });
    std::process::exit(if failed { 1 } else { 0 });
}
