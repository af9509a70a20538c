//! The informer: handlers, late-handler replay, relist deletes, panics isolated,
//! transform, caught-up signals.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use conformance::fixtures::{item, Item};
use conformance::scripted::{Scripted, Then, WatchAnswer};
use parking_lot::Mutex;
use reflector::informer::HandlerFns;
use reflector::{Informer, ReflectorError, WatchEvent};
use store_core::{Cache, DeletedObject, ResourceVersion, Status, StoreOptions};
use tokio_util::sync::CancellationToken;

type Log = Arc<Mutex<Vec<String>>>;

fn recording(log: &Log) -> HandlerFns<Item> {
    let (a, u, d) = (Arc::clone(log), Arc::clone(log), Arc::clone(log));
    HandlerFns::<Item>::new()
        .on_add(move |obj, initial| {
            a.lock()
                .push(format!("add {} v{} {initial}", obj.key, obj.version))
        })
        .on_update(move |old, new| {
            u.lock().push(format!(
                "update {} v{}->v{}",
                new.key, old.version, new.version
            ))
        })
        .on_delete(move |deleted| {
            let kind = match deleted {
                DeletedObject::Final(_) => "final",
                DeletedObject::Unknown { .. } => "unknown",
            };
            d.lock().push(format!("delete {} {kind}", deleted.key()))
        })
}

fn event(kind: &str, key: u32, version: u32, rv: &str) -> Result<WatchEvent<Item>, Box<Status>> {
    let obj = Arc::new(item(key, version));
    let rv = ResourceVersion::from(rv);
    Ok(match kind {
        "add" => WatchEvent::Added(obj, rv),
        "mod" => WatchEvent::Modified(obj, rv),
        _ => WatchEvent::Deleted(obj, rv),
    })
}

/// Waits, in real time, until `registration` has handled everything queued for it:
/// handlers run on their own threads, which the paused test clock does not wait for.
fn drained(registration: &reflector::HandlerRegistration) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while registration.pending() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the handler did not drain: {registration:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test(start_paused = true)]
async fn handlers_see_the_initial_list_then_live_changes() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1), item(2, 1)], "10");
    source.watch(WatchAnswer::Stream(
        vec![
            event("mod", 1, 2, "11"),
            event("del", 2, 1, "12"),
            event("add", 3, 1, "13"),
        ],
        Then::Hang,
    ));
    let mut informer = Informer::builder(Arc::clone(&source));
    let log = Log::default();
    let registration = informer.add_handler(recording(&log));
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    registration.caught_up().await.expect("synced");
    settle().await;
    // In the source's order, across keys.
    assert_eq!(
        *log.lock(),
        [
            "add 1 v1 true",
            "add 2 v1 true",
            "update 1 v1->v2",
            "delete 2 final",
            "add 3 v1 false"
        ]
    );
    let mut keys = informer.store().list_keys();
    keys.sort();
    assert_eq!(keys, [1, 3]);
    assert_eq!(
        informer.last_sync_resource_version(),
        Some(ResourceVersion::from("13"))
    );
    shutdown.cancel();
    running.await.expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn a_relist_turns_vanished_objects_into_tombstone_deletes() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1), item(2, 1)], "10");
    source.watch(WatchAnswer::Stream(
        vec![Ok(WatchEvent::Error(Box::new(Status::expired("too old"))))],
        Then::Close,
    ));
    source.list_ok(vec![item(2, 2), item(3, 1)], "20");
    let mut informer = Informer::builder(Arc::clone(&source));
    let log = Log::default();
    let registration = informer.add_handler(recording(&log));
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    drained(&registration);
    let seen = log.lock().clone();
    assert!(seen.contains(&"delete 1 unknown".to_owned()), "{seen:?}");
    assert!(seen.contains(&"update 2 v1->v2".to_owned()), "{seen:?}");
    assert!(seen.contains(&"add 3 v1 false".to_owned()), "{seen:?}");
    let mut keys = informer.store().list_keys();
    keys.sort();
    assert_eq!(keys, [2, 3]);
    shutdown.cancel();
    running.await.expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn a_late_handler_first_receives_the_current_content_as_adds() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1), item(2, 1)], "10");
    source.watch(WatchAnswer::Stream(
        vec![event("add", 3, 1, "11")],
        Then::Hang,
    ));
    let informer = Informer::builder(Arc::clone(&source));
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    settle().await;
    let log = Log::default();
    let late = informer.add_handler(recording(&log)).expect("running");
    late.caught_up().await.expect("synced");
    assert!(late.has_caught_up());
    let mut seen = log.lock().clone();
    seen.sort();
    // client-go: a late handler's replay counts as the initial list
    assert_eq!(seen, ["add 1 v1 true", "add 2 v1 true", "add 3 v1 true"]);
    assert_eq!(late.processed(), 3);
    assert_eq!(late.pending(), 0);
    shutdown.cancel();
    running.await.expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_handler_is_isolated_and_reported() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1), item(2, 1)], "10");
    let errors = Arc::new(Mutex::new(Vec::<ReflectorError>::new()));
    let sink = Arc::clone(&errors);
    let mut informer = Informer::builder(Arc::clone(&source))
        .on_error(move |error| sink.lock().push(error.clone()));
    let bad = informer.on_add(|obj, _| assert!(obj.key != 1, "handler bug on key 1"));
    let good_count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&good_count);
    let good = informer.on_add(move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let shutdown = CancellationToken::new();
    let (_informer, running) = informer.start(shutdown.clone());
    good.caught_up().await.expect("synced");
    bad.caught_up().await.expect("synced");
    assert_eq!(good_count.load(Ordering::SeqCst), 2);
    assert_eq!(
        bad.processed(),
        2,
        "the bad handler went on after its panic"
    );
    assert_eq!(bad.panics(), 1);
    assert!(errors
        .lock()
        .iter()
        .any(|e| matches!(e, ReflectorError::HandlerPanicked { message } if message.contains("handler bug"))));
    shutdown.cancel();
    running.await.expect("no panic");
}

