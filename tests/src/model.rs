//! The model test: random operation sequences run on a store and on a `BTreeMap`,
//! compared after every step, indexes included.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use store_core::{Indexer, ObjectName, Store};

use crate::fixtures::{expected_postings, label_index, node_index, Pod, INDEX_PROJECTIONS};

/// One step of a model run.
#[derive(Clone, Debug)]
pub enum Op {
    /// `add` (an upsert).
    Add(Pod),
    /// `update` (an upsert).
    Update(Pod),
    /// `delete` by key.
    Delete(ObjectName),
    /// `replace` with this list.
    Replace(Vec<Pod>),
    /// The same list as an in-place relist: `add`s in pages of three, then
    /// `retain_listed`.
    RelistInPlace(Vec<Pod>),
}

const NAMESPACES: [&str; 2] = ["a", "b"];
const NODES: [&str; 3] = ["n1", "n2", "n3"];
const LABELS: [&str; 3] = ["x", "y", "z"];

fn pod() -> impl Strategy<Value = Pod> {
    (
        0..NAMESPACES.len(),
        0..6u8,
        proptest::option::of(0..NODES.len()),
        proptest::collection::btree_set(0..LABELS.len(), 0..=3),
        any::<u8>(),
    )
        .prop_map(|(ns, name, node, labels, version)| Pod {
            namespace: Some(NAMESPACES[ns].to_owned()),
            name: format!("p{name}"),
            node: node.map(|n| NODES[n].to_owned()),
            labels: labels.into_iter().map(|l| LABELS[l].to_owned()).collect(),
            version: u64::from(version),
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => pod().prop_map(Op::Add),
        3 => pod().prop_map(Op::Update),
        3 => pod().prop_map(|p| Op::Delete(p.key_of())),
        1 => proptest::collection::vec(pod(), 0..8).prop_map(Op::Replace),
        1 => proptest::collection::vec(pod(), 0..8).prop_map(Op::RelistInPlace),
    ]
}

/// Sequences of up to 40 operations.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..40)
}

impl Pod {
    fn key_of(&self) -> ObjectName {
        store_core::Keyed::key(self)
    }
}

type Model = BTreeMap<ObjectName, Pod>;

/// Runs `ops` on a fresh store from `make` (given the node and label indexes) and
/// on the model, checking every observable after every step.
pub fn check_against_model<S: Indexer<Pod>>(make: impl Fn() -> S, ops: &[Op]) {
    let store = make();
    store.add_index(node_index()).expect("fresh name");
    store.add_index(label_index()).expect("fresh name");
    let mut model = Model::new();
    for (step, op) in ops.iter().enumerate() {
        apply(&store, &mut model, op);
        compare_content(&store, &model, step, op);
        compare_indexes(&store, &model, step, op);
    }
}

/// [`check_against_model`] for a store without indexes: the content only.
pub fn check_store_against_model<S: Store<Pod>>(make: impl Fn() -> S, ops: &[Op]) {
    let store = make();
    let mut model = Model::new();
    for (step, op) in ops.iter().enumerate() {
        apply(&store, &mut model, op);
        compare_content(&store, &model, step, op);
    }
}

fn apply<S: Store<Pod>>(store: &S, model: &mut Model, op: &Op) {
    match op {
        Op::Add(pod) | Op::Update(pod) => {
            let previous = if matches!(op, Op::Add(_)) {
                store.add(pod.clone())
            } else {
                store.update(pod.clone())
            }
            .expect("index functions do not panic");
            let expected = model.insert(pod.key_of(), pod.clone());
            assert_eq!(
                previous.as_deref(),
                expected.as_ref(),
                "previous object of {op:?}"
            );
        }
        Op::Delete(key) => {
            let removed = store.delete(key);
            assert_eq!(removed.as_deref(), model.remove(key).as_ref(), "{op:?}");
        }
        Op::Replace(pods) | Op::RelistInPlace(pods) => {
            let fresh: Model = pods.iter().map(|p| (p.key_of(), p.clone())).collect();
            let removed = if matches!(op, Op::Replace(_)) {
                store.replace(pods.iter().cloned().map(Arc::new), "rv")
            } else {
                let mut seen = std::collections::HashSet::new();
                for page in pods.chunks(3) {
                    for pod in page {
                        store
                            .add(pod.clone())
                            .expect("index functions do not panic");
                        seen.insert(pod.key_of());
                    }
                }
                store.retain_listed(&seen, "rv")
            }
            .expect("index functions do not panic");
            let removed: BTreeMap<ObjectName, Pod> = removed
                .into_iter()
                .map(|(key, pod)| (key, (*pod).clone()))
                .collect();
            let expected: Model = model
                .iter()
                .filter(|(key, _)| !fresh.contains_key(*key))
                .map(|(key, pod)| (key.clone(), pod.clone()))
                .collect();
            assert_eq!(removed, expected, "removed by {op:?}");
            *model = fresh;
        }
    }
}

fn compare_content<S: Store<Pod>>(store: &S, model: &Model, step: usize, op: &Op) {
    let context = format!("after step {step} ({op:?})");
    assert_eq!(store.len(), model.len(), "len {context}");
    let mut keys = store.list_keys();
    keys.sort();
    assert_eq!(
        keys,
        model.keys().cloned().collect::<Vec<_>>(),
        "keys {context}"
    );
    for (key, pod) in model {
        assert_eq!(store.get(key).as_deref(), Some(pod), "get {key} {context}");
    }
    let mut listed: Vec<Pod> = store.list().iter().map(|pod| (**pod).clone()).collect();
    listed.sort_by_key(Pod::key_of);
    assert_eq!(
        listed,
        model.values().cloned().collect::<Vec<_>>(),
        "list {context}"
    );
}

fn compare_indexes<S: Indexer<Pod>>(store: &S, model: &Model, step: usize, op: &Op) {
    let context = format!("after step {step} ({op:?})");
    for (index, project) in INDEX_PROJECTIONS {
        let expected = expected_postings(project, model.values());
        let values = store.list_index_values(index).expect("registered");
        assert_eq!(
            values,
            expected.keys().cloned().collect::<Vec<_>>(),
            "values of {index} {context}"
        );
        for value in NODES.iter().chain(&LABELS).chain(&NAMESPACES) {
            let keys = store.index_keys(index, value).expect("registered");
            let want: Vec<ObjectName> = expected
                .get(*value)
                .map(|keys| keys.iter().cloned().collect())
                .unwrap_or_default();
            assert_eq!(keys, want, "{index}={value} {context}");
            assert_eq!(
                store.by_index(index, value).expect("registered").len(),
                want.len()
            );
        }
    }
}
