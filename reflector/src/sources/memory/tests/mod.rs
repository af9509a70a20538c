// Unit tests of `MemoryServer`, one file per part of its surface; the fixtures they
// share are here.

use std::collections::BTreeMap;

use futures::StreamExt;

use super::*;

mod faults;
mod list;
mod watch;
mod writes;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pod {
    name: String,
    generation: u64,
}

impl Keyed for Pod {
    type Key = String;
    fn key(&self) -> String {
        self.name.clone()
    }
}

fn pod(name: &str, generation: u64) -> Pod {
    Pod {
        name: name.to_owned(),
        generation,
    }
}

fn server() -> MemoryServer<Pod> {
    MemoryServer::new()
}

fn server_with(config: MemoryServerConfig) -> MemoryServer<Pod> {
    MemoryServer::with_config(config)
}

fn rv(text: &str) -> ResourceVersion {
    ResourceVersion::from(text)
}

fn number(rv: &ResourceVersion) -> u64 {
    rv.as_str()
        .parse()
        .expect("the server's versions are numbers")
}

fn names(items: &[Arc<Pod>]) -> Vec<&str> {
    items.iter().map(|pod| pod.name.as_str()).collect()
}

async fn list(server: &MemoryServer<Pod>, at: &str) -> Result<ListPage<Pod>, Box<Status>> {
    server
        .list(ListOptions {
            resource_version: rv(at),
            ..ListOptions::default()
        })
        .await
}

async fn page(
    server: &MemoryServer<Pod>,
    limit: usize,
    token: Option<String>,
) -> Result<ListPage<Pod>, Box<Status>> {
    server
        .list(ListOptions {
            resource_version: rv("0"),
            limit: Some(limit),
            continue_token: token,
        })
        .await
}

async fn watch(server: &MemoryServer<Pod>, from: &str) -> WatchStream<Pod> {
    server
        .watch(rv(from), WatchOptions::default())
        .await
        .expect("the watch opens")
}

/// One stream item as `TYPE name@rv` (or `ERROR reason`, `ERR reason`), for
/// comparing sequences at a glance.
fn describe(item: &WatchItem<Pod>) -> String {
    match item {
        Ok(WatchEvent::Added(pod, rv)) => format!("ADDED {}@{rv}", pod.name),
        Ok(WatchEvent::Modified(pod, rv)) => format!("MODIFIED {}@{rv}", pod.name),
        Ok(WatchEvent::Deleted(pod, rv)) => format!("DELETED {}@{rv}", pod.name),
        Ok(WatchEvent::Bookmark(rv)) => format!("BOOKMARK @{rv}"),
        Ok(WatchEvent::InitialEventsEnd(rv)) => format!("INITIAL-EVENTS-END @{rv}"),
        Ok(WatchEvent::Error(status)) => format!("ERROR {}", status.reason),
        Err(status) => format!("ERR {}", status.reason),
    }
}

/// The next item, or `None` at the end; fails the test after 10 s (Tokio time).
async fn next(stream: &mut WatchStream<Pod>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the watch answers within 10 s")
        .map(|item| describe(&item))
}

/// Every item until the stream ends.
async fn drain(stream: &mut WatchStream<Pod>) -> Vec<String> {
    let mut items = Vec::new();
    while let Some(item) = next(stream).await {
        items.push(item);
    }
    items
}

/// Whether the stream stays silent for `wait` (Tokio time).
async fn silent_for(stream: &mut WatchStream<Pod>, wait: Duration) -> bool {
    tokio::time::timeout(wait, stream.next()).await.is_err()
}
