//! kube-rs against the watch-server: kube-runtime's `watcher` + `reflector`
//! converge to the server's content under churn, across a server restart and a 410,
//! and with streaming lists. (Our own `Reflector` over HTTP, through `KubeSource`, is
//! in `kube_source.rs`.)

mod harness;

use std::future::ready;

use futures::StreamExt;
use harness::{churn, converges, TestServer};
use k8s_openapi::api::core::v1::ConfigMap as KubeConfigMap;
use kube::runtime::reflector as kube_reflector;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Config};
use watch_server::{ServerConfig, WatchCacheConfig};

fn client(server: &TestServer) -> Client {
    let mut config = Config::new(server.url().parse().unwrap());
    config.default_retry = false;
    Client::try_from(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_runtime_converges_under_churn_across_a_restart_and_a_410() {
    let cache = WatchCacheConfig::default().with_window(50);
    let mut server = TestServer::start_with(100, cache, ServerConfig::default()).await;
    let api: Api<KubeConfigMap> = Api::all(client(&server));
    let (store, writer) = kube_reflector::store();
    let stream = kube_reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff();
    let running = tokio::spawn(stream.for_each(|_| ready(())));
    converges("the initial list", &server, || {
        harness::kube_content(store.state().iter().map(|cm| &**cm))
    })
    .await;
    churn(&server, 200, 1).await;
    converges("the watch under churn", &server, || {
        harness::kube_content(store.state().iter().map(|cm| &**cm))
    })
    .await;

    // a restart with a few writes while down: the watch resumes from its version
    server.stop_http().await;
    churn(&server, 10, 1000).await;
    server.restart_http().await;
    converges("after a restart", &server, || {
        harness::kube_content(store.state().iter().map(|cm| &**cm))
    })
    .await;

    // down long enough for the window to move past its version, with deletes: a 410,
    // a relist, and no phantom left behind
    let lists_before = server.server.stats().lists;
    server.stop_http().await;
    churn(&server, 120, 2000).await;
    for index in [1, 2, 3] {
        server
            .source
            .delete(&store_core::Keyed::key(&harness::configmap(index, 0)))
            .unwrap();
    }
    server.restart_http().await;
    converges("after a 410", &server, || {
        harness::kube_content(store.state().iter().map(|cm| &**cm))
    })
    .await;
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
    converges("the streaming list", &server, || {
        harness::kube_content(store.state().iter().map(|cm| &**cm))
    })
    .await;
    churn(&server, 100, 1).await;
    converges("the watch after it", &server, || {
        harness::kube_content(store.state().iter().map(|cm| &**cm))
    })
    .await;
    assert_eq!(
        server.server.stats().lists,
        0,
        "no LIST request: the initial state came in the watch"
    );
    running.abort();
}
