//! Real clients nobody here wrote — kubectl and the official Python client — list
//! and watch the watch-server; and the binary serves them as documented (those
//! tests need the binary, so they run with the crate's `bin` feature only:
//! `cargo test -p watch-server --features bin`, as `scripts/test.sh` does).

mod harness;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use harness::{require, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use watch_server::{ServerConfig, WatchCacheConfig};

/// kubectl with no kubeconfig and a private discovery cache.
fn kubectl(server: &str, cache_dir: &std::path::Path) -> Command {
    let mut command = Command::new(require("kubectl"));
    command
        .env("KUBECONFIG", cache_dir.join("no-kubeconfig"))
        .env("HOME", cache_dir)
        .arg("--server")
        .arg(server)
        .arg("--cache-dir")
        .arg(cache_dir.join("cache"))
        .arg("--request-timeout=20s")
        .kill_on_drop(true);
    command
}

async fn output(mut command: Command) -> String {
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the client finished in time")
        .expect("the client ran");
    assert!(
        output.status.success(),
        "{:?} failed: {}",
        command.as_std(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("watch-server-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_lists_every_configmap_through_its_pages() {
    // 1 200 objects: kubectl asks for pages of 500
    let server = TestServer::start(1200).await;
    let dir = temp_dir("kubectl-list");
    let mut command = kubectl(&server.url(), &dir);
    command.args([
        "get",
        "configmaps",
        "-A",
        "--no-headers",
        "-o",
        "custom-columns=NS:.metadata.namespace,NAME:.metadata.name",
    ]);
    let listed: BTreeSet<(String, String)> = output(command)
        .await
        .lines()
        .map(|line| {
            let mut fields = line.split_whitespace();
            (
                fields.next().unwrap().to_owned(),
                fields.next().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = server
        .source
        .snapshot()
        .iter()
        .map(|cm| {
            (
                cm.metadata.namespace.clone().unwrap(),
                cm.metadata.name.clone(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 1200);
    assert_eq!(listed, expected);
    let mut command = kubectl(&server.url(), &dir);
    command.args([
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1",
    ]);
    let raw = output(command).await;
    let events: Vec<serde_json::Value> = raw
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), 400);
    assert!(events.iter().all(|event| event["type"] == "ADDED"));
    let mut command = kubectl(&server.url(), &dir);
    command.args([
        "get",
        "--raw",
        "/api/v1/namespaces/team-1/configmaps/cm-00001",
    ]);
    let one: serde_json::Value = serde_json::from_str(&output(command).await).unwrap();
    assert_eq!(one["metadata"]["name"], "cm-00001");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_watches_sees_live_changes_and_exits_when_the_stream_ends() {
    let server = TestServer::start(6).await;
    let dir = temp_dir("kubectl-watch");
    let mut command = kubectl(&server.url(), &dir);
    command
        .args([
            "get",
            "configmaps",
            "-w",
            "--no-headers",
            "-o",
            "custom-columns=NAME:.metadata.name,GEN:.data.generation",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // the list of namespace default: cm-00000 and cm-00003
    assert_eq!(fields(&mut lines).await, ["cm-00000", "0"]);
    assert_eq!(fields(&mut lines).await, ["cm-00003", "0"]);
    // then live changes; one in another namespace is not shown
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.write(1, 9);
    server.write(3, 7);
    assert_eq!(fields(&mut lines).await, ["cm-00003", "7"]);
    // a closed stream ends kubectl, cleanly
    server.cache.close_watches();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "kubectl exited with {status}");
    assert_eq!(next_line(&mut lines).await, None);
    std::fs::remove_dir_all(dir).ok();
}

async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the client printed in time")
        .unwrap()
}

/// The next line's whitespace-separated fields.
async fn fields(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Vec<String> {
    let line = next_line(lines).await.expect("a line");
    line.split_whitespace().map(str::to_owned).collect()
}

const PYTHON_CLIENT: &str = r#"
import json, sys
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

configuration = client.Configuration()
configuration.host = sys.argv[1]
api = client.CoreV1Api(client.ApiClient(configuration))
listed = api.list_config_map_for_all_namespaces()
rv = listed.metadata.resource_version
print(json.dumps({"listed": len(listed.items), "rv": rv}), flush=True)
sys.stdin.readline()  # the test starts writing, then says go
for event in watch.Watch().stream(api.list_config_map_for_all_namespaces, resource_version=rv,
                                  timeout_seconds=int(sys.argv[2]), allow_watch_bookmarks=True):
    obj = event["object"]
    if event["type"] == "BOOKMARK":
        print(json.dumps({"type": "BOOKMARK", "rv": obj["metadata"]["resourceVersion"]}), flush=True)
        continue
    print(json.dumps({"type": event["type"], "name": obj.metadata.name, "rv": obj.metadata.resource_version,
                      "generation": (obj.data or {}).get("generation")}), flush=True)
try:
    for event in watch.Watch().stream(api.list_config_map_for_all_namespaces, resource_version=rv, timeout_seconds=2):
        pass
    print(json.dumps({"expired": None}), flush=True)
except ApiException as error:
    print(json.dumps({"expired": error.status}), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_lists_watches_under_churn_and_handles_410() {
    let python = require("python3");
    let server = TestServer::start_with(
        30,
        WatchCacheConfig::default().with_window(100),
        ServerConfig::default(),
    )
    .await;
    let mut child = Command::new(python)
        .arg("-c")
        .arg(PYTHON_CLIENT)
        .arg(server.url())
        .arg("4")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value =
        serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["listed"], 30);
    let listed_rv: u64 = first["rv"].as_str().unwrap().parse().unwrap();
    // 150 writes over ~1.5 s: the watch starts from the list's version while they flow
    let source = server.source.clone();
    let writer = tokio::spawn(async move {
        let mut written = Vec::new();
        for n in 0..150u64 {
            let index = usize::try_from(n % 30).unwrap();
            let rv: u64 = source
                .apply(harness::configmap(index, n + 1))
                .as_str()
                .parse()
                .unwrap();
            written.push((rv, index, n + 1));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        written
    });
    tokio::io::AsyncWriteExt::write_all(child.stdin.as_mut().unwrap(), b"go\n")
        .await
        .unwrap();
    let written = writer.await.unwrap();
    let mut seen = Vec::new();
    let mut expired = None;
    while let Some(line) = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if let Some(code) = event.get("expired") {
            expired = Some(code.clone());
            break;
        }
        if event["type"] == "MODIFIED" {
            seen.push((
                event["rv"].as_str().unwrap().parse::<u64>().unwrap(),
                event["name"].as_str().unwrap().to_owned(),
                event["generation"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            ));
        }
    }
    let expected: Vec<(u64, String, u64)> = written
        .iter()
        .map(|(rv, index, generation)| (*rv, format!("cm-{index:05}"), *generation))
        .collect();
    assert!(expected[0].0 == listed_rv + 1);
    assert_eq!(seen, expected, "every write after the list, once, in order");
    // 150 writes later the list's version is out of the 100-event window
    assert_eq!(expired, Some(serde_json::json!(410)));
    assert!(child.wait().await.unwrap().success());
}

#[cfg(feature = "bin")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_where_it_listens_then_serves_churning_configmaps() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_watch-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--objects",
            "250",
            "--writes-per-sec",
            "200",
            "--window",
            "500",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    let address: std::net::SocketAddr = url.parse().unwrap();
    assert_eq!(address.ip().to_string(), "127.0.0.1");
    assert_ne!(address.port(), 0);
    let list = harness::get(address, "/api/v1/configmaps", Duration::from_secs(10))
        .await
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 250);
    let namespaces: BTreeSet<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cm| cm["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces.len(), 10);
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap();
    let watch = harness::get(
        address,
        &format!("/api/v1/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1"),
        Duration::from_secs(10),
    )
    .await;
    let events = watch.events();
    assert!(
        events.len() >= 50,
        "~200 writes/s for 1 s, got {}",
        events.len()
    );
    assert!(
        events.iter().all(|event| event["type"] == "MODIFIED"),
        "no creates or deletes unless asked"
    );
    child.kill().await.unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_watch-server"))
        .arg("--objects")
        .arg("many")
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--objects"));
}

#[cfg(feature = "bin")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kube_mirror_example_mirrors_the_binary_s_configmaps() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_watch-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--objects",
            "300",
            "--writes-per-sec",
            "50",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = next_line(&mut lines).await.unwrap();
    let url = first.strip_prefix("listening on ").unwrap().to_owned();
    // cargo test builds the package's examples next to the test binaries' folder
    let example = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join("kube_mirror"))
        .unwrap();
    if !example.exists() {
        // a filtered `cargo test --test clients` does not build examples: build it
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-p", "watch-server", "--example", "kube_mirror"])
            .status()
            .await
            .unwrap();
        assert!(
            built.success() && example.exists(),
            "{} could not be built",
            example.display()
        );
    }
    for streaming in [false, true] {
        let mut command = Command::new(&example);
        command.args(["--server", &url, "--duration", "2"]);
        if streaming {
            command.arg("--streaming");
        }
        let out = output(command).await;
        let mut printed = out.lines();
        let synced = printed.next().unwrap();
        assert!(synced.starts_with("synced 300 ConfigMaps in "), "{synced}");
        let summary = printed.next().unwrap();
        assert!(
            summary.starts_with("300 ConfigMaps in 10 namespaces ("),
            "{summary}"
        );
        assert!(
            out.trim_end().ends_with("done: 300 ConfigMaps mirrored"),
            "{out}"
        );
    }
    server.kill().await.unwrap();
}
