//! Queue throughput: one producer thread to one consumer thread through `Fifo`,
//! `DeltaFifo` and a `crossbeam-channel` (no dedup: the floor), in one run.
//!
//! `cargo bench -p store-bench --bench queues`

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use store_core::{DeltaFifo, Fifo, Keyed, Requeue};

/// A small queue item: a key and a payload.
#[derive(Debug)]
struct Job {
    id: u64,
    payload: u64,
}

impl Keyed for Job {
    type Key = u64;
    fn key(&self) -> u64 {
        self.id
    }
}

const ITEMS: u64 = 100_000;

fn through_fifo(items: u64) -> Duration {
    let queue = Fifo::<Job>::new();
    let consumer = {
        let queue = queue.clone();
        thread::spawn(move || {
            let mut sum = 0u64;
            while let Ok(payload) = queue.pop(|job, _| Ok::<_, Requeue<()>>(job.payload)) {
                sum = sum.wrapping_add(payload);
            }
            sum
        })
    };
    let start = Instant::now();
    for id in 0..items {
        queue.add(Job { id, payload: id });
    }
    queue.close();
    let _ = consumer.join();
    start.elapsed()
}

fn through_delta_fifo(items: u64) -> Duration {
    let queue = DeltaFifo::<Job>::new();
    let consumer = {
        let queue = queue.clone();
        thread::spawn(move || {
            let mut count = 0usize;
            while let Ok(len) = queue.pop(|deltas, _| Ok::<_, Requeue<()>>(deltas.len())) {
                count += len;
            }
            count
        })
    };
    let start = Instant::now();
    for id in 0..items {
        queue.add(Job { id, payload: id });
    }
    queue.close();
    let _ = consumer.join();
    start.elapsed()
}

fn through_channel(items: u64) -> Duration {
    let (sender, receiver) = crossbeam_channel::unbounded::<Arc<Job>>();
    let consumer = thread::spawn(move || {
        let mut sum = 0u64;
        while let Ok(job) = receiver.recv() {
            sum = sum.wrapping_add(job.payload);
        }
        sum
    });
    let start = Instant::now();
    for id in 0..items {
        // The same Arc per item the queues store, so allocation is alike.
        if sender.send(Arc::new(Job { id, payload: id })).is_err() {
            break;
        }
    }
    drop(sender);
    let _ = consumer.join();
    start.elapsed()
}

fn producer_to_consumer(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue_1p1c");
    group.throughput(Throughput::Elements(ITEMS));
    group.sample_size(20);
    group.bench_function("fifo", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| through_fifo(ITEMS)).sum())
    });
    group.bench_function("delta_fifo", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| through_delta_fifo(ITEMS)).sum())
    });
    group.bench_function("crossbeam_channel", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| through_channel(ITEMS)).sum())
    });
    group.finish();
}

criterion_group!(benches, producer_to_consumer);
criterion_main!(benches);
