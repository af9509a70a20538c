//! kube-rs against the watch-server: kube-runtime's `watcher` + `reflector`
//! converge to the server's content under churn, across a server restart and a 410,
//! and with streaming lists; and our own `Reflector` over HTTP (through a small
//! kube-client `ListerWatcher` written here).

// `Status` (~300 bytes) is what every source answers.
#![allow(clippy::result_large_err)]

mod common;

use std::collections::BTreeSet;
use std::future::ready;
use std::sync::Arc;
use std::time::Duration;

use ::reflector::{
    List, ListOptions, ListerWatcher, Reflector, WatchEvent, WatchOptions, WatchStream,
};
use common::TestServer;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap as KubeConfigMap;
use kube::api::{ListParams, WatchParams};
use kube::runtime::reflector as kube_reflector;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Config};
use store_core::{Cache, ResourceVersion, Status, Store};
use watch_server::{ConfigMap, ServerConfig, WatchCacheConfig};

/// `(namespace, name, generation)` of each ConfigMap.
fn summary<'a>(
    configmaps: impl IntoIterator<Item = &'a ConfigMap>,
) -> BTreeSet<(String, String, String)> {
    configmaps
        .into_iter()
        .map(|cm| {
            (
                cm.metadata.namespace.clone().unwrap_or_default(),
                cm.metadata.name.clone(),
                cm.data["generation"].clone(),
            )
        })
        .collect()
}

/// What the source holds.
fn source_content(server: &TestServer) -> BTreeSet<(String, String, String)> {
    summary(server.source.snapshot().iter().map(|cm| &**cm))
}

