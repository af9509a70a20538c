//! `KubeSource` reads list answers as they stream in (issue 22): over real HTTP from a
//! scripted loopback server — bodies cut into chunks of every kind, a truncated body, an
//! item that does not decode, a 50 MB item, `managedFields` dropped while decoding, and
//! a server that stalls mid-body (the list fails after the reflector's `list_timeout`
//! and is retried: an atomic relist applies nothing partial, an in-place one is
//! completed by the next list).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use parking_lot::Mutex;
use reflector::{
    BackoffConfig, KubeSource, ListOptions, ListerWatcher, Reflector, ReflectorConfig,
    ReflectorError, RelistMode,
};
use store_core::{Cache, ResourceVersion, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// What the server answers to one request.
#[derive(Clone)]
enum Answer {
    /// A 200 with `body`, written in chunks of `chunk` bytes.
    Body { body: String, chunk: usize },
    /// A 200 with the first `bytes` of `body`, then silence, the connection open.
    Stall { body: String, bytes: usize },
    /// A 200 whose (chunked) body ends cleanly after the first `bytes` of `body`.
    Truncated { body: String, bytes: usize },
}

/// A loopback HTTP/1.1 server that answers lists and watches from two scripts (the
/// last answer of each repeats), one connection per request.
struct Scripted {
    address: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Scripted {
    async fn start(lists: Vec<Answer>, watches: Vec<Answer>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let held = Arc::new(Mutex::new(Vec::new()));
        let scripts = Arc::new(Mutex::new((VecDeque::from(lists), VecDeque::from(watches))));
        let (seen, keep) = (Arc::clone(&requests), Arc::clone(&held));
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (scripts, seen, keep) =
                    (Arc::clone(&scripts), Arc::clone(&seen), Arc::clone(&keep));
                tokio::spawn(async move {
                    serve(socket, &scripts, &seen, &keep).await;
                });
            }
        });
        Scripted {
            address,
            requests,
            held,
        }
    }

    fn source(&self) -> KubeSource<ConfigMap> {
        let url = format!("http://{}", self.address).parse().unwrap();
        KubeSource::from_config(kube::Config::new(url)).unwrap()
    }

    fn lists(&self) -> usize {
        let requests = self.requests.lock();
        requests
            .iter()
            .filter(|r| !r.contains("watch=true"))
            .count()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.held.lock().clear();
    }
}

type Scripts = Mutex<(VecDeque<Answer>, VecDeque<Answer>)>;

async fn serve(
    mut socket: TcpStream,
    scripts: &Scripts,
    seen: &Mutex<Vec<String>>,
    keep: &Mutex<Vec<TcpStream>>,
) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let watch = line.contains("watch=true");
    seen.lock().push(line);
    let answer = {
        let mut scripts = scripts.lock();
        let script = if watch {
            &mut scripts.1
        } else {
            &mut scripts.0
        };
        if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        }
    };
    let Some(answer) = answer else { return };
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let (body, sent, chunk, end) = match &answer {
        Answer::Body { body, chunk } => (body, body.len(), *chunk, true),
        Answer::Stall { body, bytes } => (body, *bytes, 64 << 10, false),
        Answer::Truncated { body, bytes } => (body, *bytes, 64 << 10, true),
    };
    for piece in body.as_bytes()[..sent].chunks(chunk.max(1)) {
        let framed = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
        if socket.write_all(&framed).await.is_err() {
            return;
        }
    }
    if end {
        let _ = socket.write_all(b"0\r\n\r\n").await;
        let _ = socket.shutdown().await;
    } else {
        let _ = socket.flush().await;
        keep.lock().push(socket);
    }
}

fn config_map(name: &str, rv: u32, managed_fields: bool) -> String {
    let managed = if managed_fields {
        r#","managedFields":[{"manager":"kubectl","operation":"Apply","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:k":{}}}},{"manager":"controller","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{}}}}]"#
    } else {
        ""
    };
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"default","resourceVersion":"{rv}"{managed}}},"data":{{"k":"v{rv} \" ] }} ,"}}}}"#
    )
}

