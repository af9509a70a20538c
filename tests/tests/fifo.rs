//! `Fifo<T>`: every DESIGN §5 rule as a behaviour test, plus a model test.

use std::collections::VecDeque;
use std::sync::{mpsc, Arc};
use std::thread;

use conformance::fixtures::{item, Item};
use proptest::prelude::*;
use store_core::{Cache, Fifo, PopError, Queue, Requeue, Store};

type Popped = Result<(u32, u32), PopError<String>>;

fn pop(queue: &Fifo<Item>) -> Popped {
    queue.pop(|it, _| Ok((it.key, it.version)))
}

fn try_pop(queue: &Fifo<Item>) -> Result<Option<(u32, u32)>, PopError<String>> {
    queue.try_pop(|it, _| Ok((it.key, it.version)))
}

#[test]
fn add_then_update_pops_once_with_the_newest_value() {
    let queue = Fifo::new();
    queue.add(item(1, 1));
    queue.update(item(1, 2));
    queue.add(item(1, 3));
    assert_eq!(queue.len(), 1);
    assert_eq!(pop(&queue), Ok((1, 3)));
    assert_eq!(try_pop(&queue), Ok(None));
}

#[test]
fn queued_key_keeps_its_place_when_updated() {
    let queue = Fifo::new();
    queue.add(item(1, 1));
    queue.add(item(2, 1));
    queue.add(item(1, 2));
    assert_eq!(queue.list_keys(), [1, 2]);
    assert_eq!(pop(&queue), Ok((1, 2)));
}

#[test]
fn requeue_returns_the_inner_error_and_keeps_the_item_at_the_tail() {
    let queue = Fifo::new();
    queue.add(item(1, 1));
    queue.add(item(2, 1));
    let result: Result<(), _> = queue.pop(|it, _| Err(Requeue(format!("busy {}", it.key))));
    assert_eq!(result, Err(PopError::Requeued("busy 1".to_owned())));
    assert_eq!(queue.list_keys(), [2, 1]);
    assert_eq!(queue.get(&1), Some(Arc::new(item(1, 1))));
}

#[test]
fn requeue_never_overwrites_a_newer_version_added_meanwhile() {
    let queue = Fifo::new();
    queue.add(item(1, 1));
    let producer = queue.clone();
    let result: Result<(), _> = queue.pop(|_, _| {
        producer.add(item(1, 2)); // a newer version arrives while processing
        Err(Requeue("retry".to_owned()))
    });
    assert!(matches!(result, Err(PopError::Requeued(_))));
    assert_eq!(queue.len(), 1);
    assert_eq!(pop(&queue), Ok((1, 2)));
}

#[test]
fn deleted_key_is_skipped_at_pop() {
    let queue = Fifo::new();
    queue.add(item(1, 1));
    queue.add(item(2, 1));
    assert!(queue.delete(item(1, 9)));
    assert!(!queue.delete(item(7, 1)));
    assert_eq!(queue.len(), 1);
    assert_eq!(pop(&queue), Ok((2, 1)));
    assert_eq!(try_pop(&queue), Ok(None));
    // re-added after its delete: to the back, once
    queue.add(item(3, 1));
    queue.add(item(1, 2));
    assert_eq!(queue.list_keys(), [3, 1]);
    // deleted and re-added while its old place is still ahead: pops at its new place
    assert!(queue.delete(item(3, 1)));
    queue.add(item(4, 1));
    queue.add(item(3, 2));
    assert_eq!(pop(&queue), Ok((1, 2)));
    assert_eq!(pop(&queue), Ok((4, 1)));
    assert_eq!(pop(&queue), Ok((3, 2)));
    assert_eq!(try_pop(&queue), Ok(None));
}

#[test]
fn replace_drops_missing_keys_keeps_places_and_appends_new_keys_in_list_order() {
    let queue = Fifo::new();
    queue.add(item(1, 1));
    queue.add(item(2, 1));
    queue.add(item(3, 1));
    queue.replace(
        [item(5, 1), item(3, 2), item(4, 1), item(1, 2)].map(Arc::new),
        "7",
    );
    assert_eq!(queue.list_keys(), [1, 3, 5, 4]);
    let popped: Vec<Popped> = (0..4).map(|_| pop(&queue)).collect();
    assert_eq!(popped, [Ok((1, 2)), Ok((3, 2)), Ok((5, 1)), Ok((4, 1))]);
}

