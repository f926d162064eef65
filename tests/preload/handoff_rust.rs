// handoff_rust: Rust threads that only a hand-off lets run together. Four named threads pass a
// token round-robin by spinning on an AtomicUsize (std::hint::spin_loop: nothing the preload
// sees), so a spinning thread holds its OS thread until the hub goes on on another; between turns
// each one allocates (Vec, String), sends its turn count over an mpsc channel, and checks that its
// thread_local! and std::thread::current().name() are still its own. main checks its own after.
// The output is the same natively and preloaded. Built by run.sh with rustc, std only.
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

const WORKERS: usize = 4;
const ROUNDS: usize = 30;

thread_local! {
    static MINE: Cell<usize> = Cell::new(usize::MAX);
    static LOG: RefCell<String> = RefCell::new(String::new());
}

fn main() {
    MINE.with(|m| m.set(1000));
    let turn = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<(usize, usize)>();
    let mut handles = Vec::new();
    for id in 0..WORKERS {
        let turn = Arc::clone(&turn);
        let tx = tx.clone();
        handles.push(
            thread::Builder::new()
                .name(format!("worker-{id}"))
                .spawn(move || {
                    MINE.with(|m| m.set(id));
                    let mut errors = 0;
                    for r in 0..ROUNDS {
                        while turn.load(Ordering::Acquire) % WORKERS != id {
                            std::hint::spin_loop();
                        }
                        let junk: Vec<String> = (0..100).map(|i| "x".repeat(32 + i)).collect();
                        LOG.with(|l| l.borrow_mut().push_str(&junk[r % 100][..1]));
                        if MINE.with(|m| m.get()) != id {
                            errors += 1;
                        }
                        if thread::current().name() != Some(format!("worker-{id}").as_str()) {
                            errors += 1;
                        }
                        tx.send((id, r)).unwrap();
                        turn.fetch_add(1, Ordering::Release);
                    }
                    let len = LOG.with(|l| l.borrow().len());
                    if len != ROUNDS {
                        errors += 1;
                    }
                    errors
                })
                .unwrap(),
        );
    }
    drop(tx);
    let mut received = 0;
    let mut in_order = true;
    for (k, (id, r)) in rx.iter().enumerate() {
        received += 1;
        if id != k % WORKERS || r != k / WORKERS {
            in_order = false;
        }
    }
    let errors: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("turns received: {received}, in order: {in_order}");
    println!("worker TLS and name errors: {errors}");
    let main_ok = MINE.with(|m| m.get()) == 1000 && thread::current().name() == Some("main");
    println!("main TLS and name: {}", if main_ok { "its own" } else { "LOST" });
}
