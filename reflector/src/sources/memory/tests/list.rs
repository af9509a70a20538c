use super::*;

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
