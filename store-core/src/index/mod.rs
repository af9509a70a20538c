//! Secondary indexes: client-go's `Indexers`, typed by the object they read.
//!
//! An index is a named function from an object to the values it is filed under.
//! One object may sit under several values (a label index files a pod under each
//! of its labels) or under none. Values are strings, as in client-go, so that every
//! index of a type can be queried the same way.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;

use crate::error::Error;
use crate::keyed::Keyed;
use crate::panic::panic_message;
use crate::store::Store;

mod postings;

pub(crate) use postings::{refile, reindex, Address, Filed, FiledSet, ShardedPostings};

/// The name of the index every `ObjectName`-keyed type gets without asking:
/// objects by namespace (cluster-scoped objects are in no namespace value).
pub const NAMESPACE_INDEX: &str = "namespace";

type IndexFn<T> = dyn Fn(&T) -> Vec<String> + Send + Sync;

/// A named index function: which values an object is filed under.
///
/// Cheap to clone (the function is shared). The function must be pure — the same
/// object must always give the same values — because a store runs it again only
/// when the object changes. A function that panics makes the write that ran it fail
/// with [`Error::IndexFunctionPanicked`]; the store is
/// left as it was.
///
/// ```
/// use store_core::IndexDef;
///
/// struct Pod { node: Option<String>, labels: Vec<String> }
///
/// let by_node = IndexDef::new("node", |pod: &Pod| pod.node.iter().cloned().collect());
/// let pod = Pod { node: Some("worker-1".into()), labels: vec![] };
/// assert_eq!(by_node.name(), "node");
/// assert_eq!(by_node.values(&pod), ["worker-1"]);
///
/// // Anything that implements `IndexValues` can be turned into an index directly.
/// let by_label = IndexDef::from_values("label", |pod: &Pod| pod.labels.clone());
/// assert!(by_label.values(&pod).is_empty());
/// ```
pub struct IndexDef<T> {
    name: Cow<'static, str>,
    func: Arc<IndexFn<T>>,
    key_derived: bool,
}

impl<T> IndexDef<T> {
    /// An index called `name` whose values for an object are `func(object)`.
    /// Duplicate values returned by `func` count once.
    pub fn new<F>(name: impl Into<Cow<'static, str>>, func: F) -> Self
    where
        F: Fn(&T) -> Vec<String> + Send + Sync + 'static,
    {
        IndexDef {
            name: name.into(),
            func: Arc::new(func),
            key_derived: false,
        }
    }

    /// Declares that the function reads only the object's key fields (as the
    /// namespace index does), so an object's values cannot change while its key
    /// stays: on an update, stores file the new object under the values it gives
    /// and never run the function on the replaced object (a read of an old, often
    /// cold, object otherwise). A function that reads anything else must not be
    /// marked, or its index goes stale on updates.
    pub fn depends_only_on_key(mut self) -> Self {
        self.key_derived = true;
        self
    }

    /// Whether [`depends_only_on_key`](IndexDef::depends_only_on_key) was declared.
    pub fn is_key_derived(&self) -> bool {
        self.key_derived
    }

    /// An index whose values are those of whatever `project` returns, through
    /// [`IndexValues`] (a string, an option, a list, a set, a label map, …).
    pub fn from_values<F, V>(name: impl Into<Cow<'static, str>>, project: F) -> Self
    where
        F: Fn(&T) -> V + Send + Sync + 'static,
        V: IndexValues,
    {
        IndexDef::new(name, move |obj: &T| project(obj).index_values())
    }

    /// The index name queries use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The values `obj` is filed under, duplicates removed, in first-seen order.
    pub fn values(&self, obj: &T) -> Vec<String> {
        let mut values = (self.func)(obj);
        if values.len() > 1 {
            let mut seen = HashSet::with_capacity(values.len());
            values.retain(|value| seen.insert(value.clone()));
        }
        values
    }
}

impl<T> Clone for IndexDef<T> {
    fn clone(&self) -> Self {
        IndexDef {
            name: self.name.clone(),
            func: Arc::clone(&self.func),
            key_derived: self.key_derived,
        }
    }
}

impl<T> fmt::Debug for IndexDef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexDef")
            .field("name", &self.name)
            .finish()
    }
}

