//! `OrderedFifo<T>`: each DESIGN §9 rule as a behaviour test, plus a property test
//! against a `Vec` model. What every queue shares runs in `queue_conformance.rs`.

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use conformance::fixtures::{item, Item};
use proptest::prelude::*;
use store_core::{
    Cache, DeletedObject, Delta, DeltaKind, OrderedEvent, OrderedFifo, PopError, Queue, Requeue,
    Store,
};

/// An event reduced to (kind, key, version): `Deleted` with no object is version 0.
type Seen = (&'static str, u32, u32);

fn seen(event: &OrderedEvent<Item>) -> Seen {
    match event {
        OrderedEvent::Delta(delta) => {
            let kind = match delta.kind() {
                DeltaKind::Added => "added",
                DeltaKind::Updated => "updated",
                DeltaKind::Deleted => match delta {
                    Delta::Deleted(DeletedObject::Unknown { .. }) => "tombstone",
                    _ => "deleted",
                },
                DeltaKind::Replaced => "replaced",
                DeltaKind::Sync => "sync",
            };
            (
                kind,
                delta.key(),
                delta.object().map_or(0, |obj| obj.version),
            )
        }
        OrderedEvent::ReplacedAll { objects, .. } => ("replaced-all", objects.len() as u32, 0),
        OrderedEvent::Bookmark(rv) => ("bookmark", rv.as_str().parse().unwrap_or(0), 0),
    }
}

fn pop(queue: &OrderedFifo<Item>) -> Result<Seen, PopError<String>> {
    queue.pop(|event, _| Ok(seen(event)))
}

fn pop_batch(queue: &OrderedFifo<Item>, max: usize) -> (Vec<Seen>, bool) {
    queue
        .pop_batch(max, |batch, initial| {
            Ok::<_, Requeue<String>>((batch.events().map(seen).collect(), initial))
        })
        .expect("a batch")
}

fn drain(queue: &OrderedFifo<Item>) -> Vec<Seen> {
    let mut out = Vec::new();
    while let Ok(Some(event)) = queue.try_pop(|event, _| Ok::<_, Requeue<String>>(seen(event))) {
        out.push(event);
    }
    out
}

#[test]
fn every_write_is_its_own_entry_in_arrival_order_across_keys() {
    let queue = OrderedFifo::new();
    queue.add(item(1, 1));
    queue.add(item(2, 1));
    queue.update(item(1, 2));
    queue.delete(item(2, 1));
    assert_eq!(queue.len(), 4);
    assert_eq!(queue.list_keys(), [1, 2]);
    assert_eq!(
        drain(&queue),
        [
            ("added", 1, 1),
            ("added", 2, 1),
            ("updated", 1, 2),
            ("deleted", 2, 1)
        ]
    );
}

#[test]
fn a_delete_of_a_key_nobody_knows_is_queued() {
    let known = Cache::<Item>::new();
    let queue = OrderedFifo::with_known_objects(known);
    assert!(queue.delete(item(9, 1)));
    assert_eq!(drain(&queue), [("deleted", 9, 1)]);
}

#[test]
fn a_relist_queues_its_tombstones_before_its_replacements() {
    let known = Cache::<Item>::new();
    for key in [3, 1, 2] {
        known.add(item(key, 1)).unwrap();
    }
    let queue = OrderedFifo::with_known_objects(known);
    queue.replace([item(2, 2), item(4, 1)].map(Arc::new), "10");
    assert_eq!(
        drain(&queue),
        [
            // known keys the list lacks, in key order, with the consumer's last state
            ("tombstone", 1, 1),
            ("tombstone", 3, 1),
            ("replaced", 2, 2),
            ("replaced", 4, 1),
        ]
    );
}

#[test]
fn relist_tombstones_follow_what_the_queue_will_leave_the_consumer_with() {
    let known = Cache::<Item>::new();
    known.add(item(1, 1)).unwrap();
    known.add(item(2, 1)).unwrap();
    let queue = OrderedFifo::with_known_objects(known);
    queue.delete(item(1, 1)); // queued: the consumer will not hold 1
    queue.add(item(5, 1)); // queued: the consumer will hold 5
    queue.replace(Vec::new(), "3");
    let events = drain(&queue);
    assert_eq!(
        events,
        [
            ("deleted", 1, 1),
            ("added", 5, 1),
            ("tombstone", 2, 1),
            ("tombstone", 5, 1),
        ]
    );

    // without known objects the queue's own entries are all it knows
    let queue = OrderedFifo::new();
    queue.add(item(7, 1));
    queue.update(item(7, 2));
    queue.replace([item(8, 1)].map(Arc::new), "4");
    assert_eq!(
        drain(&queue),
        [
            ("added", 7, 1),
            ("updated", 7, 2),
            ("tombstone", 7, 2),
            ("replaced", 8, 1),
        ]
    );
}

#[test]
fn a_relist_during_processing_sees_the_batch_being_processed() {
    // The consumer has popped "add 1" but not yet stored it: a relist that lacks 1
    // must still delete it, or it would outlive its deletion.
    let known = Cache::<Item>::new();
    let queue = OrderedFifo::with_known_objects(known.clone());
    queue.add(item(1, 1));
    let relisting = queue.clone();
    queue
        .pop(|_, _| {
            relisting.replace(Vec::new(), "2");
            Ok::<_, Requeue<String>>(())
        })
        .unwrap();
    assert_eq!(drain(&queue), [("tombstone", 1, 1)]);
}

#[test]
fn atomic_mode_queues_one_replaced_all_with_the_version() {
    let queue = OrderedFifo::<Item>::new().atomic_replace();
    assert!(queue.is_atomic());
    queue.add(item(1, 1));
    queue.replace([item(2, 1), item(3, 1)].map(Arc::new), "12");
    assert_eq!(queue.len(), 2);
    pop(&queue).unwrap();
    let (objects, rv) = queue
        .pop(|event, _| match event {
            OrderedEvent::ReplacedAll {
                objects,
                resource_version,
            } => Ok::<_, Requeue<String>>((
                objects.iter().map(|o| o.key).collect::<Vec<_>>(),
                resource_version.to_string(),
            )),
            other => panic!("expected ReplacedAll, got {other:?}"),
        })
        .unwrap();
    assert_eq!((objects, rv.as_str()), (vec![2, 3], "12"));
}

#[test]
fn bookmarks_flow_through_in_order_when_asked_for() {
    let plain = OrderedFifo::<Item>::new();
    plain.bookmark("5");
    assert!(plain.is_empty());

    let queue = OrderedFifo::<Item>::new().emit_bookmarks();
    queue.add(item(1, 1));
    queue.bookmark("5");
    queue.add(item(2, 1));
    assert_eq!(
        drain(&queue),
        [("added", 1, 1), ("bookmark", 5, 0), ("added", 2, 1)]
    );
}

#[test]
fn a_batch_never_holds_one_key_twice_and_respects_max() {
    let queue = OrderedFifo::new();
    for (key, version) in [(1, 1), (2, 1), (3, 1), (2, 2), (4, 1)] {
        queue.add(item(key, version));
    }
    assert_eq!(
        pop_batch(&queue, 10).0,
        [("added", 1, 1), ("added", 2, 1), ("added", 3, 1)]
    );
    assert_eq!(pop_batch(&queue, 1).0, [("added", 2, 2)]);
    assert_eq!(pop_batch(&queue, 10).0, [("added", 4, 1)]);
}

#[test]
fn a_batch_never_straddles_the_initial_list_boundary() {
    let queue = OrderedFifo::new();
    queue.replace([item(1, 1), item(2, 1)].map(Arc::new), "1");
    queue.add(item(3, 1));
    queue.add(item(4, 1));
    let (first, initial) = pop_batch(&queue, 10);
    assert_eq!(first, [("replaced", 1, 1), ("replaced", 2, 1)]);
    assert!(initial);
    assert!(queue.has_synced());
    let (second, initial) = pop_batch(&queue, 10);
    assert_eq!(second, [("added", 3, 1), ("added", 4, 1)]);
    assert!(!initial);
}

#[test]
fn a_replaced_all_is_popped_alone() {
    let queue = OrderedFifo::new().atomic_replace().emit_bookmarks();
    queue.replace([item(1, 1)].map(Arc::new), "1");
    queue.add(item(2, 1));
    queue.replace([item(2, 1)].map(Arc::new), "2");
    queue.bookmark("3");
    let (first, initial) = pop_batch(&queue, 10);
    assert_eq!((first, initial), (vec![("replaced-all", 1, 0)], true));
    assert_eq!(pop_batch(&queue, 10).0, [("added", 2, 1)]);
    assert_eq!(
        pop_batch(&queue, 10).0,
        [("replaced-all", 1, 0)],
        "a ReplacedAll never joins a batch"
    );
    assert_eq!(pop_batch(&queue, 10).0, [("bookmark", 3, 0)]);
}

#[test]
fn a_batch_reports_its_newest_resource_version() {
    let queue = OrderedFifo::<Item>::new();
    queue.push(Delta::Added(Arc::new(item(1, 1))), Some("7".into()));
    queue.push(Delta::Added(Arc::new(item(2, 1))), Some("8".into()));
    queue.add(item(3, 1));
    let rv = queue
        .pop_batch(10, |batch, _| {
            assert_eq!(batch.len(), 3);
            Ok::<_, Requeue<String>>(batch.resource_version().map(|rv| rv.to_string()))
        })
        .unwrap();
    assert_eq!(rv.as_deref(), Some("8"));
}

#[test]
fn has_synced_counts_every_entry_of_the_first_replace() {
    let known = Cache::<Item>::new();
    known.add(item(9, 1)).unwrap();
    let queue = OrderedFifo::with_known_objects(known);
    queue.replace([item(1, 1)].map(Arc::new), "1");
    assert!(!queue.has_synced());
    pop(&queue).unwrap(); // the tombstone of 9
    assert!(!queue.has_synced());
    queue.add(item(2, 1)); // later writes do not count
    pop(&queue).unwrap();
    assert!(queue.has_synced());

    // an empty first replace with nothing to delete: synced at once
    let queue = OrderedFifo::<Item>::new();
    queue.replace(Vec::new(), "1");
    assert!(queue.has_synced());

    // atomic: its one ReplacedAll must be processed
    let queue = OrderedFifo::<Item>::new().atomic_replace();
    queue.replace(Vec::new(), "1");
    assert!(!queue.has_synced());
    pop(&queue).unwrap();
    assert!(queue.has_synced());

    // a write before the first replace: synced from then on
    let queue = OrderedFifo::new();
    queue.add(item(1, 1));
    assert!(queue.has_synced());

    // a panicking consumer still counts its entry
    let queue = OrderedFifo::new();
    queue.replace([item(1, 1)].map(Arc::new), "1");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = queue.pop(|_, _| -> Result<(), Requeue<String>> { panic!("consumer bug") });
    }));
    assert!(panicked.is_err());
    assert!(queue.has_synced());
}

