//! The reflector's state machine, one test per rule, on a scripted source and
//! tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use conformance::fixtures::{item, Item};
use conformance::scripted::{Call, Scripted, Then, WatchAnswer};
use parking_lot::Mutex;
use reflector::{
    BackoffConfig, Change, Reflector, ReflectorConfig, ReflectorError, ReflectorHandle,
    ReflectorStore, StoppedBeforeSync, StoreError, WatchEvent,
};
use store_core::{Cache, ResourceVersion, Status, Store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

fn rv(value: &str) -> ResourceVersion {
    ResourceVersion::from(value)
}

fn added(key: u32, version: u32, at: &str) -> Result<WatchEvent<Item>, Box<Status>> {
    Ok(WatchEvent::Added(Arc::new(item(key, version)), rv(at)))
}

fn error_event(status: Status) -> Result<WatchEvent<Item>, Box<Status>> {
    Ok(WatchEvent::Error(Box::new(status)))
}

fn no_jitter() -> ReflectorConfig {
    ReflectorConfig::default().with_backoff(BackoffConfig::default().with_jitter(false))
}

struct Running {
    handle: ReflectorHandle,
    errors: Arc<Mutex<Vec<ReflectorError>>>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    /// Shuts down and checks that the reflector ended without letting any (virtual)
    /// time pass: a backoff or a wait that ignored shutdown would let the paused clock
    /// run on to its end, and this fails then.
    async fn stop_at_once(self) {
        let asked = tokio::time::Instant::now();
        self.shutdown.cancel();
        self.task.await.expect("no panic");
        assert_eq!(
            asked.elapsed(),
            Duration::ZERO,
            "the reflector waited after shutdown"
        );
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("stops promptly")
            .expect("no panic");
    }
}

fn start<S: ReflectorStore<Item>>(
    source: &Arc<Scripted<Item>>,
    store: S,
    config: ReflectorConfig,
) -> Running {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&errors);
    let reflector = Reflector::new(Arc::clone(source), store)
        .with_config(config)
        .on_error(move |error| sink.lock().push(error.clone()));
    let handle = reflector.handle();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(reflector.run(shutdown.clone()));
    Running {
        handle,
        errors,
        shutdown,
        task,
    }
}

/// Lets the reflector run for `virtual_time` of the paused clock.
async fn run_for(virtual_time: Duration) {
    tokio::time::sleep(virtual_time).await;
}

/// The gaps between consecutive calls, in milliseconds.
fn gaps(calls: &[tokio::time::Instant]) -> Vec<u64> {
    calls
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis() as u64)
        .collect()
}

/// The paused clock fires a timer at the next whole millisecond: allow that.
fn assert_gaps(got: &[u64], expected: &[u64]) {
    assert_eq!(got.len(), expected.len(), "{got:?} vs {expected:?}");
    for (g, e) in got.iter().zip(expected) {
        assert!(*e <= *g && *g <= *e + 5, "{got:?} vs {expected:?}");
    }
}

/// A full list as the reflector asks for it when the first list was not paginated:
/// pages at `"0"` and `""`, one answer at any other version (client-go's rule).
fn list(resource_version: &str) -> Call {
    let limit = matches!(resource_version, "" | "0").then_some(500);
    Call::List(resource_version.to_owned(), limit, None)
}

fn watch(resource_version: &str) -> Call {
    Call::Watch(resource_version.to_owned())
}

