//! Keys: the [`Keyed`] trait, the Kubernetes-style [`ObjectName`] and its
//! borrowed form [`ObjectNameRef`].
//!
//! Every store, queue and reflector in this crate is generic over `T: Keyed`. The
//! key is computed from the object itself (at compile time through
//! `#[derive(Keyed)]`), so no store needs a key function at run time and a key
//! can never fail to be produced.

use std::any::{Any, TypeId};
use std::cmp::Ordering;
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
/// assert_eq!(cm.key(), ObjectName::namespaced("default", "app").unwrap());
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

    /// The object's resource version, if its type carries one (Kubernetes'
    /// `metadata.resourceVersion`). An informer compares the cached and the relisted
    /// versions of an object with it: equal means unchanged, delivered as an update only
    /// to handlers whose resync is due (client-go). The default, `None`, makes every
    /// relisted object count as changed unless it is the very `Arc` already cached;
    /// k8s-openapi resources (feature `k8s-openapi`) give theirs, and
    /// `#[keyed(resource_version = "field.path")]` makes the derive give a field.
    ///
    /// ```
    /// use store_core::Keyed;
    ///
    /// struct Lease { name: String, rv: String }
    /// impl Keyed for Lease {
    ///     type Key = String;
    ///     fn key(&self) -> String { self.name.clone() }
    ///     fn resource_version(&self) -> Option<&str> { Some(&self.rv) }
    /// }
    /// assert_eq!(Lease { name: "a".into(), rv: "7".into() }.resource_version(), Some("7"));
    /// ```
    fn resource_version(&self) -> Option<&str> {
        None
    }

    /// Records `resource_version` as the object's own version: what a source does when
    /// it hands out an object it wrote (kube-apiserver's storage sets
    /// `metadata.resourceVersion` to the etcd revision an object was written at; the
    /// embedded `MemoryServer` and `EtcdSource` do the same through this method), so
    /// that every reader — a watch cache serving the object on, an informer comparing
    /// versions — sees the version the object was written at, not the version of the
    /// list it came in.
    ///
    /// A source may call it under its own lock: an implementation should be a plain
    /// field write. The default does nothing (a type that carries no version).
    /// `#[derive(Keyed)]` with `#[keyed(resource_version = "...")]` writes the field,
    /// and k8s-openapi types write `metadata.resourceVersion`.
    ///
    /// ```
    /// use store_core::Keyed;
    ///
    /// #[derive(Keyed)]
    /// #[keyed(name = "name", resource_version = "rv")]
    /// struct Lease { name: String, rv: Option<String> }
    ///
    /// let mut lease = Lease { name: "a".into(), rv: None };
    /// lease.set_resource_version("12");
    /// assert_eq!(lease.resource_version(), Some("12"));
    /// ```
    fn set_resource_version(&mut self, resource_version: &str) {
        let _ = resource_version;
    }

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
/// **Two distinct keys never print the same string.** An empty namespace *is*
/// cluster-scoped: `Some("")` and `None` compare, hash, order and print the same, and
/// the constructors store `None`. A `/` in a namespace or a name is rejected wherever a
/// key is built from strings (the constructors, [`FromStr`]), as Kubernetes forbids it;
/// so is an empty name. A key built field by field or derived from an object's fields
/// (which cannot fail) can still hold one: [`validate`](ObjectName::validate) tells,
/// and every source that files objects under string keys (etcd) checks it.
///
/// Look-ups need not build one: an [`ObjectNameRef`] borrows its parts and finds the
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
/// assert_eq!(node, ObjectName::cluster("worker-1")?);
/// // an empty namespace is cluster-scoped
/// assert_eq!(ObjectName::namespaced("", "worker-1")?, node);
/// assert_eq!(ObjectName::namespaced("", "worker-1")?.to_string(), "worker-1");
///
/// assert!("a/b/c".parse::<ObjectName>().is_err());
/// assert!("".parse::<ObjectName>().is_err());
/// assert!(ObjectName::cluster("a/b").is_err());
/// assert!(ObjectName::namespaced("a/b", "c").is_err());
/// # Ok::<(), store_core::Error>(())
/// ```
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct ObjectName {
    /// The namespace, `None` for a cluster-scoped object (`Some("")` means the same).
    #[serde(default, skip_serializing_if = "is_cluster_scoped")]
    pub namespace: Option<String>,
    /// The name, unique within the namespace.
    pub name: String,
}