#[test]
fn a_requeued_batch_goes_back_to_the_tail_in_order() {
    let queue = OrderedFifo::new();
    queue.add(item(1, 1));
    queue.add(item(2, 1));
    queue.add(item(3, 1));
    let requeued = queue.pop_batch(2, |_, _| Err::<(), _>(Requeue("not now".to_owned())));
    assert_eq!(requeued, Err(PopError::Requeued("not now".to_owned())));
    assert_eq!(
        drain(&queue),
        [("added", 3, 1), ("added", 1, 1), ("added", 2, 1)]
    );
}

#[test]
fn resync_queues_sync_for_known_keys_with_nothing_pending() {
    let known = Cache::<Item>::new();
    known.add(item(1, 1)).unwrap();
    known.add(item(2, 1)).unwrap();
    let queue = OrderedFifo::with_known_objects(known);
    queue.update(item(2, 2));
    queue.resync();
    assert_eq!(drain(&queue), [("updated", 2, 2), ("sync", 1, 1)]);

    let without = OrderedFifo::<Item>::new();
    without.resync();
    assert!(without.is_empty());
}

#[test]
fn a_blocked_popper_wakes_for_a_write_and_for_close() {
    let queue = OrderedFifo::<Item>::new();
    let (tx, rx) = mpsc::channel();
    let popper = {
        let queue = queue.clone();
        thread::spawn(move || {
            tx.send(pop_batch(&queue, 8).0).unwrap();
            pop(&queue)
        })
    };
    thread::sleep(Duration::from_millis(20));
    queue.add(item(1, 1));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        [("added", 1, 1)]
    );
    queue.close();
    assert_eq!(popper.join().unwrap(), Err(PopError::Closed));
}