#[tokio::test(start_paused = true)]
async fn first_list_is_at_rv_0_and_the_watch_starts_at_the_list_rv() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1), item(2, 1)], "10");
    let cache = Cache::new();
    let running = start(&source, cache.clone(), no_jitter());
    running.handle.wait_until_synced().await.expect("synced");
    run_for(Duration::from_millis(10)).await;
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.last_sync_resource_version(), Some(rv("10")));
    assert_eq!(source.calls(), [list("0"), watch("10")]);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn every_event_and_bookmark_advances_the_last_synced_rv() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(
        vec![
            added(1, 1, "11"),
            Ok(WatchEvent::Modified(Arc::new(item(1, 2)), rv("12"))),
            Ok(WatchEvent::Bookmark(rv("15"))),
        ],
        Then::Hang,
    ));
    let cache = Cache::new();
    let running = start(&source, cache.clone(), no_jitter());
    run_for(Duration::from_millis(10)).await;
    assert_eq!(cache.get(&1).map(|i| i.version), Some(2));
    assert_eq!(running.handle.last_sync_resource_version(), Some(rv("15")));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn clean_close_rewatches_from_the_last_rv_without_relisting() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(vec![added(1, 1, "11")], Then::Close));
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_millis(10)).await;
    assert_eq!(source.calls(), [list("0"), watch("10"), watch("11")]);
    assert!(running.errors.lock().is_empty());
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn very_short_watch_counts_as_an_error_and_relists() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(vec![], Then::Close));
    source.list_ok(vec![], "10");
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(2)).await;
    assert_eq!(
        source.calls(),
        [list("0"), watch("10"), list("10"), watch("10")]
    );
    assert!(matches!(
        running.errors.lock().as_slice(),
        [ReflectorError::VeryShortWatch { .. }]
    ));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn expired_in_the_stream_relists_at_the_last_synced_rv() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(
        vec![
            added(1, 1, "11"),
            error_event(Status::expired("too old resource version: 10 (20)")),
        ],
        Then::Close,
    ));
    source.list_ok(vec![item(1, 3)], "25");
    let cache = Cache::new();
    let running = start(&source, cache.clone(), no_jitter());
    run_for(Duration::from_secs(2)).await;
    assert_eq!(
        source.calls(),
        [list("0"), watch("10"), list("11"), watch("25")]
    );
    assert_eq!(cache.get(&1).map(|i| i.version), Some(3));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn expired_list_relists_from_scratch() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(
        vec![error_event(Status::gone("gone"))],
        Then::Close,
    ));
    source.list_err(Status::expired("too old resource version: 10 (30)"));
    source.list_ok(vec![], "31");
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(5)).await;
    assert_eq!(
        source.calls(),
        [list("0"), watch("10"), list("10"), list(""), watch("31")]
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn too_large_resource_version_relists_from_scratch() {
    let source = Scripted::new();
    source.list_err(Status::too_large_resource_version("50", "40", 1));
    source.list_ok(vec![], "40");
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(2)).await;
    assert_eq!(source.calls(), [list("0"), list(""), watch("40")]);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn refused_connection_and_throttling_back_off_then_rewatch() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::fail(Status::service_unavailable(
        "connection refused",
    )));
    source.watch(WatchAnswer::Stream(
        vec![error_event(Status::too_many_requests("slow down", 1))],
        Then::Close,
    ));
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(5)).await;
    let calls = source.timed_calls();
    let kinds: Vec<Call> = calls.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(kinds, [list("0"), watch("10"), watch("10"), watch("10")]);
    let at: Vec<_> = calls.iter().map(|(at, _)| *at).collect();
    assert_gaps(&gaps(&at[1..]), &[800, 1600]);
    assert_eq!(running.errors.lock().len(), 2);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn other_errors_back_off_then_relist() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(
        vec![
            added(1, 1, "11"),
            Err(Status::internal_error("malformed event").into()),
        ],
        Then::Close,
    ));
    source.list_ok(vec![], "12");
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(2)).await;
    let calls = source.timed_calls();
    let kinds: Vec<Call> = calls.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(kinds, [list("0"), watch("10"), list("11"), watch("12")]);
    let at: Vec<_> = calls.iter().map(|(at, _)| *at).collect();
    assert_gaps(&gaps(&at[1..3]), &[800]);
    assert!(matches!(
        running.errors.lock().as_slice(),
        [ReflectorError::WatchEnded { .. }]
    ));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_caps_at_30s_and_resets_after_two_healthy_minutes() {
    let source = Scripted::new();
    for _ in 0..8 {
        source.list_err(Status::internal_error("down"));
    }
    source.list_ok(vec![], "10");
    // healthy for three minutes, then the watch closes with an error
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(120)).await;
    let lists: Vec<_> = source
        .timed_calls()
        .into_iter()
        .filter(|(_, call)| matches!(call, Call::List(..)))
        .map(|(at, _)| at)
        .collect();
    assert_gaps(
        &gaps(&lists),
        &[800, 1600, 3200, 6400, 12800, 25600, 30000, 30000],
    );
    running.stop().await;

    // after three healthy minutes the next failure waits 800 ms again
    let source = Scripted::new();
    source.list_err(Status::internal_error("down"));
    source.list_err(Status::internal_error("down"));
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(
        vec![],
        Then::CloseAfter(Duration::from_secs(180)),
    ));
    source.watch(WatchAnswer::fail(Status::internal_error(
        "after a healthy stretch",
    )));
    source.list_ok(vec![], "10");
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(200)).await;
    let calls = source.timed_calls();
    let kinds: Vec<Call> = calls.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(
        kinds,
        [
            list("0"),
            list("0"),
            list("0"),
            watch("10"),
            watch("10"),
            list("10"),
            watch("10")
        ]
    );
    let at: Vec<_> = calls.iter().map(|(at, _)| *at).collect();
    // fail, 800, fail, 1600, ok, watch 3 min, clean close → re-watch, fails → 800 again
    assert_gaps(&gaps(&at), &[800, 1600, 0, 180_000, 800, 0]);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn paginated_lists_follow_continue_tokens_and_replace_once() {
    let source = Scripted::new();
    source.list_page(vec![item(1, 1), item(2, 1)], "10", Some("next-1"));
    source.list_page(vec![item(3, 1)], "10", None);
    let changes = Recorder::default();
    let config = no_jitter().with_page_size(Some(2));
    let running = start(&source, changes.clone(), config);
    run_for(Duration::from_millis(10)).await;
    assert_eq!(
        source.calls(),
        [
            Call::List("0".into(), Some(2), None),
            Call::List("0".into(), Some(2), Some("next-1".into())),
            watch("10")
        ]
    );
    assert_eq!(changes.log(), ["replace 3 at 10"]);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn resync_period_hands_the_store_resyncs_while_watching() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    let changes = Recorder::default();
    let config = no_jitter().with_resync_period(Some(Duration::from_secs(30)));
    let running = start(&source, changes.clone(), config);
    run_for(Duration::from_secs(95)).await;
    assert_eq!(
        changes.log(),
        ["replace 0 at 10", "resync", "resync", "resync"]
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn frequent_rewatches_do_not_postpone_the_resync() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    for _ in 0..10 {
        // each watch lives 10 s, then closes cleanly: shorter than the period
        source.watch(WatchAnswer::Stream(
            vec![],
            Then::CloseAfter(Duration::from_secs(10)),
        ));
    }
    let changes = Recorder::default();
    let config = no_jitter().with_resync_period(Some(Duration::from_secs(25)));
    let running = start(&source, changes.clone(), config);
    run_for(Duration::from_secs(80)).await;
    assert_eq!(
        changes.log(),
        ["replace 0 at 10", "resync", "resync", "resync"]
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_while_listing_returns_promptly() {
    let reflector = Reflector::new(Arc::new(Stalled), Cache::<Item>::new());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(reflector.run(shutdown.clone()));
    run_for(Duration::from_secs(60)).await;
    let asked = tokio::time::Instant::now();
    shutdown.cancel();
    task.await.expect("no panic");
    assert_eq!(asked.elapsed(), Duration::ZERO, "returns at once");
}

#[tokio::test(start_paused = true)]
async fn shutdown_while_watching_or_backing_off_returns_promptly() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(60)).await; // watching, silent
    running.stop_at_once().await;

    let source = Scripted::new();
    source.list_err(Status::internal_error("down"));
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_millis(100)).await; // inside an 800 ms backoff
    running.stop_at_once().await;
}

