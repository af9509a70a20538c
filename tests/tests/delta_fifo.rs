//! `DeltaFifo<T>`: every DESIGN §5 rule as a behaviour test, plus a model test.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use conformance::fixtures::{item, Item};
use proptest::prelude::*;
use store_core::{
    Cache, DeletedObject, Delta, DeltaFifo, DeltaKind, Deltas, PopError, Queue, Requeue, Store,
};

use DeltaKind::{Added, Deleted, Replaced, Sync, Updated};

fn kinds(queue: &DeltaFifo<Item>, key: u32) -> Vec<DeltaKind> {
    queue.get(&key).map(|d| d.kinds()).unwrap_or_default()
}

/// Pops one key and applies its deltas to `store` (the consumer's side).
fn pop_into(queue: &DeltaFifo<Item>, store: &Cache<Item>) -> (Deltas<Item>, bool) {
    queue
        .try_pop(|deltas, initial| {
            apply(store, deltas);
            Ok::<_, Requeue<()>>((deltas.clone(), initial))
        })
        .expect("open")
        .expect("something queued")
}

fn apply(store: &Cache<Item>, deltas: &Deltas<Item>) {
    for delta in deltas {
        match delta {
            Delta::Deleted(deleted) => {
                store.delete(&deleted.key());
            }
            other => {
                if let Some(obj) = other.object() {
                    store.add(Arc::clone(obj)).expect("no index panics");
                }
            }
        }
    }
}

#[test]
fn changes_of_a_key_accumulate_oldest_first() {
    let queue = DeltaFifo::new();
    queue.add(item(1, 1));
    queue.update(item(1, 2));
    queue.update(item(1, 3));
    assert_eq!(queue.len(), 1);
    let deltas = queue.get(&1).expect("queued");
    assert_eq!(deltas.kinds(), [Added, Updated, Updated]);
    assert_eq!(
        deltas.oldest().and_then(|d| d.object()).map(|o| o.version),
        Some(1)
    );
    assert_eq!(deltas.newest_object().map(|o| o.version), Some(3));
}

#[test]
fn deletion_of_a_key_neither_queued_nor_known_is_dropped() {
    // without known objects: only queued keys take deletions
    let queue = DeltaFifo::new();
    assert!(!queue.delete(item(1, 1)));
    assert!(queue.is_empty());
    queue.add(item(2, 1));
    assert!(queue.delete(item(2, 1)));
    assert_eq!(kinds(&queue, 2), [Added, Deleted]);

    // with known objects: known keys take deletions even when not queued
    let known = Cache::new();
    known.add(item(3, 1)).expect("add");
    let queue = DeltaFifo::with_known_objects(known);
    assert!(queue.delete(item(3, 1)));
    assert!(!queue.delete(item(4, 1)));
    assert_eq!(queue.list_keys(), [3]);
    match queue.get(&3).expect("queued").newest() {
        Some(Delta::Deleted(DeletedObject::Final(obj))) => assert_eq!(obj.version, 1),
        other => panic!("expected a final-state deletion, got {other:?}"),
    }
}

/// Two consecutive deletions merge: keep the older unless it is a tombstone.
#[test]
fn consecutive_deletions_merge_in_all_four_combinations() {
    let final_of = |deltas: &Deltas<Item>| match deltas.newest() {
        Some(Delta::Deleted(d)) => (d.is_tombstone(), d.last_known().map(|o| o.version)),
        other => panic!("expected a deletion, got {other:?}"),
    };

    // real then real: the older real one stays
    let queue = DeltaFifo::new();
    queue.add(item(1, 1));
    queue.delete(item(1, 2));
    queue.delete(item(1, 3));
    let deltas = queue.get(&1).expect("queued");
    assert_eq!(deltas.kinds(), [Added, Deleted]);
    assert_eq!(final_of(&deltas), (false, Some(2)));

    // real then tombstone: the real one stays
    let queue = DeltaFifo::new();
    queue.add(item(1, 1));
    queue.delete(item(1, 2));
    queue.replace(Vec::new(), "1");
    let deltas = queue.get(&1).expect("queued");
    assert_eq!(deltas.kinds(), [Added, Deleted]);
    assert_eq!(final_of(&deltas), (false, Some(2)));

    // tombstone then real: the real one replaces it
    let queue = DeltaFifo::new();
    queue.add(item(1, 1));
    queue.replace(Vec::new(), "1");
    queue.delete(item(1, 4));
    let deltas = queue.get(&1).expect("queued");
    assert_eq!(deltas.kinds(), [Added, Deleted]);
    assert_eq!(final_of(&deltas), (false, Some(4)));

    // tombstone then tombstone: one tombstone
    let queue = DeltaFifo::new();
    queue.add(item(1, 1));
    queue.replace(Vec::new(), "1");
    queue.replace(Vec::new(), "2");
    let deltas = queue.get(&1).expect("queued");
    assert_eq!(deltas.kinds(), [Added, Deleted]);
    assert_eq!(final_of(&deltas), (true, Some(1)));
}

