//! Streaming lists (watch-list, KEP-3157) in the `Reflector`: the state arrives on
//! a watch, the store is replaced at the end marker, the same watch goes on; a
//! source that cannot stream is listed instead, for good; a transient failure lists
//! for that attempt only.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use reflector::sources::memory::RecordedRequest;
use reflector::{MemoryServer, Reflector, ReflectorConfig};
use store_core::{Cache, Keyed, Status, Store};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    name: String,
    generation: u64,
}

impl Keyed for Item {
    type Key = String;
    fn key(&self) -> String {
        self.name.clone()
    }
}

fn item(n: usize, generation: u64) -> Item {
    Item {
        name: format!("item-{n:03}"),
        generation,
    }
}

fn server(objects: usize) -> MemoryServer<Item> {
    let server = MemoryServer::new();
    server.record_requests();
    for n in 0..objects {
        server.create(item(n, 0)).unwrap();
    }
    server
}

fn start(
    server: &MemoryServer<Item>,
    cache: &Cache<Item>,
) -> (reflector::ReflectorHandle, CancellationToken) {
    let reflector = Reflector::new(server.clone(), cache.clone()).with_config(
        ReflectorConfig::default()
            .with_streaming_list(true)
            .with_min_watch_duration(Duration::ZERO)
            .with_backoff(
                reflector::BackoffConfig::default().with_initial(Duration::from_millis(10)),
            ),
    );
    let handle = reflector.handle();
    let shutdown = CancellationToken::new();
    tokio::spawn(reflector.run(shutdown.clone()));
    (handle, shutdown)
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen");
}

/// The watch requests, as (resource version, streaming?), and how many lists.
fn requests(server: &MemoryServer<Item>) -> (Vec<(String, bool)>, usize) {
    let mut watches = Vec::new();
    let mut lists = 0;
    for request in server.requests() {
        match request {
            RecordedRequest::Watch {
                resource_version,
                options,
            } => {
                watches.push((resource_version.to_string(), options.send_initial_events));
            }
            RecordedRequest::List(_) => lists += 1,
        }
    }
    (watches, lists)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_list_syncs_on_one_watch_and_keeps_it_open() {
    let server = server(100);
    let cache = Cache::new();
    let (handle, shutdown) = start(&server, &cache);
    handle.wait_until_synced().await.unwrap();
    assert_eq!(cache.len(), 100);
    assert_eq!(
        handle.last_sync_resource_version().unwrap(),
        server.resource_version()
    );
    let written = server.apply(Arc::new(item(5, 1)));
    eventually("the live event", || {
        cache.get("item-005").is_some_and(|i| i.generation == 1)
    })
    .await;
    assert_eq!(handle.last_sync_resource_version().unwrap(), written);
    let (watches, lists) = requests(&server);
    assert_eq!(lists, 0, "no list request");
    assert_eq!(
        watches,
        [(String::new(), true)],
        "one watch: the streaming list, still open"
    );
    // a relist after an expired watch streams again, not older than the last synced
    // version
    server.inject_watch_error(Status::expired("too old"));
    eventually("the second streaming list", || {
        requests(&server).0.len() == 2
    })
    .await;
    assert_eq!(requests(&server).0[1], (written.to_string(), true));
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_cannot_stream_is_listed_from_then_on() {
    let server = server(10);
    server.fail_next_watches(1, Status::bad_request("sendInitialEvents is not supported"));
    let cache = Cache::new();
    let (handle, shutdown) = start(&server, &cache);
    handle.wait_until_synced().await.unwrap();
    assert_eq!(cache.len(), 10);
    eventually("the watch after the list", || server.open_watches() == 1).await;
    server.inject_watch_error(Status::internal_error("relist, please"));
    eventually("a relist", || requests(&server).1 >= 2).await;
    let (watches, lists) = requests(&server);
    assert!(lists >= 2, "listed twice");
    assert!(watches[0].1, "the first watch asked for a streaming list");
    assert!(
        watches[1..].iter().all(|(_, streaming)| !streaming),
        "never again: {watches:?}"
    );
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_lists_for_that_attempt_only() {
    let server = server(10);
    server.fail_next_watches(1, Status::service_unavailable("connection refused"));
    let cache = Cache::new();
    let (handle, shutdown) = start(&server, &cache);
    handle.wait_until_synced().await.unwrap();
    assert_eq!(
        requests(&server).1,
        1,
        "listed after the failed streaming list"
    );
    eventually("the watch after the list", || server.open_watches() == 1).await;
    server.inject_watch_error(Status::internal_error("relist, please"));
    eventually("a second streaming list", || {
        requests(&server).0.iter().filter(|(_, s)| *s).count() == 2
    })
    .await;
    assert_eq!(requests(&server).1, 1, "the relist streamed");
    assert_eq!(cache.len(), 10);
    shutdown.cancel();
}

/// A source whose streaming list sends its objects and then never the end marker.
struct NeverEnding;

impl reflector::ListerWatcher<Item> for NeverEnding {
    async fn list(
        &self,
        _: reflector::ListOptions,
    ) -> Result<reflector::ListPage<Item>, Box<Status>> {
        Err(Status::internal_error("this source only streams").into())
    }

    async fn watch(
        &self,
        _: store_core::ResourceVersion,
        _: reflector::WatchOptions,
    ) -> Result<reflector::WatchStream<Item>, Box<Status>> {
        let events = (0..3).map(|n| {
            Ok(reflector::WatchEvent::Added(
                Arc::new(item(n, 0)),
                "5".into(),
            ))
        });
        Ok(Box::pin(
            futures::stream::iter(events).chain(futures::stream::pending()),
        ))
    }
}

#[tokio::test(start_paused = true)]
async fn a_streaming_list_without_its_end_is_reported_every_ten_seconds_not_waited_on_silently() {
    let reports = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let seen = Arc::clone(&reports);
    let cache = Cache::new();
    let reflector = Reflector::new(NeverEnding, cache.clone())
        .with_config(ReflectorConfig::default().with_streaming_list(true))
        .on_error(move |error| seen.lock().push(error.to_string()));
    let handle = reflector.handle();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(reflector.run(shutdown.clone()));
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert!(!handle.has_synced());
    let reports = reports.lock().clone();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(
        reports[0].contains("no end of the initial events after 10s (3 received)"),
        "{}",
        reports[0]
    );
    assert!(cache.is_empty(), "nothing is written before the end marker");
    shutdown.cancel();
    running.await.unwrap();
}