// A real thread pool: the slow handler blocks its thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_handler_does_not_hold_back_the_others() {
    let source = Scripted::new();
    source.list_ok((0..50).map(|k| item(k, 1)).collect(), "10");
    let mut informer = Informer::builder(Arc::clone(&source));
    let gate = Arc::new(std::sync::Barrier::new(2));
    let blocked = Arc::clone(&gate);
    let slow = informer.on_add(move |obj, _| {
        if obj.key == 0 {
            blocked.wait(); // stuck until the test lets it go
        }
    });
    let fast = informer.on_add(|_, _| {});
    let shutdown = CancellationToken::new();
    let (_informer, running) = informer.start(shutdown.clone());
    tokio::time::timeout(Duration::from_secs(10), fast.caught_up())
        .await
        .expect("the fast handler catches up while the slow one is stuck")
        .expect("synced");
    assert_eq!(fast.processed(), 50);
    assert!(slow.pending() > 0, "the slow one's backlog is visible");
    gate.wait();
    slow.caught_up().await.expect("synced");
    shutdown.cancel();
    running.await.expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn the_transform_runs_once_before_caching() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1)], "10");
    source.watch(WatchAnswer::Stream(
        vec![event("mod", 1, 2, "11")],
        Then::Hang,
    ));
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let mut informer =
        Informer::builder(Arc::clone(&source)).with_transform(move |obj: Arc<Item>| {
            counter.fetch_add(1, Ordering::SeqCst);
            Arc::new(item(obj.key, obj.version * 100))
        });
    let log = Log::default();
    let registration = informer.add_handler(recording(&log));
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    settle().await;
    drained(&registration);
    assert_eq!(informer.store().get(&1).map(|i| i.version), Some(200));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "once per object, not per handler"
    );
    assert_eq!(*log.lock(), ["add 1 v100 true", "update 1 v100->v200"]);
    shutdown.cancel();
    running.await.expect("no panic");
}

