//! Concurrency behaviour both queues share, run against each: per-producer order,
//! and many producers and consumers losing nothing and delivering nothing twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use conformance::fixtures::{item, Item};
use store_core::{DeltaFifo, Fifo, Requeue};

/// The part of a queue these tests drive.
trait TestQueue: Clone + Send + 'static {
    fn new_queue() -> Self;
    fn push(&self, item: Item);
    /// Pops one key: its newest `(key, version)`, or `None` once closed and empty.
    fn pop_one(&self) -> Option<(u32, u32)>;
    fn close(&self);
}

impl TestQueue for Fifo<Item> {
    fn new_queue() -> Self {
        Fifo::new()
    }
    fn push(&self, item: Item) {
        self.add(item);
    }
    fn pop_one(&self) -> Option<(u32, u32)> {
        self.pop(|it, _| Ok::<_, Requeue<()>>((it.key, it.version)))
            .ok()
    }
    fn close(&self) {
        store_core::Queue::close(self);
    }
}

impl TestQueue for DeltaFifo<Item> {
    fn new_queue() -> Self {
        DeltaFifo::new()
    }
    fn push(&self, item: Item) {
        self.add(item);
    }
    fn pop_one(&self) -> Option<(u32, u32)> {
        self.pop(|deltas, _| {
            let newest = deltas.newest_object().map(|it| (it.key, it.version));
            Ok::<_, Requeue<()>>(newest.unwrap_or((u32::MAX, 0)))
        })
        .ok()
    }
    fn close(&self) {
        store_core::Queue::close(self);
    }
}

fn pop_order_is_preserved_per_producer<Q: TestQueue>() {
    const PER_PRODUCER: u32 = 2_000;
    let queue = Q::new_queue();
    let producers: Vec<_> = (0..3u32)
        .map(|p| {
            let queue = queue.clone();
            thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    queue.push(item(p * 1_000_000 + i, i));
                }
            })
        })
        .collect();
    let mut last = [None::<u32>; 3];
    for _ in 0..3 * PER_PRODUCER {
        let (key, version) = queue.pop_one().expect("open");
        let producer = (key / 1_000_000) as usize;
        assert!(
            last[producer].is_none_or(|prev| prev < version),
            "producer {producer} reordered"
        );
        last[producer] = Some(version);
    }
    for producer in producers {
        producer.join().expect("no panic");
    }
}

fn nothing_lost_or_delivered_twice<Q: TestQueue>() {
    const KEYS: u32 = 5_000;
    let queue = Q::new_queue();
    let delivered = Arc::new(AtomicUsize::new(0));
    let (seen_tx, seen_rx) = mpsc::channel::<u32>();
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let (queue, seen_tx, delivered) =
                (queue.clone(), seen_tx.clone(), Arc::clone(&delivered));
            thread::spawn(move || {
                while let Some((key, _)) = queue.pop_one() {
                    delivered.fetch_add(1, Ordering::SeqCst);
                    seen_tx.send(key).ok();
                }
            })
        })
        .collect();
    drop(seen_tx);
    let producers: Vec<_> = (0..3u32)
        .map(|p| {
            let queue = queue.clone();
            thread::spawn(move || {
                for key in (p..KEYS).step_by(3) {
                    queue.push(item(key, 0));
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().expect("no panic");
    }
    queue.close();
    // Bounded in time: a consumer that never returns means a lost wake-up.
    let watchdog = thread::spawn(move || {
        let mut seen = vec![0u8; KEYS as usize];
        while let Ok(key) = seen_rx.recv_timeout(Duration::from_secs(60)) {
            seen[key as usize] += 1;
        }
        seen
    });
    for consumer in consumers {
        consumer.join().expect("no panic");
    }
    let seen = watchdog.join().expect("no panic");
    assert!(seen.iter().all(|&n| n == 1), "every key exactly once");
    assert_eq!(delivered.load(Ordering::SeqCst), KEYS as usize);
}

#[test]
fn fifo_pop_order_is_preserved_per_producer() {
    pop_order_is_preserved_per_producer::<Fifo<Item>>();
}

#[test]
fn delta_fifo_pop_order_is_preserved_per_producer() {
    pop_order_is_preserved_per_producer::<DeltaFifo<Item>>();
}

#[test]
fn fifo_loses_nothing_and_delivers_nothing_twice_with_many_producers_and_consumers() {
    nothing_lost_or_delivered_twice::<Fifo<Item>>();
}

#[test]
fn delta_fifo_loses_nothing_and_delivers_nothing_twice_with_many_producers_and_consumers() {
    nothing_lost_or_delivered_twice::<DeltaFifo<Item>>();
}
