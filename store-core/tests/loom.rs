//! loom model tests of the queues' pop / close / notify protocol.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p store-core --test loom --release`
//! (`.ci/run` does). Each model explores every interleaving of its threads.

#![cfg(loom)]

use loom::thread;
use store_core::{Fifo, Keyed, OrderedFifo, PopError, Queue, Requeue};

#[derive(Debug)]
struct Job(u8, u8);

impl Keyed for Job {
    type Key = u8;
    fn key(&self) -> u8 {
        self.0
    }
}

fn pop(queue: &Fifo<Job>) -> Result<(u8, u8), PopError<()>> {
    queue.pop(|job, _| Ok::<_, Requeue<()>>((job.0, job.1)))
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

/// Two producers (a thread and the main thread), two poppers: both items are
/// delivered, once each.
#[test]
fn two_producers_two_poppers_deliver_each_item_once() {
    loom::model(|| {
        let queue = Fifo::new();
        let producer = {
            let queue = queue.clone();
            thread::spawn(move || queue.add(Job(2, 0)))
        };
        let other = queue.clone();
        let popper = thread::spawn(move || pop(&other));
        queue.add(Job(1, 0));
        let mine = pop(&queue);
        let theirs = popper.join().expect("popper");
        producer.join().expect("producer");
        let mut keys = vec![mine.ok().map(|r| r.0), theirs.ok().map(|r| r.0)];
        keys.sort();
        assert_eq!(keys, [Some(1), Some(2)]);
    });
}

/// A key re-added while its first version is processed is never handed to a second
/// popper at the same time, and its newest version is always processed.
#[test]
fn a_key_is_processed_by_one_popper_at_a_time() {
    use loom::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn exclusive(busy: &AtomicBool, job: &Job) -> Result<u8, Requeue<()>> {
        assert!(!busy.swap(true, Ordering::SeqCst), "two poppers on one key");
        busy.store(false, Ordering::SeqCst);
        Ok(job.1)
    }

    loom::model(|| {
        let queue = Fifo::new();
        queue.add(Job(1, 1));
        let busy = Arc::new(AtomicBool::new(false));
        let (qa, ba) = (queue.clone(), Arc::clone(&busy));
        let a = thread::spawn(move || qa.pop(|job, _| exclusive(&ba, job)).ok());
        let (qb, bb) = (queue.clone(), Arc::clone(&busy));
        let b = thread::spawn(move || {
            qb.add(Job(1, 2));
            qb.try_pop(|job, _| exclusive(&bb, job)).ok().flatten()
        });
        let from_b = b.join().expect("b");
        // B may have taken the only entry (its add merged into the queued one): close,
        // so that A's blocking pop ends either way.
        queue.close();
        let mut processed = vec![a.join().expect("a"), from_b];
        while let Ok(Some(version)) = queue.try_pop(|job, _| exclusive(&busy, job)) {
            processed.push(Some(version));
        }
        assert!(
            processed.contains(&Some(2)),
            "the newest version is processed: {processed:?}"
        );
    });
}

fn pop_async(queue: &Fifo<Job>) -> Result<(u8, u8), PopError<()>> {
    loom::future::block_on(queue.pop_async(|job, _| Ok::<_, Requeue<()>>((job.0, job.1))))
}

/// The async pop: a task waiting on an empty queue is woken by an add from another
/// thread, whichever runs first (its waker is registered under the queue's lock).
#[test]
fn add_wakes_an_async_popper() {
    loom::model(|| {
        let queue = Fifo::new();
        let producer = queue.clone();
        let t = thread::spawn(move || producer.add(Job(1, 1)));
        assert_eq!(pop_async(&queue), Ok((1, 1)));
        t.join().expect("producer");
    });
}

/// Close wakes an async popper and a blocked thread alike; the one item goes to
/// exactly one of them.
#[test]
fn close_wakes_an_async_and_a_blocking_popper() {
    loom::model(|| {
        let queue = Fifo::new();
        queue_close_wakes_both(&queue, pop, pop_async, (1, 1));
    });
}

/// Both poppers of `queue` wait; one item is added and the queue closed: one popper
/// gets the item, the other sees `Closed`.
fn queue_close_wakes_both<Q, R>(
    queue: &Q,
    blocking: fn(&Q) -> Result<R, PopError<()>>,
    asynchronous: fn(&Q) -> Result<R, PopError<()>>,
    got: R,
) where
    Q: Closable + Clone + Send + 'static,
    R: PartialEq + Send + 'static,
{
    let waiting = |pop: fn(&Q) -> Result<R, PopError<()>>| {
        let queue = queue.clone();
        thread::spawn(move || pop(&queue))
    };
    let (blocked, task) = (waiting(blocking), waiting(asynchronous));
    queue.add_one();
    queue.close_it();
    let results = [
        blocked.join().expect("blocking"),
        task.join().expect("async"),
    ];
    let got = Ok(got);
    assert_eq!(results.iter().filter(|r| **r == got).count(), 1);
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(PopError::Closed)))
            .count(),
        1
    );
}

/// What [`queue_close_wakes_both`] does to a queue.
trait Closable {
    fn add_one(&self);
    fn close_it(&self);
}

impl Closable for Fifo<Job> {
    fn add_one(&self) {
        self.add(Job(1, 1));
    }
    fn close_it(&self) {
        self.close();
    }
}

impl Closable for OrderedFifo<Job> {
    fn add_one(&self) {
        self.add(Job(1, 1));
    }
    fn close_it(&self) {
        self.close();
    }
}

fn pop_ordered(queue: &OrderedFifo<Job>) -> Result<Vec<u8>, PopError<()>> {
    queue.pop_batch(4, |batch, _| {
        Ok::<_, Requeue<()>>(batch.events().filter_map(|e| e.key()).collect())
    })
}

fn pop_ordered_async(queue: &OrderedFifo<Job>) -> Result<Vec<u8>, PopError<()>> {
    loom::future::block_on(queue.pop_batch_async(4, |batch, _| {
        Ok::<_, Requeue<()>>(batch.events().filter_map(|e| e.key()).collect())
    }))
}

/// OrderedFifo, blocking: a popper sees both writes of another thread, in order,
/// over one or two batches.
#[test]
fn ordered_popper_sees_writes_in_order() {
    loom::model(|| {
        let queue = OrderedFifo::new();
        let producer = queue.clone();
        let t = thread::spawn(move || {
            producer.add(Job(1, 0));
            producer.add(Job(2, 0));
        });
        let mut seen = pop_ordered(&queue).expect("first batch");
        if seen.len() < 2 {
            seen.extend(pop_ordered(&queue).expect("second batch"));
        }
        assert_eq!(seen, [1, 2]);
        t.join().expect("producer");
    });
}

/// OrderedFifo, async: close wakes a blocked thread and a task, and the one entry
/// goes to exactly one of them.
#[test]
fn ordered_close_wakes_async_and_blocking_poppers() {
    loom::model(|| {
        let queue = OrderedFifo::new();
        queue_close_wakes_both(&queue, pop_ordered, pop_ordered_async, vec![1]);
    });
}
