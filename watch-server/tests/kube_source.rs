//! `KubeSource` (reflector feature `kube`) against the watch-server over real HTTP:
//! k8s-openapi's `ConfigMap` in a `Cache` with no newtype, paginated and streaming
//! initial syncs, churn, a 410, a server restart, 429 while the server is not ready,
//! 504 for a version it has not reached, bad JSON skipped, and an informer whose
//! handler replay equals the server.

mod harness;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use harness::{churn, converges, Content, TestServer};
use k8s_openapi::api::core::v1::ConfigMap;
use parking_lot::Mutex;
use reflector::{
    Informer, KubeSource, ListOptions, ListerWatcher, Reflector, ReflectorConfig, WatchEvent,
    WatchOptions,
};
use store_core::{
    Cache, Indexer, ObjectName, ObjectNameRef, ResourceVersion, Store, NAMESPACE_INDEX,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use watch_server::{ServerConfig, WatchCacheConfig};

fn source(url: &str) -> KubeSource<ConfigMap> {
    KubeSource::from_config(kube::Config::new(url.parse().unwrap())).unwrap()
}

fn config(streaming: bool) -> ReflectorConfig {
    ReflectorConfig::default()
        .with_page_size(Some(40))
        .with_streaming_list(streaming)
        .with_backoff(reflector::BackoffConfig::default().with_initial(Duration::from_millis(100)))
}

async fn reflect_and_survive(streaming: bool) {
    let window = WatchCacheConfig::default().with_window(50);
    let mut server = TestServer::start_with(100, window, ServerConfig::default()).await;
    let cache = Cache::<ConfigMap>::new();
    let reflector =
        Reflector::new(source(&server.url()), cache.clone()).with_config(config(streaming));
    let handle = reflector.handle();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(reflector.run(shutdown.clone()));
    handle.wait_until_synced().await.unwrap();
    let content = || harness::kube_content(cache.list().iter().map(|cm| &**cm));
    converges("the initial sync", &server, content).await;
    // keyed by ObjectName without a newtype, borrowed look-ups, the namespace index
    assert!(cache
        .get(&ObjectNameRef::new(Some("team-1"), "cm-00001"))
        .is_some());
    assert!(cache
        .get(&ObjectName::namespaced("default", "cm-00000").unwrap())
        .is_some());
    assert_eq!(cache.by_index(NAMESPACE_INDEX, "team-2").unwrap().len(), 33);
    if streaming {
        assert_eq!(server.server.stats().lists, 0, "synced by a streaming list");
    } else {
        // the first list is at "0": any version, one answer (limit is ignored there)
        assert_eq!(server.server.stats().lists, 1);
        // at "" pages of 40 follow their continue tokens to the whole list
        let kube = source(&server.url());
        let mut options = ListOptions {
            resource_version: ResourceVersion::from(""),
            limit: Some(40),
            continue_token: None,
        };
        let mut pages = Vec::new();
        loop {
            let page = kube.list(options.clone()).await.unwrap();
            pages.push(page.items.len());
            match page.continue_token {
                Some(token) => options.continue_token = Some(token),
                None => break,
            }
        }
        assert_eq!(pages, [40, 40, 20]);
    }
    churn(&server, 150, 1).await;
    converges("churn", &server, content).await;
    server.restart_http().await;
    churn(&server, 10, 500).await;
    converges("after a restart", &server, content).await;
    server.stop_http().await;
    churn(&server, 120, 1000).await;
    server
        .source
        .delete(&store_core::Keyed::key(&harness::configmap(4, 0)))
        .unwrap();
    server.restart_http().await;
    converges("after a 410", &server, content).await;
    assert_eq!(cache.len(), 99);
    shutdown.cancel();
    running.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_source_list_watch_syncs_k8s_configmaps_and_survives_restart_and_410() {
    reflect_and_survive(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_source_streaming_list_syncs_and_survives_restart_and_410() {
    reflect_and_survive(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_too_large_versions_reach_the_caller_as_statuses() {
    let limited = ServerConfig::default()
        .with_freshness_wait(Duration::from_millis(100))
        .with_max_watchers(0);
    let server = TestServer::start_with(3, WatchCacheConfig::default(), limited).await;
    let kube = source(&server.url());
    let too_large = kube
        .list(ListOptions {
            resource_version: ResourceVersion::from("999999"),
            limit: None,
            continue_token: None,
        })
        .await
        .unwrap_err();
    assert!(too_large.is_too_large_resource_version(), "{too_large}");
    let Err(throttled) = kube
        .watch(ResourceVersion::from("0"), WatchOptions::default())
        .await
    else {
        panic!("a watch past the limit must fail");
    };
    assert!(throttled.is_too_many_requests(), "{throttled}");
    assert!(throttled.retry_after().is_some());

    // a reflector against a server whose cache has not synced: 429s, backoff, then it syncs
    let cache = watch_server::WatchCache::<watch_server::ConfigMap>::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let serving = tokio::spawn(
        watch_server::WatchServer::new(ServerConfig::default())
            .serve(cache.clone())
            .run(listener, stop.clone()),
    );
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&errors);
    let store = Cache::<ConfigMap>::new();
    let reflector = Reflector::new(source(&format!("http://{address}")), store.clone())
        .with_config(config(false))
        .on_error(move |error| {
            // the error and the `Status` it carries as its source
            let source = std::error::Error::source(error).map(ToString::to_string);
            seen.lock()
                .push(format!("{error}: {}", source.unwrap_or_default()));
        });
    let handle = reflector.handle();
    tokio::spawn(reflector.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!handle.has_synced());
    assert!(
        errors
            .lock()
            .iter()
            .any(|error| error.contains("TooManyRequests")),
        "{:?}",
        errors.lock()
    );
    reflector::ReflectorStore::apply(
        &cache,
        reflector::Change::Replaced(vec![Arc::new(harness::configmap(1, 0))], "5".into()),
    )
    .unwrap();
    handle.wait_until_synced().await.unwrap();
    assert_eq!(store.len(), 1);
    stop.cancel();
    serving.await.unwrap().unwrap();
}

/// A one-shot HTTP server whose watch answer has a line that is not JSON.
async fn garbage_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let _ = socket.read(&mut request).await.unwrap();
        let good = |name: &str, rv: u32| {
            format!(
                r#"{{"type":"ADDED","object":{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"default","resourceVersion":"{rv}"}}}}}}"#
            )
        };
        let body = format!("{}\n{{not json at all\n{}\n", good("a", 2), good("b", 3));
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.unwrap();
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_is_not_json_is_skipped_and_counted_never_a_panic() {
    let address = garbage_server().await;
    let source = source(&format!("http://{address}"));
    let stream = source
        .watch(ResourceVersion::from("1"), WatchOptions::default())
        .await
        .unwrap();
    let events: Vec<String> = stream
        .map(|item| match item {
            Ok(WatchEvent::Added(cm, rv)) => {
                format!("{}@{rv}", cm.metadata.name.clone().unwrap_or_default())
            }
            other => format!("{other:?}"),
        })
        .collect()
        .await;
    assert_eq!(events, ["a@2", "b@3"]);
    assert_eq!(source.decode_errors(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_informers_handler_replay_equals_the_server() {
    let server = TestServer::start(60).await;
    let mut informer = Informer::builder(source(&server.url())).with_config(config(true));
    let replay: Arc<Mutex<BTreeMap<(String, String), String>>> = Arc::default();
    let (added, updated, deleted) = (
        Arc::clone(&replay),
        Arc::clone(&replay),
        Arc::clone(&replay),
    );
    let entry = |cm: &ConfigMap| {
        let (namespace, name, generation) = harness::kube_row(cm);
        ((namespace, name), generation)
    };
    informer.on_add(move |cm: &Arc<ConfigMap>, _| {
        let (key, generation) = entry(cm);
        added.lock().insert(key, generation);
    });
    informer.on_update(move |_, cm: &Arc<ConfigMap>| {
        let (key, generation) = entry(cm);
        updated.lock().insert(key, generation);
    });
    informer.on_delete(move |gone| {
        let key = gone.key();
        deleted
            .lock()
            .remove(&(key.namespace.clone().unwrap_or_default(), key.name.clone()));
    });
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    informer.wait_until_synced().await.unwrap();
    churn(&server, 100, 1).await;
    server
        .source
        .delete(&store_core::Keyed::key(&harness::configmap(7, 0)))
        .unwrap();
    let replayed = || -> Content {
        replay
            .lock()
            .iter()
            .map(|((ns, name), generation)| (ns.clone(), name.clone(), generation.clone()))
            .collect()
    };
    converges("the handler replay", &server, replayed).await;
    assert_eq!(
        replayed().len(),
        99,
        "60 seeded, 40 created by the churn, 1 deleted"
    );
    shutdown.cancel();
    running.await.unwrap();
}

/// A user type, as kube's `CustomResource` derive would make one: it implements
/// `kube::Resource` (not k8s-openapi's `Metadata`), so it keeps `#[derive(Keyed)]`
/// next to the blanket impl for k8s-openapi types, and `KubeSource` reads it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, store_core::Keyed)]
#[keyed(name = "metadata.name")]
struct Widget {
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    spec: WidgetSpec,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct WidgetSpec {
    size: u32,
}

impl kube::Resource for Widget {
    type DynamicType = ();
    type Scope = k8s_openapi::ClusterResourceScope;
    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "Widget".into()
    }
    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "example.com".into()
    }
    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "widgets".into()
    }
    fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        &mut self.metadata
    }
}

impl watch_server::ServedResource for Widget {
    const GROUP: &'static str = "example.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Widget";
    const PLURAL: &'static str = "widgets";
    const SINGULAR: &'static str = "widget";
    const NAMESPACED: bool = false;
    fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
    fn namespace(&self) -> Option<&str> {
        None
    }
    fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.metadata.labels.as_ref()
    }
}

fn widget(name: &str, size: u32) -> Arc<Widget> {
    Arc::new(Widget {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: WidgetSpec { size },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_defined_resource_keeps_its_derive_and_syncs_through_kube_source() {
    use reflector::{Change, ReflectorStore};
    let widgets = watch_server::WatchCache::<Widget>::default();
    widgets
        .apply(Change::Replaced(
            vec![widget("a", 1), widget("b", 2)],
            "10".into(),
        ))
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let serving = tokio::spawn(
        watch_server::WatchServer::new(ServerConfig::default())
            .serve(widgets.clone())
            .run(listener, stop.clone()),
    );
    let source = KubeSource::<Widget>::from_config(kube::Config::new(
        format!("http://{address}").parse().unwrap(),
    ))
    .unwrap();
    let cache = Cache::<Widget>::new();
    let reflector = Reflector::new(source, cache.clone()).with_config(config(false));
    let handle = reflector.handle();
    tokio::spawn(reflector.run(stop.clone()));
    handle.wait_until_synced().await.unwrap();
    // the derived key is a cluster-scoped ObjectName: borrowed look-ups by ObjectNameRef
    assert_eq!(
        cache.get(&ObjectNameRef::new(None, "b")).unwrap().spec.size,
        2
    );
    widgets
        .apply(Change::Modified(widget("a", 7), "11".into()))
        .unwrap();
    for _ in 0..100 {
        if cache
            .get(&ObjectNameRef::new(None, "a"))
            .is_some_and(|w| w.spec.size == 7)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        cache.get(&ObjectNameRef::new(None, "a")).unwrap().spec.size,
        7
    );
    assert_eq!(handle.last_sync_resource_version().unwrap(), "11");
    stop.cancel();
    serving.await.unwrap().unwrap();
}

/// A downstream informer (no resync) over `KubeSource`, relisted after its upstream
/// cache relisted with nothing changed, hears no update: every object keeps the
/// version it was written at, so the informer sees each relisted object unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_relist_that_changed_nothing_updates_nothing_downstream() {
    let mut server = TestServer::start(10).await;
    let mut informer = Informer::builder(source(&server.url())).with_config(config(false));
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let (adds, updates, deletes) = (Arc::clone(&heard), Arc::clone(&heard), Arc::clone(&heard));
    informer.on_add(move |cm: &Arc<ConfigMap>, _| {
        adds.lock()
            .push(format!("add {}", cm.metadata.name.as_deref().unwrap_or("")));
    });
    informer.on_update(move |_, cm: &Arc<ConfigMap>| {
        updates.lock().push(format!(
            "update {}",
            cm.metadata.name.as_deref().unwrap_or("")
        ));
    });
    informer.on_delete(move |gone| deletes.lock().push(format!("delete {}", gone.key())));
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    informer.wait_until_synced().await.unwrap();
    let settled = |n: usize| {
        let heard = Arc::clone(&heard);
        async move {
            for _ in 0..500 {
                if heard.lock().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    settled(10).await;
    assert_eq!(heard.lock().len(), 10, "the initial list: ten adds");
    let relists_before = informer.metrics().relists;

    // Cut the informer off; meanwhile an object comes and goes upstream, and the
    // cache relists (its window restarts after the informer's version).
    server.stop_http().await;
    let temporary = harness::configmap(99, 0);
    server.source.create(temporary).unwrap();
    let gone = server
        .source
        .delete(&ObjectName::namespaced("default", "cm-00099").unwrap())
        .unwrap();
    server.cache_reaches(gone.as_str().parse().unwrap()).await;
    let relisted = server.cache.stats().relists + 1;
    server
        .source
        .inject_watch_error(store_core::Status::expired("compacted"));
    for _ in 0..500 {
        if server.cache.stats().relists >= relisted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.cache.stats().relists, relisted, "the cache relisted");
    server.restart_http().await;

    // The informer's watch from before the relist gets a 410: it relists.
    for _ in 0..1000 {
        if informer.metrics().relists > relists_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        informer.metrics().relists > relists_before,
        "the informer relisted: {:?}",
        informer.metrics()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let heard = heard.lock().clone();
    assert_eq!(heard.len(), 10, "nothing but the ten first adds: {heard:?}");
    shutdown.cancel();
    running.await.unwrap();
}