#[test]
fn resync_requeues_known_objects_that_are_not_queued() {
    let known = Cache::<Item>::new();
    known.add(item(1, 1)).expect("add");
    known.add(item(2, 1)).expect("add");
    let queue = Fifo::with_known_objects(known.clone());
    queue.add(item(2, 5));
    queue.resync();
    let mut keys = queue.list_keys();
    assert_eq!(keys.remove(0), 2, "queued key keeps its place");
    assert_eq!(keys, [1]);
    assert_eq!(
        queue.get(&2).map(|it| it.version),
        Some(5),
        "resync never overwrites"
    );
    // without known objects resync does nothing
    let plain = Fifo::<Item>::new();
    plain.resync();
    assert!(plain.is_empty());
}

#[test]
fn resync_skips_a_key_being_processed() {
    let known = Cache::<Item>::new();
    known.add(item(1, 1)).expect("add");
    let queue = Fifo::with_known_objects(known.clone());
    queue.add(item(1, 2));
    let resyncer = queue.clone();
    queue
        .pop(|it, _| {
            resyncer.resync(); // the known store still has version 1
            known
                .add(Arc::clone(it))
                .map_err(|e| Requeue(e.to_string()))
        })
        .expect("popped");
    assert!(
        queue.is_empty(),
        "a stale Sync would undo the update just processed"
    );
}

#[test]
fn has_synced_state_table() {
    // nothing happened yet
    assert!(!Fifo::<Item>::new().has_synced());

    // a write before the first replace
    let queue = Fifo::new();
    queue.add(item(1, 1));
    assert!(queue.has_synced());

    // an empty first replace
    let queue = Fifo::<Item>::new();
    queue.replace(Vec::new(), "1");
    assert!(queue.has_synced());

    // a first replace of two: synced once both are popped, whatever came after
    let queue = Fifo::new();
    queue.replace([item(1, 1), item(2, 1)].map(Arc::new), "1");
    queue.add(item(3, 1));
    assert!(!queue.has_synced());
    pop(&queue).expect("1");
    assert!(!queue.has_synced());
    pop(&queue).expect("2");
    assert!(queue.has_synced());

    // an initial item deleted before it was popped counts as done
    let queue = Fifo::new();
    queue.replace([item(1, 1), item(2, 1)].map(Arc::new), "1");
    queue.delete(item(2, 1));
    pop(&queue).expect("1");
    assert!(queue.has_synced());

    // only the first replace counts
    queue.replace([item(4, 1)].map(Arc::new), "2");
    assert!(queue.has_synced());
}

#[test]
fn has_synced_waits_for_processing_to_finish() {
    let queue = Fifo::new();
    queue.replace([item(1, 1)].map(Arc::new), "1");
    let observer = queue.clone();
    let seen_inside = queue
        .pop(|_, _| Ok::<_, Requeue<()>>(observer.has_synced()))
        .expect("popped");
    assert!(
        !seen_inside,
        "not synced while the last initial item is being processed"
    );
    assert!(queue.has_synced());
}

#[test]
fn a_panicking_closure_still_counts_as_popped() {
    let queue = Fifo::new();
    queue.replace([item(1, 1)].map(Arc::new), "1");
    let panicking = queue.clone();
    let outcome = thread::spawn(move || {
        let _: Result<(), PopError<()>> = panicking.pop(|_, _| panic!("handler bug"));
    })
    .join();
    assert!(outcome.is_err());
    assert!(queue.has_synced());
    queue.add(item(1, 2)); // the key is not stuck "in flight"
    assert_eq!(pop(&queue), Ok((1, 2)));
}

