//! The store conformance cases, each a generic function over any [`Store`] (the
//! content cases) or [`Indexer`] (the index cases) of [`Pod`]s. [`store_conformance!`](crate::store_conformance) runs them all per backend.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use store_core::{
    BatchWrite, Error, Indexer, ObjectName, ObjectNameRef, Store, Written, NAMESPACE_INDEX,
};

use crate::fixtures::{fragile_index, label_index, node_index, Pod, LABEL_INDEX, NODE_INDEX};

fn key(namespace: &str, name: &str) -> ObjectName {
    ObjectName::namespaced(namespace, name).unwrap()
}

fn names(objects: &[Arc<Pod>]) -> Vec<String> {
    let mut names: Vec<String> = objects.iter().map(|pod| pod.name.clone()).collect();
    names.sort();
    names
}

fn with_pod_indexes<S: Indexer<Pod>>(make: impl Fn() -> S) -> S {
    let store = make();
    store.add_index(node_index()).expect("fresh index name");
    store.add_index(label_index()).expect("fresh index name");
    store
}

/// `get` hands out the very `Arc` that was stored.
pub fn add_then_get_hands_out_the_same_arc<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    let pod = Pod::new("ns", "a").arc();
    assert_eq!(store.add(Arc::clone(&pod)).expect("add"), None);
    let got = store.get(&key("ns", "a")).expect("stored");
    assert!(Arc::ptr_eq(&got, &pod));
    assert!(store.contains_key(&key("ns", "a")));
    assert_eq!(store.len(), 1);
    assert!(!store.is_empty());
}

/// `update` is an upsert that returns what it replaced.
pub fn update_replaces_and_returns_the_previous_object<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store.add(Pod::new("ns", "a").at(1)).expect("add");
    let previous = store.update(Pod::new("ns", "a").at(2)).expect("update");
    assert_eq!(previous.map(|p| p.version), Some(1));
    assert_eq!(store.get(&key("ns", "a")).map(|p| p.version), Some(2));
    assert_eq!(store.len(), 1);
    // update of an absent key inserts
    assert_eq!(store.update(Pod::new("ns", "b")).expect("update"), None);
    assert_eq!(store.len(), 2);
}

/// Deleting a key that is not there changes nothing.
pub fn delete_of_missing_key_is_a_noop<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store.add(Pod::new("ns", "a")).expect("add");
    assert_eq!(store.delete(&key("ns", "zz")), None);
    assert_eq!(store.delete(&key("other", "a")), None);
    assert_eq!(store.len(), 1);
}

/// `delete` removes the object and hands it back.
pub fn delete_removes_and_returns_the_object<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store.add(Pod::new("ns", "a").at(5)).expect("add");
    assert_eq!(store.delete(&key("ns", "a")).map(|p| p.version), Some(5));
    assert!(store.get(&key("ns", "a")).is_none());
    assert!(store.is_empty());
    assert_eq!(store.delete(&key("ns", "a")), None);
}

/// A borrowed `ObjectNameRef` finds what the owned key finds.
pub fn borrowed_key_finds_the_entry<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store.add(Pod::new("ns", "a")).expect("add");
    assert!(store.get(&ObjectNameRef::namespaced("ns", "a")).is_some());
    assert!(store.contains_key(&ObjectNameRef::namespaced("ns", "a")));
    assert!(store.get(&ObjectNameRef::cluster("a")).is_none());
    assert!(store
        .delete(&ObjectNameRef::namespaced("ns", "a"))
        .is_some());
    assert!(store.is_empty());
}

/// `list` and `list_keys` show every object once, and nothing else.
pub fn list_and_list_keys_show_exactly_the_content<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    assert!(store.list().is_empty());
    for name in ["c", "a", "b"] {
        store.add(Pod::new("ns", name)).expect("add");
    }
    store.add(Pod::new("ns", "a").at(9)).expect("add");
    assert_eq!(names(&store.list()), ["a", "b", "c"]);
    let mut keys = store.list_keys();
    keys.sort();
    assert_eq!(keys, [key("ns", "a"), key("ns", "b"), key("ns", "c")]);
}

/// Clones of a handle see each other's writes.
pub fn clones_share_the_same_data<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    let other = store.clone();
    store.add(Pod::new("ns", "a")).expect("add");
    assert!(other.contains_key(&key("ns", "a")));
    other.delete(&key("ns", "a"));
    assert!(store.is_empty());
}

