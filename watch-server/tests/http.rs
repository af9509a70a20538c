//! The HTTP surface, driven by a raw HTTP/1.1 client (no Accept or User-Agent
//! header, as kube-client sends): lists, watches, parameters and every error answer.

mod harness;

use std::time::Duration;

use harness::{get, names, TestServer};
use tokio::io::AsyncWriteExt;
use watch_server::{ServerConfig, WatchCacheConfig};

const QUICK: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_through_one_consistent_snapshot_and_filter() {
    let server = TestServer::start(30).await;
    let first = get(server.address, "/api/v1/configmaps?&limit=12", QUICK).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("application/json"));
    let first = first.json();
    assert_eq!(first["kind"], "ConfigMapList");
    assert_eq!(first["apiVersion"], "v1");
    assert_eq!(first["metadata"]["remainingItemCount"], 18);
    let rv = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    // writes between pages do not show up in the pages
    server.write(0, 1);
    server.write(29, 1);
    let mut all = names(first["items"].as_array().unwrap());
    let mut token = first["metadata"]["continue"].as_str().unwrap().to_owned();
    loop {
        let page = get(
            server.address,
            &format!("/api/v1/configmaps?limit=12&continue={token}"),
            QUICK,
        )
        .await
        .json();
        assert_eq!(page["metadata"]["resourceVersion"], rv.as_str());
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["data"]["generation"], "0");
        }
        all.extend(names(page["items"].as_array().unwrap()));
        match page["metadata"]["continue"].as_str() {
            Some(next) => token = next.to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = {
        let mut names: Vec<(String, String)> = (0..30)
            .map(|n| {
                let cm = harness::configmap(n, 0);
                (cm.metadata.namespace.unwrap(), cm.metadata.name)
            })
            .collect();
        names.sort();
        names.into_iter().map(|(_, name)| name).collect()
    };
    assert_eq!(all, expected, "sorted by namespace, then name, each once");

    let namespaced = get(
        server.address,
        "/api/v1/namespaces/team-1/configmaps",
        QUICK,
    )
    .await
    .json();
    assert_eq!(namespaced["items"].as_array().unwrap().len(), 10);
    let frontend = get(
        server.address,
        "/api/v1/configmaps?labelSelector=tier%3Dfrontend",
        QUICK,
    )
    .await
    .json();
    assert_eq!(frontend["items"].as_array().unwrap().len(), 10);
    let by_field = get(
        server.address,
        "/api/v1/configmaps?fieldSelector=metadata.name%3Dcm-00004,metadata.namespace!%3Ddefault",
        QUICK,
    )
    .await
    .json();
    assert_eq!(names(by_field["items"].as_array().unwrap()), ["cm-00004"]);
    // RV "0" ignores limit, as kube-apiserver does
    let any = get(
        server.address,
        "/api/v1/configmaps?resourceVersion=0&limit=5",
        QUICK,
    )
    .await
    .json();
    assert_eq!(any["items"].as_array().unwrap().len(), 30);
    assert!(any["metadata"].get("continue").is_none());
    // a limit far above the count is one page
    let huge = get(
        server.address,
        "/api/v1/configmaps?limit=9223372036854775807",
        QUICK,
    )
    .await
    .json();
    assert_eq!(huge["items"].as_array().unwrap().len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_object_by_name_and_discovery_for_kubectl() {
    let server = TestServer::start(3).await;
    let one = get(
        server.address,
        "/api/v1/namespaces/team-1/configmaps/cm-00001",
        QUICK,
    )
    .await;
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(
        (one["kind"].as_str(), one["metadata"]["name"].as_str()),
        (Some("ConfigMap"), Some("cm-00001"))
    );
    let missing = get(
        server.address,
        "/api/v1/namespaces/team-1/configmaps/nope",
        QUICK,
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["reason"], "NotFound");
    assert_eq!(
        get(server.address, "/api", QUICK).await.json()["versions"][0],
        "v1"
    );
    assert_eq!(
        get(server.address, "/apis", QUICK).await.json()["kind"],
        "APIGroupList"
    );
    let resources = get(server.address, "/api/v1", QUICK).await.json();
    assert_eq!(resources["resources"][0]["name"], "configmaps");
    assert_eq!(resources["resources"][0]["namespaced"], true);
    assert_eq!(
        get(server.address, "/version", QUICK).await.json()["major"],
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_a_status_with_its_code() {
    let server = TestServer::start(3).await;
    let cases = [
        ("/api/v1/pods", 404, "NotFound"),
        ("/apis/apps/v1/deployments", 404, "NotFound"),
        ("/nonsense/path", 404, "NotFound"),
        ("/api/v1/configmaps?limit=ten", 400, "BadRequest"),
        ("/api/v1/configmaps?watch=maybe", 400, "BadRequest"),
        (
            "/api/v1/configmaps?labelSelector=tier%20in%20(a",
            400,
            "BadRequest",
        ),
        (
            "/api/v1/configmaps?fieldSelector=spec.node%3Dx",
            400,
            "BadRequest",
        ),
        ("/api/v1/configmaps?resourceVersion=abc", 400, "BadRequest"),
        (
            "/api/v1/configmaps?resourceVersionMatch=Exact&resourceVersion=0",
            400,
            "BadRequest",
        ),
        ("/api/v1/configmaps?continue=garbage", 400, "BadRequest"),
        ("/api/v1/configmaps?continue=1.2.3", 410, "Expired"),
        (
            "/api/v1/configmaps?sendInitialEvents=true",
            400,
            "BadRequest",
        ),
        (
            "/api/v1/configmaps?resourceVersion=999999&resourceVersionMatch=NotOlderThan",
            504,
            "Timeout",
        ),
        (
            "/api/v1/configmaps?resourceVersion=2&limit=5",
            410,
            "Expired",
        ),
    ];
    let server_config = ServerConfig::default().with_freshness_wait(Duration::from_millis(200));
    let mut server = server;
    server.server_config = server_config;
    server.restart_http().await;
    for (target, code, reason) in cases {
        let answer = get(server.address, target, QUICK).await;
        assert_eq!(answer.status, code, "{target}: {}", answer.body);
        let status = answer.json();
        assert_eq!(status["kind"], "Status", "{target}");
        assert_eq!(status["code"], code, "{target}");
        assert_eq!(status["reason"], reason, "{target}");
    }
    let too_large = get(
        server.address,
        "/api/v1/configmaps?resourceVersion=999999&resourceVersionMatch=NotOlderThan",
        QUICK,
    )
    .await
    .json();
    assert_eq!(
        too_large["details"]["causes"][0]["reason"],
        "ResourceVersionTooLarge"
    );
    // raw TCP: a POST and a garbage request line
    let mut stream = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    stream
        .write_all(b"POST /api/v1/configmaps HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut raw)
        .await
        .unwrap();
    assert!(raw.starts_with("HTTP/1.1 405"), "{raw}");
    let mut stream = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    stream.write_all(b"\x00\x01garbage\r\n\r\n").await.unwrap();
    let mut raw = String::new();
    let _ = tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut raw).await;
    assert!(raw.is_empty() || raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(server.server.stats().refused >= 14);
    // and the server still serves
    assert_eq!(
        get(server.address, "/api/v1/configmaps", QUICK)
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_from_a_version_and_a_too_old_one_gets_410_in_the_stream() {
    let server = TestServer::start_with(
        2,
        WatchCacheConfig::default().with_window(5),
        ServerConfig::default(),
    )
    .await;
    let listed = server.cache.resource_version();
    let mut last = 0;
    for generation in 1..=3 {
        last = server.write(0, generation);
    }
    server.cache_reaches(last).await;
    let watch = get(
        server.address,
        &format!("/api/v1/configmaps?watch=True&resourceVersion={listed}&timeoutSeconds=1"),
        QUICK,
    )
    .await;
    assert_eq!(watch.status, 200);
    assert_eq!(watch.header("transfer-encoding"), Some("chunked"));
    let events = watch.events();
    let generations: Vec<&str> = events
        .iter()
        .map(|e| e["object"]["data"]["generation"].as_str().unwrap())
        .collect();
    assert_eq!(generations, ["1", "2", "3"]);
    assert!(events.iter().all(|e| e["type"] == "MODIFIED"));
    assert_eq!(
        events[2]["object"]["metadata"]["resourceVersion"],
        last.to_string().as_str()
    );
    // push the listed version out of the window
    let mut last = 0;
    for generation in 4..=10 {
        last = server.write(1, generation);
    }
    server.cache_reaches(last).await;
    let expired = get(
        server.address,
        &format!("/api/v1/configmaps?watch=1&resourceVersion={listed}"),
        QUICK,
    )
    .await;
    assert_eq!(expired.status, 200);
    let events = expired.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_from_zero_start_with_the_state_and_streaming_lists_end_with_the_bookmark() {
    let server = TestServer::start(4).await;
    let rv = server.cache.resource_version();
    let legacy = get(
        server.address,
        "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1",
        QUICK,
    )
    .await
    .events();
    assert_eq!(legacy.len(), 2);
    assert!(legacy.iter().all(|e| e["type"] == "ADDED"));
    let streaming = get(
        server.address,
        "/api/v1/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
        QUICK,
    )
    .await
    .events();
    // four ADDED, the end bookmark, then at most the bookmark kube-apiserver sends
    // shortly before a watch's deadline
    assert!(
        streaming[..4].iter().all(|e| e["type"] == "ADDED"),
        "{streaming:?}"
    );
    assert!(
        streaming[5..].iter().all(|e| e["type"] == "BOOKMARK"),
        "{streaming:?}"
    );
    let end = &streaming[4];
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(end["object"]["kind"], "ConfigMap");
    assert_eq!(end["object"]["apiVersion"], "v1");
    assert_eq!(
        end["object"]["metadata"]["resourceVersion"],
        rv.to_string().as_str()
    );
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    // sendInitialEvents=false from "0": only what happens from now on
    let quiet = get(
        server.address,
        "/api/v1/configmaps?watch=true&sendInitialEvents=false&resourceVersion=0&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
        QUICK,
    )
    .await;
    assert_eq!(quiet.status, 200);
    assert!(quiet.events().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_come_only_when_asked_for_and_a_selector_sees_objects_leave() {
    let config = ServerConfig::default().with_bookmark_interval(Duration::ZERO);
    let server = TestServer::start_with(3, WatchCacheConfig::default(), config).await;
    let rv = server.cache.resource_version();
    let writer = {
        let source = server.source.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            // cm-00000 is tier=frontend; make it leave the selection
            source.apply(
                watch_server::ConfigMap::new("default", "cm-00000").with_label("tier", "backend"),
            );
        })
    };
    let target = |bookmarks: bool| {
        format!("/api/v1/configmaps?watch=1&resourceVersion={rv}&labelSelector=tier%3Dfrontend&timeoutSeconds=3&allowWatchBookmarks={bookmarks}")
    };
    let (with_target, without_target) = (target(true), target(false));
    let (with, without) = tokio::join!(
        get(server.address, &with_target, QUICK),
        get(server.address, &without_target, QUICK)
    );
    writer.await.unwrap();
    let with = with.events();
    let without = without.events();
    assert_eq!(without.len(), 1, "{without:?}");
    assert_eq!(without[0]["type"], "DELETED");
    assert_eq!(
        without[0]["object"]["metadata"]["labels"]["tier"], "frontend",
        "the last state that matched"
    );
    assert!(with.iter().any(|e| e["type"] == "BOOKMARK"), "{with:?}");
    assert!(with
        .iter()
        .filter(|e| e["type"] == "BOOKMARK")
        .all(|e| e["object"]["kind"] == "ConfigMap" && e["object"]["apiVersion"] == "v1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_watch_limit_a_watch_gets_429_and_before_sync_everything_does() {
    let config = ServerConfig::default().with_max_watchers(1);
    let server = TestServer::start_with(1, WatchCacheConfig::default(), config).await;
    let address = server.address;
    let held = tokio::spawn(async move {
        get(
            address,
            "/api/v1/configmaps?watch=1&timeoutSeconds=2",
            QUICK,
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = get(
        server.address,
        "/api/v1/configmaps?watch=1&timeoutSeconds=1",
        QUICK,
    )
    .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(held.await.unwrap().status, 200);
    assert_eq!(server.server.stats().open_watches, 0);

    // a cache that has not synced answers 429 to lists and watches
    let cache = watch_server::WatchCache::<watch_server::ConfigMap>::default();
    let unsynced = watch_server::WatchServer::new(ServerConfig::default()).serve(cache);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(unsynced.run(listener, stop.clone()));
    for target in ["/api/v1/configmaps", "/api/v1/configmaps?watch=1"] {
        let answer = get(address, target, QUICK).await;
        assert_eq!(answer.status, 429, "{target}");
        assert_eq!(answer.json()["reason"], "TooManyRequests");
    }
    stop.cancel();
    serving.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_counted_and_holds_up_no_one() {
    let cache_config = WatchCacheConfig::default().with_watch_buffer(16);
    let server = TestServer::start_with(1, cache_config, ServerConfig::default()).await;
    let rv = server.cache.resource_version();
    // The stalled client sends its request and never reads a byte.
    let mut stalled = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    let request =
        format!("GET /api/v1/configmaps?watch=1&resourceVersion={rv} HTTP/1.1\r\nHost: x\r\n\r\n");
    stalled.write_all(request.as_bytes()).await.unwrap();
    let address = server.address;
    let reader = tokio::spawn(async move {
        get(
            address,
            &format!("/api/v1/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=10"),
            Duration::from_secs(30),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Big objects, so the socket buffers fill quickly.
    let big = "x".repeat(64 * 1024);
    let mut last = 0;
    for generation in 1..=300u64 {
        let cm = harness::configmap(0, generation).with_data("payload", &big);
        last = server.source.apply(cm).as_str().parse::<u64>().unwrap();
        // paced, so a client that reads keeps up (a debug build on two slow cores
        // renders and reads a 64 KiB event in a few milliseconds)
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    server.cache_reaches(last).await;
    let read = reader.await.unwrap().events();
    assert_eq!(read.len(), 300, "the reading client got every event");
    assert!(
        server.cache.stats().slow_watchers_closed >= 1,
        "{:?}",
        server.cache.stats()
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_every_stream_cleanly() {
    let mut server = TestServer::start(2).await;
    let address = server.address;
    let watches: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async move { get(address, "/api/v1/configmaps?watch=1", QUICK).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.server.stats().open_watches, 3);
    server.stop_http().await;
    for watch in watches {
        let answer = watch.await.unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.events().len(), 2, "the state, then a clean end");
    }
}

/// Every listed object is served with the version it was written at, before and after
/// the cache relists from its source — never with the list's version (kube-apiserver
/// serves each object's own etcd revision).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_objects_keep_the_versions_they_were_written_at() {
    // A MemoryServer starts at 1: cm-00000..4 are written at 2..=6
    let server = TestServer::start(5).await;
    let rewritten = server.write(2, 1); // cm-00002 again, at 7
    server.cache_reaches(rewritten).await;
    let own = |list: &serde_json::Value| -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let meta = &item["metadata"];
                let name = meta["name"].as_str().unwrap().to_owned();
                (name, meta["resourceVersion"].as_str().unwrap().to_owned())
            })
            .collect();
        rows.sort();
        rows
    };
    let expected: Vec<(String, String)> = [(0, "2"), (1, "3"), (2, "7"), (3, "5"), (4, "6")]
        .into_iter()
        .map(|(n, rv)| (format!("cm-{n:05}"), rv.to_owned()))
        .collect();
    let before = get(server.address, "/api/v1/configmaps", QUICK)
        .await
        .json();
    assert_eq!(before["metadata"]["resourceVersion"], "7");
    assert_eq!(own(&before), expected, "the first list");

    // The source expires the cache's watch: the cache relists at 7 and replaces all.
    server
        .source
        .inject_watch_error(store_core::Status::expired("compacted"));
    for _ in 0..500 {
        if server.cache.stats().relists >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.cache.stats().relists, 2, "the cache relisted");
    let after = get(server.address, "/api/v1/configmaps", QUICK)
        .await
        .json();
    assert_eq!(
        own(&after),
        expected,
        "a relist that changed nothing changes no version"
    );
    let one = get(
        server.address,
        "/api/v1/namespaces/team-1/configmaps/cm-00001",
        QUICK,
    )
    .await
    .json();
    assert_eq!(one["metadata"]["resourceVersion"], "3", "a get too");
}