fn is_cluster_scoped(namespace: &Option<String>) -> bool {
    namespace.as_deref().is_none_or(str::is_empty)
}

/// Why a namespace or name cannot be part of a key, if it cannot.
fn check_part(part: &str, what: Part) -> Result<(), Error> {
    let reason = match what {
        Part::Name if part.is_empty() => "the name is empty",
        Part::Name if part.contains('/') => "a name cannot contain `/`",
        Part::Namespace if part.contains('/') => "a namespace cannot contain `/`",
        _ => return Ok(()),
    };
    Err(Error::InvalidObjectName {
        input: part.to_owned(),
        reason,
    })
}

#[derive(Clone, Copy)]
enum Part {
    Namespace,
    Name,
}

impl ObjectName {
    /// A key from an optional namespace and a name (an empty namespace is
    /// cluster-scoped).
    ///
    /// Fails with [`Error::InvalidObjectName`] when either part holds a `/` or the
    /// name is empty.
    pub fn new(
        namespace: Option<impl Into<String>>,
        name: impl Into<String>,
    ) -> Result<Self, Error> {
        let key = ObjectName {
            namespace: namespace.map(Into::into).filter(|ns| !ns.is_empty()),
            name: name.into(),
        };
        key.validate()?;
        Ok(key)
    }

    /// The key of a namespaced object (an empty namespace is cluster-scoped); fails as
    /// [`new`](ObjectName::new) does.
    pub fn namespaced(
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<Self, Error> {
        ObjectName::new(Some(namespace), name)
    }

    /// The key of a cluster-scoped object (no namespace); fails as
    /// [`new`](ObjectName::new) does.
    pub fn cluster(name: impl Into<String>) -> Result<Self, Error> {
        ObjectName::new(None::<String>, name)
    }

    /// Checks that this key's string form names it and nothing else: no `/` in the
    /// namespace or the name, and a non-empty name. Keys from the constructors and
    /// from [`FromStr`] always pass; one built field by field or derived from an
    /// object may not.
    ///
    /// ```
    /// use store_core::ObjectName;
    ///
    /// let odd = ObjectName { namespace: None, name: "a/b".into() };
    /// assert!(odd.validate().is_err()); // it would print as the key of `a/b`
    /// assert!(ObjectName::namespaced("a", "b")?.validate().is_ok());
    /// # Ok::<(), store_core::Error>(())
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(namespace) = &self.namespace {
            check_part(namespace, Part::Namespace)?;
        }
        check_part(&self.name, Part::Name)
    }

    /// The borrowed form of this key, for look-ups that allocate nothing.
    pub fn as_ref(&self) -> ObjectNameRef<'_> {
        ObjectNameRef::new(self.namespace.as_deref(), &self.name)
    }
}

/// Checks a key that is about to be written as a string and read back (an etcd key,
/// a URL path): an [`ObjectName`] must [`validate`](ObjectName::validate); keys of
/// other types are taken as they are.
///
/// ```
/// use store_core::{validate_string_key, ObjectName};
///
/// assert!(validate_string_key(&ObjectName { namespace: None, name: "a/b".into() }).is_err());
/// assert!(validate_string_key(&ObjectName::namespaced("a", "b")?).is_ok());
/// assert!(validate_string_key(&42u64).is_ok());
/// # Ok::<(), store_core::Error>(())
/// ```
pub fn validate_string_key<K: 'static>(key: &K) -> Result<(), Error> {
    match (key as &dyn Any).downcast_ref::<ObjectName>() {
        Some(name) => name.validate(),
        None => Ok(()),
    }
}

