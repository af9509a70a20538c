//! Informer v2 (DESIGN §9): source order across keys, atomic and non-atomic relists,
//! per-handler resync, handler removal, handlers drained on shutdown, metrics.

use std::sync::Arc;
use std::time::Duration;

use conformance::scripted::{Scripted, Then, WatchAnswer};
use parking_lot::Mutex;
use reflector::informer::HandlerFns;
use reflector::{
    HandlerRegistration, Informer, InformerStopped, MemoryServer, ReflectorConfig, RelistMode,
    WatchEvent,
};
use store_core::{Cache, DeletedObject, Keyed, ResourceVersion, Status};
use tokio_util::sync::CancellationToken;

/// An object with a resource version (through the derive's `resource_version`), so
/// that an informer can tell an unchanged relisted object from a changed one.
#[derive(Debug, Clone, PartialEq, Keyed)]
#[keyed(resource_version = "rv")]
struct Versioned {
    #[key]
    key: u32,
    rv: String,
}

fn obj(key: u32, rv: &str) -> Versioned {
    Versioned {
        key,
        rv: rv.to_owned(),
    }
}

type Log = Arc<Mutex<Vec<String>>>;

fn recording(log: &Log) -> HandlerFns<Versioned> {
    let (a, u, d) = (Arc::clone(log), Arc::clone(log), Arc::clone(log));
    HandlerFns::new()
        .on_add(move |o: &Arc<Versioned>, initial| {
            a.lock().push(format!("add {}@{} {initial}", o.key, o.rv))
        })
        .on_update(move |old: &Arc<Versioned>, new: &Arc<Versioned>| {
            u.lock()
                .push(format!("update {}@{}->{}", new.key, old.rv, new.rv))
        })
        .on_delete(move |deleted: &DeletedObject<Versioned>| {
            let kind = if deleted.is_tombstone() {
                "tombstone"
            } else {
                "final"
            };
            d.lock().push(format!("delete {} {kind}", deleted.key()))
        })
}

fn event(kind: &str, key: u32, rv: &str) -> Result<WatchEvent<Versioned>, Box<Status>> {
    let o = Arc::new(obj(key, rv));
    let rv = ResourceVersion::from(rv);
    Ok(match kind {
        "add" => WatchEvent::Added(o, rv),
        "mod" => WatchEvent::Modified(o, rv),
        _ => WatchEvent::Deleted(o, rv),
    })
}

fn expired() -> Result<WatchEvent<Versioned>, Box<Status>> {
    Ok(WatchEvent::Error(Box::new(Status::expired("too old"))))
}

/// Waits, in real time, until `registration` has handled everything queued for it.
fn drained(registration: &HandlerRegistration) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while registration.pending() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "not drained: {registration:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One watch burst that interleaves keys: a per-key coalescing queue (the DeltaFifo
/// informer) hands out key 1's changes together, then key 2's; the in-order informer
/// keeps the source's order.
#[tokio::test(start_paused = true)]
async fn handlers_see_changes_in_source_order_across_keys() {
    let source = Scripted::new();
    source.list_ok(vec![], "1");
    source.watch(WatchAnswer::Stream(
        vec![
            event("add", 1, "2"),
            event("add", 2, "3"),
            event("mod", 1, "4"),
            event("mod", 2, "5"),
            event("del", 1, "6"),
            event("add", 3, "7"),
        ],
        Then::Hang,
    ));
    let log = Log::default();
    let mut builder = Informer::builder(Arc::clone(&source));
    let handler = builder.add_handler(recording(&log));
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    tokio::time::sleep(Duration::from_millis(50)).await;
    drained(&handler);
    assert_eq!(
        *log.lock(),
        [
            "add 1@2 false",
            "add 2@3 false",
            "update 1@2->4",
            "update 2@3->5",
            "delete 1 final",
            "add 3@7 false",
        ]
    );
    assert_eq!(
        informer.metrics().store_resource_version,
        Some(ResourceVersion::from("7"))
    );
    shutdown.cancel();
    running.await.expect("no panic");
}

/// A relist's handler events, with the informer's queue taking a relist as one entry
/// (`atomic`) or entry by entry, and the reflector relisting in `mode`.
async fn relist_events(atomic: bool, mode: RelistMode) -> Vec<String> {
    let source = Scripted::new();
    source.list_ok(vec![obj(1, "1"), obj(2, "1"), obj(4, "1")], "10");
    source.watch(WatchAnswer::Stream(vec![expired()], Then::Close));
    source.list_ok(vec![obj(3, "15"), obj(2, "12"), obj(4, "1")], "20");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let log = Log::default();
    let mut builder = Informer::builder_with_store(Arc::clone(&source), Cache::new())
        .with_config(ReflectorConfig::default().with_relist_mode(mode))
        .with_relist_as_one_entry(atomic);
    let handler = builder.add_handler(recording(&log));
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    tokio::time::sleep(Duration::from_secs(3)).await; // backoff, relist
    drained(&handler);
    let mut keys = informer.store().list_keys();
    keys.sort();
    assert_eq!(keys, [2, 3, 4]);
    assert_eq!(informer.metrics().relists, 1);
    shutdown.cancel();
    running.await.expect("no panic");
    let seen = log.lock().clone();
    seen
}