#[test]
fn replace_queues_replaced_then_queued_tombstones_then_known_tombstones() {
    let known = Cache::new();
    known.add(item(10, 1)).expect("add"); // known, not listed, nothing queued
    known.add(item(11, 1)).expect("add"); // known, listed
    let queue = DeltaFifo::with_known_objects(known);
    queue.add(item(20, 1)); // queued, not listed
    queue.add(item(11, 2)); // queued and listed

    queue.replace([item(11, 3), item(30, 1)].map(Arc::new), "42");

    assert_eq!(queue.list_keys(), [20, 11, 30, 10]);
    assert_eq!(kinds(&queue, 11), [Added, Replaced]);
    assert_eq!(kinds(&queue, 30), [Replaced]);
    let tombstone = |key: u32| match queue.get(&key).and_then(|d| d.newest().cloned()) {
        Some(Delta::Deleted(DeletedObject::Unknown { key: k, last })) => {
            assert_eq!(k, key);
            last.map(|o| o.version)
        }
        other => panic!("expected a tombstone for {key}, got {other:?}"),
    };
    assert_eq!(kinds(&queue, 20), [Added, Deleted]);
    assert_eq!(tombstone(20), Some(1), "last state is the newest queued");
    assert_eq!(tombstone(10), Some(1), "last state is the consumer's");
}

#[test]
fn replace_can_emit_sync_instead_of_replaced() {
    let queue = DeltaFifo::new().emit_sync_on_replace();
    queue.replace([item(1, 1)].map(Arc::new), "1");
    assert_eq!(kinds(&queue, 1), [Sync]);
}

#[test]
fn resync_queues_sync_only_for_known_keys_with_nothing_queued() {
    let known = Cache::new();
    known.add(item(1, 1)).expect("add");
    known.add(item(2, 1)).expect("add");
    let queue = DeltaFifo::with_known_objects(known);
    queue.update(item(2, 2)); // a queued update is newer than the store's state
    queue.resync();
    assert_eq!(kinds(&queue, 1), [Sync]);
    assert_eq!(
        kinds(&queue, 2),
        [Updated],
        "no stale Sync behind a queued update"
    );
    assert!(DeltaFifo::<Item>::new().is_empty());
    let plain = DeltaFifo::<Item>::new();
    plain.resync();
    assert!(plain.is_empty(), "no known objects: nothing to resync");
}

#[test]
fn resync_racing_a_popped_update_does_not_requeue_the_stale_state() {
    let known = Cache::new();
    known.add(item(1, 1)).expect("add");
    let queue = DeltaFifo::with_known_objects(known.clone());
    queue.update(item(1, 2));
    let resyncer = queue.clone();
    queue
        .pop(|deltas, _| {
            resyncer.resync(); // the store still holds version 1 here
            apply(&known, deltas);
            Ok::<_, Requeue<()>>(())
        })
        .expect("popped");
    assert!(queue.is_empty());
    assert_eq!(known.get(&1).map(|o| o.version), Some(2));
}

#[test]
fn replace_during_processing_still_deletes_the_object_being_added() {
    let known = Cache::new();
    let queue = DeltaFifo::with_known_objects(known.clone());
    queue.add(item(1, 1));
    let relister = queue.clone();
    queue
        .pop(|deltas, _| {
            relister.replace(Vec::new(), "9"); // item 1 is gone from the source
            apply(&known, deltas);
            Ok::<_, Requeue<()>>(())
        })
        .expect("popped");
    let (deltas, _) = pop_into(&queue, &known);
    assert_eq!(deltas.kinds(), [Deleted]);
    assert!(known.is_empty(), "nothing resurrected");
}

