//! Quickstart: a derived Kubernetes-shaped type, an embedded `MemoryServer` with
//! live churn, and an `Informer` keeping a `ShardedCache` in sync, with an index
//! query and handlers printing a live summary. Ends by itself in about 5 seconds.
//!
//! Run with `cargo run --example quickstart` (add `--release` for real speed).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reflector::{Informer, MemoryServer};
use store_core::{Keyed, ObjectNameRef, Status, NAMESPACE_INDEX};
use tokio_util::sync::CancellationToken;

/// A ConfigMap-shaped object: the key comes from `metadata.namespace` and
/// `metadata.name` at compile time, and `tier` is a ready-made secondary index.
#[derive(Keyed, Debug)]
#[keyed(namespace = "metadata.namespace", name = "metadata.name")]
struct ConfigMap {
    metadata: ObjectMeta,
    #[index]
    tier: String,
    data: BTreeMap<String, String>,
}

#[derive(Debug)]
struct ObjectMeta {
    namespace: Option<String>,
    name: String,
}

const TIERS: [&str; 3] = ["web", "db", "cache"];

fn config_map(i: u64, generation: u64) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            namespace: Some(format!("team-{}", i % 10)),
            name: format!("cm-{i}"),
        },
        tier: TIERS[(i % 3) as usize].to_owned(),
        data: BTreeMap::from([("generation".to_owned(), generation.to_string())]),
    }
}

#[derive(Default)]
struct Counts {
    adds: AtomicU64,
    updates: AtomicU64,
    deletes: AtomicU64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.adds.load(Ordering::Relaxed)
            + self.updates.load(Ordering::Relaxed)
            + self.deletes.load(Ordering::Relaxed)
    }
}

#[tokio::main]
async fn main() {
    // 1. The source: an in-process versioned store, pre-filled with 10,000 objects.
    let server = MemoryServer::new();
    for i in 0..10_000 {
        if let Err(status) = server.create(config_map(i, 0)) {
            eprintln!("create failed: {status}");
        }
    }

    // 2. The informer: reflector -> OrderedFifo -> ShardedCache -> handlers, every
    //    change in the order the source made it.
    let mut informer = Informer::builder(server.clone());
    let counts = Arc::new(Counts::default());
    let (a, u, d) = (
        Arc::clone(&counts),
        Arc::clone(&counts),
        Arc::clone(&counts),
    );
    let handler = reflector::HandlerFns::new()
        .on_add(move |_: &Arc<ConfigMap>, _| {
            a.adds.fetch_add(1, Ordering::Relaxed);
        })
        .on_update(move |_, _| {
            u.updates.fetch_add(1, Ordering::Relaxed);
        })
        .on_delete(move |_| {
            d.deletes.fetch_add(1, Ordering::Relaxed);
        });
    let registration = informer.add_handler(handler);
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let (informer, running) = informer.start(shutdown.clone());
    // Both end with an error instead of hanging if the informer stops first.
    if let Err(error) = registration.caught_up().await {
        eprintln!("the informer {error}");
        return;
    }
    println!(
        "synced {} objects in {:?} (at resource version {:?})",
        informer.store().len(),
        started.elapsed(),
        informer
            .last_sync_resource_version()
            .map(|rv| rv.to_string())
    );

    // 3. Live churn for five seconds: updates, creates and deletes.
    let churn = {
        let server = server.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut generation = 0u64;
            let mut writes = 0u64;
            while Instant::now() < deadline {
                generation += 1;
                for i in 0..500u64 {
                    let n = (generation * 7_919 + i * 13) % 12_000;
                    let written = match n % 10 {
                        0 => store_core::ObjectName::namespaced(
                            format!("team-{}", n % 10),
                            format!("cm-{n}"),
                        )
                        .is_ok_and(|key| server.delete(&key).is_ok()),
                        _ => {
                            server.apply(config_map(n, generation));
                            true
                        }
                    };
                    writes += u64::from(written);
                }
                // about 50,000 writes a second: a busy cluster, well within what the
                // informer drains (a source that outruns its watcher drops it, and the
                // reflector then relists, as kube-apiserver and this server do)
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            writes
        })
    };

    // 4. A live summary, read straight from the cache and its indexes.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let store = informer.store();
        let by_tier: Vec<String> = TIERS
            .iter()
            .map(|tier| {
                format!(
                    "{tier}={}",
                    store.by_index("tier", tier).map(|v| v.len()).unwrap_or(0)
                )
            })
            .collect();
        println!(
            "cache: {} objects, team-3: {}, {} | handler: {} adds, {} updates, {} deletes, {} pending",
            store.len(),
            store.by_index(NAMESPACE_INDEX, "team-3").map(|v| v.len()).unwrap_or(0),
            by_tier.join(" "),
            counts.adds.load(Ordering::Relaxed),
            counts.updates.load(Ordering::Relaxed),
            counts.deletes.load(Ordering::Relaxed),
            registration.pending(),
        );
    }
    let writes = churn.await.unwrap_or_default();

    // 5. Let the informer catch up, then compare with the source of truth.
    let caught_up = Instant::now();
    while informer.store().len() != server.len() || registration.pending() > 0 {
        if caught_up.elapsed() > Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lookup = informer
        .store()
        .get(&ObjectNameRef::namespaced("team-3", "cm-13"))
        .map(|cm| format!("{} generation {}", cm.key(), cm.data["generation"]));
    println!("get team-3/cm-13 (borrowed key, no allocation) -> {lookup:?}");
    println!(
        "a wire-compatible error: {}",
        Status::not_found("configmaps", "cm-99999")
    );
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "done: server {} objects, cache {} objects, {} writes, {} handler events, {:.0} events/s",
        server.len(),
        informer.store().len(),
        writes,
        counts.total(),
        counts.total() as f64 / elapsed
    );
    shutdown.cancel();
    if let Err(error) = running.await {
        eprintln!("informer task failed: {error}");
    }
}