#[tokio::test]
async fn async_batch_pop_waits_and_is_cancel_safe() {
    let queue = OrderedFifo::<Item>::new();
    let pending = queue.pop_batch_async(4, |batch, _| Ok::<_, Requeue<String>>(batch.len()));
    assert!(tokio::time::timeout(Duration::from_millis(10), pending)
        .await
        .is_err());
    queue.add(item(1, 1));
    queue.add(item(2, 1));
    let n = queue
        .pop_batch_async(4, |batch, _| Ok::<_, Requeue<String>>(batch.len()))
        .await;
    assert_eq!(n, Ok(2));
}

/// The model: a `Vec` of entries; a batch takes from the front up to `max`, stopping
/// before a key it already holds.
#[derive(Debug, Clone)]
enum Op {
    Add(u32, u32),
    Update(u32, u32),
    Delete(u32),
    PopBatch(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u32..6, 0u32..100).prop_map(|(k, v)| Op::Add(k, v)),
        (0u32..6, 0u32..100).prop_map(|(k, v)| Op::Update(k, v)),
        (0u32..6).prop_map(Op::Delete),
        (1usize..6).prop_map(Op::PopBatch),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn ordered_fifo_matches_a_vec(ops in proptest::collection::vec(op(), 1..80)) {
        let queue = OrderedFifo::new();
        let mut model: Vec<Seen> = Vec::new();
        for op in ops {
            match op {
                Op::Add(k, v) => { queue.add(item(k, v)); model.push(("added", k, v)); }
                Op::Update(k, v) => { queue.update(item(k, v)); model.push(("updated", k, v)); }
                Op::Delete(k) => { queue.delete(item(k, 0)); model.push(("deleted", k, 0)); }
                Op::PopBatch(max) => {
                    if model.is_empty() {
                        prop_assert!(queue.is_empty());
                        continue;
                    }
                    let mut expected: Vec<Seen> = Vec::new();
                    let mut keys = std::collections::HashSet::new();
                    while expected.len() < max && !model.is_empty() && keys.insert(model[0].1) {
                        expected.push(model.remove(0));
                    }
                    let got = queue.pop_batch(max, |batch, _| {
                        Ok::<_, Requeue<String>>(batch.events().map(seen).collect::<Vec<_>>())
                    });
                    prop_assert_eq!(got, Ok(expected));
                }
            }
            prop_assert_eq!(queue.len(), model.len());
            prop_assert_eq!(queue.list().iter().map(seen).collect::<Vec<_>>(), model.clone());
        }
    }
}

