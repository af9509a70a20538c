// Unit tests of `MemoryServer`.

use std::collections::BTreeMap;

use futures::StreamExt;

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pod {
    name: String,
    generation: u64,
}

impl Keyed for Pod {
    type Key = String;
    fn key(&self) -> String {
        self.name.clone()
    }
}

fn pod(name: &str, generation: u64) -> Pod {
    Pod {
        name: name.to_owned(),
        generation,
    }
}

fn server() -> MemoryServer<Pod> {
    MemoryServer::new()
}

fn server_with(config: MemoryServerConfig) -> MemoryServer<Pod> {
    MemoryServer::with_config(config)
}

fn rv(text: &str) -> ResourceVersion {
    ResourceVersion::from(text)
}

fn number(rv: &ResourceVersion) -> u64 {
    rv.as_str()
        .parse()
        .expect("the server's versions are numbers")
}

fn names(items: &[Arc<Pod>]) -> Vec<&str> {
    items.iter().map(|pod| pod.name.as_str()).collect()
}

async fn list(server: &MemoryServer<Pod>, at: &str) -> Result<ListPage<Pod>, Box<Status>> {
    server
        .list(ListOptions {
            resource_version: rv(at),
            ..ListOptions::default()
        })
        .await
}

async fn page(
    server: &MemoryServer<Pod>,
    limit: usize,
    token: Option<String>,
) -> Result<ListPage<Pod>, Box<Status>> {
    server
        .list(ListOptions {
            resource_version: rv("0"),
            limit: Some(limit),
            continue_token: token,
        })
        .await
}

async fn watch(server: &MemoryServer<Pod>, from: &str) -> WatchStream<Pod> {
    server
        .watch(rv(from), WatchOptions::default())
        .await
        .expect("the watch opens")
}

/// One stream item as `TYPE name@rv` (or `ERROR reason`, `ERR reason`), for
/// comparing sequences at a glance.
fn describe(item: &WatchItem<Pod>) -> String {
    match item {
        Ok(WatchEvent::Added(pod, rv)) => format!("ADDED {}@{rv}", pod.name),
        Ok(WatchEvent::Modified(pod, rv)) => format!("MODIFIED {}@{rv}", pod.name),
        Ok(WatchEvent::Deleted(pod, rv)) => format!("DELETED {}@{rv}", pod.name),
        Ok(WatchEvent::Bookmark(rv)) => format!("BOOKMARK @{rv}"),
        Ok(WatchEvent::InitialEventsEnd(rv)) => format!("INITIAL-EVENTS-END @{rv}"),
        Ok(WatchEvent::Error(status)) => format!("ERROR {}", status.reason),
        Err(status) => format!("ERR {}", status.reason),
    }
}

/// The next item, or `None` at the end; fails the test after 10 s (Tokio time).
async fn next(stream: &mut WatchStream<Pod>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the watch answers within 10 s")
        .map(|item| describe(&item))
}

/// Every item until the stream ends.
async fn drain(stream: &mut WatchStream<Pod>) -> Vec<String> {
    let mut items = Vec::new();
    while let Some(item) = next(stream).await {
        items.push(item);
    }
    items
}

/// Whether the stream stays silent for `wait` (Tokio time).
async fn silent_for(stream: &mut WatchStream<Pod>, wait: Duration) -> bool {
    tokio::time::timeout(wait, stream.next()).await.is_err()
}

// --- writes and reads ----------------------------------------------------------

#[tokio::test]
async fn empty_server_is_at_version_one_and_writes_count_up_from_two() {
    let server = server();
    assert_eq!(server.resource_version(), "1");
    assert!(server.is_empty());
    assert_eq!(server.create(pod("a", 1)).unwrap(), "2");
    assert_eq!(server.apply(pod("b", 1)), "3");
    assert_eq!(server.update(pod("a", 2)).unwrap(), "4");
    assert_eq!(server.delete("b").unwrap(), "5");
    assert_eq!(server.resource_version(), "5");
    assert_eq!(list(&server, "").await.unwrap().resource_version, "5");
}

#[tokio::test]
async fn create_of_a_taken_key_is_already_exists_and_writes_nothing() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    let status = server.create(pod("a", 2)).unwrap_err();
    assert!(status.is_already_exists(), "{status}");
    assert_eq!(status.code, 409);
    assert!(status.message.contains("\"a\""), "{}", status.message);
    assert_eq!(server.resource_version(), "2");
    assert_eq!(server.get("a").unwrap().generation, 1);
}