#[test]
fn deletion_of_a_key_being_added_is_not_dropped() {
    let known = Cache::new();
    let queue = DeltaFifo::with_known_objects(known.clone());
    queue.add(item(1, 1));
    let producer = queue.clone();
    queue
        .pop(|deltas, _| {
            assert!(
                producer.delete(item(1, 1)),
                "the consumer is about to hold it"
            );
            apply(&known, deltas);
            Ok::<_, Requeue<()>>(())
        })
        .expect("popped");
    pop_into(&queue, &known);
    assert!(known.is_empty());
}

#[test]
fn has_synced_counts_the_tombstones_of_the_first_replace() {
    let known = Cache::new();
    known.add(item(7, 1)).expect("add");
    known.add(item(8, 1)).expect("add");
    let queue = DeltaFifo::with_known_objects(known.clone());
    assert!(!queue.has_synced());
    queue.replace([item(1, 1)].map(Arc::new), "1");
    assert_eq!(queue.len(), 3);
    for remaining in (0..3).rev() {
        assert!(!queue.has_synced());
        let (_, initial) = pop_into(&queue, &known);
        assert!(initial, "items of the first list are flagged initial");
        assert_eq!(queue.len(), remaining);
    }
    assert!(queue.has_synced());
    queue.add(item(2, 1));
    assert!(!pop_into(&queue, &known).1, "later items are not initial");
}

#[test]
fn has_synced_after_a_write_before_replace_or_an_empty_replace() {
    let queue = DeltaFifo::<Item>::new();
    queue.add(item(1, 1));
    assert!(queue.has_synced());
    let queue = DeltaFifo::<Item>::new();
    queue.replace(Vec::new(), "1");
    assert!(queue.has_synced());
    // a dropped deletion is still a write
    let queue = DeltaFifo::<Item>::new();
    queue.delete(item(1, 1));
    assert!(queue.has_synced());
}

#[test]
fn requeued_deltas_go_in_front_of_newer_ones() {
    let queue = DeltaFifo::new();
    queue.add(item(1, 1));
    let producer = queue.clone();
    let result: Result<(), _> = queue.pop(|_, _| {
        producer.update(item(1, 2));
        Err(Requeue("later".to_owned()))
    });
    assert_eq!(result, Err(PopError::Requeued("later".to_owned())));
    let deltas = queue.get(&1).expect("queued");
    assert_eq!(deltas.kinds(), [Added, Updated]);
    assert_eq!(deltas.newest_object().map(|o| o.version), Some(2));
}

// ---- model test -------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Add(u32, u32),
    Update(u32, u32),
    Delete(u32, u32),
    Replace(Vec<(u32, u32)>),
    Resync,
    Pop,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..5u32, 0..100u32).prop_map(|(k, v)| Op::Add(k, v)),
        3 => (0..5u32, 0..100u32).prop_map(|(k, v)| Op::Update(k, v)),
        2 => (0..5u32, 0..100u32).prop_map(|(k, v)| Op::Delete(k, v)),
        1 => proptest::collection::vec((0..5u32, 0..100u32), 0..5).prop_map(Op::Replace),
        1 => Just(Op::Resync),
        4 => Just(Op::Pop),
    ]
}

/// A delta of the model: kind, version carried (if any), tombstone flag.
type MDelta = (DeltaKind, Option<u32>, bool);

/// The reference: ordered keys with their deltas, and the consumer's store.
#[derive(Default)]
struct Model {
    order: VecDeque<u32>,
    deltas: BTreeMap<u32, Vec<MDelta>>,
    known: BTreeMap<u32, u32>,
}

impl Model {
    fn push(&mut self, key: u32, delta: MDelta) {
        let list = self.deltas.entry(key).or_default();
        if list.is_empty() {
            self.order.push_back(key);
        }
        if let (Some(older), Deleted) = (list.last(), delta.0) {
            if older.0 == Deleted {
                if older.2 {
                    *list.last_mut().expect("non-empty") = delta;
                }
                return;
            }
        }
        list.push(delta);
    }

    fn queued(&self, key: u32) -> bool {
        self.deltas.contains_key(&key)
    }
}