#[tokio::test(start_paused = true)]
async fn atomic_and_non_atomic_relists_give_the_same_ordered_events() {
    // An atomic relist (one `Replaced`): the deletions first (tombstones, key order),
    // then adds and updates in list order, whether the queue takes it as one entry or
    // entry by entry. 4 is relisted unchanged (same resource version): no handler
    // without a resync hears of it.
    let expected = [
        "add 1@1 true",
        "add 2@1 true",
        "add 4@1 true",
        "delete 1 tombstone",
        "add 3@15 false",
        "update 2@1->12",
    ];
    assert_eq!(
        relist_events(true, RelistMode::Atomic).await,
        expected,
        "atomic"
    );
    assert_eq!(
        relist_events(false, RelistMode::Atomic).await,
        expected,
        "non-atomic"
    );
}

#[tokio::test(start_paused = true)]
async fn a_relist_in_place_gives_its_deletions_last() {
    // The default: pages as they come (adds and updates in list order), then the keys
    // not seen go, as client-go's `DeltaFIFO.Replace` queues them; the queue's choice
    // changes nothing.
    let expected = [
        "add 1@1 true",
        "add 2@1 true",
        "add 4@1 true",
        "add 3@15 false",
        "update 2@1->12",
        "delete 1 tombstone",
    ];
    assert_eq!(ReflectorConfig::default().relist_mode, RelistMode::InPlace);
    assert_eq!(relist_events(true, RelistMode::InPlace).await, expected);
    assert_eq!(relist_events(false, RelistMode::InPlace).await, expected);
}