/// After `replace` the store holds exactly the list; removed keys are reported.
pub fn replace_keeps_exactly_the_items_and_reports_removed<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    for name in ["a", "b", "c"] {
        store.add(Pod::new("ns", name).at(1)).expect("add");
    }
    let removed = store
        .replace(
            [
                Pod::new("ns", "b").at(2).arc(),
                Pod::new("ns", "d").at(2).arc(),
            ],
            "10",
        )
        .expect("replace");
    let mut removed: Vec<(ObjectName, u64)> = removed
        .into_iter()
        .map(|(key, pod)| (key, pod.version))
        .collect();
    removed.sort();
    assert_eq!(removed, [(key("ns", "a"), 1), (key("ns", "c"), 1)]);
    assert_eq!(names(&store.list()), ["b", "d"]);
    assert_eq!(store.get(&key("ns", "b")).map(|p| p.version), Some(2));
    // an empty replace empties the store
    let removed = store.replace(Vec::new(), "11").expect("replace");
    assert_eq!(removed.len(), 2);
    assert!(store.is_empty());
}

/// Of several listed objects with one key, the last wins.
pub fn replace_with_duplicate_keys_keeps_the_last<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store
        .replace(
            [
                Pod::new("ns", "a").at(1).arc(),
                Pod::new("ns", "a").at(2).arc(),
            ],
            "1",
        )
        .expect("replace");
    assert_eq!(store.len(), 1);
    assert_eq!(store.get(&key("ns", "a")).map(|p| p.version), Some(2));
}

/// `last_sync_resource_version` is the rv of the last `replace`, opaque.
pub fn replace_records_the_resource_version<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    assert_eq!(store.last_sync_resource_version(), None);
    store.replace(Vec::new(), "abc-7").expect("replace");
    assert_eq!(
        store.last_sync_resource_version().map(|rv| rv.to_string()),
        Some("abc-7".to_owned())
    );
    store.add(Pod::new("ns", "a")).expect("add");
    assert_eq!(
        store.last_sync_resource_version().map(|rv| rv.to_string()),
        Some("abc-7".to_owned()),
        "plain writes do not move the synced version"
    );
}

/// `resync` on a plain store is a no-op.
pub fn resync_of_a_plain_store_changes_nothing<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store.add(Pod::new("ns", "a")).expect("add");
    store.resync();
    assert_eq!(names(&store.list()), ["a"]);
}

/// `apply_batch` applies its writes in order, each answering as `add` or `delete`
/// would; a failing write is skipped and the rest are applied.
pub fn apply_batch_applies_in_order_and_answers_each_write<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store.add(Pod::new("ns", "a").at(1)).expect("add");
    let answers = store.apply_batch(vec![
        BatchWrite::Upsert(Pod::new("ns", "a").at(2).arc()),
        BatchWrite::Upsert(Pod::new("ns", "b").arc()),
        BatchWrite::Delete(key("ns", "b")),
        BatchWrite::Delete(key("ns", "missing")),
        BatchWrite::Upsert(Pod::new("ns", "a").at(3).arc()),
    ]);
    let answers: Vec<Written<Pod>> = answers
        .into_iter()
        .map(|answer| answer.expect("no index panics"))
        .collect();
    let previous: Vec<Option<u64>> = answers
        .iter()
        .map(|answer| answer.previous.as_ref().map(|old| old.version))
        .collect();
    assert_eq!(previous, [Some(1), None, Some(0), None, Some(2)]);
    let stored: Vec<Option<u64>> = answers
        .iter()
        .map(|answer| answer.stored.as_ref().map(|new| new.version))
        .collect();
    assert_eq!(stored, [Some(2), Some(0), None, None, Some(3)]);
    assert_eq!(names(&store.list()), ["a"]);
    let held = store.get(&key("ns", "a")).expect("stored");
    assert_eq!(held.version, 3);
    // `stored` is the very object a reader gets (after a transformer, if any)
    let last = answers[4].stored.as_ref().expect("an upsert stores");
    assert!(
        Arc::ptr_eq(last, &held),
        "stored must be what the store holds"
    );
}

