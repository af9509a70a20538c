//! The watch-server in front of a real etcd: a `Reflector` from `EtcdSource` feeds
//! the `WatchCache`, and kubectl and a raw HTTP client read etcd's revisions as
//! resource versions.

#![cfg(feature = "etcd")]

use std::time::Duration;

use conformance::etcd_harness::EtcdServer;
use reflector::sources::etcd::{EtcdConfig, EtcdSource};
use reflector::Reflector;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use watch_server::{ConfigMap, ServerConfig, WatchCache, WatchServer};

const PREFIX: &str = "/registry/configmaps/";

async fn get(address: std::net::SocketAddr, target: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut raw))
        .await
        .unwrap()
        .unwrap();
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_server_serves_an_etcd_prefix_with_etcd_revisions() {
    let etcd = EtcdServer::start().await;
    let source = EtcdSource::<ConfigMap>::connect(EtcdConfig::new([etcd.endpoint()], PREFIX))
        .await
        .unwrap();
    let writer = source.writer();
    let mut written_at = std::collections::BTreeMap::new();
    for n in 0..20 {
        let cm = ConfigMap::new(
            if n % 2 == 0 { "default" } else { "kube-system" },
            &format!("cm-{n:02}"),
        )
        .with_data("n", &n.to_string());
        let revision = writer.put(&cm).await.unwrap();
        written_at.insert(format!("cm-{n:02}"), revision.as_str().to_owned());
    }
    let cache = WatchCache::<ConfigMap>::default();
    let shutdown = CancellationToken::new();
    let reflector = Reflector::new(source, cache.clone());
    let handle = reflector.handle();
    tokio::spawn(reflector.run(shutdown.clone()));
    handle.wait_until_synced().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serving = tokio::spawn(
        WatchServer::new(ServerConfig::default())
            .serve(cache.clone())
            .run(listener, shutdown.clone()),
    );

    let list = get(address, "/api/v1/namespaces/default/configmaps").await;
    let body: serde_json::Value =
        serde_json::from_str(list.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 10);
    let listed: i64 = body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        listed,
        etcd.revision().await,
        "the list is at etcd's revision"
    );
    // Each object is listed at the revision it was written at (its mod revision), as
    // kube-apiserver serves them — not at the list's revision.
    for item in body["items"].as_array().unwrap() {
        let name = item["metadata"]["name"].as_str().unwrap();
        assert_eq!(
            item["metadata"]["resourceVersion"].as_str(),
            Some(written_at[name].as_str()),
            "{name} is served with its own revision"
        );
    }

    let written = writer
        .put(&ConfigMap::new("default", "cm-00").with_data("n", "changed"))
        .await
        .unwrap();
    let watch = get(
        address,
        &format!("/api/v1/configmaps?watch=1&resourceVersion={listed}&timeoutSeconds=2"),
    )
    .await;
    let event = watch
        .lines()
        .find(|line| line.starts_with("{\"type\""))
        .expect("an event line");
    let event: serde_json::Value = serde_json::from_str(event).unwrap();
    assert_eq!(event["type"], "MODIFIED");
    assert_eq!(event["object"]["data"]["n"], "changed");
    assert_eq!(
        event["object"]["metadata"]["resourceVersion"],
        written.as_str(),
        "etcd's mod revision"
    );

    let kubectl = tokio::process::Command::new("kubectl")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args([
            "--server",
            &format!("http://{address}"),
            "get",
            "configmaps",
            "-A",
            "--no-headers",
        ])
        .args([
            "--cache-dir",
            etcd.data_dir().join("kubectl-cache").to_str().unwrap(),
        ])
        .output()
        .await
        .expect("kubectl runs (scripts/test.sh installs it)");
    assert!(
        kubectl.status.success(),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&kubectl.stdout).lines().count(), 20);
    shutdown.cancel();
    serving.await.unwrap().unwrap();
}