#[tokio::test]
async fn update_or_delete_of_a_missing_key_is_not_found_and_writes_nothing() {
    let server = server();
    let status = server.update(pod("a", 1)).unwrap_err();
    assert!(status.is_not_found(), "{status}");
    assert_eq!(status.code, 404);
    let status = server.delete("a").unwrap_err();
    assert!(status.is_not_found(), "{status}");
    assert!(status.message.contains("\"a\""), "{}", status.message);
    assert_eq!(server.resource_version(), "1");
    assert!(server.is_empty());
}

#[tokio::test]
async fn reads_see_the_latest_writes_sorted_by_key() {
    let server = server();
    for name in ["c", "a", "b"] {
        server.create(pod(name, 1)).unwrap();
    }
    server.apply(pod("a", 2));
    server.delete("c").unwrap();
    assert_eq!(server.len(), 2);
    assert!(!server.is_empty());
    assert_eq!(server.get("a").map(|pod| pod.generation), Some(2));
    assert_eq!(
        server.get(&"b".to_owned()).map(|pod| pod.generation),
        Some(1)
    );
    assert!(server.get("c").is_none());
    assert_eq!(names(&server.snapshot()), ["a", "b"]);
}

#[tokio::test]
async fn writes_accept_an_object_or_an_arc() {
    let server = server();
    let shared = Arc::new(pod("a", 1));
    server.create(Arc::clone(&shared)).unwrap();
    assert!(Arc::ptr_eq(&server.get("a").unwrap(), &shared));
}

#[tokio::test]
async fn clones_share_one_server() {
    let server = server();
    let other = server.clone();
    other.create(pod("a", 1)).unwrap();
    assert_eq!(server.len(), 1);
    assert_eq!(server.resource_version(), other.resource_version());
    assert!(format!("{server:?}").contains("resource_version: 2"));
}

#[tokio::test]
async fn random_writes_match_a_model_and_a_watch_from_the_start_replays_them() {
    let server = server();
    let mut model: BTreeMap<String, u64> = BTreeMap::new();
    let mut watch = watch(&server, "1").await;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut expected = Vec::new();
    for generation in 0..500 {
        let name = format!("pod-{}", random(20));
        let outcome = match random(4) {
            0 => server
                .create(pod(&name, generation))
                .map(|rv| ("ADDED", rv)),
            1 => server
                .update(pod(&name, generation))
                .map(|rv| ("MODIFIED", rv)),
            2 => server.delete(name.as_str()).map(|rv| ("DELETED", rv)),
            _ => {
                let kind = if model.contains_key(&name) {
                    "MODIFIED"
                } else {
                    "ADDED"
                };
                Ok((kind, server.apply(pod(&name, generation))))
            }
        };
        let exists = model.contains_key(&name);
        match outcome {
            Ok((kind, rv)) => {
                assert!(
                    kind == "ADDED" && !exists || kind != "ADDED" && exists,
                    "{kind} {name}"
                );
                if kind == "DELETED" {
                    model.remove(&name);
                } else {
                    model.insert(name.clone(), generation);
                }
                expected.push(format!("{kind} {name}@{rv}"));
            }
            Err(status) => {
                assert!(status.is_already_exists() && exists || status.is_not_found() && !exists)
            }
        }
    }
    let listed = list(&server, "").await.unwrap().items;
    let listed: BTreeMap<String, u64> = listed
        .iter()
        .map(|pod| (pod.name.clone(), pod.generation))
        .collect();
    assert_eq!(listed, model);
    let mut seen = Vec::new();
    for _ in 0..expected.len() {
        seen.push(next(&mut watch).await.unwrap());
    }
    assert_eq!(seen, expected);
}

// --- list ----------------------------------------------------------------------

#[tokio::test]
async fn list_at_zero_empty_or_an_older_version_serves_the_current_state() {
    let server = server();
    for name in ["b", "a"] {
        server.create(pod(name, 1)).unwrap();
    }
    server.apply(pod("a", 2));
    for at in ["0", "", "1", "2", "4"] {
        let list = list(&server, at).await.unwrap();
        assert_eq!(list.resource_version, "4", "at {at:?}");
        assert_eq!(names(&list.items), ["a", "b"], "at {at:?}");
        assert_eq!(list.items[0].generation, 2);
        assert!(list.continue_token.is_none());
    }
}

#[tokio::test]
async fn list_of_an_empty_server_is_empty_at_version_one() {
    let list = list(&server(), "0").await.unwrap();
    assert!(list.items.is_empty());
    assert_eq!(list.resource_version, "1");
}