fn list_body(items: &[String], rv: u32) -> String {
    format!(
        r#"{{"kind":"ConfigMapList","apiVersion":"v1","metadata":{{"resourceVersion":"{rv}"}},"items":[{}]}}"#,
        items.join(",")
    )
}

fn names_and_versions(items: &[Arc<ConfigMap>]) -> Vec<String> {
    let mut seen: Vec<String> = items
        .iter()
        .map(|cm| {
            format!(
                "{}@{}",
                cm.metadata.name.as_deref().unwrap_or_default(),
                cm.metadata.resource_version.as_deref().unwrap_or_default()
            )
        })
        .collect();
    seen.sort();
    seen
}

fn any_version() -> ListOptions {
    ListOptions {
        resource_version: ResourceVersion::from("0"),
        ..ListOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_answer_in_chunks_of_any_size_decodes_the_same() {
    let items: Vec<String> = (0..5)
        .map(|i| config_map(&format!("cm-{i}"), 10 + i, true))
        .collect();
    let body = list_body(&items, 20);
    for chunk in [1, 2, 3, 7, 64, 1000, body.len()] {
        let server = Scripted::start(
            vec![Answer::Body {
                body: body.clone(),
                chunk,
            }],
            vec![],
        )
        .await;
        let page = server.source().list(any_version()).await.expect("a list");
        assert_eq!(
            names_and_versions(&page.items),
            ["cm-0@10", "cm-1@11", "cm-2@12", "cm-3@13", "cm-4@14"],
            "chunks of {chunk}"
        );
        assert_eq!(page.resource_version.as_str(), "20");
        assert!(page
            .items
            .iter()
            .all(|cm| cm.metadata.managed_fields.is_some()));
        assert_eq!(
            page.items[0].data.as_ref().unwrap()["k"],
            "v10 \" ] } ,",
            "strings with structural characters survive"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_fields_can_be_dropped_while_decoding() {
    let items: Vec<String> = (0..3)
        .map(|i| config_map(&format!("cm-{i}"), 1 + i, true))
        .collect();
    let server = Scripted::start(
        vec![Answer::Body {
            body: list_body(&items, 9),
            chunk: 5,
        }],
        vec![],
    )
    .await;
    let page = server
        .source()
        .drop_managed_fields(true)
        .list(any_version())
        .await
        .expect("a list");
    assert_eq!(page.items.len(), 3);
    assert!(page
        .items
        .iter()
        .all(|cm| cm.metadata.managed_fields.is_none()));
    assert!(
        page.items.iter().all(|cm| cm.data.is_some()),
        "the rest is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_that_does_not_decode_is_skipped_and_counted_the_rest_synced() {
    let items = vec![
        config_map("a", 1, false),
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad","namespace":"default"},"data":17}"#.to_owned(),
        config_map("c", 3, false),
    ];
    let server = Scripted::start(
        vec![Answer::Body {
            body: list_body(&items, 5),
            chunk: 11,
        }],
        vec![Answer::Stall {
            body: String::new(),
            bytes: 0,
        }],
    )
    .await;
    let source = server.source();
    let cache = Cache::<ConfigMap>::new();
    let reflector = Reflector::new(source.clone(), cache.clone());
    let handle = reflector.handle();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(reflector.run(shutdown.clone()));
    handle.wait_until_synced().await.expect("synced");
    assert_eq!(names_and_versions(&cache.list()), ["a@1", "c@3"]);
    assert_eq!(source.decode_errors(), 1);
    shutdown.cancel();
    running.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_fails_the_list() {
    let items: Vec<String> = (0..3)
        .map(|i| config_map(&format!("cm-{i}"), 1 + i, false))
        .collect();
    let body = list_body(&items, 5);
    for bytes in [0, 1, body.len() / 2, body.len() - 1] {
        let server = Scripted::start(
            vec![Answer::Truncated {
                body: body.clone(),
                bytes,
            }],
            vec![],
        )
        .await;
        let error = server
            .source()
            .list(any_version())
            .await
            .expect_err("a truncated list");
        assert!(error.is_internal_error(), "cut at {bytes}: {error:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_item_streams_through() {
    let blob = "x".repeat(50 << 20);
    let big = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big","namespace":"default","resourceVersion":"2"}},"data":{{"blob":"{blob}"}}}}"#
    );
    let body = list_body(
        &[config_map("a", 1, false), big, config_map("c", 3, false)],
        4,
    );
    drop(blob);
    let server = Scripted::start(
        vec![Answer::Body {
            body,
            chunk: 1 << 20,
        }],
        vec![],
    )
    .await;
    let page = server.source().list(any_version()).await.expect("a list");
    assert_eq!(names_and_versions(&page.items), ["a@1", "big@2", "c@3"]);
    let big = page
        .items
        .iter()
        .find(|cm| cm.metadata.name.as_deref() == Some("big"))
        .unwrap();
    assert_eq!(big.data.as_ref().unwrap()["blob"].len(), 50 << 20);
}

/// A relist in `mode` whose first answer stalls after its first item: the list fails
/// after `list_timeout` (the store read at that moment is returned), the next list
/// completes it.
async fn relist_stalled(mode: RelistMode) -> (Vec<String>, Vec<String>) {
    let old: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| config_map(n, 1, false))
        .collect();
    let new: Vec<String> = ["a", "b", "d"]
        .iter()
        .map(|n| config_map(n, 7, false))
        .collect();
    let new_body = list_body(&new, 8);
    let first_item_end = new_body.find(&new[1]).unwrap();
    let expired = r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version","reason":"Expired","code":410}}"#;
    let server = Scripted::start(
        vec![
            Answer::Body {
                body: list_body(&old, 5),
                chunk: 64,
            },
            Answer::Stall {
                body: new_body.clone(),
                bytes: first_item_end,
            },
            Answer::Body {
                body: new_body,
                chunk: 64,
            },
        ],
        vec![
            Answer::Body {
                body: format!("{expired}\n"),
                chunk: 64,
            },
            Answer::Stall {
                body: String::new(),
                bytes: 0,
            },
        ],
    )
    .await;
    let cache = Cache::<ConfigMap>::new();
    let at_timeout = Arc::new(Mutex::new(None));
    let (seen, read) = (Arc::clone(&at_timeout), cache.clone());
    let config = ReflectorConfig::default()
        .with_relist_mode(mode)
        .with_list_timeout(Some(Duration::from_millis(500)))
        .with_min_watch_duration(Duration::ZERO)
        .with_backoff(BackoffConfig::default().with_initial(Duration::from_millis(50)));
    let reflector = Reflector::new(server.source(), cache.clone())
        .with_config(config)
        .on_error(move |error| {
            if let ReflectorError::List { status, .. } = error {
                if status.is_timeout() {
                    seen.lock()
                        .get_or_insert_with(|| names_and_versions(&read.list()));
                }
            }
        });
    let handle = reflector.handle();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(reflector.run(shutdown.clone()));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while handle
        .last_sync_resource_version()
        .as_ref()
        .map(|rv| rv.as_str())
        != Some("8")
    {
        assert!(std::time::Instant::now() < deadline, "relisted in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    running.await.unwrap();
    assert_eq!(
        server.lists(),
        3,
        "the first list, the stalled relist, its retry"
    );
    let at_timeout = at_timeout
        .lock()
        .clone()
        .expect("the stalled list was reported");
    (at_timeout, names_and_versions(&cache.list()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_atomic_relist_applies_nothing_and_is_retried() {
    let (at_timeout, after) = relist_stalled(RelistMode::Atomic).await;
    assert_eq!(at_timeout, ["a@1", "b@1", "c@1"], "nothing partial");
    assert_eq!(after, ["a@7", "b@7", "d@7"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_relist_in_place_is_completed_by_the_next_list() {
    let (at_timeout, after) = relist_stalled(RelistMode::InPlace).await;
    assert_eq!(
        at_timeout,
        ["a@7", "b@1", "c@1"],
        "the first item was written"
    );
    assert_eq!(after, ["a@7", "b@7", "d@7"]);
}
