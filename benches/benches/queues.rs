//! Queue throughput: one producer thread to one consumer thread through `Fifo`,
//! `DeltaFifo`, `OrderedFifo` (single pops and batches) and a `crossbeam-channel` (no
//! dedup: the floor), and two producers to two consumers through `OrderedFifo` and the
//! channel, in one run.
//!
//! `cargo bench -p store-bench --bench queues`

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use store_bench::Job;
use store_core::{DeltaFifo, Fifo, OrderedFifo, Queue, Requeue};

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

/// `producers` threads add `items` jobs between them into an `OrderedFifo` that
/// `consumers` threads drain, `batch` entries at most per pop (1: `pop`).
fn through_ordered_fifo(items: u64, producers: u64, consumers: usize, batch: usize) -> Duration {
    let queue = OrderedFifo::<Job>::new();
    thread::scope(|scope| {
        let drains: Vec<_> = (0..consumers)
            .map(|_| {
                scope.spawn(|| {
                    let mut count = 0usize;
                    if batch == 1 {
                        while let Ok(payload) = queue.pop(|event, _| {
                            Ok::<_, Requeue<()>>(event.delta().map_or(0, |d| d.key()))
                        }) {
                            count = count.wrapping_add(payload as usize);
                        }
                    } else {
                        while let Ok(len) =
                            queue.pop_batch(batch, |batch, _| Ok::<_, Requeue<()>>(batch.len()))
                        {
                            count += len;
                        }
                    }
                    count
                })
            })
            .collect();
        let start = Instant::now();
        let feeds: Vec<_> = (0..producers)
            .map(|p| {
                let queue = &queue;
                scope.spawn(move || {
                    for id in (p..items).step_by(producers as usize) {
                        queue.add(Job { id, payload: id });
                    }
                })
            })
            .collect();
        for feed in feeds {
            let _ = feed.join();
        }
        queue.close();
        for drain in drains {
            let _ = drain.join();
        }
        start.elapsed()
    })
}

/// The channel under the same load as [`through_ordered_fifo`].
fn through_channel_mpmc(items: u64, producers: u64, consumers: usize) -> Duration {
    let (sender, receiver) = crossbeam_channel::unbounded::<Arc<Job>>();
    thread::scope(|scope| {
        let drains: Vec<_> = (0..consumers)
            .map(|_| {
                let receiver = receiver.clone();
                scope.spawn(move || {
                    let mut sum = 0u64;
                    while let Ok(job) = receiver.recv() {
                        sum = sum.wrapping_add(job.payload);
                    }
                    sum
                })
            })
            .collect();
        drop(receiver);
        let start = Instant::now();
        let feeds: Vec<_> = (0..producers)
            .map(|p| {
                let sender = sender.clone();
                scope.spawn(move || {
                    for id in (p..items).step_by(producers as usize) {
                        if sender.send(Arc::new(Job { id, payload: id })).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(sender);
        for feed in feeds {
            let _ = feed.join();
        }
        for drain in drains {
            let _ = drain.join();
        }
        start.elapsed()
    })
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
    group.bench_function("ordered_fifo", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| through_ordered_fifo(ITEMS, 1, 1, 1))
                .sum()
        })
    });
    group.bench_function("ordered_fifo_batch256", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| through_ordered_fifo(ITEMS, 1, 1, 256))
                .sum()
        })
    });
    group.bench_function("crossbeam_channel", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| through_channel(ITEMS)).sum())
    });
    group.finish();
}

fn two_producers_to_two_consumers(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue_2p2c");
    group.throughput(Throughput::Elements(ITEMS));
    group.sample_size(20);
    group.bench_function("ordered_fifo", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| through_ordered_fifo(ITEMS, 2, 2, 1))
                .sum()
        })
    });
    group.bench_function("ordered_fifo_batch256", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| through_ordered_fifo(ITEMS, 2, 2, 256))
                .sum()
        })
    });
    group.bench_function("crossbeam_channel", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| through_channel_mpmc(ITEMS, 2, 2)).sum())
    });
    group.finish();
}

criterion_group!(
    benches,
    producer_to_consumer,
    two_producers_to_two_consumers
);
criterion_main!(benches);