#[tokio::test]
async fn list_at_a_future_version_is_too_large() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    let status = list(&server, "3").await.unwrap_err();
    assert!(status.is_too_large_resource_version(), "{status}");
    assert!(
        status.message.contains("3, current: 2"),
        "{}",
        status.message
    );
    let status = list(&server, "18446744073709551615").await.unwrap_err();
    assert!(status.is_too_large_resource_version(), "{status}");
}

#[tokio::test]
async fn list_at_a_non_numeric_version_is_a_bad_request() {
    let server = server();
    for at in [
        "abc",
        "+1",
        "-1",
        " 1",
        "1.0",
        "0x1",
        "18446744073709551616",
        "١",
    ] {
        let status = list(&server, at).await.unwrap_err();
        assert!(status.is_bad_request(), "{at:?}: {status}");
    }
}

#[tokio::test]
async fn list_with_limit_zero_or_above_the_size_answers_one_page() {
    let server = server();
    for name in ["a", "b", "c"] {
        server.create(pod(name, 1)).unwrap();
    }
    for limit in [0, 3, 4, usize::MAX] {
        let list = page(&server, limit, None).await.unwrap();
        assert_eq!(names(&list.items), ["a", "b", "c"], "limit {limit}");
        assert!(list.continue_token.is_none(), "limit {limit}");
    }
}

#[tokio::test]
async fn paginated_list_is_one_consistent_snapshot_across_concurrent_writes() {
    let server = server();
    for index in 0..10 {
        server.create(pod(&format!("pod-{index}"), 1)).unwrap();
    }
    let expected = names(&server.snapshot()).join(",");
    let first = page(&server, 4, None).await.unwrap();
    assert_eq!(first.resource_version, "11");
    assert_eq!(first.items.len(), 4);

    // Writes between pages must not show through.
    server.delete("pod-7").unwrap();
    server.create(pod("pod-5a", 1)).unwrap();
    server.apply(pod("pod-9", 2));

    let mut all = first.items.clone();
    let mut token = first.continue_token.clone();
    let mut pages = 1;
    while let Some(current) = token.take() {
        let next = page(&server, 4, Some(current)).await.unwrap();
        assert_eq!(
            next.resource_version, "11",
            "every page reports the first page's version"
        );
        all.extend(next.items.iter().cloned());
        token = next.continue_token;
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(names(&all).join(","), expected);
    assert!(all.iter().all(|pod| pod.generation == 1));
    assert_eq!(server.list_calls(), 3);
}

#[tokio::test]
async fn continue_token_of_the_last_page_is_spent() {
    let server = server();
    for name in ["a", "b"] {
        server.create(pod(name, 1)).unwrap();
    }
    let first = page(&server, 1, None).await.unwrap();
    let token = first.continue_token.unwrap();
    let last = page(&server, 1, Some(token.clone())).await.unwrap();
    assert_eq!(names(&last.items), ["b"]);
    assert!(last.continue_token.is_none());
    // Reusing the spent token asks the client to start over.
    let status = page(&server, 1, Some(token)).await.unwrap_err();
    assert!(status.is_expired(), "{status}");
}

#[tokio::test]
async fn continue_token_ignores_the_request_resource_version() {
    let server = server();
    for name in ["a", "b"] {
        server.create(pod(name, 1)).unwrap();
    }
    let first = page(&server, 1, None).await.unwrap();
    let rest = server
        .list(ListOptions {
            resource_version: rv("garbage"),
            limit: None,
            continue_token: first.continue_token,
        })
        .await
        .unwrap();
    assert_eq!(names(&rest.items), ["b"]);
    assert_eq!(rest.resource_version, "3");
}

#[tokio::test]
async fn continue_token_from_before_compaction_is_expired() {
    let server = server();
    for name in ["a", "b", "c"] {
        server.create(pod(name, 1)).unwrap();
    }
    let first = page(&server, 1, None).await.unwrap();
    server.create(pod("d", 1)).unwrap();
    server.compact();
    let status = page(&server, 1, first.continue_token).await.unwrap_err();
    assert!(status.is_expired(), "{status}");
    assert_eq!(status.code, 410);
}

#[tokio::test]
async fn continue_token_survives_compaction_at_its_own_version() {
    let server = server();
    for name in ["a", "b"] {
        server.create(pod(name, 1)).unwrap();
    }
    let first = page(&server, 1, None).await.unwrap();
    server.compact();
    let rest = page(&server, 1, first.continue_token).await.unwrap();
    assert_eq!(names(&rest.items), ["b"]);
}

#[tokio::test]
async fn continue_token_expires_when_the_history_window_moves_past_it() {
    let server = server_with(MemoryServerConfig::default().with_history_len(2));
    for name in ["a", "b"] {
        server.create(pod(name, 1)).unwrap();
    }
    let first = page(&server, 1, None).await.unwrap();
    for generation in 0..3 {
        server.apply(pod("a", generation));
    }
    let status = page(&server, 1, first.continue_token).await.unwrap_err();
    assert!(status.is_expired(), "{status}");
}

#[tokio::test]
async fn evicted_list_snapshot_answers_expired() {
    let server = server();
    for name in ["a", "b"] {
        server.create(pod(name, 1)).unwrap();
    }
    let oldest = page(&server, 1, None).await.unwrap().continue_token;
    let mut newest = None;
    for _ in 0..MAX_LIST_SNAPSHOTS {
        newest = page(&server, 1, None).await.unwrap().continue_token;
    }
    let status = page(&server, 1, oldest).await.unwrap_err();
    assert!(status.is_expired(), "{status}");
    assert_eq!(names(&page(&server, 1, newest).await.unwrap().items), ["b"]);
}

#[tokio::test]
async fn unknown_or_garbage_continue_token_is_a_bad_request() {
    let server = server();
    for name in ["a", "b", "c"] {
        server.create(pod(name, 1)).unwrap();
    }
    let token = page(&server, 1, None)
        .await
        .unwrap()
        .continue_token
        .unwrap();
    let (rv, rest) = token.split_once('.').unwrap();
    let (id, _) = rest.split_once('.').unwrap();
    let bad = [
        "garbage".to_owned(),
        "1.2".to_owned(),
        "1.2.3.4".to_owned(),
        "..".to_owned(),
        "a.b.c".to_owned(),
        "-1.0.1".to_owned(),
        "99999999999999999999.0.1".to_owned(),
        format!("{rv}.{}.1", 1000), // never issued
        format!("{}.{id}.1", 3),    // wrong version for the snapshot
        format!("{rv}.{id}.4"),     // beyond the snapshot
        format!("9.{}.1", 1000),    // from the future
    ];
    for token in bad {
        let status = page(&server, 1, Some(token.clone())).await.unwrap_err();
        assert!(status.is_bad_request(), "{token:?}: {status}");
    }
    // The real token still works after all that.
    assert_eq!(
        names(&page(&server, 1, Some(token)).await.unwrap().items),
        ["b"]
    );
}

#[tokio::test]
async fn empty_continue_token_starts_a_new_list() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    let list = page(&server, 5, Some(String::new())).await.unwrap();
    assert_eq!(names(&list.items), ["a"]);
}

