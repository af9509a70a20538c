//! Quickstart: a derived Kubernetes-shaped type in both caches, an index query, and
//! a wire-compatible `Status`.
//!
//! Run with `cargo run --example quickstart`.

use std::collections::BTreeMap;
use std::time::Instant;

use store_core::{Cache, Indexer, Keyed, ObjectRef, ShardedCache, Status, Store, NAMESPACE_INDEX};

/// A ConfigMap-shaped object: the key comes from `metadata.namespace`/`metadata.name`,
/// and `tier` is a ready-made secondary index.
#[derive(Keyed, Debug, Clone)]
#[keyed(namespace = "metadata.namespace", name = "metadata.name")]
struct ConfigMap {
    metadata: ObjectMeta,
    #[index]
    tier: Option<String>,
    data: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct ObjectMeta {
    namespace: Option<String>,
    name: String,
}

fn config_map(namespace: &str, name: &str, tier: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
        },
        tier: Some(tier.to_owned()),
        data: BTreeMap::from([("mode".to_owned(), "fast".to_owned())]),
    }
}

fn fill(store: &impl Indexer<ConfigMap>, count: usize) -> Result<(), store_core::Error> {
    for i in 0..count {
        let namespace = format!("team-{}", i % 10);
        let tier = ["web", "db", "cache"][i % 3];
        store.add(config_map(&namespace, &format!("cm-{i}"), tier))?;
    }
    Ok(())
}

fn main() -> Result<(), store_core::Error> {
    let started = Instant::now();
    let cache = Cache::<ConfigMap>::new();
    let sharded = ShardedCache::<ConfigMap>::new();
    fill(&cache, 10_000)?;
    fill(&sharded, 10_000)?;

    // Look-ups by a borrowed key allocate nothing.
    let found = cache.get(&ObjectRef::namespaced("team-3", "cm-13"));
    println!(
        "get team-3/cm-13 -> {:?}",
        found.map(|cm| (cm.key().to_string(), cm.data.len()))
    );

    // Ready-made indexes: the namespace index and the #[index] field.
    println!("indexes: {:?}", sharded.index_names());
    println!(
        "team-3 holds {} config maps; tier=db holds {}",
        sharded.by_index(NAMESPACE_INDEX, "team-3")?.len(),
        sharded.by_index("tier", "db")?.len()
    );

    // A relist: the store ends up holding exactly the list, and says what left.
    let removed = cache.replace(
        (0..5).map(|i| std::sync::Arc::new(config_map("team-0", &format!("cm-{i}"), "web"))),
        "4711",
    )?;
    println!(
        "replace kept {} objects, removed {}, synced at rv {:?}",
        cache.len(),
        removed.len(),
        cache.last_sync_resource_version().map(|rv| rv.to_string())
    );

    // Errors speak the Kubernetes wire format.
    let status = Status::not_found("configmaps", "cm-99");
    println!("{status}");
    println!("{}", serde_json::to_string(&status).unwrap_or_default());
    println!(
        "done: {} objects cached in two backends in {:?}",
        sharded.len() + cache.len(),
        started.elapsed()
    );
    Ok(())
}