/// A store built with its own transformer (`StoreOptions::with_transform`) under an
/// informer: handlers hear exactly what the cache holds — an add, both sides of an
/// update and a relist's objects are the transformed ones, never the source's.
#[tokio::test(start_paused = true)]
async fn handlers_hear_what_a_transforming_store_holds() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1), item(2, 1)], "10");
    source.watch(WatchAnswer::Stream(
        vec![event("mod", 1, 2, "11"), event("add", 3, 1, "12")],
        Then::Hang,
    ));
    // The transformer tags every stored object: version × 100.
    let options = StoreOptions::new()
        .with_transform(|obj: Arc<Item>| Arc::new(item(obj.key, obj.version * 100)));
    let cache = Cache::with_options(options).expect("no index clash");
    let mut informer = Informer::builder_with_store(Arc::clone(&source), cache);
    let heard: Arc<Mutex<Vec<Arc<Item>>>> = Arc::default();
    let (adds, updates) = (Arc::clone(&heard), Arc::clone(&heard));
    let registration = informer.add_handler(
        HandlerFns::new()
            .on_add(move |obj, _| adds.lock().push(Arc::clone(obj)))
            .on_update(move |old, new| updates.lock().extend([Arc::clone(old), Arc::clone(new)])),
    );
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    settle().await;
    drained(&registration);
    let heard = heard.lock().clone();
    assert_eq!(heard.len(), 5, "three adds and one update (old and new)");
    for obj in &heard {
        assert_eq!(
            obj.version % 100,
            0,
            "a handler heard an untransformed {obj:?}"
        );
    }
    // The newest object each handler heard of a key is the very one the cache holds.
    let store = informer.store();
    for key in [1, 2, 3] {
        let last = heard
            .iter()
            .rev()
            .find(|obj| obj.key == key)
            .expect("heard");
        let held = store.get(&key).expect("cached");
        assert!(
            Arc::ptr_eq(last, &held),
            "key {key}: heard {last:?}, cache holds {held:?}"
        );
    }
    shutdown.cancel();
    running.await.expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn an_empty_initial_list_syncs_at_once() {
    let source = Scripted::<Item>::new();
    source.list_ok(vec![], "10");
    let mut informer = Informer::builder(Arc::clone(&source));
    let registration = informer.on_add(|_, _| {});
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    tokio::time::timeout(Duration::from_secs(5), informer.wait_until_synced())
        .await
        .expect("synced")
        .expect("synced");
    registration.caught_up().await.expect("synced");
    assert!(informer.has_synced());
    shutdown.cancel();
    running.await.expect("no panic");
}

#[test]
fn handlers_can_be_registered_before_any_runtime_exists() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1)], "10");
    let mut informer = Informer::builder(Arc::clone(&source));
    let early = informer.on_add(|_, _| {}); // no runtime yet: must not panic
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let (_informer, running) = informer.start(shutdown.clone());
        early.caught_up().await.expect("synced");
        assert_eq!(early.processed(), 1);
        shutdown.cancel();
        running.await.expect("no panic");
    });
}