/// An in-place relist: pages upserted, then `retain_listed` removes the unseen keys,
/// reports them with their last objects and records the version.
pub fn retain_listed_ends_an_in_place_relist<S: Store<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store
        .replace(
            ["a", "b", "c", "d"].map(|name| Pod::new("ns", name).at(1).arc()),
            "5",
        )
        .expect("replace");
    let mut seen = std::collections::HashSet::new();
    for page in [["a", "e"], ["c", "f"]] {
        for name in page {
            store.add(Pod::new("ns", name).at(2)).expect("add");
            seen.insert(key("ns", name));
        }
        // mid-relist: every key the source still has is there, old or new
        assert!(["a", "c"].iter().all(|n| store.contains_key(&key("ns", n))));
    }
    let mut removed = store.retain_listed(&seen, "9").expect("retain");
    removed.sort_by(|a, b| a.0.cmp(&b.0));
    let removed: Vec<(String, u64)> = removed
        .into_iter()
        .map(|(key, pod)| (key.name, pod.version))
        .collect();
    assert_eq!(removed, [("b".to_owned(), 1), ("d".to_owned(), 1)]);
    assert_eq!(names(&store.list()), ["a", "c", "e", "f"]);
    assert!(store.list().iter().all(|pod| pod.version == 2));
    assert_eq!(
        store
            .last_sync_resource_version()
            .expect("recorded")
            .as_str(),
        "9"
    );
}

/// An index function panicking in a batch fails that write only.
pub fn apply_batch_skips_a_write_whose_index_panics<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = make();
    let (fragile, _) = fragile_index("fragile");
    store.add_index(fragile).expect("fresh name");
    let answers = store.apply_batch(vec![
        BatchWrite::Upsert(Pod::new("ns", "a").arc()),
        BatchWrite::Upsert(Pod::new("ns", "bad").labelled(&["boom"]).arc()),
        BatchWrite::Upsert(Pod::new("ns", "c").arc()),
    ]);
    assert!(matches!(
        answers[0],
        Ok(Written {
            previous: None,
            stored: Some(_)
        })
    ));
    assert!(matches!(
        answers[1],
        Err(Error::IndexFunctionPanicked { .. })
    ));
    assert!(matches!(
        answers[2],
        Ok(Written {
            previous: None,
            stored: Some(_)
        })
    ));
    assert_eq!(names(&store.list()), ["a", "c"]);
}

/// An `ObjectName`-keyed type gets a namespace index without asking.
pub fn namespace_index_exists_for_object_name_keys<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = make();
    assert!(store.index_names().contains(&NAMESPACE_INDEX.to_owned()));
    store.add(Pod::new("web", "a")).expect("add");
    store.add(Pod::new("web", "b")).expect("add");
    store.add(Pod::new("db", "c")).expect("add");
    let mut cluster = Pod::new("x", "node-thing");
    cluster.namespace = None;
    store.add(cluster).expect("add");
    assert_eq!(
        names(&store.by_index(NAMESPACE_INDEX, "web").expect("index")),
        ["a", "b"]
    );
    assert_eq!(
        store.list_index_values(NAMESPACE_INDEX).expect("index"),
        ["db", "web"],
        "cluster-scoped objects are in no namespace"
    );
}

/// A single-valued index moves an object between values and drops empty values.
pub fn single_valued_index_follows_add_update_delete<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    store.add(Pod::new("ns", "a").on("n1")).expect("add");
    store.add(Pod::new("ns", "b").on("n1")).expect("add");
    assert_eq!(
        names(&store.by_index(NODE_INDEX, "n1").expect("index")),
        ["a", "b"]
    );

    store.update(Pod::new("ns", "a").on("n2")).expect("update");
    assert_eq!(
        names(&store.by_index(NODE_INDEX, "n1").expect("index")),
        ["b"]
    );
    assert_eq!(
        names(&store.by_index(NODE_INDEX, "n2").expect("index")),
        ["a"]
    );

    store.update(Pod::new("ns", "b").on("n2")).expect("update");
    assert_eq!(store.list_index_values(NODE_INDEX).expect("index"), ["n2"]);

    store.update(Pod::new("ns", "b")).expect("update"); // no node: no value
    assert_eq!(
        store.index_keys(NODE_INDEX, "n2").expect("index"),
        [key("ns", "a")]
    );

    store.delete(&key("ns", "a"));
    assert!(store
        .list_index_values(NODE_INDEX)
        .expect("index")
        .is_empty());
    assert!(store.by_index(NODE_INDEX, "n2").expect("index").is_empty());
}

