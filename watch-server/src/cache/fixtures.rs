//! Test fixtures shared by the cache's tests and the HTTP layer's: small ConfigMaps
//! and a ready cache with a short window.

use std::sync::Arc;

use reflector::{Change, ReflectorStore};

use super::{WatchCache, WatchCacheConfig};
use crate::configmap::ConfigMap;

/// ConfigMap `ns/name` labelled `tier`.
pub(crate) fn cm(ns: &str, name: &str, tier: &str) -> Arc<ConfigMap> {
    Arc::new(ConfigMap::new(ns, name).with_label("tier", tier))
}

/// A cache holding `items` at `rv`, with a window of 3 events, watch buffers of 2 and 4
/// list snapshots: small enough for tests to reach every limit.
pub(crate) fn ready(items: Vec<Arc<ConfigMap>>, rv: &str) -> WatchCache<ConfigMap> {
    let cache = WatchCache::new(WatchCacheConfig {
        window: 3,
        watch_buffer: 2,
        list_snapshots: 4,
    });
    cache
        .apply(Change::Replaced(items, rv.into()))
        .expect("a list of ConfigMaps at a numeric version"); // ok: test fixture
    cache
}