#[tokio::test(start_paused = true)]
async fn a_handler_with_a_resync_period_gets_unchanged_objects_and_one_without_does_not() {
    let source = Scripted::new();
    source.list_ok(vec![obj(1, "1"), obj(2, "1")], "10");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let (with, without) = (Log::default(), Log::default());
    let mut builder = Informer::builder(Arc::clone(&source));
    let resyncing =
        builder.add_handler_with_resync(recording(&with), Some(Duration::from_secs(10)));
    let plain = builder.add_handler(recording(&without)); // no default period: never
    assert_eq!(resyncing.resync_period(), Some(Duration::from_secs(10)));
    assert_eq!(plain.resync_period(), None);
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    tokio::time::sleep(Duration::from_secs(25)).await; // two resync periods
    drained(&resyncing);
    drained(&plain);
    let resynced = with
        .lock()
        .iter()
        .filter(|line| line.starts_with("update"))
        .count();
    assert_eq!(resynced, 4, "two keys, two periods: {:?}", with.lock());
    assert_eq!(*without.lock(), ["add 1@1 true", "add 2@1 true"]);
    shutdown.cancel();
    running.await.expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn the_resync_check_runs_at_the_smallest_period_and_each_handler_at_its_own() {
    let source = Scripted::new();
    source.list_ok(vec![obj(1, "1")], "10");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let (fast, slow) = (Log::default(), Log::default());
    // the default for handlers
    let mut builder = Informer::builder(Arc::clone(&source))
        .with_config(ReflectorConfig::default().with_resync_period(Some(Duration::from_secs(30))));
    let quick = builder.add_handler_with_resync(recording(&fast), Some(Duration::from_secs(5)));
    let default = builder.add_handler(recording(&slow));
    assert_eq!(default.resync_period(), Some(Duration::from_secs(30)));
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    tokio::time::sleep(Duration::from_millis(31_500)).await;
    drained(&quick);
    drained(&default);
    let updates = |log: &Log| {
        log.lock()
            .iter()
            .filter(|l| l.starts_with("update"))
            .count()
    };
    assert_eq!(updates(&fast), 6, "every 5 s: {:?}", fast.lock());
    assert_eq!(updates(&slow), 1, "once, at 30 s: {:?}", slow.lock());
    shutdown.cancel();
    running.await.expect("no panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_handler_gets_nothing_more_and_the_others_go_on() {
    let server = MemoryServer::new();
    server.create(obj(1, "1")).expect("created");
    let (kept_log, removed_log) = (Log::default(), Log::default());
    let mut builder = Informer::builder(server.clone());
    let kept = builder.add_handler(recording(&kept_log));
    let removed = builder.add_handler(recording(&removed_log));
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    removed.caught_up().await.expect("synced");
    assert!(removed.remove());
    assert!(removed.is_removed());
    assert!(!removed.remove(), "a second removal finds nothing");
    server.create(obj(2, "1")).expect("created");
    // a handler joining later gets its replay; the others get nothing from it
    let late_log = Log::default();
    let late = informer.add_handler(recording(&late_log)).expect("running");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while kept.processed() < 2 {
        assert!(std::time::Instant::now() < deadline, "{kept:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    late.caught_up().await.expect("synced");
    drained(&late);
    let mut replayed = late_log.lock().clone();
    replayed.sort();
    // The server stamps each object with the version it wrote it at (1 is its first).
    assert_eq!(replayed[0], "add 1@2 true");
    assert_eq!(*kept_log.lock(), ["add 1@2 true", "add 2@3 false"]);
    assert_eq!(
        *removed_log.lock(),
        ["add 1@2 true"],
        "nothing after removal"
    );
    shutdown.cancel();
    running.await.expect("no panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaiting_the_informer_means_its_handlers_drained_and_no_handler_can_join_after() {
    let source = Scripted::new();
    source.list_ok((0..20).map(|k| obj(k, "1")).collect(), "10");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let mut builder = Informer::builder(Arc::clone(&source));
    let slow = builder.on_add(move |_, _| {
        std::thread::sleep(Duration::from_millis(5));
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    shutdown.cancel();
    running.await.expect("no panic");
    assert!(informer.has_stopped());
    assert_eq!(
        handled.load(std::sync::atomic::Ordering::SeqCst),
        20,
        "the handler handled everything before the informer's task ended"
    );
    assert_eq!(slow.pending(), 0);
    assert_eq!(
        informer.add_handler(HandlerFns::new()).map(|_| ()),
        Err(InformerStopped)
    );
    assert!(!slow.remove(), "nothing to remove once stopped");
}

#[tokio::test(start_paused = true)]
async fn the_metrics_count_relists_restarts_and_the_store_version() {
    let source = Scripted::new();
    source.list_ok(vec![obj(1, "1")], "10");
    source.watch(WatchAnswer::Stream(
        vec![event("mod", 1, "11")],
        Then::Close,
    ));
    source.watch(WatchAnswer::Stream(vec![expired()], Then::Close));
    source.list_ok(vec![obj(1, "11"), obj(2, "12")], "20");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let mut builder = Informer::builder(Arc::clone(&source)).with_name("versioned");
    let handler = builder.on_add(|_, _| {});
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    tokio::time::sleep(Duration::from_secs(5)).await;
    drained(&handler);
    let metrics = informer.metrics();
    assert_eq!(metrics.relists, 1);
    assert_eq!(metrics.watch_restarts, 2);
    assert_eq!(metrics.queued_items, 0);
    assert_eq!(metrics.handler_backlog, 0);
    assert_eq!(
        metrics.store_resource_version,
        Some(ResourceVersion::from("20"))
    );
    assert_eq!(metrics.events_processed, 1 + 1 + 2);
    assert!(metrics.processing_latency.count >= 3);
    assert!(metrics.processing_latency.max >= metrics.processing_latency.mean());
    shutdown.cancel();
    running.await.expect("no panic");
}

/// A handler's resync period of zero means "never", and so does one longer than the
/// clock can count; neither panics the informer, and the other handlers still resync.
#[tokio::test(start_paused = true)]
async fn zero_and_endless_handler_resync_periods_mean_no_resync() {
    let source = Scripted::new();
    source.list_ok(vec![obj(1, "1")], "10");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let (zero, endless, every) = (Log::default(), Log::default(), Log::default());
    let mut builder = Informer::builder(Arc::clone(&source));
    let zero_handler = builder.add_handler_with_resync(recording(&zero), Some(Duration::ZERO));
    let endless_handler = builder.add_handler_with_resync(recording(&endless), Some(Duration::MAX));
    let every_handler =
        builder.add_handler_with_resync(recording(&every), Some(Duration::from_secs(10)));
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    tokio::time::sleep(Duration::from_secs(25)).await;
    for handler in [&zero_handler, &endless_handler, &every_handler] {
        drained(handler);
    }
    assert_eq!(*zero.lock(), ["add 1@1 true"]);
    assert_eq!(*endless.lock(), ["add 1@1 true"]);
    let resynced = every
        .lock()
        .iter()
        .filter(|l| l.starts_with("update"))
        .count();
    assert_eq!(
        resynced,
        2,
        "the 10 s handler still resyncs: {:?}",
        every.lock()
    );
    shutdown.cancel();
    running.await.expect("no panic");
}
