//! k8s-openapi types are [`Keyed`] without a newtype (feature `k8s-openapi`), and
//! [`Status`](crate::Status) converts from and to kube's (feature `kube`).
//!
//! One blanket impl covers every k8s-openapi resource whose metadata is an
//! `ObjectMeta`, dispatching on its scope: a namespaced type (`ConfigMap`, `Pod`) is
//! keyed by [`ObjectName`] and gets the [namespace index](crate::NAMESPACE_INDEX), read
//! straight from `metadata.namespace`; a cluster-scoped type (`Node`, `Namespace`) is
//! keyed by its name (`String`, so `get("node-1")` borrows). Look-ups by
//! [`ObjectNameRef`](crate::ObjectNameRef) or `&str` allocate nothing.
//!
//! ```
//! use k8s_openapi::api::core::v1::{ConfigMap, Node};
//! use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
//! use store_core::{Cache, Indexer, ObjectNameRef, Store, NAMESPACE_INDEX};
//!
//! let cache = Cache::<ConfigMap>::new();
//! cache.add(ConfigMap {
//!     metadata: ObjectMeta { namespace: Some("web".into()), name: Some("app".into()), ..ObjectMeta::default() },
//!     ..ConfigMap::default()
//! })?;
//! assert!(cache.get(&ObjectNameRef::new(Some("web"), "app")).is_some());
//! assert_eq!(cache.by_index(NAMESPACE_INDEX, "web")?.len(), 1);
//!
//! let nodes = Cache::<Node>::new();
//! nodes.add(Node { metadata: ObjectMeta { name: Some("node-1".into()), ..ObjectMeta::default() }, ..Node::default() })?;
//! assert!(nodes.get("node-1").is_some());
//! # Ok::<(), store_core::Error>(())
//! ```
//!
//! **Coherence.** The blanket impl is over `k8s_openapi::Metadata<Ty = ObjectMeta>`;
//! a user type that does not implement that trait — a CRD from kube's
//! `CustomResource` derive, any struct — still takes `#[derive(Keyed)]`. What it costs:
//! store-core cannot also implement `Keyed` for `Arc<T>` or for kube's
//! `DynamicObject` (rustc cannot rule out upstream impls of `Metadata` for them);
//! wrap those in a newtype. k8s-openapi wants exactly one of its version features
//! (`latest`, `v1_34`, …) chosen by the final binary, as for kube itself.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{ClusterResourceScope, Metadata, NamespaceResourceScope};

use crate::index::IndexDef;
use crate::index::NAMESPACE_INDEX;
use crate::keyed::Keyed;
use crate::keyed::ObjectName;

mod sealed {
    pub trait Sealed {}
    impl Sealed for k8s_openapi::NamespaceResourceScope {}
    impl Sealed for k8s_openapi::ClusterResourceScope {}
}

/// How a k8s-openapi scope keys its objects (sealed: implemented for
/// `NamespaceResourceScope` and `ClusterResourceScope`).
pub trait ScopeKey: sealed::Sealed {
    /// The key type.
    type Key: Clone
        + Eq
        + std::hash::Hash
        + Ord
        + std::fmt::Debug
        + std::fmt::Display
        + Send
        + Sync
        + 'static;

    /// The key of an object with this metadata.
    fn key(metadata: &ObjectMeta) -> Self::Key;

    /// The indexes every store of such objects starts with.
    fn indexes<K: Metadata<Ty = ObjectMeta> + 'static>() -> Vec<IndexDef<K>>;
}

impl ScopeKey for NamespaceResourceScope {
    type Key = ObjectName;

    fn key(metadata: &ObjectMeta) -> ObjectName {
        ObjectName {
            namespace: metadata
                .namespace
                .clone()
                .filter(|namespace| !namespace.is_empty()),
            name: metadata.name.clone().unwrap_or_default(),
        }
    }