/// A multi-valued index files an object under each value and follows changes.
pub fn multi_valued_index_follows_value_changes<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    store
        .add(Pod::new("ns", "a").labelled(&["x", "y"]))
        .expect("add");
    store
        .add(Pod::new("ns", "b").labelled(&["y", "z"]))
        .expect("add");
    assert_eq!(
        store.list_index_values(LABEL_INDEX).expect("index"),
        ["x", "y", "z"]
    );
    assert_eq!(
        names(&store.by_index(LABEL_INDEX, "y").expect("index")),
        ["a", "b"]
    );

    store
        .update(Pod::new("ns", "a").labelled(&["y", "w"]))
        .expect("update");
    assert_eq!(
        store.list_index_values(LABEL_INDEX).expect("index"),
        ["w", "y", "z"]
    );
    assert!(store.by_index(LABEL_INDEX, "x").expect("index").is_empty());

    store
        .update(Pod::new("ns", "b").labelled(&[]))
        .expect("update");
    assert_eq!(
        store.list_index_values(LABEL_INDEX).expect("index"),
        ["w", "y"]
    );
    assert_eq!(
        names(&store.by_index(LABEL_INDEX, "y").expect("index")),
        ["a"]
    );

    store.delete(&key("ns", "a"));
    assert!(store
        .list_index_values(LABEL_INDEX)
        .expect("index")
        .is_empty());
}

/// An unknown index name is an error; an unknown value is an empty answer.
pub fn unknown_index_is_an_error_unknown_value_is_empty<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    store.add(Pod::new("ns", "a").on("n1")).expect("add");
    let unknown = |result: Result<Vec<Arc<Pod>>, Error>| matches!(result, Err(Error::UnknownIndex { name }) if name == "zone");
    assert!(unknown(store.by_index("zone", "a")));
    assert!(unknown(store.matching("zone", &Pod::new("ns", "p"))));
    assert!(matches!(
        store.index_keys("zone", "a"),
        Err(Error::UnknownIndex { .. })
    ));
    assert!(matches!(
        store.list_index_values("zone"),
        Err(Error::UnknownIndex { .. })
    ));
    assert!(store
        .by_index(NODE_INDEX, "nowhere")
        .expect("index")
        .is_empty());
    assert!(store
        .index_keys(NODE_INDEX, "nowhere")
        .expect("index")
        .is_empty());
}

/// `index_keys` is sorted; `list_index_values` is sorted and distinct.
pub fn index_keys_are_sorted_and_values_distinct<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    for name in ["d", "b", "a", "c"] {
        store
            .add(Pod::new("ns", name).on("n1").labelled(&["q", "p"]))
            .expect("add");
    }
    assert_eq!(
        store.index_keys(NODE_INDEX, "n1").expect("index"),
        [
            key("ns", "a"),
            key("ns", "b"),
            key("ns", "c"),
            key("ns", "d")
        ]
    );
    assert_eq!(
        store.list_index_values(LABEL_INDEX).expect("index"),
        ["p", "q"]
    );
}

/// `matching` returns each object that shares any value with the probe, once.
pub fn matching_finds_objects_sharing_any_value<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    store
        .add(Pod::new("ns", "a").labelled(&["x"]))
        .expect("add");
    store
        .add(Pod::new("ns", "b").labelled(&["x", "y"]))
        .expect("add");
    store
        .add(Pod::new("ns", "c").labelled(&["z"]))
        .expect("add");
    let probe = Pod::new("elsewhere", "probe").labelled(&["x", "y"]);
    assert_eq!(
        names(&store.matching(LABEL_INDEX, &probe).expect("index")),
        ["a", "b"]
    );
    let nothing = Pod::new("elsewhere", "probe").labelled(&["none"]);
    assert!(store
        .matching(LABEL_INDEX, &nothing)
        .expect("index")
        .is_empty());
}

/// An index added to a non-empty store is back-filled before `add_index` returns.
pub fn added_index_backfills_existing_objects<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store.add(Pod::new("ns", "a").on("n1")).expect("add");
    store.add(Pod::new("ns", "b").on("n2")).expect("add");
    store.add_index(node_index()).expect("fresh name");
    assert_eq!(
        names(&store.by_index(NODE_INDEX, "n1").expect("index")),
        ["a"]
    );
    assert_eq!(
        store.list_index_values(NODE_INDEX).expect("index"),
        ["n1", "n2"]
    );
    store.add(Pod::new("ns", "c").on("n1")).expect("add");
    assert_eq!(
        names(&store.by_index(NODE_INDEX, "n1").expect("index")),
        ["a", "c"]
    );
}

