use super::*;

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
