//! The behaviour every queue shares (`Fifo`, `DeltaFifo`, `OrderedFifo`), written once: each case is
//! a function over [`QueueUnderTest`], and `tests/queue_conformance.rs` runs every case
//! against each queue. What only one queue does (per-key merging, tombstones,
//! known-object resync) stays in that queue's own test file.

use std::future::Future;
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use store_core::{DeltaFifo, Deltas, Fifo, OrderedEvent, OrderedFifo, PopError, Requeue};

use crate::fixtures::{item, Item};

/// What a popped item reduces to here: its key.
pub type Popped = Result<u32, PopError<String>>;

/// A queue as these cases drive it.
pub trait QueueUnderTest: Clone + Send + Sync + 'static {
    /// An empty, open queue.
    fn fresh() -> Self;
    /// Queues a write of `obj` (an add or an update).
    fn write(&self, obj: Item);
    /// Closes the queue.
    fn close(&self);
    /// Blocks for one item; answers its key.
    fn pop_key(&self) -> Popped;
    /// Pops one item if one is ready.
    fn try_pop_key(&self) -> Result<Option<u32>, PopError<String>>;
    /// Pops one item and asks for it to be requeued.
    fn pop_and_requeue(&self) -> Popped;
    /// Waits for one item without blocking a thread.
    fn pop_key_async(&self) -> impl Future<Output = Popped> + Send;
    /// The queued keys, in pop order.
    fn keys(&self) -> Vec<u32>;
    /// Whether `key` is queued.
    fn queued(&self, key: u32) -> bool;
    /// How many entries `list` gives.
    fn listed(&self) -> usize;
    /// Whether writes of one queued key share its one entry (`Fifo`, `DeltaFifo`) or
    /// each is an entry of its own (`OrderedFifo`).
    const MERGES_WRITES: bool = true;
}

/// A queue's `QueueUnderTest`: `$key` reads the key of what its pop closures get.
macro_rules! queue_under_test {
    ($queue:ident, $write:ident, merges: $merges:expr, key: $key:expr) => {
        impl QueueUnderTest for $queue<Item> {
            const MERGES_WRITES: bool = $merges;
            fn fresh() -> Self {
                $queue::new()
            }
            fn write(&self, obj: Item) {
                self.$write(obj);
            }
            fn close(&self) {
                store_core::Queue::close(self);
            }
            fn pop_key(&self) -> Popped {
                self.pop(|popped, _| Ok($key(popped)))
            }
            fn try_pop_key(&self) -> Result<Option<u32>, PopError<String>> {
                self.try_pop(|popped, _| Ok($key(popped)))
            }
            fn pop_and_requeue(&self) -> Popped {
                self.pop(|popped, _| Err(Requeue(format!("busy {}", $key(popped)))))
            }
            fn pop_key_async(&self) -> impl Future<Output = Popped> + Send {
                let queue = self.clone();
                async move {
                    queue
                        .pop_async(|popped, _| Ok::<_, Requeue<String>>($key(popped)))
                        .await
                }
            }
            fn keys(&self) -> Vec<u32> {
                self.list_keys()
            }
            fn queued(&self, key: u32) -> bool {
                self.contains_key(&key)
            }
            fn listed(&self) -> usize {
                self.list().len()
            }
        }
    };
}

queue_under_test!(Fifo, add, merges: true, key: |it: &Arc<Item>| it.key);
queue_under_test!(DeltaFifo, update, merges: true, key: |deltas: &Deltas<Item>| deltas
    .key()
    .unwrap_or(u32::MAX));
queue_under_test!(OrderedFifo, update, merges: false, key: |event: &OrderedEvent<Item>| event
    .key()
    .unwrap_or(u32::MAX));

/// `contains_key` and `list` see what is queued, and not what was popped.
pub fn contains_key_and_list_see_the_queued_keys<Q: QueueUnderTest>() {
    let queue = Q::fresh();
    queue.write(item(1, 1));
    queue.write(item(2, 1));
    queue.write(item(1, 2));
    assert!(queue.queued(1) && queue.queued(2) && !queue.queued(3));
    let entries = if Q::MERGES_WRITES { 2 } else { 3 };
    assert_eq!(queue.listed(), entries);
    assert_eq!(queue.pop_key(), Ok(1));
    // a merging queue popped key 1's one entry; an ordered one its first write only
    assert_eq!(queue.queued(1), !Q::MERGES_WRITES);
    assert_eq!(queue.listed(), entries - 1);
}

/// A popped key written again goes to the back; a queued one keeps its place.
pub fn popped_key_written_again_goes_to_the_back<Q: QueueUnderTest>() {
    let queue = Q::fresh();
    queue.write(item(1, 1));
    queue.write(item(2, 1));
    assert_eq!(queue.pop_key(), Ok(1));
    queue.write(item(1, 2));
    queue.write(item(2, 2));
    queue.write(item(3, 1));
    assert_eq!(queue.keys(), [2, 1, 3]);
}

