//! A type of a named API group, cluster-scoped, served next to ConfigMaps: its
//! paths are under `/apis/{group}/{version}`, discovery lists it, and kubectl finds
//! it through discovery alone.

mod harness;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use harness::{get, require};
use reflector::{Change, ReflectorStore};
use serde::Serialize;
use store_core::Keyed;
use tokio_util::sync::CancellationToken;
use watch_server::{ConfigMap, ServedResource, ServerConfig, WatchCache, WatchServer};

#[derive(Debug, Serialize, Keyed)]
#[keyed(name = "metadata.name")]
struct Widget {
    metadata: Meta,
    size: u32,
}

#[derive(Debug, Serialize)]
struct Meta {
    name: String,
    labels: BTreeMap<String, String>,
}

impl ServedResource for Widget {
    const GROUP: &'static str = "example.com";
    const VERSION: &'static str = "v1alpha1";
    const KIND: &'static str = "Widget";
    const PLURAL: &'static str = "widgets";
    const SINGULAR: &'static str = "widget";
    const SHORT_NAMES: &'static [&'static str] = &["wd"];
    const NAMESPACED: bool = false;

    fn name(&self) -> &str {
        &self.metadata.name
    }
    fn namespace(&self) -> Option<&str> {
        None
    }
    fn labels(&self) -> Option<&BTreeMap<String, String>> {
        Some(&self.metadata.labels)
    }
}

fn widget(name: &str, size: u32) -> Arc<Widget> {
    Arc::new(Widget {
        metadata: Meta {
            name: name.into(),
            labels: BTreeMap::new(),
        },
        size,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grouped_cluster_scoped_type_is_served_and_discovered() {
    let widgets = WatchCache::<Widget>::default();
    widgets
        .apply(Change::Replaced(
            vec![widget("a", 1), widget("b", 2)],
            "7".into(),
        ))
        .unwrap();
    let configmaps = WatchCache::<ConfigMap>::default();
    configmaps
        .apply(Change::Replaced(vec![], "7".into()))
        .unwrap();
    let server = WatchServer::new(ServerConfig::default())
        .serve(widgets.clone())
        .serve(configmaps);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let serving = tokio::spawn(server.run(listener, stop.clone()));
    let quick = Duration::from_secs(10);

    let groups = get(address, "/apis", quick).await.json();
    assert_eq!(groups["groups"][0]["name"], "example.com");
    assert_eq!(
        groups["groups"][0]["preferredVersion"]["groupVersion"],
        "example.com/v1alpha1"
    );
    let resources = get(address, "/apis/example.com/v1alpha1", quick)
        .await
        .json();
    assert_eq!(resources["resources"][0]["kind"], "Widget");
    assert_eq!(resources["resources"][0]["namespaced"], false);
    assert_eq!(
        get(address, "/apis/example.com", quick).await.json()["kind"],
        "APIGroup"
    );
    assert_eq!(
        get(address, "/apis/example.com/v2", quick).await.status,
        404
    );

    let list = get(address, "/apis/example.com/v1alpha1/widgets", quick)
        .await
        .json();
    assert_eq!(list["kind"], "WidgetList");
    assert_eq!(list["apiVersion"], "example.com/v1alpha1");
    assert_eq!(list["items"][1]["size"], 2);
    let one = get(address, "/apis/example.com/v1alpha1/widgets/b", quick)
        .await
        .json();
    assert_eq!(one["metadata"]["resourceVersion"], "7");
    // a cluster-scoped type has no namespaced path; ConfigMaps are not under the group
    assert_eq!(
        get(
            address,
            "/apis/example.com/v1alpha1/namespaces/x/widgets",
            quick
        )
        .await
        .status,
        404
    );
    assert_eq!(
        get(address, "/apis/example.com/v1alpha1/configmaps", quick)
            .await
            .status,
        404
    );
    widgets
        .apply(Change::Added(widget("c", 3), "8".into()))
        .unwrap();
    let watch = get(
        address,
        "/apis/example.com/v1alpha1/widgets?watch=1&resourceVersion=7&timeoutSeconds=1",
        quick,
    )
    .await
    .events();
    assert_eq!(watch.len(), 1);
    assert_eq!(watch[0]["object"]["kind"], "Widget");

    // kubectl resolves the short name and the group through discovery
    let dir = std::env::temp_dir().join(format!("watch-server-grouped-{}", std::process::id()));
    let output = tokio::process::Command::new(require("kubectl"))
        .env("KUBECONFIG", dir.join("none"))
        .args([
            "--server",
            &format!("http://{address}"),
            "--cache-dir",
            dir.join("cache").to_str().unwrap(),
        ])
        .args([
            "get",
            "wd",
            "--no-headers",
            "-o",
            "custom-columns=NAME:.metadata.name",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    std::fs::remove_dir_all(dir).ok();
    stop.cancel();
    serving.await.unwrap().unwrap();
}