/// Values a field contributes to an index; what `#[index]` on a field uses.
///
/// Strings and numbers give one value (their `Display`), `Option` gives zero or one,
/// lists and sets give one per element, and maps give one `key=value` per entry (so
/// a label map indexes as `app=web`, `tier=front`).
///
/// ```
/// use std::collections::BTreeMap;
/// use store_core::IndexValues;
///
/// assert_eq!("web".index_values(), ["web"]);
/// assert_eq!(Some(3u16).index_values(), ["3"]);
/// assert!(None::<String>.index_values().is_empty());
/// let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
/// assert_eq!(labels.index_values(), ["app=web"]);
/// ```
pub trait IndexValues {
    /// Appends this value's index values to `out`.
    fn push_index_values(&self, out: &mut Vec<String>);

    /// This value's index values.
    fn index_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.push_index_values(&mut out);
        out
    }
}

macro_rules! index_values_by_display {
    ($($ty:ty),* $(,)?) => {$(
        impl IndexValues for $ty {
            fn push_index_values(&self, out: &mut Vec<String>) {
                out.push(self.to_string());
            }
        }
    )*};
}

index_values_by_display!(
    str,
    String,
    Cow<'_, str>,
    char,
    bool,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    crate::keyed::ObjectName,
);

macro_rules! index_values_through {
    ($($wrapper:ident),*) => {$(
        impl<V: IndexValues + ?Sized> IndexValues for $wrapper<V> {
            fn push_index_values(&self, out: &mut Vec<String>) {
                (**self).push_index_values(out);
            }
        }
    )*};
}

index_values_through!(Box, Arc, Rc);

impl<V: IndexValues + ?Sized> IndexValues for &V {
    fn push_index_values(&self, out: &mut Vec<String>) {
        (**self).push_index_values(out);
    }
}

impl<V: IndexValues> IndexValues for Option<V> {
    fn push_index_values(&self, out: &mut Vec<String>) {
        if let Some(value) = self {
            value.push_index_values(out);
        }
    }
}

impl<V: IndexValues> IndexValues for [V] {
    fn push_index_values(&self, out: &mut Vec<String>) {
        self.iter().for_each(|value| value.push_index_values(out));
    }
}

impl<V: IndexValues, const N: usize> IndexValues for [V; N] {
    fn push_index_values(&self, out: &mut Vec<String>) {
        self.as_slice().push_index_values(out);
    }
}

impl<V: IndexValues> IndexValues for Vec<V> {
    fn push_index_values(&self, out: &mut Vec<String>) {
        self.as_slice().push_index_values(out);
    }
}

impl<V: IndexValues> IndexValues for BTreeSet<V> {
    fn push_index_values(&self, out: &mut Vec<String>) {
        self.iter().for_each(|value| value.push_index_values(out));
    }
}

impl<V: IndexValues, S> IndexValues for HashSet<V, S> {
    fn push_index_values(&self, out: &mut Vec<String>) {
        self.iter().for_each(|value| value.push_index_values(out));
    }
}

impl<K: fmt::Display, V: fmt::Display> IndexValues for BTreeMap<K, V> {
    fn push_index_values(&self, out: &mut Vec<String>) {
        out.extend(self.iter().map(|(key, value)| format!("{key}={value}")));
    }
}

impl<K: fmt::Display, V: fmt::Display, S> IndexValues for HashMap<K, V, S> {
    fn push_index_values(&self, out: &mut Vec<String>) {
        out.extend(self.iter().map(|(key, value)| format!("{key}={value}")));
    }
}