fn kube_content(
    store: &kube_reflector::Store<KubeConfigMap>,
) -> BTreeSet<(String, String, String)> {
    store
        .state()
        .iter()
        .map(|cm| {
            (
                cm.metadata.namespace.clone().unwrap_or_default(),
                cm.metadata.name.clone().unwrap_or_default(),
                cm.data
                    .as_ref()
                    .and_then(|data| data.get("generation").cloned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

async fn converges(
    what: &str,
    server: &TestServer,
    content: impl Fn() -> BTreeSet<(String, String, String)>,
) {
    let mut last = BTreeSet::new();
    for _ in 0..300 {
        let expected = source_content(server);
        last = content();
        if last == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expected = source_content(server);
    panic!(
        "{what} did not converge: {} objects, {} expected; missing {:?}; extra {:?}",
        last.len(),
        expected.len(),
        expected.difference(&last).take(3).collect::<Vec<_>>(),
        last.difference(&expected).take(3).collect::<Vec<_>>()
    );
}

fn client(server: &TestServer) -> Client {
    let mut config = Config::new(server.url().parse().unwrap());
    config.default_retry = false;
    Client::try_from(config).unwrap()
}

async fn churn(server: &TestServer, writes: u64, from_generation: u64) {
    for n in 0..writes {
        let index = usize::try_from(n * 7 % 100).unwrap();
        server.write(index, from_generation + n);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_runtime_converges_under_churn_across_a_restart_and_a_410() {
    let cache = WatchCacheConfig {
        window: 50,
        ..WatchCacheConfig::default()
    };
    let mut server = TestServer::start_with(100, cache, ServerConfig::default()).await;
    let api: Api<KubeConfigMap> = Api::all(client(&server));
    let (store, writer) = kube_reflector::store();
    let stream = kube_reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff();
    let running = tokio::spawn(stream.for_each(|_| ready(())));
    converges("the initial list", &server, || kube_content(&store)).await;
    churn(&server, 200, 1).await;
    converges("the watch under churn", &server, || kube_content(&store)).await;

    // a restart with a few writes while down: the watch resumes from its version
    server.stop_http().await;
    churn(&server, 10, 1000).await;
    server.restart_http().await;
    converges("after a restart", &server, || kube_content(&store)).await;

    // down long enough for the window to move past its version, with deletes: a 410,
    // a relist, and no phantom left behind
    let lists_before = server.server.stats().lists;
    server.stop_http().await;
    churn(&server, 120, 2000).await;
    for index in [1, 2, 3] {
        server
            .source
            .delete(&store_core::Keyed::key(&common::configmap(index, 0)))
            .unwrap();
    }
    server.restart_http().await;
    converges("after a 410", &server, || kube_content(&store)).await;
    assert_eq!(store.state().len(), 97);
    assert!(
        server.server.stats().lists > lists_before,
        "the watcher relisted"
    );
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_runtime_with_streaming_lists_converges_without_listing() {
    let server = TestServer::start(100).await;
    let api: Api<KubeConfigMap> = Api::all(client(&server));
    let (store, writer) = kube_reflector::store();
    let config = watcher::Config::default().streaming_lists();
    let stream = kube_reflector::reflector(writer, watcher(api, config)).default_backoff();
    let running = tokio::spawn(stream.for_each(|_| ready(())));
    converges("the streaming list", &server, || kube_content(&store)).await;
    churn(&server, 100, 1).await;
    converges("the watch after it", &server, || kube_content(&store)).await;
    assert_eq!(
        server.server.stats().lists,
        0,
        "no LIST request: the initial state came in the watch"
    );
    running.abort();
}

/// A `ListerWatcher` over HTTP for the tests: kube-client's `Api`, its objects
/// converted to the server's `ConfigMap` through JSON. (The real Kubernetes source
/// is `KubeSource`, a later piece.)
struct HttpSource {
    api: Api<KubeConfigMap>,
}

fn to_status(error: kube::Error) -> Status {
    match error {
        kube::Error::Api(status) => serde_json::to_vec(&status)
            .ok()
            .and_then(|json| Status::from_slice(&json).ok())
            .unwrap_or_else(|| Status::internal_error("an unreadable Status")),
        other => Status::service_unavailable(other.to_string()),
    }
}

fn convert(cm: KubeConfigMap) -> Result<(Arc<ConfigMap>, ResourceVersion), Status> {
    let rv = ResourceVersion::from(
        cm.metadata
            .resource_version
            .clone()
            .unwrap_or_default()
            .as_str(),
    );
    let json = serde_json::to_value(cm).map_err(Status::internal_error)?;
    let cm: ConfigMap = serde_json::from_value(json).map_err(Status::internal_error)?;
    Ok((Arc::new(cm), rv))
}

impl ListerWatcher<ConfigMap> for HttpSource {
    async fn list(&self, options: ListOptions) -> Result<List<ConfigMap>, Status> {
        let mut params = ListParams::default();
        match (&options.continue_token, options.resource_version.as_str()) {
            (Some(token), _) => params = params.continue_token(token),
            (None, "") => {}
            (None, rv) => params = params.at(rv),
        }
        if let Some(limit) = options
            .limit
            .filter(|_| options.resource_version.as_str() != "0")
        {
            params = params.limit(u32::try_from(limit).unwrap_or(u32::MAX));
        }
        let list = self.api.list(&params).await.map_err(to_status)?;
        let items = list
            .items
            .into_iter()
            .map(|cm| convert(cm).map(|(cm, _)| cm))
            .collect::<Result<_, _>>()?;
        Ok(List {
            items,
            resource_version: list
                .metadata
                .resource_version
                .unwrap_or_default()
                .as_str()
                .into(),
            continue_token: list.metadata.continue_.filter(|token| !token.is_empty()),
            source_id: None,
        })
    }

    async fn watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> Result<WatchStream<ConfigMap>, Status> {
        let params = WatchParams {
            bookmarks: options.allow_bookmarks,
            timeout: options
                .timeout
                .map(|timeout| u32::try_from(timeout.as_secs()).unwrap_or(290).min(290)),
            ..WatchParams::default()
        };
        let stream = self
            .api
            .watch(&params, resource_version.as_str())
            .await
            .map_err(to_status)?;
        Ok(stream
            .map_err(to_status)
            .and_then(|event| async move {
                Ok(match event {
                    kube::core::WatchEvent::Added(cm) => {
                        convert(cm).map(|(cm, rv)| WatchEvent::Added(cm, rv))?
                    }
                    kube::core::WatchEvent::Modified(cm) => {
                        convert(cm).map(|(cm, rv)| WatchEvent::Modified(cm, rv))?
                    }
                    kube::core::WatchEvent::Deleted(cm) => {
                        convert(cm).map(|(cm, rv)| WatchEvent::Deleted(cm, rv))?
                    }
                    kube::core::WatchEvent::Bookmark(bookmark) => {
                        WatchEvent::Bookmark(bookmark.metadata.resource_version.as_str().into())
                    }
                    kube::core::WatchEvent::Error(status) => {
                        WatchEvent::Error(Box::new(to_status(kube::Error::Api(status))))
                    }
                })
            })
            .boxed())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_reflector_over_http_converges_and_relists_on_410() {
    let cache = WatchCacheConfig {
        window: 50,
        ..WatchCacheConfig::default()
    };
    let mut server = TestServer::start_with(100, cache, ServerConfig::default()).await;
    let source = HttpSource {
        api: Api::all(client(&server)),
    };
    let store = Cache::<ConfigMap>::new();
    let reflector =
        Reflector::new(source, store.clone()).with_config(::reflector::ReflectorConfig {
            page_size: Some(30),
            backoff: ::reflector::BackoffConfig {
                initial: Duration::from_millis(100),
                ..::reflector::BackoffConfig::default()
            },
            ..::reflector::ReflectorConfig::default()
        });
    let handle = reflector.handle();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(reflector.run(shutdown.clone()));
    handle.wait_until_synced().await.unwrap();
    let content = || summary(store.list().iter().map(|cm| &**cm));
    converges("the paginated initial list", &server, content).await;
    churn(&server, 150, 1).await;
    converges("the watch", &server, content).await;
    server.stop_http().await;
    churn(&server, 120, 500).await;
    server
        .source
        .delete(&store_core::Keyed::key(&common::configmap(5, 0)))
        .unwrap();
    server.restart_http().await;
    converges("after a 410", &server, content).await;
    assert_eq!(store.len(), 99);
    shutdown.cancel();
    running.await.unwrap();
}
