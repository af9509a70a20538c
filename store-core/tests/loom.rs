//! loom model tests of the queues' pop / close / notify protocol.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p store-core --test loom --release`
//! (`.ci/run` does). Each model explores every interleaving of its threads.

#![cfg(loom)]

use loom::thread;
use store_core::{Fifo, Keyed, PopError, Requeue};

#[derive(Debug)]
struct Job(u8, u8);

impl Keyed for Job {
    type Key = u8;
    fn key(&self) -> u8 {
        self.0
    }
}

fn pop(queue: &Fifo<Job>) -> Result<(u8, u8), PopError<()>> {
    queue.pop(|job| Ok::<_, Requeue<()>>((job.0, job.1)))
}

/// A popper blocked on an empty queue wakes for an add, and the add is not lost
/// whichever runs first.
#[test]
fn add_wakes_a_blocked_popper() {
    loom::model(|| {
        let queue = Fifo::new();
        let producer = queue.clone();
        let t = thread::spawn(move || producer.add(Job(1, 1)));
        assert_eq!(pop(&queue), Ok((1, 1)));
        t.join().expect("producer");
    });
}

/// Close wakes every blocked popper; an item added before close goes to exactly
/// one of them and the other sees `Closed`.
#[test]
fn close_wakes_every_popper_and_the_item_goes_to_one() {
    loom::model(|| {
        let queue = Fifo::new();
        let poppers: Vec<_> = (0..2)
            .map(|_| {
                let queue = queue.clone();
                thread::spawn(move || pop(&queue))
            })
            .collect();
        queue.add(Job(1, 1));
        queue.close();
        let results: Vec<_> = poppers
            .into_iter()
            .map(|p| p.join().expect("popper"))
            .collect();
        assert_eq!(results.iter().filter(|r| **r == Ok((1, 1))).count(), 1);
        assert_eq!(
            results
                .iter()
                .filter(|r| **r == Err(PopError::Closed))
                .count(),
            1
        );
    });
}

/// Two producers, two poppers: both items are delivered, once each.
#[test]
fn two_producers_two_poppers_deliver_each_item_once() {
    loom::model(|| {
        let queue = Fifo::new();
        let producers: Vec<_> = (1..=2u8)
            .map(|key| {
                let queue = queue.clone();
                thread::spawn(move || queue.add(Job(key, 0)))
            })
            .collect();
        let other = queue.clone();
        let popper = thread::spawn(move || pop(&other));
        let mine = pop(&queue);
        let theirs = popper.join().expect("popper");
        for producer in producers {
            producer.join().expect("producer");
        }
        let mut keys = vec![mine.map(|r| r.0), theirs.map(|r| r.0)];
        keys.sort();
        assert_eq!(keys, [Ok(1), Ok(2)]);
    });
}

/// A key re-added while its first version is processed is handed out after the
/// first popper finishes, never to a second popper at the same time.
#[test]
fn a_key_is_processed_by_one_popper_at_a_time() {
    loom::model(|| {
        let queue = Fifo::new();
        queue.add(Job(1, 1));
        let busy = std::sync::Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let (q2, b2) = (queue.clone(), busy.clone());
        let second = thread::spawn(move || {
            q2.add(Job(1, 2));
            q2.pop(|job| {
                assert!(!b2.swap(true, loom::sync::atomic::Ordering::SeqCst));
                b2.store(false, loom::sync::atomic::Ordering::SeqCst);
                Ok::<_, Requeue<()>>(job.1)
            })
        });
        let first = queue.pop(|job| {
            assert!(!busy.swap(true, loom::sync::atomic::Ordering::SeqCst));
            busy.store(false, loom::sync::atomic::Ordering::SeqCst);
            Ok::<_, Requeue<()>>(job.1)
        });
        let second = second.join().expect("second");
        let mut versions = vec![first, second];
        versions.sort();
        // both versions are processed, or the second add merged into the first
        assert!(
            versions == [Ok(1), Ok(2)] || versions.iter().filter(|v| **v == Ok(2)).count() >= 1
        );
    });
}