#[tokio::test(start_paused = true)]
async fn deletions_in_the_stream_reach_the_store() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1), item(2, 1)], "10");
    source.watch(WatchAnswer::Stream(
        vec![Ok(WatchEvent::Deleted(Arc::new(item(1, 1)), rv("11")))],
        Then::Hang,
    ));
    let cache = Cache::new();
    let running = start(&source, cache.clone(), no_jitter());
    run_for(Duration::from_millis(10)).await;
    assert_eq!(cache.list_keys(), [2]);
    assert_eq!(running.handle.last_sync_resource_version(), Some(rv("11")));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn store_errors_are_reported_and_the_reflector_goes_on() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1)], "10");
    source.watch(WatchAnswer::Stream(
        vec![added(2, 1, "11"), added(3, 1, "12")],
        Then::Hang,
    ));
    let cache = Cache::with_indexes([store_core::IndexDef::new("picky", |i: &Item| {
        assert!(i.key != 2, "refuses item 2");
        vec![]
    })])
    .expect("one index");
    let running = start(&source, cache.clone(), no_jitter());
    run_for(Duration::from_millis(10)).await;
    let mut keys = cache.list_keys();
    keys.sort();
    assert_eq!(keys, [1, 3]);
    assert!(matches!(
        running.errors.lock().as_slice(),
        [ReflectorError::Store(_)]
    ));
    running.stop().await;
}