/// Registering a name twice is an error, and the first index stays.
pub fn duplicate_index_name_is_an_error<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    store.add(Pod::new("ns", "a").on("n1")).expect("add");
    let again = store.add_index(label_index().clone());
    assert!(matches!(again, Err(Error::DuplicateIndex { name }) if name == LABEL_INDEX));
    let impostor = store_core::IndexDef::new(NODE_INDEX, |_: &Pod| vec!["wrong".to_owned()]);
    assert!(store.add_index(impostor).is_err());
    assert_eq!(store.list_index_values(NODE_INDEX).expect("index"), ["n1"]);
}

/// A panicking index function fails the write and leaves store and indexes as they were.
pub fn panicking_index_function_leaves_store_unchanged<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = make();
    store
        .add_index(fragile_index("boom-check").0)
        .expect("fresh name");
    store
        .add(Pod::new("ns", "a").labelled(&["ok"]))
        .expect("add");

    let failed = store.update(Pod::new("ns", "a").labelled(&["boom"]));
    match failed {
        Err(Error::IndexFunctionPanicked {
            index,
            key,
            message,
        }) => {
            assert_eq!(index, "boom-check");
            assert_eq!(key, "ns/a");
            assert!(message.contains("refuses a"), "{message}");
        }
        other => panic!("expected a reported panic, got {other:?}"),
    }
    assert_eq!(
        store
            .get(&ObjectNameRef::namespaced("ns", "a"))
            .map(|p| p.labels.len()),
        Some(1)
    );
    assert_eq!(
        store.list_index_values("boom-check").expect("index"),
        ["ok"]
    );

    let replaced = store.replace([Pod::new("ns", "b").labelled(&["boom"]).arc()], "2");
    assert!(matches!(replaced, Err(Error::IndexFunctionPanicked { .. })));
    assert_eq!(names(&store.list()), ["a"]);
    assert_eq!(store.last_sync_resource_version(), None);

    // and the store goes on working
    store
        .add(Pod::new("ns", "c").labelled(&["ok"]))
        .expect("add");
    assert_eq!(
        names(&store.by_index("boom-check", "ok").expect("index")),
        ["a", "c"]
    );
}

/// When the old object's values cannot be recomputed, the key still leaves them.
pub fn panicking_old_value_recompute_still_cleans_the_index<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = make();
    let (fragile, armed) = fragile_index("fragile-check");
    store.add_index(fragile).expect("fresh name");
    store
        .add(Pod::new("ns", "a").labelled(&["fragile", "old"]))
        .expect("add");
    store
        .add(Pod::new("ns", "b").labelled(&["old"]))
        .expect("add");
    armed.store(true, Ordering::SeqCst);
    let result = store.update(Pod::new("ns", "a").labelled(&["new"]));
    armed.store(false, Ordering::SeqCst);
    result.expect("the new object indexes fine");
    assert_eq!(
        names(&store.by_index("fragile-check", "old").expect("index")),
        ["b"]
    );
    assert!(store
        .by_index("fragile-check", "fragile")
        .expect("index")
        .is_empty());
    assert_eq!(
        names(&store.by_index("fragile-check", "new").expect("index")),
        ["a"]
    );
}

/// `replace` leaves every index matching the new content only.
pub fn replace_rebuilds_indexes<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    store
        .add(Pod::new("ns", "a").on("n1").labelled(&["x"]))
        .expect("add");
    store.add(Pod::new("ns", "b").on("n2")).expect("add");
    store
        .replace(
            [
                Pod::new("ns", "b").on("n3").arc(),
                Pod::new("other", "c").on("n3").labelled(&["y"]).arc(),
            ],
            "5",
        )
        .expect("replace");
    assert_eq!(store.list_index_values(NODE_INDEX).expect("index"), ["n3"]);
    assert_eq!(store.list_index_values(LABEL_INDEX).expect("index"), ["y"]);
    assert_eq!(
        store.list_index_values(NAMESPACE_INDEX).expect("index"),
        ["ns", "other"]
    );
    assert_eq!(
        names(&store.by_index(NODE_INDEX, "n3").expect("index")),
        ["b", "c"]
    );
}

