//! The work a queue does per item, without threads: 100,000 distinct keys added,
//! then popped, on one thread. Meant to run under `valgrind --tool=callgrind` (or
//! `--tool=cachegrind --cache-sim=yes`), whose counts are repeatable where the
//! 1 → 1 wall-clock bench is not: the mode `none` builds the same items and drops
//! them, and the difference over the item count is the queue's own cost per item.
//!
//! `target/release/queue_work {none|fifo|delta_fifo|crossbeam} {u64|name}`
//! (`u64`: the bench's `Job` key; `name`: an `ObjectName` key, as Kubernetes objects
//! have). Prints the mode and the number of items drained.

use std::process::ExitCode;
use std::sync::Arc;

use store_bench::Job;
use store_core::{DeltaFifo, Fifo, Keyed, Queue, Requeue};

const ITEMS: u64 = 100_000;

/// An item keyed by namespace and name.
#[derive(Debug, Keyed)]
#[keyed(namespace = "namespace", name = "name")]
struct Named {
    namespace: String,
    name: String,
    payload: u64,
}

/// How items are made and what a pop reads of one.
trait Item: Keyed + Send + Sync + Sized + 'static {
    fn make(i: u64) -> Self;
    fn payload(&self) -> u64;
}

impl Item for Job {
    fn make(i: u64) -> Self {
        Job { id: i, payload: i }
    }
    fn payload(&self) -> u64 {
        self.payload
    }
}

impl Item for Named {
    fn make(i: u64) -> Self {
        Named {
            namespace: format!("ns-{:03}", i % 100),
            name: format!("item-{i:07}"),
            payload: i,
        }
    }
    fn payload(&self) -> u64 {
        self.payload
    }
}

fn run<T: Item>(mode: &str) -> Option<usize> {
    let items = || (0..ITEMS).map(|i| Arc::new(T::make(i)));
    let mut sum = 0u64;
    let mut drained = 0usize;
    match mode {
        "none" => {
            for item in items() {
                sum = sum.wrapping_add(item.payload());
                drained += 1;
            }
        }
        "fifo" => {
            let queue = Fifo::<T>::new();
            items().for_each(|item| queue.add(item));
            queue.close();
            while let Ok(payload) = queue.pop(|item, _| Ok::<_, Requeue<()>>(item.payload())) {
                sum = sum.wrapping_add(payload);
                drained += 1;
            }
        }
        "delta_fifo" => {
            let queue = DeltaFifo::<T>::new();
            items().for_each(|item| queue.add(item));
            queue.close();
            while let Ok(payload) = queue.pop(|deltas, _| {
                Ok::<_, Requeue<()>>(deltas.newest_object().map_or(0, |item| item.payload()))
            }) {
                sum = sum.wrapping_add(payload);
                drained += 1;
            }
        }
        "crossbeam" => {
            let (send, receive) = crossbeam_channel::unbounded();
            for item in items() {
                // the receiver is alive: a send cannot fail
                let _ = send.send(item);
            }
            drop(send);
            while let Ok(item) = receive.recv() {
                sum = sum.wrapping_add(item.payload());
                drained += 1;
            }
        }
        _ => return None,
    }
    std::hint::black_box(sum);
    Some(drained)
}

fn main() -> ExitCode {
    store_bench::two_word_probe(
        "queue_work {none|fifo|delta_fifo|crossbeam} {u64|name}",
        "items",
        |mode, key| match key {
            "u64" => run::<Job>(mode),
            "name" => run::<Named>(mode),
            _ => None,
        },
    )
}