/// A store that records what it is told.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn log(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

impl ReflectorStore<Item> for Recorder {
    fn apply(&self, change: Change<Item>) -> Result<(), StoreError> {
        let line = match change {
            Change::Added(i, _) => format!("add {}", i.key),
            Change::Modified(i, _) => format!("update {}", i.key),
            Change::Deleted(i, _) => format!("delete {}", i.key),
            Change::Replaced(items, rv) => format!("replace {} at {rv}", items.len()),
            Change::Resync => "resync".to_owned(),
            // Bookmarks move the version only; this store takes no in-place relists.
            Change::Bookmark(_) => return Ok(()),
            Change::RelistPage(_) | Change::RelistEnd { .. } => {
                return Err(StoreError::InPlaceRelistUnsupported)
            }
        };
        self.0.lock().push(line);
        Ok(())
    }
}

/// A source whose list never answers.
struct Stalled;

impl reflector::ListerWatcher<Item> for Stalled {
    async fn list(
        &self,
        _: reflector::ListOptions,
    ) -> Result<reflector::ListPage<Item>, Box<Status>> {
        std::future::pending().await
    }

    async fn watch(
        &self,
        _: ResourceVersion,
        _: reflector::WatchOptions,
    ) -> Result<reflector::WatchStream<Item>, Box<Status>> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn expired_relist_lists_the_latest_at_once_and_reports_nothing() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(
        vec![error_event(Status::gone("gone"))],
        Then::Close,
    ));
    source.list_err(Status::expired("too old resource version: 10 (30)"));
    source.list_ok(vec![item(1, 1)], "31");
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(5)).await;
    let calls = source.timed_calls();
    let kinds: Vec<Call> = calls.iter().map(|(_, call)| call.clone()).collect();
    assert_eq!(
        kinds,
        [list("0"), watch("10"), list("10"), list(""), watch("31")]
    );
    assert_eq!(
        calls[3].0, calls[2].0,
        "the list at \"\" follows the expired one with no backoff"
    );
    assert!(
        running.errors.lock().is_empty(),
        "the normal way back is not a failure: {:?}",
        running.errors.lock()
    );
    running.stop().await;
}

/// A store whose resyncs fail.
#[derive(Clone, Default)]
struct ResyncFails(Recorder);

