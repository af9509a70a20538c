//! The rest of client-go's cache toolkit: a store transformer (`WithTransformer`),
//! `UndeltaStore` and the TTL store (`ExpirationCache`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conformance::fixtures::{fragile_index, label_index, Pod, LABEL_INDEX};
use store_core::{
    BatchWrite, Cache, Error, ExpirationCache, Indexer, ManualClock, ObjectName, ShardedCache,
    Store, StoreOptions, UndeltaStore, Written,
};

fn key(name: &str) -> ObjectName {
    ObjectName::namespaced("ns", name).unwrap()
}

fn names(objects: &[Arc<Pod>]) -> Vec<String> {
    let mut names: Vec<String> = objects.iter().map(|pod| pod.name.clone()).collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------
// The transformer

/// Options whose transformer drops every label and counts its calls; it panics on a
/// pod named `boom`.
fn stripping(calls: &Arc<AtomicUsize>) -> StoreOptions<Pod> {
    let calls = Arc::clone(calls);
    StoreOptions::new().with_transform(move |pod: Arc<Pod>| {
        calls.fetch_add(1, Ordering::SeqCst);
        assert!(pod.name != "boom", "transformer refuses {}", pod.name);
        let mut pod = Arc::unwrap_or_clone(pod);
        pod.labels.clear();
        Arc::new(pod)
    })
}

fn transformer_runs_once_per_written_object_and_never_on_deletes<S: Indexer<Pod>>(
    make: impl Fn(StoreOptions<Pod>) -> S,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let store = make(stripping(&calls).with_indexes([label_index()]));
    store.add(Pod::new("ns", "a").labelled(&["x"])).unwrap();
    store
        .update(Pod::new("ns", "a").labelled(&["y"]).at(1))
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    store
        .replace(
            [
                Pod::new("ns", "a").labelled(&["x"]).arc(),
                Pod::new("ns", "b").labelled(&["x"]).arc(),
                Pod::new("ns", "c").arc(),
            ],
            "5",
        )
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 5, "once per listed object");
    let answers = store.apply_batch(vec![
        BatchWrite::Upsert(Pod::new("ns", "d").labelled(&["x"]).arc()),
        BatchWrite::Delete(key("c")),
        BatchWrite::Upsert(Pod::new("ns", "a").at(9).arc()),
    ]);
    assert!(answers.iter().all(Result::is_ok));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        7,
        "once per upsert, never a delete"
    );
    let removed = store.delete(&key("b")).expect("stored");
    assert!(
        removed.labels.is_empty(),
        "a delete hands back the stored form"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 7);

    // What is stored, and indexed, is the transformed object.
    assert!(store.list().iter().all(|pod| pod.labels.is_empty()));
    assert!(store.list_index_values(LABEL_INDEX).unwrap().is_empty());
    assert_eq!(names(&store.list()), ["a", "d"]);

    // Every handle shares the transformer.
    store
        .clone()
        .add(Pod::new("ns", "e").labelled(&["z"]))
        .unwrap();
    assert!(store.get(&key("e")).unwrap().labels.is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 8);
}

fn panicking_transformer_fails_the_write_and_changes_nothing<S: Indexer<Pod>>(
    make: impl Fn(StoreOptions<Pod>) -> S,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let store = make(stripping(&calls));
    store.replace([Pod::new("ns", "a").arc()], "1").unwrap();

    let err = store.add(Pod::new("ns", "boom")).unwrap_err();
    assert!(
        matches!(&err, Error::TransformPanicked { key, message }
            if key == "ns/boom" && message.contains("transformer refuses boom")),
        "{err:?}"
    );
    assert!(!store.contains_key(&key("boom")));

    // A list with one refused object is refused whole.
    let err = store
        .replace(
            [Pod::new("ns", "b").arc(), Pod::new("ns", "boom").arc()],
            "2",
        )
        .unwrap_err();
    assert!(matches!(err, Error::TransformPanicked { .. }), "{err:?}");
    assert_eq!(names(&store.list()), ["a"]);
    assert_eq!(store.last_sync_resource_version().unwrap().as_str(), "1");

    // In a batch only the refused write fails.
    let answers = store.apply_batch(vec![
        BatchWrite::Upsert(Pod::new("ns", "boom").arc()),
        BatchWrite::Upsert(Pod::new("ns", "c").arc()),
    ]);
    assert!(matches!(answers[0], Err(Error::TransformPanicked { .. })));
    assert!(matches!(answers[1], Ok(Written { previous: None, .. })));
    assert_eq!(names(&store.list()), ["a", "c"]);
}

#[test]
fn cache_transformer_runs_once_per_written_object_and_never_on_deletes() {
    transformer_runs_once_per_written_object_and_never_on_deletes(|options| {
        Cache::with_options(options).unwrap()
    });
}

