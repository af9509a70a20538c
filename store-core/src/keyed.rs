//! Keys: the [`Keyed`] trait, the Kubernetes-style [`ObjectName`] and its
//! borrowed form [`ObjectRef`].
//!
//! Every store, queue and reflector in this crate is generic over `T: Keyed`. The
//! key is computed from the object itself (at compile time through
//! `#[derive(Keyed)]`), so no store needs a key function at run time and a key
//! can never fail to be produced.

use std::any::TypeId;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use equivalent::Equivalent;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::index::IndexDef;

/// A type whose values carry their own identity: the key a store files them under.
///
/// The key is total: `key` cannot fail and must not panic, whatever the object holds
/// (a missing name is an empty name, not an error). Two objects with equal keys are
/// two versions of the same object; a store keeps only the latest.
///
/// Usually derived:
///
/// ```
/// use store_core::{Keyed, ObjectName};
///
/// #[derive(Keyed)]
/// #[keyed(namespace = "metadata.namespace", name = "metadata.name")]
/// struct ConfigMap {
///     metadata: Metadata,
///     data: std::collections::BTreeMap<String, String>,
/// }
///
/// struct Metadata {
///     namespace: Option<String>,
///     name: String,
/// }
///
/// let cm = ConfigMap {
///     metadata: Metadata { namespace: Some("default".into()), name: "app".into() },
///     data: Default::default(),
/// };
/// assert_eq!(cm.key(), ObjectName::namespaced("default", "app"));
/// assert_eq!(cm.key().to_string(), "default/app");
/// ```
///
/// Written by hand it is two lines:
///
/// ```
/// use store_core::Keyed;
///
/// struct Node { id: u64 }
///
/// impl Keyed for Node {
///     type Key = u64;
///     fn key(&self) -> u64 { self.id }
/// }
/// assert_eq!(Node { id: 7 }.key(), 7);
/// ```
pub trait Keyed {
    /// The key type. `Display` gives the key's string form (client-go's string key
    /// for [`ObjectName`]); `Ord` gives a stable order for sorted listings.
    type Key: Clone + Eq + Hash + Ord + fmt::Debug + fmt::Display + Send + Sync + 'static;

    /// The key of this object. Never fails, never panics.
    fn key(&self) -> Self::Key;

    /// The secondary indexes every store of this type starts with.
    ///
    /// The default gives a [`namespace index`](crate::NAMESPACE_INDEX) when `Key` is
    /// [`ObjectName`], and no index otherwise. `#[derive(Keyed)]` overrides it with the
    /// `#[index]` fields of the type (plus the namespace index for `ObjectName` keys,
    /// read straight from the namespace field).
    fn indexes() -> Vec<IndexDef<Self>>
    where
        Self: Sized + 'static,
    {
        if TypeId::of::<Self::Key>() == TypeId::of::<ObjectName>() {
            vec![crate::derive_support::namespace_index_from_key::<Self>()]
        } else {
            Vec::new()
        }
    }
}

/// The Kubernetes-style key: an optional namespace and a name.
///
/// `Display` is client-go's string key — `namespace/name`, or `name` for a
/// cluster-scoped object — and [`FromStr`] parses it back. Ordering puts
/// cluster-scoped names first, then namespaces in order, then names.
///
/// Look-ups need not build one: an [`ObjectRef`] borrows its parts and finds the
/// same entry without allocating.
///
/// ```
/// use store_core::ObjectName;
///
/// let key: ObjectName = "kube-system/coredns".parse()?;
/// assert_eq!(key.namespace.as_deref(), Some("kube-system"));
/// assert_eq!(key.name, "coredns");
/// assert_eq!(key.to_string(), "kube-system/coredns");
///
/// let node: ObjectName = "worker-1".parse()?;
/// assert_eq!(node, ObjectName::cluster("worker-1"));
///
/// assert!("a/b/c".parse::<ObjectName>().is_err());
/// assert!("".parse::<ObjectName>().is_err());
/// # Ok::<(), store_core::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectName {
    /// The namespace, `None` for a cluster-scoped object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name, unique within the namespace.
    pub name: String,
}

impl ObjectName {
    /// A key from an optional namespace and a name.
    pub fn new(namespace: Option<impl Into<String>>, name: impl Into<String>) -> Self {
        ObjectName {
            namespace: namespace.map(Into::into),
            name: name.into(),
        }
    }

    /// The key of a namespaced object.
    pub fn namespaced(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectName {
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    /// The key of a cluster-scoped object (no namespace).
    pub fn cluster(name: impl Into<String>) -> Self {
        ObjectName {
            namespace: None,
            name: name.into(),
        }
    }

    /// The borrowed form of this key, for look-ups that allocate nothing.
    pub fn as_ref(&self) -> ObjectRef<'_> {
        ObjectRef {
            namespace: self.namespace.as_deref(),
            name: &self.name,
        }
    }
}

impl Hash for ObjectName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state);
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_ref(), f)
    }
}

impl fmt::Debug for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectName({self})")
    }
}

impl FromStr for ObjectName {
    type Err = Error;