impl ReflectorStore<Item> for ResyncFails {
    fn apply(&self, change: Change<Item>) -> Result<(), StoreError> {
        let resync = matches!(change, Change::Resync);
        self.0.apply(change)?;
        if resync {
            return Err(store_core::Error::UnknownIndex {
                name: "resync refused".into(),
            }
            .into());
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_resync_ends_the_watch_and_relists() {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1)], "10");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    source.list_ok(vec![item(1, 1)], "10");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let store = ResyncFails::default();
    let config = no_jitter().with_resync_period(Some(Duration::from_secs(30)));
    let running = start(&source, store.clone(), config);
    run_for(Duration::from_secs(32)).await;
    assert_eq!(
        source.calls(),
        [list("0"), watch("10"), list("10"), watch("10")],
        "the resync failure must end the watch and relist"
    );
    assert!(matches!(
        running.errors.lock().as_slice(),
        [ReflectorError::Store(_)]
    ));
    assert_eq!(
        store.0.log(),
        ["replace 1 at 10", "resync", "replace 1 at 10"]
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_sync_that_cannot_come_ends_with_an_error() {
    // shut down before the first list answered
    let reflector = Reflector::new(Stalled, Cache::<Item>::new());
    let handle = reflector.handle();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(reflector.run(shutdown.clone()));
    run_for(Duration::from_secs(1)).await;
    shutdown.cancel();
    let waited = tokio::time::timeout(Duration::from_secs(5), handle.wait_until_synced()).await;
    assert_eq!(waited.expect("does not hang"), Err(StoppedBeforeSync));
    assert!(handle.has_stopped());
    task.await.expect("no panic");
    // dropped without ever running
    let never_ran = Reflector::new(Stalled, Cache::<Item>::new());
    let handle = never_ran.handle();
    drop(never_ran);
    assert_eq!(handle.wait_until_synced().await, Err(StoppedBeforeSync));
}

#[tokio::test(start_paused = true)]
async fn a_relist_at_a_version_is_paginated_only_if_the_first_list_was() {
    // the first list came back in pages: the server has no watch cache
    let source = Scripted::new();
    source.list_page(vec![item(1, 1)], "10", Some("more"));
    source.list_page(vec![item(2, 1)], "10", None);
    source.watch(WatchAnswer::Stream(
        vec![error_event(Status::internal_error("boom"))],
        Then::Close,
    ));
    source.list_ok(vec![item(1, 1)], "11");
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(5)).await;
    assert_eq!(
        source.calls(),
        [
            Call::List("0".into(), Some(500), None),
            Call::List("0".into(), Some(500), Some("more".into())),
            watch("10"),
            Call::List("10".into(), Some(500), None),
            watch("11"),
        ]
    );
    running.stop().await;
    // `always_paginate` pages every list
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(
        vec![error_event(Status::internal_error("boom"))],
        Then::Close,
    ));
    source.list_ok(vec![], "11");
    let config = no_jitter().with_always_paginate(true);
    let running = start(&source, Cache::new(), config);
    run_for(Duration::from_secs(5)).await;
    assert_eq!(
        source.calls()[2],
        Call::List("10".into(), Some(500), None),
        "paginated at a version"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_expired_continuation_falls_back_to_one_full_list_at_the_same_version() {
    let source = Scripted::new();
    source.list_page(vec![item(1, 1)], "10", Some("more"));
    source.list_err(Status::expired("the continue token is too old"));
    source.list_ok(vec![item(1, 1), item(2, 1)], "12");
    let cache = Cache::new();
    let running = start(&source, cache.clone(), no_jitter());
    run_for(Duration::from_secs(1)).await;
    assert_eq!(
        source.calls(),
        [
            Call::List("0".into(), Some(500), None),
            Call::List("0".into(), Some(500), Some("more".into())),
            Call::List("0".into(), None, None),
            watch("12"),
        ]
    );
    let mut keys = cache.list_keys();
    keys.sort();
    assert_eq!(keys, [1, 2], "the full answer, not the first page with it");
    assert!(running.errors.lock().is_empty());
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn internal_errors_are_rewatched_within_their_retry_budget_then_relisted() {
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    for _ in 0..4 {
        source.watch(WatchAnswer::Stream(
            vec![error_event(Status::internal_error("etcd hiccup"))],
            Then::Close,
        ));
    }
    source.list_ok(vec![], "20");
    let config = no_jitter().with_internal_error_retry(Duration::from_secs(3));
    let running = start(&source, Cache::new(), config);
    run_for(Duration::from_secs(30)).await;
    // backoffs 0.8 s, 1.6 s: the third error comes 2.4 s after the first (retried),
    // the fourth 5.6 s after it, past the 3 s budget: relist
    assert_eq!(
        source.calls(),
        [
            list("0"),
            watch("10"),
            watch("10"),
            watch("10"),
            watch("10"),
            list("10"),
            watch("20"),
        ]
    );
    running.stop().await;
    // without a budget (client-go's default) the first one relists
    let source = Scripted::new();
    source.list_ok(vec![], "10");
    source.watch(WatchAnswer::Stream(
        vec![error_event(Status::internal_error("etcd hiccup"))],
        Then::Close,
    ));
    let running = start(&source, Cache::new(), no_jitter());
    run_for(Duration::from_secs(5)).await;
    assert_eq!(source.calls()[..3], [list("0"), watch("10"), list("10")]);
    running.stop().await;
}

/// A resync period of zero means "never" (client-go's reading of 0), and so does one
/// longer than the clock can count: neither panics the reflector.
#[tokio::test(start_paused = true)]
async fn a_zero_or_endless_resync_period_means_no_resync() {
    for period in [Duration::ZERO, Duration::MAX] {
        let source = Scripted::new();
        source.list_ok(vec![item(1, 1)], "10");
        source.watch(WatchAnswer::Stream(vec![], Then::Hang));
        let store = Recorder::default();
        let config = no_jitter().with_resync_period(Some(period));
        let running = start(&source, store.clone(), config);
        run_for(Duration::from_secs(120)).await;
        assert!(running.handle.has_synced(), "{period:?}");
        assert_eq!(store.log(), ["replace 1 at 10"], "{period:?}: no resync");
        running.stop().await;
    }
}

/// A cache that notes which thread each change reached it on.
#[derive(Clone, Default)]
struct ThreadNoting {
    cache: Cache<Item>,
    threads: Arc<Mutex<Vec<Option<String>>>>,
}

impl ReflectorStore<Item> for ThreadNoting {
    fn apply(&self, change: Change<Item>) -> Result<(), StoreError> {
        let thread = std::thread::current().name().map(str::to_owned);
        self.threads.lock().push(thread);
        self.cache.apply(change)
    }

    fn supports_in_place_relist(&self) -> bool {
        self.cache.supports_in_place_relist()
    }
}

/// Runs a reflector (list, one event) into a [`ThreadNoting`] store on the current
/// runtime; the names of the threads its changes came from.
async fn threads_of_a_reflector(config: ReflectorConfig) -> Vec<Option<String>> {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1)], "5");
    source.watch(WatchAnswer::Stream(vec![added(2, 6, "6")], Then::Hang));
    let store = ThreadNoting::default();
    let reflector = Reflector::new(Arc::clone(&source), store.clone())
        .with_config(config)
        .with_name("tests::Item");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(reflector.run(shutdown.clone()));
    while store.cache.len() < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    shutdown.cancel();
    running.await.expect("no panic");
    let threads = store.threads.lock().clone();
    threads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_the_reflector_runs_on_a_thread_of_its_own() {
    let threads = threads_of_a_reflector(ReflectorConfig::default()).await;
    assert_eq!(threads.len(), 2, "the list and the event");
    assert!(
        threads
            .iter()
            .all(|name| name.as_deref() == Some("reflector Item")),
        "{threads:?}"
    );
    // Turned off: the caller's workers.
    let threads = threads_of_a_reflector(ReflectorConfig::default().with_own_thread(false)).await;
    assert!(
        threads
            .iter()
            .all(|name| name.as_deref() != Some("reflector Item")),
        "{threads:?}"
    );
}

#[tokio::test]
async fn on_a_current_thread_runtime_the_reflector_runs_inline() {
    let here = std::thread::current().name().map(str::to_owned);
    let threads = threads_of_a_reflector(ReflectorConfig::default()).await;
    assert_eq!(threads, [here.clone(), here]);
}
