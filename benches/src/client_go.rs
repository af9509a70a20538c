//! The client-go-style baseline: one lock around one map keyed by the string key.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use parking_lot::RwLock;

/// client-go's `threadSafeMap` transposed to Rust, without indexes: a
/// `RwLock<HashMap<String, Arc<ConfigMap>>>` keyed by `"namespace/name"`, the key
/// built with `format!` on every call (client-go's `MetaNamespaceKeyFunc`).
///
/// ```
/// use store_bench::{config_map, ClientGoStore, ObjectSpec};
///
/// let store = ClientGoStore::default();
/// store.update(config_map(1, &ObjectSpec::default()));
/// assert!(store.get("ns-001", "cm-0000001").is_some());
/// assert_eq!(store.by_namespace("ns-001").len(), 1);
/// store.delete("ns-001", "cm-0000001");
/// assert_eq!(store.len(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ClientGoStore {
    items: Arc<RwLock<HashMap<String, Arc<ConfigMap>>>>,
}

/// client-go's `MetaNamespaceKeyFunc`: `namespace/name`, or `name` without one.
fn key_of(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_owned(),
    }
}

fn object_key(obj: &ConfigMap) -> String {
    key_of(
        obj.metadata.namespace.as_deref(),
        obj.metadata.name.as_deref().unwrap_or_default(),
    )
}

impl ClientGoStore {
    /// The object under `namespace/name`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        let key = key_of(Some(namespace), name);
        self.items.read().get(&key).cloned()
    }

    /// Inserts or replaces the object; returns the one it replaced.
    pub fn update(&self, obj: ConfigMap) -> Option<Arc<ConfigMap>> {
        let key = object_key(&obj);
        let obj = Arc::new(obj);
        self.items.write().insert(key, obj)
    }

    /// Removes the object under `namespace/name`; returns it.
    pub fn delete(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        let key = key_of(Some(namespace), name);
        self.items.write().remove(&key)
    }

    /// Every object.
    pub fn list(&self) -> Vec<Arc<ConfigMap>> {
        self.items.read().values().cloned().collect()
    }

    /// The objects of one namespace, by a scan (this baseline has no index).
    pub fn by_namespace(&self, namespace: &str) -> Vec<Arc<ConfigMap>> {
        self.items
            .read()
            .values()
            .filter(|obj| obj.metadata.namespace.as_deref() == Some(namespace))
            .cloned()
            .collect()
    }

    /// client-go's `Replace`: builds the new map aside, then swaps it in.
    pub fn replace(&self, items: impl IntoIterator<Item = ConfigMap>) {
        let fresh: HashMap<String, Arc<ConfigMap>> = items
            .into_iter()
            .map(|obj| (object_key(&obj), Arc::new(obj)))
            .collect();
        let old = std::mem::replace(&mut *self.items.write(), fresh);
        drop(old);
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.items.read().len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
