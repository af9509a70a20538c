//! [`ConfigMap`]: a Kubernetes `v1` ConfigMap, the type the `watch-server` binary
//! serves, in Kubernetes JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use store_core::Keyed;

use crate::resource::ServedResource;

/// A `v1` ConfigMap (`/api/v1/namespaces/{ns}/configmaps`), keyed by namespace and
/// name. Fields the server does not use are kept as they came (`extra`), so a
/// ConfigMap read from etcd is served back whole.
///
/// ```
/// use watch_server::ConfigMap;
///
/// let cm = ConfigMap::new("default", "app").with_label("tier", "web").with_data("mode", "fast");
/// let json = watch_server::resource::encode(&cm, 12)?;
/// let back: ConfigMap = serde_json::from_slice(&json)?;
/// assert_eq!(back.metadata.resource_version.as_deref(), Some("12"));
/// assert_eq!(back.data["mode"], "fast");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Keyed)]
#[keyed(
    namespace = "metadata.namespace",
    name = "metadata.name",
    resource_version = "metadata.resource_version"
)]
pub struct ConfigMap {
    /// Name, namespace, labels, …
    pub metadata: ObjectMeta,
    /// The configuration data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Every other field (`binaryData`, `immutable`, …), as it came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The part of Kubernetes' `ObjectMeta` the server reads; other fields are kept in
/// `extra`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The name, unique in its namespace.
    #[serde(default)]
    pub name: String,
    /// The namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The resource version the source wrote the object at (`Keyed::resource_version`;
    /// sources stamp it through `Keyed::set_resource_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// When the object was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Every other metadata field, as it came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ConfigMap {
    /// An empty ConfigMap `namespace/name`.
    pub fn new(namespace: &str, name: &str) -> Self {
        ConfigMap {
            metadata: ObjectMeta {
                name: name.to_owned(),
                namespace: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            data: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    /// With the label `key=value`.
    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.metadata
            .labels
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// With the data entry `key: value`.
    pub fn with_data(mut self, key: &str, value: &str) -> Self {
        self.data.insert(key.to_owned(), value.to_owned());
        self
    }
}

impl ServedResource for ConfigMap {
    const GROUP: &'static str = "";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "ConfigMap";
    const PLURAL: &'static str = "configmaps";
    const SINGULAR: &'static str = "configmap";
    const SHORT_NAMES: &'static [&'static str] = &["cm"];
    const NAMESPACED: bool = true;

    fn name(&self) -> &str {
        &self.metadata.name
    }

    fn namespace(&self) -> Option<&str> {
        self.metadata.namespace.as_deref()
    }

    fn labels(&self) -> Option<&BTreeMap<String, String>> {
        Some(&self.metadata.labels)
    }
}
