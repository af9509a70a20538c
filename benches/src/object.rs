//! The benchmarked object: a Kubernetes `ConfigMap` of about 1 KB, and its newtype
//! [`Cm`] for the `store_core` stores.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use store_core::{Keyed, ObjectName};

/// A `ConfigMap` as the `store_core` stores see it: keyed by `ObjectName`
/// (`metadata.namespace` / `metadata.name`), with the namespace index.
///
/// The newtype exists only because `Keyed` and `ConfigMap` are both foreign here; it
/// adds no bytes, so memory figures compare with kube-runtime's store of `ConfigMap`.
///
/// ```
/// use store_bench::{config_map, Cm, ObjectSpec};
/// use store_core::{Keyed, ObjectName};
///
/// let cm = Cm(config_map(3, &ObjectSpec::default()));
/// assert_eq!(cm.key(), ObjectName::namespaced("ns-003", "cm-0000003").unwrap());
/// ```
#[derive(Clone, Debug, Keyed)]
#[keyed(namespace = "0.metadata.namespace", name = "0.metadata.name")]
pub struct Cm(pub ConfigMap);

/// The shape of the generated objects: how many namespaces they spread over and
/// how big their data map is.
///
/// The default (100 namespaces, 8 data entries of 96 bytes) serialises to about
/// 1.1 KB of JSON, the size of a typical small ConfigMap.
///
/// ```
/// use store_bench::ObjectSpec;
///
/// let spec = ObjectSpec::default();
/// assert_eq!(spec.namespace(142), "ns-042");
/// assert_eq!(spec.name(142), "cm-0000142");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectSpec {
    /// Object `i` lives in namespace `ns-{i % namespaces}`.
    pub namespaces: usize,
    /// Entries in the data map.
    pub data_entries: usize,
    /// Bytes of each data value.
    pub value_len: usize,
}

impl Default for ObjectSpec {
    fn default() -> Self {
        ObjectSpec {
            namespaces: 100,
            data_entries: 8,
            value_len: 96,
        }
    }
}

impl ObjectSpec {
    /// The namespace of object `i`.
    pub fn namespace(&self, i: usize) -> String {
        format!("ns-{:03}", i % self.namespaces)
    }

    /// The name of object `i`.
    pub fn name(&self, i: usize) -> String {
        format!("cm-{i:07}")
    }

    /// The key of object `i`.
    pub fn object_name(&self, i: usize) -> ObjectName {
        // generated parts hold no `/`
        ObjectName {
            namespace: Some(self.namespace(i)),
            name: self.name(i),
        }
    }
}

/// Object `i`: a ConfigMap with name, namespace, three labels, a resource version,
/// a uid and a data map, at resource version `1`.
///
/// ```
/// use store_bench::{config_map, ObjectSpec};
///
/// let cm = config_map(1, &ObjectSpec::default());
/// assert_eq!(cm.metadata.name.as_deref(), Some("cm-0000001"));
/// assert_eq!(cm.data.as_ref().map(|data| data.len()), Some(8));
/// ```
pub fn config_map(i: usize, spec: &ObjectSpec) -> ConfigMap {
    config_map_at(i, 1, spec)
}

/// Object `i` at resource version `resource_version` (an update of [`config_map`]).
///
/// ```
/// use store_bench::object::config_map_at;
/// use store_bench::ObjectSpec;
///
/// let cm = config_map_at(1, 42, &ObjectSpec::default());
/// assert_eq!(cm.metadata.resource_version.as_deref(), Some("42"));
/// ```
pub fn config_map_at(i: usize, resource_version: u64, spec: &ObjectSpec) -> ConfigMap {
    let labels = BTreeMap::from([
        ("app".to_owned(), format!("app-{}", i % 1000)),
        ("tier".to_owned(), ["web", "api", "db"][i % 3].to_owned()),
        ("release".to_owned(), format!("r{}", i % 7)),
    ]);
    let data = (0..spec.data_entries)
        .map(|j| {
            let value = format!("{i}-{j}-{resource_version}-");
            let value = value.repeat(spec.value_len / value.len() + 1);
            (format!("key-{j}"), value[..spec.value_len].to_owned())
        })
        .collect();
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(spec.name(i)),
            namespace: Some(spec.namespace(i)),
            labels: Some(labels),
            resource_version: Some(resource_version.to_string()),
            uid: Some(format!("{:08x}-0000-4000-8000-{:012x}", i >> 16, i)),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..ConfigMap::default()
    }
}
