//! `EtcdSource` against a real etcd (Debian's `etcd-server`), started per test on
//! loopback by the `etcd_harness`: the `ListerWatcher` contract (pages, revisions,
//! events, bookmarks, compaction, timeouts, cancellation), then the reflector and
//! informer on top of it through churn, compaction while disconnected, `kill -9`
//! and restart, corrupt values, and shutdown while etcd is down.
//!
//! Every test is bounded ([`within`]); waits on a real server poll with a deadline.

#![cfg(feature = "etcd")]
// The contract's error type is `Status`; helpers here hand it out as it comes.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use conformance::etcd_harness::{EtcdServer, EtcdServerOptions, Partition};
use futures::StreamExt;
use parking_lot::Mutex;
use reflector::sources::etcd::{DecodeError, DecodeFailure, EtcdConfig, EtcdSource, EtcdWriter};
use reflector::{
    BackoffConfig, Informer, ListOptions, ListPage, ListerWatcher, Reflector, ReflectorConfig,
    ReflectorError, WatchEvent, WatchOptions, WatchStream,
};
use serde::{Deserialize, Serialize};
use store_core::{Cache, Keyed, ObjectName, ResourceVersion, ShardedCache, Status, Store};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const PREFIX: &str = "/registry/configmaps/";

/// A ConfigMap-shaped object: stored as JSON under `PREFIX` + `namespace/name`.
#[derive(Keyed, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[keyed(namespace = "namespace", name = "name")]
struct ConfigMap {
    namespace: String,
    name: String,
    generation: u64,
    data: String,
}

fn config_map(i: u64, generation: u64) -> ConfigMap {
    ConfigMap {
        namespace: format!("team-{}", i % 7),
        name: format!("cm-{i:05}"),
        generation,
        data: format!("value of {i} at {generation}"),
    }
}

fn key(i: u64) -> ObjectName {
    config_map(i, 0).key()
}

// --- helpers -------------------------------------------------------------------------

/// Runs `test` with a time limit, so that a hang fails the test instead of CI.
async fn within<F: Future>(limit: Duration, test: F) -> F::Output {
    match tokio::time::timeout(limit, test).await {
        Ok(output) => output,
        Err(_) => panic!("the test did not finish within {limit:?}"),
    }
}