/// A requeue answers the closure's error and puts the key at the tail.
pub fn requeue_answers_the_error_and_puts_the_key_at_the_tail<Q: QueueUnderTest>() {
    let queue = Q::fresh();
    queue.write(item(1, 1));
    queue.write(item(2, 1));
    assert_eq!(
        queue.pop_and_requeue(),
        Err(PopError::Requeued("busy 1".to_owned()))
    );
    assert_eq!(queue.keys(), [2, 1]);
}

/// A closed queue hands out what it holds, then answers `Closed` (blocking or not).
pub fn closed_queue_drains_then_reports_closed<Q: QueueUnderTest>() {
    let queue = Q::fresh();
    queue.write(item(1, 1));
    queue.write(item(2, 1));
    queue.close();
    assert_eq!(queue.pop_key(), Ok(1));
    assert_eq!(queue.try_pop_key(), Ok(Some(2)));
    assert_eq!(queue.pop_key(), Err(PopError::Closed));
    assert_eq!(queue.try_pop_key(), Err(PopError::Closed));
}

/// Ten poppers woken by a close after one write: one has the item, nine `Closed`.
fn one_got_the_item_the_others_closed(results: &[Popped]) {
    assert_eq!(
        results.iter().filter(|r| **r == Ok(1)).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Err(PopError::Closed))
            .count(),
        9,
        "{results:?}"
    );
}

/// Closing wakes every blocked thread: one gets the item, the others `Closed`.
pub fn close_wakes_ten_blocked_threads<Q: QueueUnderTest>() {
    let queue = Q::fresh();
    let (tx, rx) = mpsc::channel();
    let started = Arc::new(Barrier::new(11));
    for _ in 0..10 {
        let (queue, tx, started) = (queue.clone(), tx.clone(), Arc::clone(&started));
        thread::spawn(move || {
            started.wait();
            tx.send(queue.pop_key()).ok();
        });
    }
    started.wait();
    thread::sleep(Duration::from_millis(50)); // let them block (not needed for correctness)
    queue.write(item(1, 1));
    queue.close();
    let results: Vec<Popped> = (0..10)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(10))
                .expect("every popper wakes")
        })
        .collect();
    one_got_the_item_the_others_closed(&results);
}

/// Closing wakes every waiting task: one gets the item, the others `Closed`.
pub async fn close_wakes_ten_blocked_tasks<Q: QueueUnderTest>() {
    let queue = Q::fresh();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move { queue.pop_key_async().await })
        })
        .collect();
    tokio::task::yield_now().await;
    queue.write(item(1, 1));
    queue.close();
    let mut results = Vec::new();
    for task in tasks {
        let result = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("woken")
            .expect("no panic");
        results.push(result);
    }
    one_got_the_item_the_others_closed(&results);
}

/// An async pop dropped before anything arrived takes nothing.
pub async fn dropped_async_pop_takes_nothing<Q: QueueUnderTest>() {
    let queue = Q::fresh();
    {
        let pending = queue.pop_key_async();
        let timed_out = tokio::time::timeout(Duration::from_millis(10), pending).await;
        assert!(timed_out.is_err(), "nothing queued yet");
    }
    queue.write(item(1, 1));
    assert_eq!(queue.try_pop_key(), Ok(Some(1)));
}

/// Runs every case against the queue type `$queue`, in a module `$module`.
#[macro_export]
macro_rules! queue_conformance {
    ($module:ident, $queue:ty) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            use $crate::queue_cases as cases;

            #[test]
            fn popped_key_written_again_goes_to_the_back() {
                cases::popped_key_written_again_goes_to_the_back::<$queue>();
            }
            #[test]
            fn requeue_answers_the_error_and_puts_the_key_at_the_tail() {
                cases::requeue_answers_the_error_and_puts_the_key_at_the_tail::<$queue>();
            }
            #[test]
            fn contains_key_and_list_see_the_queued_keys() {
                cases::contains_key_and_list_see_the_queued_keys::<$queue>();
            }
            #[test]
            fn closed_queue_drains_then_reports_closed() {
                cases::closed_queue_drains_then_reports_closed::<$queue>();
            }
            #[test]
            fn close_wakes_ten_blocked_threads() {
                cases::close_wakes_ten_blocked_threads::<$queue>();
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn close_wakes_ten_blocked_tasks() {
                cases::close_wakes_ten_blocked_tasks::<$queue>().await;
            }
            #[tokio::test]
            async fn dropped_async_pop_takes_nothing() {
                cases::dropped_async_pop_takes_nothing::<$queue>().await;
            }
        }
    };
}