#[test]
fn sharded_transformer_runs_once_per_written_object_and_never_on_deletes() {
    transformer_runs_once_per_written_object_and_never_on_deletes(|options| {
        ShardedCache::with_options(options).unwrap()
    });
}

#[test]
fn cache_panicking_transformer_fails_the_write_and_changes_nothing() {
    panicking_transformer_fails_the_write_and_changes_nothing(|options| {
        Cache::with_options(options).unwrap()
    });
}

#[test]
fn sharded_panicking_transformer_fails_the_write_and_changes_nothing() {
    panicking_transformer_fails_the_write_and_changes_nothing(|options| {
        ShardedCache::with_options(options).unwrap()
    });
}

#[test]
fn options_choose_the_indexes_and_report_a_clash() {
    let cache = Cache::<Pod>::with_options(StoreOptions::new()).unwrap();
    assert_eq!(cache.index_names(), ["namespace"], "the type's defaults");
    let cache = Cache::<Pod>::with_options(StoreOptions::new().with_indexes([])).unwrap();
    assert!(cache.index_names().is_empty(), "exactly the given ones");
    let clash = StoreOptions::new().with_indexes([label_index(), label_index()]);
    assert_eq!(
        ShardedCache::<Pod>::with_options(clash).unwrap_err(),
        Error::DuplicateIndex {
            name: LABEL_INDEX.to_owned()
        }
    );
}

// ---------------------------------------------------------------------------------
// UndeltaStore

type Pushes = Arc<Mutex<Vec<Vec<String>>>>;

fn recording() -> (UndeltaStore<Pod>, Pushes) {
    let pushes: Pushes = Arc::default();
    let seen = Arc::clone(&pushes);
    let store = UndeltaStore::new(Cache::new(), move |all: Vec<Arc<Pod>>| {
        seen.lock().unwrap().push(names(&all));
    });
    (store, pushes)
}

#[test]
fn undelta_store_pushes_the_whole_content_after_every_write() {
    let (store, pushes) = recording();
    store.add(Pod::new("ns", "a")).unwrap();
    store.update(Pod::new("ns", "b")).unwrap();
    store.update(Pod::new("ns", "a").at(2)).unwrap();
    store.delete(&key("a"));
    store.delete(&key("missing")); // a write call: pushes, as client-go's
    store
        .replace([Pod::new("ns", "c").arc(), Pod::new("ns", "d").arc()], "7")
        .unwrap();
    store.apply_batch(vec![
        BatchWrite::Delete(key("c")),
        BatchWrite::Upsert(Pod::new("ns", "e").arc()),
    ]);
    assert_eq!(
        *pushes.lock().unwrap(),
        [
            vec!["a"],
            vec!["a", "b"],
            vec!["a", "b"],
            vec!["b"],
            vec!["b"],
            vec!["c", "d"],
            vec!["d", "e"], // one push for the whole batch
        ]
    );
    assert_eq!(store.last_sync_resource_version().unwrap().as_str(), "7");
}

#[test]
fn undelta_store_reads_resync_and_failed_writes_push_nothing() {
    let (store, pushes) = recording();
    let (fragile, _) = fragile_index("fragile");
    store.add_index(fragile).unwrap();
    store.add(Pod::new("ns", "a")).unwrap();
    assert_eq!(pushes.lock().unwrap().len(), 1);

    assert!(store.add(Pod::new("ns", "b").labelled(&["boom"])).is_err());
    assert!(store
        .replace([Pod::new("ns", "c").labelled(&["boom"]).arc()], "2")
        .is_err());
    let _ = (
        store.get(&key("a")),
        store.list(),
        store.list_keys(),
        store.len(),
    );
    let _ = store.by_index("fragile", "x").unwrap();
    store.resync();
    assert_eq!(
        pushes.lock().unwrap().len(),
        1,
        "{:?}",
        pushes.lock().unwrap()
    );
    assert_eq!(names(&store.list()), ["a"]);
}

#[test]
fn undelta_store_pushes_in_write_order_under_concurrent_writers() {
    let (store, pushes) = recording();
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let store = store.clone();
            scope.spawn(move || {
                for i in 0..50 {
                    store
                        .add(Pod::new("ns", &format!("t{thread}-{i}")))
                        .unwrap();
                }
            });
        }
    });
    let pushes = pushes.lock().unwrap();
    // Only adds of new keys: serialized pushes grow by exactly one each time.
    let lengths: Vec<usize> = pushes.iter().map(Vec::len).collect();
    assert_eq!(lengths, (1..=200).collect::<Vec<_>>());
    assert_eq!(pushes.last().unwrap(), &names(&store.list()));
}