    fn indexes<K: Metadata<Ty = ObjectMeta> + 'static>() -> Vec<IndexDef<K>> {
        vec![IndexDef::new(NAMESPACE_INDEX, |object: &K| {
            object
                .metadata()
                .namespace
                .iter()
                .filter(|namespace| !namespace.is_empty())
                .cloned()
                .collect()
        })
        .depends_only_on_key()]
    }
}

impl ScopeKey for ClusterResourceScope {
    type Key = String;

    fn key(metadata: &ObjectMeta) -> String {
        metadata.name.clone().unwrap_or_default()
    }

    fn indexes<K: Metadata<Ty = ObjectMeta> + 'static>() -> Vec<IndexDef<K>> {
        Vec::new()
    }
}

impl<K> Keyed for K
where
    K: Metadata<Ty = ObjectMeta>,
    K::Scope: ScopeKey,
{
    type Key = <K::Scope as ScopeKey>::Key;

    fn key(&self) -> Self::Key {
        <K::Scope as ScopeKey>::key(self.metadata())
    }

    fn indexes() -> Vec<IndexDef<Self>>
    where
        Self: Sized + 'static,
    {
        <K::Scope as ScopeKey>::indexes::<Self>()
    }

    fn resource_version(&self) -> Option<&str> {
        self.metadata().resource_version.as_deref()
    }

    fn set_resource_version(&mut self, resource_version: &str) {
        self.metadata_mut().resource_version = Some(resource_version.to_owned());
    }
}

#[cfg(feature = "kube")]
mod status {
    use crate::status::Status;

    /// kube's `Status` (what `kube::Error::Api` and a watch's `Error` event carry).
    impl From<kube_core::Status> for Status {
        fn from(status: kube_core::Status) -> Self {
            // The two are the same wire object: convert through it.
            serde_json::to_value(&status)
                .ok()
                .and_then(|json| serde_json::from_value(json).ok())
                .unwrap_or_else(|| Status::from_code(i32::from(status.code), status.message))
        }
    }

    impl From<Status> for kube_core::Status {
        fn from(status: Status) -> Self {
            serde_json::to_value(&status)
                .ok()
                .and_then(|json| serde_json::from_value(json).ok())
                .unwrap_or_else(|| {
                    kube_core::Status::failure(&status.message, status.reason.as_str())
                        .with_code(u16::try_from(status.code).unwrap_or(500))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ConfigMap, Node};

    use super::*;

    fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: namespace.map(Into::into),
            name: Some(name.into()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn namespaced_types_have_object_names_and_cluster_types_names() {
        let cm = ConfigMap {
            metadata: meta(Some("web"), "app"),
            ..ConfigMap::default()
        };
        assert_eq!(cm.key(), ObjectName::namespaced("web", "app").unwrap());
        let empty_namespace = ConfigMap {
            metadata: meta(Some(""), "app"),
            ..ConfigMap::default()
        };
        assert_eq!(empty_namespace.key(), ObjectName::cluster("app").unwrap());
        let node = Node {
            metadata: meta(Some("ignored"), "node-1"),
            ..Node::default()
        };
        assert_eq!(node.key(), "node-1");
        assert_eq!(ConfigMap::indexes().len(), 1);
        assert!(Node::indexes().is_empty());
    }

    #[cfg(feature = "kube")]
    #[test]
    fn status_converts_both_ways_keeping_code_reason_and_causes() {
        let ours = crate::status::Status::too_large_resource_version("9", "5", 1);
        let theirs: kube_core::Status = ours.clone().into();
        assert_eq!(theirs.code, 504);
        assert_eq!(theirs.reason, "Timeout");
        assert_eq!(
            theirs.details.as_ref().unwrap().causes[0].reason,
            "ResourceVersionTooLarge"
        );
        let back: crate::status::Status = theirs.into();
        assert_eq!(back, ours);
        let expired: crate::status::Status = kube_core::Status::failure("too old", "Expired")
            .with_code(410)
            .into();
        assert!(expired.is_expired());
    }
}