/// An in-place relist queues each page's objects as `Replaced` as they arrive, then
/// tombstones (key order) for what the consumer will hold and the list lacked; the
/// list's version rides on the last entry.
#[test]
fn an_in_place_relist_queues_pages_then_tombstones() {
    let known = Cache::new();
    for key in [1, 2, 3] {
        known.add(item(key, 1)).expect("add");
    }
    // atomic mode too: pages are entries of their own
    let queue = OrderedFifo::with_known_objects(known).atomic_replace();
    queue.add(item(4, 1)); // queued, not listed
    queue.relist_page([item(2, 2)].map(Arc::new));
    assert_eq!(queue.len(), 2, "a page is queued at once");
    queue.relist_page([item(5, 1)].map(Arc::new));
    let seen = [2, 5].into_iter().collect();
    queue.relist_end(&seen, "30");
    let mut versions = Vec::new();
    let mut events = Vec::new();
    while let Ok(Some(())) = queue.try_pop(|event, _| {
        events.push(seen_of(event));
        Ok::<_, Requeue<String>>(())
    }) {}
    assert_eq!(
        events,
        [
            ("added", 4, 1),
            ("replaced", 2, 2),
            ("replaced", 5, 1),
            ("tombstone", 1, 1),
            ("tombstone", 3, 1),
            ("tombstone", 4, 1),
        ]
    );
    // the version comes with the last tombstone
    // (nothing popped was applied to `known`: the consumer still holds 1, 2 and 3)
    queue.relist_page([item(1, 2), item(2, 3), item(3, 2)].map(Arc::new));
    queue.relist_end(&[1, 2, 3].into_iter().collect(), "31");
    queue
        .pop_batch(10, |batch, _| {
            versions.extend(
                batch
                    .iter()
                    .map(|(_, rv)| rv.map(|rv| rv.as_str().to_owned())),
            );
            Ok::<_, Requeue<String>>(())
        })
        .expect("a batch");
    // nothing left to delete: a bookmark carries the version
    assert_eq!(versions, [None, None, None, Some("31".to_owned())]);
}

fn seen_of(event: &OrderedEvent<Item>) -> Seen {
    seen(event)
}