#[tokio::test(start_paused = true)]
async fn a_panicking_transform_skips_that_object_reports_it_and_the_informer_goes_on() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1), item(2, 1)], "10");
    source.watch(WatchAnswer::Stream(
        vec![
            event("mod", 2, 13, "11"), // the transform panics on version 13
            event("add", 3, 1, "12"),
            event("mod", 1, 2, "13"),
        ],
        Then::Hang,
    ));
    let errors: Arc<Mutex<Vec<ReflectorError>>> = Arc::default();
    let sink = Arc::clone(&errors);
    let informer = Informer::builder(Arc::clone(&source))
        .with_transform(|obj: Arc<Item>| {
            assert!(obj.version != 13, "cannot transform version 13");
            obj
        })
        .on_error(move |error| sink.lock().push(error.clone()));
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    settle().await;
    assert!(informer.has_synced());
    let store = informer.store();
    assert_eq!(
        store.get(&1).map(|i| i.version),
        Some(2),
        "later writes arrive"
    );
    assert_eq!(store.get(&3).map(|i| i.version), Some(1));
    assert_eq!(
        store.get(&2).map(|i| i.version),
        Some(1),
        "skipped: kept as it was"
    );
    assert!(matches!(
        errors.lock().as_slice(),
        [ReflectorError::TransformPanicked { key, .. }] if key == "2"
    ));
    shutdown.cancel();
    running.await.expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn waiting_on_an_informer_stopped_before_its_sync_ends_with_an_error() {
    let source = Scripted::<Item>::new(); // its lists fail: it never syncs
    source.list_err(Status::internal_error("down"));
    let mut informer = Informer::builder(Arc::clone(&source));
    let registration = informer.on_add(|_, _| {});
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    settle().await;
    shutdown.cancel();
    running.await.expect("no panic");
    let synced = tokio::time::timeout(Duration::from_secs(5), informer.wait_until_synced()).await;
    assert_eq!(
        synced.expect("does not hang"),
        Err(reflector::StoppedBeforeSync)
    );
    let caught_up = tokio::time::timeout(Duration::from_secs(5), registration.caught_up()).await;
    assert_eq!(
        caught_up.expect("does not hang"),
        Err(reflector::StoppedBeforeSync)
    );
    // an informer dropped before it started
    let mut never = Informer::builder(Scripted::<Item>::new());
    let early = never.on_add(|_, _| {});
    drop(never);
    assert_eq!(early.caught_up().await, Err(reflector::StoppedBeforeSync));
}

#[tokio::test(start_paused = true)]
async fn a_handler_registered_before_the_hook_reports_its_panics() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1)], "10");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let mut informer = Informer::builder(Arc::clone(&source));
    let early = informer.on_add(|_, _| panic!("handler failed"));
    let errors: Arc<Mutex<Vec<ReflectorError>>> = Arc::default();
    let sink = Arc::clone(&errors);
    let informer = informer.on_error(move |error| sink.lock().push(error.clone()));
    let shutdown = CancellationToken::new();
    let (_informer, running) = informer.start(shutdown.clone());
    early.caught_up().await.expect("synced");
    assert_eq!(early.panics(), 1);
    assert!(matches!(
        errors.lock().as_slice(),
        [ReflectorError::HandlerPanicked { message }] if message == "handler failed"
    ));
    shutdown.cancel();
    running.await.expect("no panic");
}

// One runtime thread only: a handler that blocks must hold up nothing but itself
// (regression: handlers ran as tasks, so a blocking one stalled the whole runtime).
#[tokio::test(flavor = "current_thread")]
async fn a_blocking_handler_holds_up_neither_the_runtime_nor_the_others() {
    let source = Scripted::new();
    source.list_ok((0..20).map(|k| item(k, 1)).collect(), "10");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let mut informer = Informer::builder(Arc::clone(&source));
    let released = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&released);
    let blocking = informer.on_add(move |_, _| {
        // blocks its thread for up to 2 s (real time), until the test releases it
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !flag.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let other = informer.on_add(|_, _| {});
    let shutdown = CancellationToken::new();
    let (_informer, running) = informer.start(shutdown.clone());
    tokio::time::timeout(Duration::from_secs(10), other.caught_up())
        .await
        .expect("the other handler catches up")
        .expect("synced");
    // the runtime still runs timers and tasks while the blocking handler blocks
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        !released.load(Ordering::SeqCst) && blocking.pending() > 0,
        "the other handler caught up while the blocking one was still stuck"
    );
    released.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(10), blocking.caught_up())
        .await
        .expect("the blocking handler drains once released")
        .expect("synced");
    shutdown.cancel();
    running.await.expect("no panic");
}
