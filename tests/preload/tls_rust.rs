// tls_rust: Rust's thread_local! (native #[thread_local] statics on Linux) and
// the per-thread std::thread::current() handle. 8 threads spawned with
// std::thread::Builder::new().name("worker-N") each increment a thread_local!
// counter 1000 times, calling std::thread::yield_now() between increments and
// sleeping 1 ms every 100th (so green threads interleave), and read
// thread::current().name() before and after; main joins them and prints each
// result, then checks its own counter is still 0 and its name is "main".
// No Mutex/Condvar/channels here: those block on futexes (see tls_rust_sync).
// Built by run.sh with `rustc -O --edition 2021`, std only.
use std::cell::Cell;
use std::thread;
use std::time::Duration;

extern "C" {
    fn alarm(seconds: u32) -> u32; // libc's, as the C tests' safety net
}

thread_local! {
    static COUNTER: Cell<u32> = Cell::new(0);
    static START: Cell<u32> = Cell::new(17); // a non-zero initial value
}

struct Report {
    count: u32,
    start_seen: u32,
    name_before: Option<String>,
    name_after: Option<String>,
}

fn work() -> Report {
    let start_seen = START.with(|s| s.get());
    START.with(|s| s.set(0));
    let name_before = thread::current().name().map(String::from);
    for i in 1..=1000 {
        COUNTER.with(|c| c.set(c.get() + 1));
        if i % 100 == 0 {
            thread::sleep(Duration::from_millis(1));
        } else {
            thread::yield_now();
        }
    }
    Report {
        count: COUNTER.with(|c| c.get()),
        start_seen,
        name_before,
        name_after: thread::current().name().map(String::from),
    }
}

fn main() {
    unsafe {
        alarm(30);
    }
    let mut failed = false;
    let handles: Vec<_> = (0..8)
        .map(|i| {
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(work)
                .expect("spawn")
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let want = format!("worker-{i}");
        match h.join() {
            Ok(r) => {
                println!(
                    "thread {i}: counter {} initial {} name {:?} -> {:?}",
                    r.count, r.start_seen, r.name_before, r.name_after
                );
                if r.count != 1000
                    || r.start_seen != 17
                    || r.name_before.as_deref() != Some(want.as_str())
                    || r.name_after.as_deref() != Some(want.as_str())
                {
                    println!("FAIL thread {i}: wrong counter, initial value or name");
                    failed = true;
                }
            }
            Err(_) => {
                println!("FAIL thread {i}: panicked");
                failed = true;
            }
        }
    }
    let main_count = COUNTER.with(|c| c.get());
    let main_start = START.with(|s| s.get());
    let main_name = thread::current().name().map(String::from);
    println!("main: counter {main_count} initial {main_start} name {main_name:?}");
    if main_count != 0 || main_start != 17 || main_name.as_deref() != Some("main") {
        println!("FAIL main: its thread-locals or name changed");
        failed = true;
    }
    println!("{}", if failed { "RESULT: FAIL" } else { "RESULT: ok" });
    std::process::exit(if failed { 1 } else { 0 });
}