#[test]
fn queued_items_stay_small() {
    // Every write copies one into each watcher's queue.
    assert!(std::mem::size_of::<Queued<Pod>>() <= 32);
    // A watch item is as small: its error, a `Status` (~300 bytes), is boxed.
    assert!(std::mem::size_of::<WatchItem<Pod>>() <= 32);
}

#[test]
fn resource_name_is_the_bare_type_name() {
    assert_eq!(resource_name::<Pod>(), "Pod");
    assert_eq!(resource_name::<Vec<Pod>>(), "Vec");
}

// --- watch ---------------------------------------------------------------------

#[tokio::test]
async fn watch_replays_history_then_follows_live_writes() {
    let server = server();
    server.create(pod("a", 1)).unwrap(); // 2
    server.create(pod("b", 1)).unwrap(); // 3
    server.apply(pod("a", 2)); // 4
    let mut watch = watch(&server, "2").await;
    assert_eq!(server.open_watches(), 1);
    server.delete("b").unwrap(); // 5
    assert_eq!(next(&mut watch).await.unwrap(), "ADDED b@3");
    assert_eq!(next(&mut watch).await.unwrap(), "MODIFIED a@4");
    assert_eq!(next(&mut watch).await.unwrap(), "DELETED b@5");
    server.create(pod("c", 1)).unwrap(); // 6
    assert_eq!(next(&mut watch).await.unwrap(), "ADDED c@6");
}

#[tokio::test]
async fn deleted_event_carries_the_last_state() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    server.apply(pod("a", 7));
    let mut watch = watch(&server, "3").await;
    server.delete("a").unwrap();
    match watch.next().await {
        Some(Ok(WatchEvent::Deleted(last, rv))) => {
            assert_eq!(*last, pod("a", 7));
            assert_eq!(rv, "4");
        }
        other => panic!("expected a Deleted event, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_from_zero_or_empty_starts_now_without_replay() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    for from in ["0", ""] {
        let mut watch = watch(&server, from).await;
        let rv = server.apply(pod("a", 2));
        assert_eq!(next(&mut watch).await.unwrap(), format!("MODIFIED a@{rv}"));
    }
}