    /// Parses client-go's string key: `name` or `namespace/name`.
    ///
    /// Rejected, with [`Error::InvalidObjectName`]: the empty string, more than one
    /// `/`, and an empty namespace or name on either side of the `/`.
    fn from_str(input: &str) -> Result<Self, Error> {
        let invalid = |reason: &'static str| Error::InvalidObjectName {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(invalid("the key is empty"));
        }
        let mut parts = input.split('/');
        let first = parts.next().unwrap_or_default();
        match (parts.next(), parts.next()) {
            (None, _) => Ok(ObjectName::cluster(first)),
            (Some(_), Some(_)) => Err(invalid("a key holds at most one `/`")),
            (Some(""), None) => Err(invalid("the name after `/` is empty")),
            (Some(_), None) if first.is_empty() => {
                Err(invalid("the namespace before `/` is empty"))
            }
            (Some(name), None) => Ok(ObjectName::namespaced(first, name)),
        }
    }
}

impl From<ObjectRef<'_>> for ObjectName {
    fn from(key: ObjectRef<'_>) -> Self {
        ObjectName {
            namespace: key.namespace.map(str::to_owned),
            name: key.name.to_owned(),
        }
    }
}

/// A borrowed [`ObjectName`]: finds the same store entry without allocating.
///
/// It hashes exactly like the `ObjectName` it stands for and implements
/// [`Equivalent<ObjectName>`](equivalent::Equivalent), which is what the stores'
/// `get` and `contains_key` accept.
///
/// ```
/// use store_core::{ObjectName, ObjectRef};
///
/// let owned = ObjectName::namespaced("default", "app");
/// let borrowed = ObjectRef::namespaced("default", "app");
/// assert_eq!(owned.as_ref(), borrowed);
/// assert_eq!(borrowed.to_string(), "default/app");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct ObjectRef<'a> {
    /// The namespace, `None` for a cluster-scoped object.
    pub namespace: Option<&'a str>,
    /// The name.
    pub name: &'a str,
}

impl<'a> ObjectRef<'a> {
    /// A borrowed key from an optional namespace and a name.
    pub fn new(namespace: Option<&'a str>, name: &'a str) -> Self {
        ObjectRef { namespace, name }
    }

    /// A borrowed key of a namespaced object.
    pub fn namespaced(namespace: &'a str, name: &'a str) -> Self {
        ObjectRef {
            namespace: Some(namespace),
            name,
        }
    }

    /// A borrowed key of a cluster-scoped object.
    pub fn cluster(name: &'a str) -> Self {
        ObjectRef {
            namespace: None,
            name,
        }
    }

    /// The owned key.
    pub fn to_owned(self) -> ObjectName {
        ObjectName::from(self)
    }
}

impl fmt::Display for ObjectRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => f.write_str(self.name),
        }
    }
}

impl Equivalent<ObjectName> for ObjectRef<'_> {
    fn equivalent(&self, key: &ObjectName) -> bool {
        *self == key.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of(value: &impl Hash) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn display_is_client_go_string_key() {
        assert_eq!(ObjectName::namespaced("ns", "a").to_string(), "ns/a");
        assert_eq!(ObjectName::cluster("node-1").to_string(), "node-1");
    }

    #[test]
    fn parse_round_trips_display() {
        for key in [ObjectName::namespaced("ns", "a"), ObjectName::cluster("n")] {
            assert_eq!(key.to_string().parse::<ObjectName>().ok(), Some(key));
        }
    }

    #[test]
    fn parse_rejects_malformed_keys_with_the_reason() {
        for (input, reason) in [
            ("", "empty"),
            ("a/b/c", "at most one"),
            ("/name", "namespace"),
            ("ns/", "name"),
        ] {
            match input.parse::<ObjectName>() {
                Err(Error::InvalidObjectName {
                    input: got,
                    reason: why,
                }) => {
                    assert_eq!(got, input);
                    assert!(why.contains(reason), "{why:?} should mention {reason:?}");
                }
                other => panic!("{input:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn borrowed_key_hashes_and_compares_like_owned() {
        let owned = ObjectName::namespaced("default", "app");
        let borrowed = ObjectRef::namespaced("default", "app");
        assert_eq!(hash_of(&owned), hash_of(&borrowed));
        assert!(borrowed.equivalent(&owned));
        assert!(!ObjectRef::cluster("app").equivalent(&owned));
        assert_eq!(borrowed.to_owned(), owned);
    }

    #[test]
    fn cluster_scoped_names_sort_first() {
        let mut keys = [
            ObjectName::namespaced("b", "x"),
            ObjectName::cluster("z"),
            ObjectName::namespaced("a", "y"),
        ];
        keys.sort();
        let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["z", "a/y", "b/x"]);
    }

    #[test]
    fn default_indexes_give_namespace_index_for_object_name_keys() {
        struct Pod(ObjectName);
        impl Keyed for Pod {
            type Key = ObjectName;
            fn key(&self) -> ObjectName {
                self.0.clone()
            }
        }
        struct Node(u32);
        impl Keyed for Node {
            type Key = u32;
            fn key(&self) -> u32 {
                self.0
            }
        }
        let indexes = Pod::indexes();
        assert_eq!(indexes.len(), 1);
        assert_eq!(indexes[0].name(), crate::NAMESPACE_INDEX);
        assert_eq!(
            indexes[0].values(&Pod(ObjectName::namespaced("ns", "p"))),
            ["ns"]
        );
        assert!(indexes[0].values(&Pod(ObjectName::cluster("p"))).is_empty());
        assert!(Node::indexes().is_empty());
    }
}