/// Polls `condition` every 20 ms until it holds; panics with `describe()` after
/// `limit`.
async fn eventually(
    limit: Duration,
    mut condition: impl FnMut() -> bool,
    describe: impl Fn() -> String,
) {
    let deadline = Instant::now() + limit;
    while !condition() {
        if Instant::now() > deadline {
            panic!("not reached within {limit:?}: {}", describe());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn source(server: &EtcdServer) -> EtcdSource<ConfigMap> {
    source_at(&server.endpoint()).await
}

async fn source_at(endpoint: &str) -> EtcdSource<ConfigMap> {
    EtcdSource::connect(
        EtcdConfig::new([endpoint], PREFIX)
            .with_connect_timeout(Duration::from_secs(1))
            .with_request_timeout(Some(Duration::from_secs(5))),
    )
    .await
    .unwrap()
}

/// A writer with its own connection, straight to the server.
async fn writer(server: &EtcdServer) -> EtcdWriter<ConfigMap> {
    source(server).await.writer()
}

fn rv(value: &str) -> ResourceVersion {
    ResourceVersion::from(value)
}

fn revision(rv: &ResourceVersion) -> i64 {
    rv.as_str().parse().unwrap()
}

/// What etcd holds under `PREFIX`, decoded straight from a raw range (skipping what
/// does not decode), keyed by the object's key.
async fn etcd_content(server: &EtcdServer) -> BTreeMap<ObjectName, ConfigMap> {
    let mut client = server.client().await;
    let response = client
        .get(PREFIX, Some(etcd_client::GetOptions::new().with_prefix()))
        .await
        .unwrap();
    response
        .kvs()
        .iter()
        .filter_map(|kv| serde_json::from_slice::<ConfigMap>(kv.value()).ok())
        .map(|cm| (cm.key(), cm))
        .collect()
}

fn store_content(store: &impl Store<ConfigMap>) -> BTreeMap<ObjectName, ConfigMap> {
    store
        .list()
        .into_iter()
        .map(|cm| (cm.key(), (*cm).clone()))
        .collect()
}

/// Waits until `store` holds exactly what etcd holds.
async fn converges(server: &EtcdServer, store: &impl Store<ConfigMap>, limit: Duration) {
    let deadline = Instant::now() + limit;
    let expected = etcd_content(server).await;
    loop {
        let actual = store_content(store);
        if actual == expected {
            return;
        }
        if Instant::now() > deadline {
            let missing = expected.keys().filter(|k| !actual.contains_key(*k)).count();
            let extra = actual.keys().filter(|k| !expected.contains_key(*k)).count();
            let stale = expected
                .iter()
                .filter(|(k, v)| actual.get(*k).is_some_and(|a| a != *v))
                .count();
            panic!(
                "the store did not converge within {limit:?}: {} in etcd, {} in the store, \
                 {missing} missing, {extra} extra, {stale} stale",
                expected.len(),
                actual.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A reflector config with short backoffs, so recoveries are quick.
fn fast() -> ReflectorConfig {
    ReflectorConfig::default().with_backoff(
        BackoffConfig::default()
            .with_initial(Duration::from_millis(50))
            .with_max(Duration::from_millis(400)),
    )
}

/// A lister-watcher that counts full lists (first pages) on the way through.
struct Counted<L> {
    inner: L,
    lists: Arc<AtomicUsize>,
}

impl<L: ListerWatcher<ConfigMap>> ListerWatcher<ConfigMap> for Counted<L> {
    fn list(
        &self,
        options: ListOptions,
    ) -> impl Future<Output = Result<ListPage<ConfigMap>, Box<Status>>> + Send {
        if options.continue_token.is_none() {
            self.lists.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.list(options)
    }

    fn watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> impl Future<Output = Result<WatchStream<ConfigMap>, Box<Status>>> + Send {
        self.inner.watch(resource_version, options)
    }
}

/// The status a reported error carries, if any.
fn status_of(error: &ReflectorError) -> Option<&Status> {
    match error {
        ReflectorError::List { status, .. }
        | ReflectorError::Watch { status, .. }
        | ReflectorError::WatchEnded { status, .. } => Some(status),
        _ => None,
    }
}

/// A running reflector into a `Cache`, with its reported errors.
struct Running {
    cache: Cache<ConfigMap>,
    handle: reflector::ReflectorHandle,
    errors: Arc<Mutex<Vec<ReflectorError>>>,
    lists: Arc<AtomicUsize>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(source: EtcdSource<ConfigMap>, config: ReflectorConfig) -> Running {
        let cache = Cache::new();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let lists = Arc::new(AtomicUsize::new(0));
        let sink = Arc::clone(&errors);
        let counted = Counted {
            inner: source,
            lists: Arc::clone(&lists),
        };
        let reflector = Reflector::new(counted, cache.clone())
            .with_config(config)
            .on_error(move |error| sink.lock().push(error.clone()));
        let handle = reflector.handle();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(reflector.run(shutdown.clone()));
        Running {
            cache,
            handle,
            errors,
            lists,
            shutdown,
            task,
        }
    }

    async fn synced(&self) {
        within(Duration::from_secs(30), self.handle.wait_until_synced())
            .await
            .expect("synced");
    }

    async fn stop(self) {
        self.shutdown.cancel();
        within(Duration::from_secs(5), self.task).await.unwrap();
    }
}

async fn next_event(stream: &mut WatchStream<ConfigMap>) -> String {
    let item = within(Duration::from_secs(10), stream.next()).await;
    describe(item)
}

fn describe(item: Option<Result<WatchEvent<ConfigMap>, Box<Status>>>) -> String {
    match item {
        None => "END".to_owned(),
        Some(Err(status)) => format!("ERR {:?}", status.reason),
        Some(Ok(WatchEvent::Added(cm, rv))) => format!("ADDED {}#{}@{rv}", cm.key(), cm.generation),
        Some(Ok(WatchEvent::Modified(cm, rv))) => {
            format!("MODIFIED {}#{}@{rv}", cm.key(), cm.generation)
        }
        Some(Ok(WatchEvent::Deleted(cm, rv))) => {
            format!("DELETED {}#{}@{rv}", cm.key(), cm.generation)
        }
        Some(Ok(WatchEvent::Bookmark(rv))) => format!("BOOKMARK @{rv}"),
        Some(Ok(WatchEvent::InitialEventsEnd(rv))) => format!("INITIAL-EVENTS-END @{rv}"),
        Some(Ok(WatchEvent::Error(status))) => format!("ERROR {:?}", status.reason),
    }
}

fn watch_options(timeout: Option<Duration>, bookmarks: bool) -> WatchOptions {
    WatchOptions {
        timeout,
        allow_bookmarks: bookmarks,
        source_id: None,
        send_initial_events: false,
    }
}

// --- the ListerWatcher contract --------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_list_is_one_snapshot_at_one_revision() {
    within(Duration::from_secs(60), async {
        let server = EtcdServer::start().await;
        let source = source(&server).await;
        let writer = source.writer();
        let objects: Vec<ConfigMap> = (0..25).map(|i| config_map(i, 1)).collect();
        let written = writer.put_all(&objects).await.unwrap().unwrap();

        let first = source
            .list(ListOptions {
                resource_version: rv("0"),
                limit: Some(10),
                continue_token: None,
            })
            .await
            .unwrap();
        assert_eq!(first.items.len(), 10);
        assert_eq!(first.resource_version, written);
        // Writes between pages do not show in the later pages.
        writer.put(&config_map(24, 2)).await.unwrap();
        writer.delete(&key(15)).await.unwrap();
        writer.put(&config_map(99, 1)).await.unwrap();

        let mut items = first.items.clone();
        let mut token = first.continue_token.clone();
        let mut pages = 1;
        while let Some(continue_token) = token {
            let page = source
                .list(ListOptions {
                    resource_version: rv(""),
                    limit: Some(10),
                    continue_token: Some(continue_token),
                })
                .await
                .unwrap();
            assert_eq!(
                page.resource_version, written,
                "every page is at one revision"
            );
            items.extend(page.items);
            token = page.continue_token;
            pages += 1;
        }
        assert_eq!(pages, 3);
        let listed: Vec<ConfigMap> = items.iter().map(|cm| (**cm).clone()).collect();
        let mut expected = objects.clone();
        expected.sort_by_key(|cm| format!("{PREFIX}{}", cm.key()));
        assert_eq!(listed, expected);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_at_a_revision_etcd_has_not_reached_is_too_large() {
    within(Duration::from_secs(30), async {
        let server = EtcdServer::start().await;
        let source = source(&server).await;
        let at = source.writer().put(&config_map(1, 1)).await.unwrap();
        let newer = rv(&(revision(&at) + 1000).to_string());
        let status = source
            .list(ListOptions {
                resource_version: newer,
                ..ListOptions::default()
            })
            .await
            .unwrap_err();
        assert!(status.is_too_large_resource_version(), "{status}");
        // Not older than: an older revision reads the newest state.
        let list = source
            .list(ListOptions {
                resource_version: rv("1"),
                ..ListOptions::default()
            })
            .await
            .unwrap();
        assert_eq!(list.resource_version, at);
        let status = source
            .list(ListOptions {
                resource_version: rv("abc"),
                ..ListOptions::default()
            })
            .await
            .unwrap_err();
        assert!(status.is_bad_request(), "{status}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_page_after_compaction_is_expired() {
    within(Duration::from_secs(30), async {
        let server = EtcdServer::start().await;
        let source = source(&server).await;
        let objects: Vec<ConfigMap> = (0..5).map(|i| config_map(i, 1)).collect();
        source.writer().put_all(&objects).await.unwrap();
        let first = source
            .list(ListOptions {
                limit: Some(2),
                ..ListOptions::default()
            })
            .await
            .unwrap();
        let latest = source.writer().put(&config_map(1, 2)).await.unwrap();
        server.compact(revision(&latest)).await;
        let status = source
            .list(ListOptions {
                limit: Some(2),
                continue_token: first.continue_token,
                ..ListOptions::default()
            })
            .await
            .unwrap_err();
        assert!(status.is_expired(), "{status}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_turns_puts_and_deletes_into_events_at_their_revisions() {
    within(Duration::from_secs(30), async {
        let server = EtcdServer::start().await;
        let source = source(&server).await;
        let writer = source.writer();
        let start = writer.put(&config_map(1, 1)).await.unwrap();
        let mut stream = source
            .watch(start.clone(), watch_options(None, false))
            .await
            .unwrap();
        let created = writer.put(&config_map(2, 1)).await.unwrap();
        let modified = writer.put(&config_map(1, 2)).await.unwrap();
        let deleted = writer.delete(&key(1)).await.unwrap();
        let batch = writer
            .put_all(&[config_map(3, 1), config_map(2, 2)])
            .await
            .unwrap()
            .unwrap();
        let recreated = writer.put(&config_map(1, 3)).await.unwrap();
        // Outside the prefix: not seen.
        server
            .client()
            .await
            .put("/registry/configmaps", "outside", None)
            .await
            .unwrap();
        let (k1, k2, k3) = (key(1), key(2), key(3));
        assert_eq!(
            next_event(&mut stream).await,
            format!("ADDED {k2}#1@{created}")
        );
        assert_eq!(
            next_event(&mut stream).await,
            format!("MODIFIED {k1}#2@{modified}")
        );
        assert_eq!(
            next_event(&mut stream).await,
            format!("DELETED {k1}#2@{deleted}"),
            "a deletion carries the last object"
        );
        assert_eq!(
            next_event(&mut stream).await,
            format!("ADDED {k3}#1@{batch}")
        );
        assert_eq!(
            next_event(&mut stream).await,
            format!("MODIFIED {k2}#2@{batch}")
        );
        assert_eq!(
            next_event(&mut stream).await,
            format!("ADDED {k1}#3@{recreated}")
        );
        // A watch from a past revision replays etcd's history after it.
        let mut replay = source
            .watch(start, watch_options(None, false))
            .await
            .unwrap();
        assert_eq!(
            next_event(&mut replay).await,
            format!("ADDED {k2}#1@{created}")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_notifications_are_bookmarks() {
    within(Duration::from_secs(30), async {
        let server = EtcdServer::start_with(EtcdServerOptions {
            progress_notify_interval: Some(Duration::from_millis(100)),
            ..EtcdServerOptions::default()
        })
        .await;
        let source = source(&server).await;
        let at = source.writer().put(&config_map(1, 1)).await.unwrap();
        let mut stream = source
            .watch(at.clone(), watch_options(None, true))
            .await
            .unwrap();
        assert_eq!(next_event(&mut stream).await, format!("BOOKMARK @{at}"));
        let later = source.writer().put(&config_map(2, 1)).await.unwrap();
        let mut seen = next_event(&mut stream).await;
        while seen.starts_with("BOOKMARK") && seen != format!("BOOKMARK @{later}") {
            seen = next_event(&mut stream).await;
            if seen.starts_with("ADDED") {
                assert_eq!(seen, format!("ADDED {}#1@{later}", key(2)));
            }
        }
        // Without bookmarks allowed, an idle watch stays silent.
        let mut quiet = source
            .watch(later, watch_options(None, false))
            .await
            .unwrap();
        let silent = tokio::time::timeout(Duration::from_millis(500), quiet.next()).await;
        assert!(silent.is_err(), "got {:?}", silent.map(describe));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_compacted_revision_is_expired() {
    within(Duration::from_secs(30), async {
        let server = EtcdServer::start().await;
        let source = source(&server).await;
        let writer = source.writer();
        let old = writer.put(&config_map(1, 1)).await.unwrap();
        writer.put(&config_map(1, 2)).await.unwrap();
        let latest = writer.put(&config_map(1, 3)).await.unwrap();
        server.compact(revision(&latest)).await;
        let mut stream = source.watch(old, watch_options(None, true)).await.unwrap();
        assert_eq!(next_event(&mut stream).await, "ERROR Expired");
        assert_eq!(next_event(&mut stream).await, "END");
        // From the compaction point on is fine.
        let mut stream = source
            .watch(latest, watch_options(None, true))
            .await
            .unwrap();
        writer.put(&config_map(1, 4)).await.unwrap();
        assert!(next_event(&mut stream).await.starts_with("MODIFIED"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_revision_etcd_has_not_reached_is_too_large() {
    within(Duration::from_secs(30), async {
        let server = EtcdServer::start().await;
        let source = source(&server).await;
        let at = source.writer().put(&config_map(1, 1)).await.unwrap();
        let Err(status) = source
            .watch(
                rv(&(revision(&at) + 10).to_string()),
                watch_options(None, true),
            )
            .await
        else {
            panic!("a watch from the future was accepted");
        };
        assert!(status.is_too_large_resource_version(), "{status}");
        let Err(status) = source.watch(rv("x"), watch_options(None, true)).await else {
            panic!("a non-numeric resource version was accepted");
        };
        assert!(status.is_bad_request(), "{status}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ends_cleanly_after_its_timeout() {
    within(Duration::from_secs(30), async {
        let server = EtcdServer::start().await;
        let source = source(&server).await;
        let started = Instant::now();
        let mut stream = source
            .watch(
                rv("0"),
                watch_options(Some(Duration::from_millis(300)), false),
            )
            .await
            .unwrap();
        assert_eq!(next_event(&mut stream).await, "END");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_watch_cancels_it_in_etcd() {
    within(Duration::from_secs(30), async {
        let server = EtcdServer::start().await;
        let source = source(&server).await;
        const WATCHERS: &str = "etcd_debugging_mvcc_watcher_total";
        let before = server.metric(WATCHERS).await;
        let streams = vec![
            source
                .watch(rv("0"), watch_options(None, false))
                .await
                .unwrap(),
            source
                .watch(rv("0"), watch_options(None, true))
                .await
                .unwrap(),
        ];
        assert_eq!(server.metric(WATCHERS).await, before + 2.0);
        drop(streams);
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.metric(WATCHERS).await != before {
            assert!(
                Instant::now() < deadline,
                "etcd still holds the dropped watches"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_etcd_is_service_unavailable() {
    within(Duration::from_secs(30), async {
        let mut server = EtcdServer::start().await;
        let source = source(&server).await;
        source.list(ListOptions::default()).await.unwrap();
        let mut stream = source
            .watch(rv("0"), watch_options(None, false))
            .await
            .unwrap();
        server.kill9();
        let item = within(Duration::from_secs(10), stream.next()).await;
        match item {
            Some(Err(status)) => assert!(status.is_service_unavailable(), "{status}"),
            other => panic!("expected an error item, got {}", describe(other)),
        }
        let status = source.list(ListOptions::default()).await.unwrap_err();
        assert!(status.is_service_unavailable(), "{status}");
        let Err(status) = source.watch(rv("0"), watch_options(None, false)).await else {
            panic!("a watch on a dead etcd was accepted");
        };
        assert!(status.is_service_unavailable(), "{status}");
    })
    .await;
}

// --- the reflector and informer over etcd ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_sync_of_ten_thousand_objects() {
    within(Duration::from_secs(120), async {
        let server = EtcdServer::start().await;
        let writer = writer(&server).await;
        let objects: Vec<ConfigMap> = (0..10_000).map(|i| config_map(i, 1)).collect();
        let written = writer.put_all(&objects).await.unwrap().unwrap();

        let running = Running::start(source(&server).await, fast());
        running.synced().await;
        assert_eq!(running.cache.len(), 10_000);
        assert_eq!(running.handle.last_sync_resource_version(), Some(written));
        assert_eq!(store_content(&running.cache), etcd_content(&server).await);
        assert!(
            running.errors.lock().is_empty(),
            "{:?}",
            running.errors.lock()
        );
        running.stop().await;
    })
    .await;
}

/// Writes `rounds` rounds of creates, updates and deletes over keys `0..span`.
async fn churn(writer: &EtcdWriter<ConfigMap>, rounds: u64, span: u64) {
    for round in 1..=rounds {
        for step in 0..20u64 {
            let i = (round * 31 + step * 17) % span;
            if (round + step) % 5 == 0 {
                let _ = writer.delete(&key(i)).await; // NotFound is fine
            } else {
                writer.put(&config_map(i, round)).await.unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_churn_converges() {
    within(Duration::from_secs(60), async {
        let server = EtcdServer::start().await;
        let writer = writer(&server).await;
        let seed: Vec<ConfigMap> = (0..200).map(|i| config_map(i, 0)).collect();
        writer.put_all(&seed).await.unwrap();
        let running = Running::start(source(&server).await, fast());
        running.synced().await;
        // Four concurrent writers.
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let writer = writer.clone();
                tokio::spawn(async move { churn(&writer, 25, 300).await })
            })
            .collect();
        for task in writers {
            task.await.unwrap();
        }
        converges(&server, &running.cache, Duration::from_secs(10)).await;
        assert_eq!(
            running.lists.load(Ordering::SeqCst),
            1,
            "no relist was needed"
        );
        running.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_while_disconnected_forces_a_relist_and_converges() {
    within(Duration::from_secs(60), async {
        let server = EtcdServer::start().await;
        let partition = Partition::to(server.port()).await;
        let writer = writer(&server).await;
        let seed: Vec<ConfigMap> = (0..300).map(|i| config_map(i, 0)).collect();
        writer.put_all(&seed).await.unwrap();
        let running = Running::start(source_at(&partition.endpoint()).await, fast());
        running.synced().await;
        converges(&server, &running.cache, Duration::from_secs(10)).await;
        let synced_at = running.handle.last_sync_resource_version();

        partition.cut();
        // The reflector notices (its watch breaks, re-watches fail) ...
        eventually(
            Duration::from_secs(10),
            || {
                running
                    .errors
                    .lock()
                    .iter()
                    .any(|error| matches!(error, ReflectorError::Watch { .. }))
            },
            || format!("{:?}", running.errors.lock()),
        )
        .await;
        assert_eq!(
            running.lists.load(Ordering::SeqCst),
            1,
            "it re-watches, no relist"
        );
        // ... while etcd moves on and forgets the history it would need.
        churn(&writer, 20, 400).await;
        for i in 0..50 {
            let _ = writer.delete(&key(i)).await;
        }
        let now = server.revision().await;
        server.compact(now).await;
        assert_eq!(running.handle.last_sync_resource_version(), synced_at);

        partition.heal();
        eventually(
            Duration::from_secs(20),
            || running.lists.load(Ordering::SeqCst) >= 2,
            || "no relist after the compaction".to_owned(),
        )
        .await;
        converges(&server, &running.cache, Duration::from_secs(20)).await;
        running.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_killed_mid_watch_and_restarted_on_its_data_dir_is_recovered_from() {
    within(Duration::from_secs(90), async {
        let mut server = EtcdServer::start().await;
        let writer = writer(&server).await;
        let seed: Vec<ConfigMap> = (0..300).map(|i| config_map(i, 0)).collect();
        writer.put_all(&seed).await.unwrap();
        let running = Running::start(source(&server).await, fast());
        running.synced().await;
        churn(&writer, 5, 300).await;
        converges(&server, &running.cache, Duration::from_secs(10)).await;

        server.kill9();
        eventually(
            Duration::from_secs(10),
            || !running.errors.lock().is_empty(),
            || "the reflector did not notice etcd's death".to_owned(),
        )
        .await;
        server.restart().await;
        churn(&writer, 10, 400).await;
        converges(&server, &running.cache, Duration::from_secs(30)).await;
        // etcd's death was a backoff-and-retry matter, nothing else.
        for error in running.errors.lock().iter() {
            let status = status_of(error).unwrap_or_else(|| panic!("{error}"));
            assert!(status.is_service_unavailable(), "{error}");
        }
        running.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_values_are_reported_and_skipped_while_other_keys_keep_syncing() {
    within(Duration::from_secs(60), async {
        let server = EtcdServer::start().await;
        let writer = writer(&server).await;
        let seed: Vec<ConfigMap> = (0..20).map(|i| config_map(i, 0)).collect();
        writer.put_all(&seed).await.unwrap();
        let not_json = writer.put_raw("team-1/broken", "{not json").await.unwrap();
        // Valid JSON, but of an object with another key than its etcd key names.
        let liar = serde_json::to_vec(&config_map(3, 9)).unwrap();
        let mismatch = writer.put_raw("team-2/liar", liar).await.unwrap();

        let reported: Arc<Mutex<Vec<(String, i64, bool)>>> = Arc::default();
        let sink = Arc::clone(&reported);
        let source = source(&server)
            .await
            .on_decode_error(move |error: &DecodeError| {
                let json = matches!(error.failure, DecodeFailure::Json(_));
                sink.lock().push((error.key.clone(), error.revision, json));
            });
        let running = Running::start(source.clone(), fast());
        running.synced().await;
        assert_eq!(running.cache.len(), 20);
        assert_eq!(
            *reported.lock(),
            [
                (format!("{PREFIX}team-1/broken"), revision(&not_json), true),
                (format!("{PREFIX}team-2/liar"), revision(&mismatch), false),
            ]
        );
        assert_eq!(source.decode_errors(), 2);

        // Live: a corrupt write between good ones is skipped, the good ones arrive.
        writer.put(&config_map(100, 1)).await.unwrap();
        let live = writer
            .put_raw("team-3/garbage", vec![0xff, 0x00])
            .await
            .unwrap();
        writer.put(&config_map(101, 1)).await.unwrap();
        writer.put(&config_map(0, 5)).await.unwrap();
        converges(&server, &running.cache, Duration::from_secs(10)).await;
        assert_eq!(source.decode_errors(), 3);
        assert_eq!(
            reported.lock().last().cloned(),
            Some((format!("{PREFIX}team-3/garbage"), revision(&live), true))
        );
        assert_eq!(
            running.lists.load(Ordering::SeqCst),
            1,
            "skipping needs no relist"
        );
        running.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_informers_on_one_prefix_reach_the_same_state() {
    within(Duration::from_secs(60), async {
        let server = EtcdServer::start().await;
        let writer = writer(&server).await;
        let seed: Vec<ConfigMap> = (0..500).map(|i| config_map(i, 0)).collect();
        writer.put_all(&seed).await.unwrap();
        let shutdown = CancellationToken::new();
        // clones of the caches to compare (each informer is its cache's only writer)
        let (first_cache, second_cache) = (ShardedCache::new(), ShardedCache::new());
        let first = Informer::builder_with_store(source(&server).await, first_cache.clone())
            .with_config(fast());
        let mut second = Informer::builder_with_store(source(&server).await, second_cache.clone())
            .with_config(fast());
        let deletes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&deletes);
        second.on_delete(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let (first, first_task) = first.start(shutdown.clone());
        let (second, second_task) = second.start(shutdown.clone());
        let tasks = [first_task, second_task];
        within(Duration::from_secs(20), first.wait_until_synced())
            .await
            .expect("synced");
        churn(&writer, 20, 600).await;
        within(Duration::from_secs(20), second.wait_until_synced())
            .await
            .expect("synced");
        converges(&server, &first_cache, Duration::from_secs(10)).await;
        converges(&server, &second_cache, Duration::from_secs(10)).await;
        assert_eq!(store_content(&first_cache), store_content(&second_cache));
        assert_eq!(first.store().len(), first_cache.len());
        assert!(
            deletes.load(Ordering::SeqCst) > 0,
            "the churn deleted objects"
        );
        shutdown.cancel();
        for task in tasks {
            within(Duration::from_secs(5), task).await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_etcd_is_down_returns_promptly() {
    within(Duration::from_secs(60), async {
        let mut server = EtcdServer::start().await;
        writer(&server).await.put(&config_map(1, 1)).await.unwrap();
        // The default backoff (800 ms, doubling) and request timeout: shutdown must
        // not wait for either.
        let running = Running::start(source(&server).await, ReflectorConfig::default());
        running.synced().await;
        server.kill9();
        eventually(
            Duration::from_secs(10),
            || running.errors.lock().len() >= 2,
            || format!("{:?}", running.errors.lock()),
        )
        .await;
        let started = Instant::now();
        running.shutdown.cancel();
        within(Duration::from_secs(1), running.task).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_key_whose_value_does_not_decode_relists_and_drops_it() {
    within(Duration::from_secs(60), async {
        let server = EtcdServer::start().await;
        let writer = writer(&server).await;
        let seed: Vec<ConfigMap> = (0..10).map(|i| config_map(i, 0)).collect();
        writer.put_all(&seed).await.unwrap();
        let source = source(&server).await;
        let running = Running::start(source.clone(), fast());
        running.synced().await;
        // A good value turns bad: the cache keeps the last good one ...
        let stale = config_map(3, 0);
        writer
            .put_raw(&stale.key().to_string(), "{truncated")
            .await
            .unwrap();
        writer.put(&config_map(4, 1)).await.unwrap();
        eventually(
            Duration::from_secs(10),
            || {
                running
                    .cache
                    .get(&key(4))
                    .is_some_and(|cm| cm.generation == 1)
            },
            || "the write after the bad value did not arrive".to_owned(),
        )
        .await;
        assert_eq!(running.cache.get(&key(3)).as_deref(), Some(&stale));
        // ... until the key is deleted: with no object to hand the store, the watch
        // ends and the relist drops it.
        writer.delete(&key(3)).await.unwrap();
        converges(&server, &running.cache, Duration::from_secs(10)).await;
        assert!(!running.cache.contains_key(&key(3)));
        assert_eq!(running.lists.load(Ordering::SeqCst), 2);
        assert_eq!(
            source.decode_errors(),
            2,
            "the bad put and the unknown deletion"
        );
        running.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_password_are_passed_through_to_etcd() {
    within(Duration::from_secs(30), async {
        let server = EtcdServer::start().await;
        let mut admin = server.client().await;
        admin.role_add("root").await.unwrap();
        admin.user_add("root", "s3cret", None).await.unwrap();
        admin.user_grant_role("root", "root").await.unwrap();
        admin.auth_enable().await.unwrap();

        let with = |password: &str| {
            EtcdConfig::new([server.endpoint()], PREFIX)
                .with_user(Some(("root".to_owned(), password.to_owned())))
        };
        let source = EtcdSource::<ConfigMap>::connect(with("s3cret"))
            .await
            .unwrap();
        source.writer().put(&config_map(1, 1)).await.unwrap();
        let list = source.list(ListOptions::default()).await.unwrap();
        assert_eq!(list.items.len(), 1);

        let refused = EtcdSource::<ConfigMap>::connect(with("wrong"))
            .await
            .unwrap_err();
        assert!(!refused.is_service_unavailable(), "{refused}");
        let anonymous = source_at(&server.endpoint()).await;
        let status = anonymous.list(ListOptions::default()).await.unwrap_err();
        assert!(!status.is_service_unavailable(), "{status}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaginated_list_larger_than_grpcs_default_limit_is_one_answer() {
    within(Duration::from_secs(60), async {
        let server = EtcdServer::start().await;
        let source = source(&server).await;
        // 800 values of 8 KiB: 6.5 MiB in one answer, over gRPC's 4 MiB default.
        let objects: Vec<ConfigMap> = (0..800)
            .map(|i| ConfigMap {
                data: "x".repeat(8 * 1024),
                ..config_map(i, 1)
            })
            .collect();
        source.writer().put_all(&objects).await.unwrap();
        let list = source.list(ListOptions::default()).await.unwrap();
        assert_eq!(list.items.len(), 800);
        assert!(list.continue_token.is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_a_slash_is_refused_so_no_object_outlives_its_etcd_key() {
    within(Duration::from_secs(60), async {
        let server = EtcdServer::start().await;
        let writer = writer(&server).await;
        let source = source(&server).await;
        let running = Running::start(source.clone(), fast());
        running.synced().await;
        // A cluster-scoped `a/b` prints as the namespaced `a`/`b`: both would live at
        // one etcd key. The writer refuses it ...
        let odd = ConfigMap {
            namespace: String::new(),
            name: "a/b".into(),
            generation: 0,
            data: "cluster-scoped".into(),
        };
        let refused = writer.put(&odd).await.unwrap_err();
        assert!(refused.is_bad_request(), "{refused:?}");
        // ... and the source skips it when something else wrote it.
        writer
            .put_raw("a/b", serde_json::to_vec(&odd).unwrap())
            .await
            .unwrap();
        let proper = ConfigMap {
            namespace: "a".into(),
            name: "b".into(),
            generation: 1,
            data: "namespaced".into(),
        };
        writer.put(&proper).await.unwrap();
        eventually(
            Duration::from_secs(10),
            || running.cache.contains_key(&proper.key()),
            || "the namespaced object did not arrive".to_owned(),
        )
        .await;
        assert!(!running.cache.contains_key(&odd.key()));
        writer.delete(&proper.key()).await.unwrap();
        eventually(
            Duration::from_secs(10),
            || running.cache.is_empty(),
            || format!("left in the cache: {:?}", store_content(&running.cache)),
        )
        .await;
        assert_eq!(source.decode_errors(), 1, "the put of the odd key");
        running.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_etcd_cluster_is_relisted_from_not_resumed() {
    within(Duration::from_secs(90), async {
        let mut server = EtcdServer::start().await;
        let partition = Partition::to(server.port()).await;
        let old_writer = writer(&server).await;
        let seed: Vec<ConfigMap> = (0..40).map(|i| config_map(i, 0)).collect();
        old_writer.put_all(&seed).await.unwrap();
        let running = Running::start(source_at(&partition.endpoint()).await, fast());
        running.synced().await;
        converges(&server, &running.cache, Duration::from_secs(10)).await;
        let seen = revision(&running.handle.last_sync_resource_version().unwrap());

        // Cut off, the cluster is replaced by an empty one, which is written to until
        // its revision passes the one the reflector saw: 20 of the old objects come
        // back changed, 20 do not come back, and 20 new ones appear.
        partition.cut();
        server.recreate("a-new-cluster").await;
        let writer = writer(&server).await;
        let mut generation = 1;
        while server.revision().await <= seen + 5 {
            let next: Vec<ConfigMap> = (0..20)
                .chain(40..60)
                .map(|i| config_map(i, generation))
                .collect();
            writer.put_all(&next).await.unwrap();
            generation += 1;
        }
        partition.heal();
        // Resuming from `seen` on the new cluster would keep the 20 gone and the 20
        // stale: the reflector must notice the other cluster id and relist.
        converges(&server, &running.cache, Duration::from_secs(30)).await;
        assert_eq!(running.cache.len(), 40);
        assert!(running.lists.load(Ordering::SeqCst) >= 2, "it relisted");
        assert!(
            running.errors.lock().iter().any(|error| status_of(error)
                .is_some_and(|status| status.is_gone() && status.message.contains("cluster"))),
            "the replaced cluster is reported: {:?}",
            running.errors.lock()
        );
        running.stop().await;
    })
    .await;
}