fn project(deltas: &Deltas<Item>) -> Vec<MDelta> {
    deltas
        .iter()
        .map(|d| {
            let tombstone = matches!(d, Delta::Deleted(DeletedObject::Unknown { .. }));
            (d.kind(), d.object().map(|o| o.version), tombstone)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn delta_fifo_matches_its_model(ops in proptest::collection::vec(op(), 1..60)) {
        let store = Cache::<Item>::new();
        let queue = DeltaFifo::with_known_objects(store.clone());
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Add(k, v) => { queue.add(item(k, v)); model.push(k, (Added, Some(v), false)); }
                Op::Update(k, v) => { queue.update(item(k, v)); model.push(k, (Updated, Some(v), false)); }
                Op::Delete(k, v) => {
                    let queued = queue.delete(item(k, v));
                    let expected = model.queued(k) || model.known.contains_key(&k);
                    prop_assert_eq!(queued, expected);
                    if expected { model.push(k, (Deleted, Some(v), false)); }
                }
                Op::Replace(list) => {
                    queue.replace(list.iter().map(|&(k, v)| Arc::new(item(k, v))), "rv");
                    let listed: Vec<u32> = list.iter().map(|(k, _)| *k).collect();
                    for (k, v) in &list { model.push(*k, (Replaced, Some(*v), false)); }
                    let queued_gone: Vec<(u32, Option<u32>)> = model.order.iter()
                        .filter(|k| !listed.contains(k))
                        .map(|k| (*k, model.deltas[k].last().and_then(|d| d.1)))
                        .collect();
                    for (k, last) in queued_gone { model.push(k, (Deleted, last, true)); }
                    let known_gone: Vec<(u32, u32)> = model.known.iter()
                        .filter(|(k, _)| !listed.contains(k) && !model.queued(**k))
                        .map(|(k, v)| (*k, *v))
                        .collect();
                    for (k, v) in known_gone { model.push(k, (Deleted, Some(v), true)); }
                }
                Op::Resync => {
                    queue.resync();
                    let syncs: Vec<(u32, u32)> = model.known.iter()
                        .filter(|(k, _)| !model.queued(**k))
                        .map(|(k, v)| (*k, *v))
                        .collect();
                    for (k, v) in syncs { model.push(k, (Sync, Some(v), false)); }
                }
                Op::Pop => {
                    let got = queue.try_pop(|deltas, _| {
                        apply(&store, deltas);
                        Ok::<_, Requeue<()>>(project(deltas))
                    }).expect("open");
                    match model.order.pop_front() {
                        None => prop_assert_eq!(got, None),
                        Some(key) => {
                            let expected = model.deltas.remove(&key).unwrap_or_default();
                            match expected.last() {
                                Some((Deleted, _, _)) => { model.known.remove(&key); }
                                Some((_, Some(v), _)) => { model.known.insert(key, *v); }
                                _ => {}
                            }
                            prop_assert_eq!(got, Some(expected));
                        }
                    }
                }
            }
            prop_assert_eq!(queue.list_keys(), model.order.iter().copied().collect::<Vec<_>>());
            for (k, expected) in &model.deltas {
                prop_assert_eq!(queue.get(k).map(|d| project(&d)), Some(expected.clone()));
            }
        }
    }
}

/// An in-place relist (pages, then the end) queues what one `replace` of the whole
/// list queues.
#[test]
fn an_in_place_relist_queues_what_one_replace_queues() {
    let setup = || {
        let known = Cache::new();
        known.add(item(10, 1)).expect("add");
        known.add(item(11, 1)).expect("add");
        let queue = DeltaFifo::with_known_objects(known);
        queue.add(item(20, 1));
        queue.add(item(11, 2));
        queue
    };
    let whole = setup();
    whole.replace([item(11, 3), item(30, 1), item(31, 1)].map(Arc::new), "42");
    let paged = setup();
    paged.relist_page([item(11, 3), item(30, 1)].map(Arc::new));
    paged.relist_page([Arc::new(item(31, 1))]);
    let seen = [11, 30, 31].into_iter().collect();
    paged.relist_end(&seen, "42");

    assert_eq!(paged.list_keys(), whole.list_keys());
    for key in whole.list_keys() {
        assert_eq!(kinds(&paged, key), kinds(&whole, key), "key {key}");
    }
    assert_eq!(kinds(&paged, 10), [Deleted]);
}