impl PartialEq for ObjectName {
    fn eq(&self, other: &Self) -> bool {
        self.as_ref() == other.as_ref()
    }
}

impl Eq for ObjectName {}

impl PartialOrd for ObjectName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ObjectName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_ref().cmp(&other.as_ref())
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
            (None, _) => Ok(ObjectName {
                namespace: None,
                name: first.to_owned(),
            }),
            (Some(_), Some(_)) => Err(invalid("a key holds at most one `/`")),
            (Some(""), None) => Err(invalid("the name after `/` is empty")),
            (Some(_), None) if first.is_empty() => {
                Err(invalid("the namespace before `/` is empty"))
            }
            (Some(name), None) => Ok(ObjectName {
                namespace: Some(first.to_owned()),
                name: name.to_owned(),
            }),
        }
    }
}

impl From<ObjectNameRef<'_>> for ObjectName {
    fn from(key: ObjectNameRef<'_>) -> Self {
        ObjectName {
            namespace: key.namespace().map(str::to_owned),
            name: key.name.to_owned(),
        }
    }
}

/// A borrowed [`ObjectName`]: finds the same store entry without allocating.
///
/// It hashes exactly like the `ObjectName` it stands for and implements
/// [`Equivalent<ObjectName>`](equivalent::Equivalent), which is what the stores'
/// `get` and `contains_key` accept. As for `ObjectName`, an empty namespace is
/// cluster-scoped. A look-up with a key no object can have (a `/` in a part) simply
/// finds nothing, so the constructors do not check.
///
/// ```
/// use store_core::{ObjectName, ObjectNameRef};
///
/// let owned = ObjectName::namespaced("default", "app")?;
/// let borrowed = ObjectNameRef::namespaced("default", "app");
/// assert_eq!(owned.as_ref(), borrowed);
/// assert_eq!(borrowed.to_string(), "default/app");
/// assert_eq!(ObjectNameRef::namespaced("", "node-1"), ObjectNameRef::cluster("node-1"));
/// # Ok::<(), store_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ObjectNameRef<'a> {
    /// The namespace, `None` for a cluster-scoped object (`Some("")` means the same).
    pub namespace: Option<&'a str>,
    /// The name.
    pub name: &'a str,
}

impl<'a> ObjectNameRef<'a> {
    /// A borrowed key from an optional namespace and a name (an empty namespace is
    /// cluster-scoped).
    pub fn new(namespace: Option<&'a str>, name: &'a str) -> Self {
        ObjectNameRef {
            namespace: namespace.filter(|ns| !ns.is_empty()),
            name,
        }
    }

    /// A borrowed key of a namespaced object (an empty namespace is cluster-scoped).
    pub fn namespaced(namespace: &'a str, name: &'a str) -> Self {
        ObjectNameRef::new(Some(namespace), name)
    }

    /// A borrowed key of a cluster-scoped object.
    pub fn cluster(name: &'a str) -> Self {
        ObjectNameRef {
            namespace: None,
            name,
        }
    }

    /// The namespace, `None` when cluster-scoped (an empty one included).
    pub fn namespace(&self) -> Option<&'a str> {
        self.namespace.filter(|ns| !ns.is_empty())
    }

    /// The owned key.
    pub fn to_owned(self) -> ObjectName {
        ObjectName::from(self)
    }

    fn parts(&self) -> (Option<&'a str>, &'a str) {
        (self.namespace(), self.name)
    }
}

impl PartialEq for ObjectNameRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for ObjectNameRef<'_> {}

impl PartialOrd for ObjectNameRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ObjectNameRef<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl Hash for ObjectNameRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl fmt::Display for ObjectNameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.namespace() {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => f.write_str(self.name),
        }
    }
}