// ---------------------------------------------------------------------------------
// ExpirationCache

const TTL: Duration = Duration::from_secs(60);

fn ttl_store() -> (ExpirationCache<Pod, Duration, ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    (ExpirationCache::with_clock(TTL, clock.clone()), clock)
}

#[test]
fn entries_expire_after_the_ttl_for_every_read() {
    let (store, clock) = ttl_store();
    store.add(Pod::new("ns", "a")).unwrap();
    clock.advance(TTL);
    assert!(
        store.contains_key(&key("a")),
        "at exactly the TTL it still lives"
    );
    store.add(Pod::new("ns", "b")).unwrap();
    clock.advance(Duration::from_millis(1));
    assert!(store.get(&key("a")).is_none());
    assert!(!store.contains_key(&key("a")));
    assert_eq!(names(&store.list()), ["b"]);
    assert_eq!(store.list_keys(), [key("b")]);
    assert_eq!(store.len(), 1);
}

#[test]
fn expiry_is_lazy_and_a_read_removes_what_it_found_expired() {
    let (store, clock) = ttl_store();
    store.add(Pod::new("ns", "a")).unwrap();
    store.add(Pod::new("ns", "b")).unwrap();
    clock.advance(TTL * 2);
    assert!(store.get(&key("a")).is_none());
    // Nothing ran in the background: "b" is still held until something reads it.
    assert_eq!(store.purge_expired(), 1);
    assert_eq!(store.purge_expired(), 0);

    store.add(Pod::new("ns", "c")).unwrap();
    store.add(Pod::new("ns", "d")).unwrap();
    clock.advance(TTL * 2);
    assert!(store.list().is_empty());
    assert_eq!(store.purge_expired(), 0, "list removed the expired entries");
}

#[test]
fn an_expired_key_can_be_added_again_and_a_write_refreshes_it() {
    let (store, clock) = ttl_store();
    store.add(Pod::new("ns", "a").at(1)).unwrap();
    clock.advance(TTL + Duration::from_secs(1));
    // The expired entry was gone for every reader: nothing is reported replaced.
    assert_eq!(store.add(Pod::new("ns", "a").at(2)).unwrap(), None);
    assert_eq!(store.get(&key("a")).unwrap().version, 2);

    clock.advance(TTL / 2);
    let old = store.update(Pod::new("ns", "a").at(3)).unwrap();
    assert_eq!(old.unwrap().version, 2);
    clock.advance(TTL / 2 + Duration::from_secs(1));
    assert_eq!(
        store.get(&key("a")).unwrap().version,
        3,
        "the update restarted the clock"
    );

    clock.advance(TTL * 2);
    assert_eq!(
        store.delete(&key("a")),
        None,
        "expired: nothing to hand back"
    );
}

#[test]
fn replace_stamps_the_list_now_and_reports_only_unexpired_removals() {
    let (store, clock) = ttl_store();
    store.add(Pod::new("ns", "old")).unwrap();
    clock.advance(TTL * 2);
    store.add(Pod::new("ns", "live")).unwrap();
    let removed = store
        .replace([Pod::new("ns", "fresh").arc()], "12")
        .unwrap();
    let removed: Vec<ObjectName> = removed.into_iter().map(|(key, _)| key).collect();
    assert_eq!(removed, [key("live")]);
    assert_eq!(store.last_sync_resource_version().unwrap().as_str(), "12");
    clock.advance(TTL);
    assert_eq!(names(&store.list()), ["fresh"]);
}

#[test]
fn a_zero_ttl_never_expires_and_a_closure_decides_per_object() {
    let clock = ManualClock::new();
    let forever = ExpirationCache::with_clock(Duration::ZERO, clock.clone());
    forever.add(Pod::new("ns", "a")).unwrap();
    clock.advance(Duration::from_secs(365 * 24 * 3600));
    assert!(forever.contains_key(&key("a")));

    // Each pod lives as many seconds as its version says.
    let policy = |pod: &Pod, age: Duration| age > Duration::from_secs(pod.version);
    let per_object = ExpirationCache::with_clock(policy, clock.clone());
    per_object.add(Pod::new("ns", "short").at(10)).unwrap();
    per_object.add(Pod::new("ns", "long").at(100)).unwrap();
    clock.advance(Duration::from_secs(50));
    assert_eq!(names(&per_object.list()), ["long"]);
}

#[test]
fn the_system_clock_expires_entries_too() {
    let store = ExpirationCache::new(Duration::from_millis(20));
    store.add(Pod::new("ns", "a")).unwrap();
    assert!(store.contains_key(&key("a")));
    std::thread::sleep(Duration::from_millis(40));
    assert!(store.get(&key("a")).is_none());
}