#[tokio::test]
async fn watch_from_the_current_version_gets_only_later_writes() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    let mut watch = watch(&server, "2").await;
    server.create(pod("b", 1)).unwrap();
    assert_eq!(next(&mut watch).await.unwrap(), "ADDED b@3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_opened_during_writes_see_every_later_event_once() {
    const WRITES: u64 = 20_000;
    let server = server_with(
        MemoryServerConfig::default()
            .with_history_len(WRITES as usize)
            .with_watch_buffer(WRITES as usize),
    );
    let writer = {
        let server = server.clone();
        tokio::spawn(async move {
            for generation in 0..WRITES {
                server.apply(pod(&format!("pod-{}", generation % 100), generation));
                if generation % 1000 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let last = 1 + WRITES;
    let mut watchers = Vec::new();
    for _ in 0..8 {
        // Start from a version somewhat behind, so some events are replayed from
        // the history while the writer keeps adding live ones.
        let current = number(&server.resource_version());
        let from = current.saturating_sub(50).max(1);
        let stream = watch(&server, &from.to_string()).await;
        watchers.push(tokio::spawn(async move {
            let mut stream = stream;
            let mut expected = from + 1;
            while expected <= last {
                match stream.next().await {
                    Some(Ok(event)) => {
                        let rv = event.resource_version().map(number);
                        assert_eq!(rv, Some(expected), "gap or duplicate after {from}");
                        expected += 1;
                    }
                    other => panic!(
                        "watch from {from} ended early: {:?}",
                        other.map(|item| describe(&item))
                    ),
                }
            }
        }));
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    for watcher in watchers {
        tokio::time::timeout(Duration::from_secs(30), watcher)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn watch_from_a_compacted_version_yields_expired_then_ends() {
    let server = server();
    for name in ["a", "b", "c"] {
        server.create(pod(name, 1)).unwrap(); // 2, 3, 4
    }
    server.compact_to(3);
    let mut stream = watch(&server, "2").await;
    assert_eq!(drain(&mut stream).await, ["ERROR Expired"]);
    assert_eq!(server.open_watches(), 0);
    // The compaction point itself is still served.
    let mut stream = watch(&server, "3").await;
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED c@4");
    // Compacting everything leaves only the current version.
    server.compact();
    let mut stream = watch(&server, "3").await;
    let expired = stream.next().await.unwrap().unwrap();
    match expired {
        WatchEvent::Error(status) => {
            assert!(status.is_expired());
            assert_eq!(status.code, 410);
            assert_eq!(status.message, "too old resource version: 3 (5)");
        }
        other => panic!("expected an Error event, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
    let mut stream = watch(&server, "4").await;
    server.create(pod("d", 1)).unwrap();
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED d@5");
}

#[tokio::test]
async fn history_window_compacts_automatically() {
    let server = server_with(MemoryServerConfig::default().with_history_len(3));
    for generation in 0..5 {
        server.apply(pod("a", generation)); // 2..=6
    }
    // Events 4, 5, 6 are kept: a watch from 3 is whole, one from 2 is not.
    let mut whole = watch(&server, "3").await;
    assert_eq!(next(&mut whole).await.unwrap(), "MODIFIED a@4");
    let mut stream = watch(&server, "2").await;
    assert_eq!(drain(&mut stream).await, ["ERROR Expired"]);
}

#[tokio::test]
async fn compaction_does_not_disturb_open_watches() {
    let server = server();
    let mut stream = watch(&server, "1").await;
    server.create(pod("a", 1)).unwrap();
    server.create(pod("b", 1)).unwrap();
    server.compact();
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED a@2");
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
    assert_eq!(server.open_watches(), 1);
}

#[tokio::test]
async fn compaction_beyond_the_current_version_stops_at_it() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    server.compact_to(u64::MAX);
    let mut stream = watch(&server, "2").await;
    server.create(pod("b", 1)).unwrap();
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
    server.compact_to(0); // behind the compaction point: nothing happens
    let mut stream = watch(&server, "2").await;
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
    let mut stream = watch(&server, "1").await;
    assert_eq!(next(&mut stream).await.unwrap(), "ERROR Expired");
}

#[tokio::test]
async fn zero_history_still_serves_watches_from_now() {
    let server = server_with(MemoryServerConfig::default().with_history_len(0));
    server.create(pod("a", 1)).unwrap();
    let mut stream = watch(&server, "2").await;
    server.create(pod("b", 1)).unwrap();
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
    let mut stream = watch(&server, "2").await;
    assert_eq!(next(&mut stream).await.unwrap(), "ERROR Expired");
}

#[tokio::test]
async fn watch_from_a_future_version_yields_too_large_then_ends() {
    let server = server();
    let mut stream = watch(&server, "5").await;
    match stream.next().await {
        Some(Ok(WatchEvent::Error(status))) => {
            assert!(status.is_too_large_resource_version(), "{status}")
        }
        other => panic!(
            "expected an Error event, got {:?}",
            other.map(|item| describe(&item))
        ),
    }
    assert!(stream.next().await.is_none());
    assert_eq!(server.open_watches(), 0);
}

#[tokio::test]
async fn watch_at_a_non_numeric_version_fails_with_bad_request() {
    let server = server();
    for from in ["abc", "-2", "2.5", "99999999999999999999999"] {
        let Err(status) = server.watch(rv(from), WatchOptions::default()).await else {
            panic!("{from:?} was accepted");
        };
        assert!(status.is_bad_request(), "{from:?}: {status}");
    }
    assert_eq!(server.open_watches(), 0);
    assert_eq!(server.watch_calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn watch_timeout_ends_the_stream_cleanly() {
    let server = server();
    let started = Instant::now();
    let mut stream = server
        .watch(
            rv("0"),
            WatchOptions {
                timeout: Some(Duration::from_secs(30)),
                allow_bookmarks: false,
                source_id: None,
                send_initial_events: false,
            },
        )
        .await
        .unwrap();
    server.create(pod("a", 1)).unwrap();
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED a@2");
    assert!(stream.next().await.is_none());
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    assert_eq!(server.open_watches(), 0);
    assert!(stream.next().await.is_none(), "an ended watch stays ended");
}

#[tokio::test(start_paused = true)]
async fn watch_timeout_wins_over_queued_events() {
    let server = server();
    let mut stream = server
        .watch(
            rv("0"),
            WatchOptions {
                timeout: Some(Duration::from_secs(5)),
                allow_bookmarks: false,
                source_id: None,
                send_initial_events: false,
            },
        )
        .await
        .unwrap();
    server.create(pod("a", 1)).unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(stream.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn watch_sends_periodic_bookmarks_when_allowed() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    let started = Instant::now();
    let mut stream = server
        .watch(
            rv("2"),
            WatchOptions {
                timeout: None,
                allow_bookmarks: true,
                source_id: None,
                send_initial_events: false,
            },
        )
        .await
        .unwrap();
    server.create(pod("b", 1)).unwrap();
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
    assert_eq!(next(&mut stream).await.unwrap(), "BOOKMARK @3");
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(next(&mut stream).await.unwrap(), "BOOKMARK @3");
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    server.create(pod("c", 1)).unwrap();
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED c@4");
    assert_eq!(next(&mut stream).await.unwrap(), "BOOKMARK @4");
}

#[tokio::test(start_paused = true)]
async fn watch_bookmarks_follow_the_configured_interval() {
    let server = server_with(
        MemoryServerConfig::default().with_bookmark_interval(Some(Duration::from_secs(7))),
    );
    let started = Instant::now();
    let mut stream = server
        .watch(
            rv(""),
            WatchOptions {
                timeout: None,
                allow_bookmarks: true,
                source_id: None,
                send_initial_events: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(next(&mut stream).await.unwrap(), "BOOKMARK @1");
    assert_eq!(started.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn watch_gets_no_periodic_bookmarks_unless_allowed_and_configured() {
    let server = server();
    let mut plain = watch(&server, "0").await;
    assert!(silent_for(&mut plain, Duration::from_secs(60)).await);

    for interval in [None, Some(Duration::ZERO), Some(Duration::MAX)] {
        let server = server_with(MemoryServerConfig::default().with_bookmark_interval(interval));
        let mut stream = server
            .watch(
                rv("0"),
                WatchOptions {
                    timeout: None,
                    allow_bookmarks: true,
                    source_id: None,
                    send_initial_events: false,
                },
            )
            .await
            .unwrap();
        assert!(
            silent_for(&mut stream, Duration::from_secs(60)).await,
            "{interval:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn bookmark_now_reaches_only_watches_that_allowed_bookmarks() {
    let server = server();
    let mut with = server
        .watch(
            rv("0"),
            WatchOptions {
                timeout: None,
                allow_bookmarks: true,
                source_id: None,
                send_initial_events: false,
            },
        )
        .await
        .unwrap();
    let mut without = watch(&server, "0").await;
    server.create(pod("a", 1)).unwrap();
    server.bookmark_now();
    assert_eq!(next(&mut with).await.unwrap(), "ADDED a@2");
    assert_eq!(next(&mut with).await.unwrap(), "BOOKMARK @2");
    assert_eq!(next(&mut without).await.unwrap(), "ADDED a@2");
    assert!(silent_for(&mut without, Duration::from_millis(100)).await);
}

// --- fault injection -----------------------------------------------------------

#[tokio::test]
async fn drop_watches_ends_every_watch_cleanly_after_queued_events() {
    let server = server();
    let mut first = watch(&server, "0").await;
    let mut second = watch(&server, "0").await;
    server.create(pod("a", 1)).unwrap();
    assert_eq!(server.open_watches(), 2);
    server.drop_watches();
    assert_eq!(server.open_watches(), 0);
    assert_eq!(drain(&mut first).await, ["ADDED a@2"]);
    assert!(drain(&mut second).await == ["ADDED a@2"]);
    // Writes after the drop go nowhere; a new watch from the last version
    // catches up.
    server.create(pod("b", 1)).unwrap();
    let mut again = watch(&server, "2").await;
    assert_eq!(next(&mut again).await.unwrap(), "ADDED b@3");
}

#[tokio::test]
async fn injected_watch_error_is_the_last_item_of_every_watch() {
    let server = server();
    let mut first = watch(&server, "0").await;
    let mut second = watch(&server, "0").await;
    server.create(pod("a", 1)).unwrap();
    server.inject_watch_error(Status::gone("the watch is gone"));
    assert_eq!(server.open_watches(), 0);
    assert_eq!(drain(&mut first).await, ["ADDED a@2", "ERROR Gone"]);
    assert_eq!(drain(&mut second).await, ["ADDED a@2", "ERROR Gone"]);
}

#[tokio::test]
async fn injected_watch_error_fits_behind_a_full_buffer() {
    let server = server_with(MemoryServerConfig::default().with_watch_buffer(2));
    let mut stream = watch(&server, "0").await;
    server.create(pod("a", 1)).unwrap();
    server.create(pod("b", 1)).unwrap();
    server.inject_watch_error(Status::service_unavailable("restarting"));
    assert_eq!(
        drain(&mut stream).await,
        ["ADDED a@2", "ADDED b@3", "ERROR ServiceUnavailable"]
    );
}

#[tokio::test]
async fn injected_malformed_event_is_an_err_item_then_the_end() {
    let server = server();
    let mut stream = watch(&server, "0").await;
    server.inject_malformed_event();
    match stream.next().await {
        Some(Err(status)) => {
            assert!(status.is_internal_error(), "{status}");
            assert!(status.message.contains("malformed"), "{}", status.message);
        }
        other => panic!(
            "expected an Err item, got {:?}",
            other.map(|item| describe(&item))
        ),
    }
    assert!(stream.next().await.is_none());
    assert_eq!(server.open_watches(), 0);
}

#[tokio::test]
async fn fail_next_lists_fails_exactly_that_many_calls() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    server.fail_next_lists(2, Status::too_many_requests("slow down", 1));
    for _ in 0..2 {
        let status = list(&server, "0").await.unwrap_err();
        assert!(status.is_too_many_requests(), "{status}");
    }
    assert_eq!(names(&list(&server, "0").await.unwrap().items), ["a"]);
    server.fail_next_lists(1, Status::internal_error("boom"));
    server.fail_next_lists(0, Status::internal_error("boom"));
    assert!(
        list(&server, "0").await.is_ok(),
        "n = 0 clears the injection"
    );
    assert_eq!(server.list_calls(), 4);
}

#[tokio::test]
async fn fail_next_watches_fails_exactly_that_many_calls() {
    let server = server();
    server.fail_next_watches(1, Status::service_unavailable("connection refused"));
    let Err(status) = server.watch(rv("0"), WatchOptions::default()).await else {
        panic!("the injected failure was not answered");
    };
    assert!(status.is_service_unavailable());
    assert_eq!(server.open_watches(), 0);
    let _stream = watch(&server, "0").await;
    assert_eq!(server.open_watches(), 1);
    assert!(list(&server, "0").await.is_ok(), "lists are not affected");
}

#[tokio::test(start_paused = true)]
async fn latency_stalls_list_and_watch_calls_but_not_writes() {
    let server = server();
    server.set_latency(Some(Duration::from_secs(3)));
    let started = Instant::now();
    server.create(pod("a", 1)).unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO);
    list(&server, "0").await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    let _stream = watch(&server, "0").await;
    assert_eq!(started.elapsed(), Duration::from_secs(6));
    // A stalled call is already recorded while it waits.
    let stalled = {
        let server = server.clone();
        tokio::spawn(async move { list(&server, "0").await.map(|list| list.items.len()) })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(server.list_calls(), 2);
    assert!(!stalled.is_finished());
    assert_eq!(stalled.await.unwrap().unwrap(), 1);
    server.set_latency(None);
    let before = Instant::now();
    list(&server, "0").await.unwrap();
    assert_eq!(before.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn slow_watcher_is_dropped_once_its_buffer_is_full() {
    let server = server_with(MemoryServerConfig::default().with_watch_buffer(4));
    let mut slow = watch(&server, "0").await;
    let mut fast = watch(&server, "0").await;
    for generation in 0..10 {
        server.apply(pod("a", generation));
        assert!(next(&mut fast).await.is_some());
    }
    assert_eq!(
        server.open_watches(),
        1,
        "only the slow watcher was dropped"
    );
    let delivered = drain(&mut slow).await;
    assert_eq!(
        delivered,
        ["ADDED a@2", "MODIFIED a@3", "MODIFIED a@4", "MODIFIED a@5"]
    );
    // It resumes from the last version it saw, from the history.
    let mut resumed = watch(&server, "5").await;
    assert_eq!(next(&mut resumed).await.unwrap(), "MODIFIED a@6");
}

#[tokio::test]
async fn zero_watch_buffer_drops_a_watcher_at_its_first_event() {
    let server = server_with(MemoryServerConfig::default().with_watch_buffer(0));
    let mut stream = watch(&server, "0").await;
    server.create(pod("a", 1)).unwrap();
    assert!(drain(&mut stream).await.is_empty());
}

#[tokio::test]
async fn huge_watch_buffer_is_accepted() {
    let server = server_with(MemoryServerConfig::default().with_watch_buffer(usize::MAX));
    let mut stream = watch(&server, "0").await;
    server.create(pod("a", 1)).unwrap();
    assert_eq!(next(&mut stream).await.unwrap(), "ADDED a@2");
}

// --- observability -------------------------------------------------------------

#[tokio::test]
async fn requests_are_not_recorded_unless_asked() {
    let server = server();
    let _ = list(&server, "0").await;
    assert!(server.requests().is_empty(), "no log by default");
    assert_eq!(server.list_calls(), 1, "counted all the same");
    server.record_requests();
    let _ = list(&server, "0").await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn requests_are_recorded_in_order() {
    let server = server();
    server.record_requests();
    server.fail_next_lists(1, Status::internal_error("boom"));
    let _ = list(&server, "0").await;
    let _ = page(&server, 10, None).await;
    let timed = WatchOptions {
        timeout: Some(Duration::from_secs(300)),
        allow_bookmarks: true,
        source_id: None,
        send_initial_events: false,
    };
    let _stream = server.watch(rv("1"), timed.clone()).await.unwrap();
    let _ = server.watch(rv("bad"), WatchOptions::default()).await;
    assert_eq!(
        server.requests(),
        [
            RecordedRequest::List(ListOptions {
                resource_version: rv("0"),
                ..ListOptions::default()
            }),
            RecordedRequest::List(ListOptions {
                resource_version: rv("0"),
                limit: Some(10),
                continue_token: None
            }),
            RecordedRequest::Watch {
                resource_version: rv("1"),
                options: timed
            },
            RecordedRequest::Watch {
                resource_version: rv("bad"),
                options: WatchOptions::default()
            },
        ]
    );
    assert_eq!(server.list_calls(), 2);
    assert_eq!(server.watch_calls(), 2);
}

#[tokio::test]
async fn open_watches_counts_only_live_streams() {
    let server = server();
    let first = watch(&server, "0").await;
    let mut second = watch(&server, "0").await;
    assert_eq!(server.open_watches(), 2);
    drop(first);
    assert_eq!(server.open_watches(), 1);
    server.inject_watch_error(Status::gone("bye"));
    assert_eq!(server.open_watches(), 0);
    assert_eq!(drain(&mut second).await, ["ERROR Gone"]);
    // A write prunes nothing it should not, and reaches nobody.
    server.create(pod("a", 1)).unwrap();
    assert_eq!(server.open_watches(), 0);
}
