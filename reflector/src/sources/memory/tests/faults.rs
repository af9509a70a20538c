use super::*;

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