/// A [`Store`] with secondary indexes: client-go's `Indexer`, typed.
///
/// Queries name an index (an unknown name is [`Error::UnknownIndex`]) and a value
/// (an unknown value is an empty result). A value whose last object leaves it
/// disappears from the index. Once a write returns, every index agrees with the
/// store. Indexes added to a non-empty store are back-filled before `add_index`
/// returns.
///
/// ```
/// use store_core::{Cache, Indexer, Keyed, Store, NAMESPACE_INDEX};
///
/// #[derive(Keyed)]
/// #[keyed(namespace = "namespace", name = "name")]
/// struct Pod {
///     namespace: String,
///     name: String,
///     #[index]
///     node: Option<String>,
/// }
///
/// let pods = Cache::<Pod>::new();
/// pods.add(Pod { namespace: "web".into(), name: "a".into(), node: Some("n1".into()) })?;
/// pods.add(Pod { namespace: "web".into(), name: "b".into(), node: Some("n2".into()) })?;
/// pods.add(Pod { namespace: "db".into(), name: "c".into(), node: Some("n1".into()) })?;
///
/// assert_eq!(pods.by_index("node", "n1")?.len(), 2);
/// let keys: Vec<String> = pods.index_keys(NAMESPACE_INDEX, "web")?.iter().map(|k| k.to_string()).collect();
/// assert_eq!(keys, ["web/a", "web/b"]);
/// assert_eq!(pods.list_index_values("node")?, ["n1", "n2"]);
/// assert!(pods.by_index("node", "n9")?.is_empty());
/// assert!(pods.by_index("zone", "x").is_err());
/// # Ok::<(), store_core::Error>(())
/// ```
pub trait Indexer<T: Keyed>: Store<T> {
    /// Registers an index and back-fills it from the current content.
    ///
    /// Fails with [`Error::DuplicateIndex`] when the name is taken, and with
    /// [`Error::IndexFunctionPanicked`] when the function panics on a stored object
    /// (the index is then not added).
    fn add_index(&self, def: IndexDef<T>) -> Result<(), Error>;

    /// The names of the registered indexes, sorted.
    fn index_names(&self) -> Vec<String>;

    /// The objects filed under `value` in `index`, in no particular order.
    fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<T>>, Error>;

    /// The keys filed under `value` in `index`, sorted.
    fn index_keys(&self, index: &str, value: &str) -> Result<Vec<T::Key>, Error> {
        let mut keys: Vec<T::Key> = self
            .by_index(index, value)?
            .iter()
            .map(|obj| obj.key())
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }

    /// The distinct values present in `index`, sorted.
    fn list_index_values(&self, index: &str) -> Result<Vec<String>, Error>;

    /// The objects sharing at least one `index` value with `probe` (client-go's
    /// `Index`): `probe` need not be stored. Each object appears once.
    fn matching(&self, index: &str, probe: &T) -> Result<Vec<Arc<T>>, Error>;
}

/// Registers a type's default indexes on a new, empty store: a clash of names keeps
/// the first and is logged (the derive rejects clashes at compile time; only a
/// hand-written `Keyed::indexes` can produce one).
pub(crate) fn register_defaults<T: Keyed, S: Indexer<T>>(store: &S, defs: Vec<IndexDef<T>>) {
    for def in defs {
        if let Err(error) = store.add_index(def) {
            tracing::error!(%error, "ignoring a default index of the stored type");
        }
    }
}

/// Runs an index function, turning a panic into [`Error::IndexFunctionPanicked`].
pub(crate) fn guarded_values<T: Keyed>(
    def: &IndexDef<T>,
    obj: &T,
    key: &T::Key,
) -> Result<Vec<String>, Error> {
    catch_unwind(AssertUnwindSafe(|| def.values(obj))).map_err(|payload| {
        let message = panic_message(payload.as_ref());
        tracing::error!(index = %def.name(), %key, %message, "index function panicked");
        Error::IndexFunctionPanicked {
            index: def.name().to_owned(),
            key: key.to_string(),
            message,
        }
    })
}

/// The values of `obj` for every index in `defs`, or the first panic.
pub(crate) fn values_for_all<'a, T: Keyed + 'a>(
    defs: impl IntoIterator<Item = &'a IndexDef<T>>,
    obj: &T,
    key: &T::Key,
) -> Result<Vec<Vec<String>>, Error> {
    defs.into_iter()
        .map(|def| guarded_values(def, obj, key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_values_count_once() {
        let def = IndexDef::new("dup", |_: &()| vec!["a".into(), "b".into(), "a".into()]);
        assert_eq!(def.values(&()), ["a", "b"]);
    }

    #[test]
    fn nested_containers_flatten() {
        let value = vec![Some("a"), None, Some("b")];
        assert_eq!(value.index_values(), ["a", "b"]);
    }
}