/// An index declared key-derived never reads the replaced object on an update: its
/// function sees only the objects written (the postings move to the new object).
pub fn key_derived_index_is_not_recomputed_on_update<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = make();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let by_name = store_core::IndexDef::new("name", move |pod: &Pod| {
        record.lock().expect("not poisoned").push(pod.version);
        vec![pod.name.clone()]
    })
    .depends_only_on_key();
    store.add_index(by_name).expect("fresh name");
    store.add(Pod::new("ns", "a").at(1)).expect("add");
    store.update(Pod::new("ns", "a").at(2)).expect("update");
    store.update(Pod::new("ns", "a").at(3)).expect("update");
    assert_eq!(
        *seen.lock().expect("not poisoned"),
        [1, 2, 3],
        "each written object once, never the replaced one"
    );
    assert_eq!(
        store.by_index("name", "a").expect("index")[0].version,
        3,
        "the index hands out the current object"
    );
    assert_eq!(names(&store.by_index("name", "a").expect("index")), ["a"]);
    store.delete(&key("ns", "a"));
    assert!(store.list_index_values("name").expect("index").is_empty());
}

/// Every index query hands out the object stored now: after updates that keep an
/// object's values (as after ones that change them), no query returns a replaced one.
pub fn index_queries_hand_out_the_current_object<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    store
        .add(Pod::new("ns", "a").on("n1").labelled(&["x", "y"]).at(1))
        .expect("add");
    store
        .update(Pod::new("ns", "a").on("n1").labelled(&["x", "y"]).at(2))
        .expect("same values");
    store
        .update(Pod::new("ns", "a").on("n1").labelled(&["y", "z"]).at(3))
        .expect("one label moves");
    let current = store.get(&key("ns", "a")).expect("stored");
    for found in [
        store.by_index(NODE_INDEX, "n1").expect("index"),
        store.by_index(LABEL_INDEX, "y").expect("index"),
        store.by_index(LABEL_INDEX, "z").expect("index"),
        store.by_index(NAMESPACE_INDEX, "ns").expect("index"),
        store
            .matching(
                LABEL_INDEX,
                &Pod::new("other", "probe").labelled(&["x", "y", "z"]),
            )
            .expect("index"),
    ] {
        assert_eq!(found.len(), 1, "one object, once");
        assert!(Arc::ptr_eq(&found[0], &current), "the stored object");
    }
    assert!(store.by_index(LABEL_INDEX, "x").expect("index").is_empty());
    assert_eq!(
        store.list_index_values(LABEL_INDEX).expect("index"),
        ["y", "z"]
    );
}

/// A key listed twice in a `replace` is indexed by the object that won only.
pub fn replace_with_duplicate_keys_indexes_the_last<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    store
        .replace(
            [
                Pod::new("ns", "a").on("n1").labelled(&["x"]).at(1).arc(),
                Pod::new("ns", "b").on("n1").at(1).arc(),
                Pod::new("ns", "a").on("n2").labelled(&["y"]).at(2).arc(),
            ],
            "1",
        )
        .expect("replace");
    assert_eq!(
        store.list_index_values(NODE_INDEX).expect("index"),
        ["n1", "n2"]
    );
    assert_eq!(
        names(&store.by_index(NODE_INDEX, "n1").expect("index")),
        ["b"]
    );
    assert_eq!(store.list_index_values(LABEL_INDEX).expect("index"), ["y"]);
    let ns = store.by_index(NAMESPACE_INDEX, "ns").expect("index");
    assert_eq!(names(&ns), ["a", "b"]);
    assert!(ns.iter().all(|pod| pod.name != "a" || pod.version == 2));
}

/// Relisting the very objects a store holds (`replace(store.list())`) keeps every
/// index as it was.
pub fn replace_with_the_stored_objects_keeps_the_indexes<S: Indexer<Pod>>(make: impl Fn() -> S) {
    let store = with_pod_indexes(make);
    store
        .add(Pod::new("ns", "a").on("n1").labelled(&["x"]))
        .expect("add");
    store.add(Pod::new("db", "b").on("n2")).expect("add");
    let removed = store.replace(store.list(), "2").expect("replace");
    assert!(removed.is_empty());
    assert_eq!(
        store.list_index_values(NODE_INDEX).expect("index"),
        ["n1", "n2"]
    );
    assert_eq!(store.list_index_values(LABEL_INDEX).expect("index"), ["x"]);
    assert_eq!(
        store.list_index_values(NAMESPACE_INDEX).expect("index"),
        ["db", "ns"]
    );
    assert_eq!(
        names(&store.by_index(NODE_INDEX, "n1").expect("index")),
        ["a"]
    );
}