impl Equivalent<ObjectName> for ObjectNameRef<'_> {
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

    fn key(namespace: &str, name: &str) -> ObjectName {
        ObjectName::namespaced(namespace, name).unwrap()
    }

    fn cluster(name: &str) -> ObjectName {
        ObjectName::cluster(name).unwrap()
    }

    #[test]
    fn display_is_client_go_string_key() {
        assert_eq!(key("ns", "a").to_string(), "ns/a");
        assert_eq!(cluster("node-1").to_string(), "node-1");
    }

    #[test]
    fn parse_round_trips_display() {
        for key in [key("ns", "a"), cluster("n")] {
            assert_eq!(key.to_string().parse::<ObjectName>().ok(), Some(key));
        }
    }

    #[test]
    fn empty_namespace_is_cluster_scoped_everywhere() {
        let built = key("", "x");
        assert_eq!(built.namespace, None);
        assert_eq!(built.to_string(), "x");
        // one built field by field with `Some("")` is the same key too
        let literal = ObjectName {
            namespace: Some(String::new()),
            name: "x".into(),
        };
        assert_eq!(literal, cluster("x"));
        assert_eq!(hash_of(&literal), hash_of(&cluster("x")));
        assert_eq!(literal.cmp(&cluster("x")), Ordering::Equal);
        assert_eq!(literal.to_string(), "x");
        assert!(ObjectNameRef::new(Some(""), "x").equivalent(&cluster("x")));
        assert_eq!(
            hash_of(&ObjectNameRef::new(Some(""), "x")),
            hash_of(&cluster("x"))
        );
        assert_eq!(serde_json::to_string(&literal).unwrap(), r#"{"name":"x"}"#);
    }

    #[test]
    fn constructors_reject_a_slash_and_an_empty_name() {
        for (built, part, reason) in [
            (ObjectName::cluster("a/b"), "a/b", "name"),
            (ObjectName::namespaced("a", "b/c"), "b/c", "name"),
            (ObjectName::namespaced("a/b", "c"), "a/b", "namespace"),
            (ObjectName::cluster(""), "", "empty"),
            (ObjectName::new(Some("ns"), ""), "", "empty"),
        ] {
            match built {
                Err(Error::InvalidObjectName { input, reason: why }) => {
                    assert_eq!(input, part);
                    assert!(why.contains(reason), "{why:?} should mention {reason:?}");
                }
                other => panic!("{part:?} built {other:?}"),
            }
        }
    }

    #[test]
    fn distinct_valid_keys_never_print_the_same() {
        // the ambiguity client-go's string keys are known for cannot be built
        assert!(ObjectName::cluster("a/b").is_err());
        assert_ne!(key("a", "b"), cluster("ab"));
        let odd = ObjectName {
            namespace: None,
            name: "a/b".into(),
        };
        assert_eq!(odd.to_string(), key("a", "b").to_string());
        assert!(odd.validate().is_err(), "the odd key must be told apart");
        assert!(validate_string_key(&odd).is_err());
        assert!(validate_string_key(&key("a", "b")).is_ok());
        assert!(validate_string_key(&"a/b/c".to_owned()).is_ok());
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
        let owned = key("default", "app");
        let borrowed = ObjectNameRef::namespaced("default", "app");
        assert_eq!(hash_of(&owned), hash_of(&borrowed));
        assert!(borrowed.equivalent(&owned));
        assert!(!ObjectNameRef::cluster("app").equivalent(&owned));
        assert_eq!(borrowed.to_owned(), owned);
    }

    #[test]
    fn cluster_scoped_names_sort_first() {
        let mut keys = [key("b", "x"), cluster("z"), key("a", "y")];
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
        assert_eq!(indexes[0].values(&Pod(key("ns", "p"))), ["ns"]);
        assert!(indexes[0].values(&Pod(cluster("p"))).is_empty());
        assert!(Node::indexes().is_empty());
    }
}