#[test]
fn a_key_is_processed_by_one_popper_at_a_time() {
    let queue = Fifo::new();
    queue.add(item(1, 1));
    let (inside_tx, inside_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let first = {
        let queue = queue.clone();
        thread::spawn(move || {
            queue.pop(|it, _| {
                inside_tx.send(()).ok();
                release_rx.recv().ok();
                Ok::<_, Requeue<()>>(it.version)
            })
        })
    };
    inside_rx.recv().expect("first popper is processing");
    queue.add(item(1, 2));
    queue.add(item(2, 1));
    assert_eq!(try_pop(&queue), Ok(Some((2, 1))), "other keys flow");
    assert_eq!(
        try_pop(&queue),
        Ok(None),
        "key 1 waits for its first popper"
    );
    release_tx.send(()).ok();
    assert_eq!(first.join().expect("no panic"), Ok(1));
    assert_eq!(pop(&queue), Ok((1, 2)));
}

// ---- model test -------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Add(u32, u32),
    Delete(u32),
    Replace(Vec<(u32, u32)>),
    Pop,
    PopRequeue,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6u32, any::<u32>()).prop_map(|(k, v)| Op::Add(k, v)),
        2 => (0..6u32).prop_map(Op::Delete),
        1 => proptest::collection::vec((0..6u32, any::<u32>()), 0..6).prop_map(Op::Replace),
        3 => Just(Op::Pop),
        1 => Just(Op::PopRequeue),
    ]
}

/// The reference: a list of (key, latest value), one entry per key, in queue order.
#[derive(Default)]
struct Model(VecDeque<(u32, u32)>);

impl Model {
    fn upsert(&mut self, key: u32, value: u32) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push_back((key, value)),
        }
    }

    fn delete(&mut self, key: u32) {
        self.0.retain(|(k, _)| *k != key);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn fifo_matches_its_model(ops in proptest::collection::vec(op(), 1..60)) {
        let queue = Fifo::new();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Add(k, v) => { queue.add(item(k, v)); model.upsert(k, v); }
                Op::Delete(k) => { queue.delete(item(k, 0)); model.delete(k); }
                Op::Replace(list) => {
                    queue.replace(list.iter().map(|&(k, v)| Arc::new(item(k, v))), "rv");
                    let listed: Vec<u32> = list.iter().map(|(k, _)| *k).collect();
                    model.0.retain(|(k, _)| listed.contains(k));
                    for (k, v) in list { model.upsert(k, v); }
                }
                Op::Pop => {
                    let got = try_pop(&queue).expect("open");
                    prop_assert_eq!(got, model.0.pop_front());
                }
                Op::PopRequeue => {
                    let got = queue.try_pop(|it, _| Err::<(), _>(Requeue((it.key, it.version))));
                    match model.0.pop_front() {
                        None => prop_assert_eq!(got, Ok(None)),
                        Some(front) => {
                            prop_assert_eq!(got, Err(PopError::Requeued(front)));
                            model.0.push_back(front);
                        }
                    }
                }
            }
            let keys: Vec<u32> = model.0.iter().map(|(k, _)| *k).collect();
            prop_assert_eq!(queue.list_keys(), keys);
            for (k, v) in &model.0 {
                prop_assert_eq!(queue.get(k).map(|it| it.version), Some(*v));
            }
        }
    }
}

#[test]
fn the_pop_closure_is_told_which_items_came_with_the_first_replace() {
    let queue = Fifo::new();
    queue.replace(vec![Arc::new(item(1, 1)), Arc::new(item(2, 1))], "5");
    queue.add(item(3, 1));
    let mut seen = Vec::new();
    while let Ok(Some(popped)) =
        queue.try_pop(|it, initial| Ok::<_, Requeue<()>>((it.key, initial)))
    {
        seen.push(popped);
    }
    assert_eq!(seen, [(1, true), (2, true), (3, false)]);
}

/// An in-place relist (pages, then the end) leaves the queue as one `replace` does.
#[test]
fn an_in_place_relist_leaves_the_queue_as_one_replace_does() {
    let setup = || {
        let queue = Fifo::new();
        for key in [1, 2, 3] {
            queue.add(item(key, 1));
        }
        queue
    };
    let whole = setup();
    whole.replace([item(2, 2), item(4, 1), item(5, 1)].map(Arc::new), "9");
    let paged = setup();
    paged.relist_page([item(2, 2), item(4, 1)].map(Arc::new));
    paged.relist_page([Arc::new(item(5, 1))]);
    let seen = [2, 4, 5].into_iter().collect();
    paged.relist_end(&seen, "9");
    let content = |queue: &Fifo<Item>| -> Vec<(u32, u32)> {
        let mut content: Vec<(u32, u32)> =
            queue.list().iter().map(|i| (i.key, i.version)).collect();
        content.sort_unstable(); // `list` is in no particular order
        content
    };
    assert_eq!(content(&paged), content(&whole));
    assert_eq!(paged.list_keys(), [2, 4, 5]);
}
