//! Secondary indexes: client-go's `Indexers`, typed by the object they read.
//!
//! An index is a named function from an object to the values it is filed under.
//! One object may sit under several values (a label index files a pod under each
//! of its labels) or under none. Values are strings, as in client-go, so that every
//! index of a type can be queried the same way.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;

use dashmap::DashMap;

use crate::{Error, Keyed, Store};

/// The name of the index every `ObjectName`-keyed type gets without asking:
/// objects by namespace (cluster-scoped objects are in no namespace value).
pub const NAMESPACE_INDEX: &str = "namespace";

type IndexFn<T> = dyn Fn(&T) -> Vec<String> + Send + Sync;

/// A named index function: which values an object is filed under.
///
/// Cheap to clone (the function is shared). The function must be pure — the same
/// object must always give the same values — because a store runs it again only
/// when the object changes. A function that panics makes the write that ran it fail
/// with [`Error::IndexFunctionPanicked`](crate::Error::IndexFunctionPanicked); the store is
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
    crate::ObjectName,
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
    fn index_keys(&self, index: &str, value: &str) -> Result<Vec<T::Key>, Error>;

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

/// The message of a caught panic (its `&str` or `String` payload).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
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

/// An object as an index files it: hashed and compared by the address of its `Arc`,
/// so a posting is one pointer and holds no copy of the key. A store files the very
/// `Arc` its map holds, and an update moves the postings to the new `Arc`.
pub(crate) struct Filed<T>(pub(crate) Arc<T>);

impl<T> Filed<T> {
    fn address(obj: &Arc<T>) -> usize {
        Arc::as_ptr(obj).cast::<()>() as usize
    }
}

impl<T> Hash for Filed<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Filed::address(&self.0).hash(state);
    }
}

impl<T> PartialEq for Filed<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Eq for Filed<T> {}

/// A look-up of a [`Filed`] by an `Arc` the caller holds, without cloning it.
#[derive(Clone, Copy, Hash, PartialEq, Eq)]
pub(crate) struct Address(usize);

impl Address {
    pub(crate) fn of<T>(obj: &Arc<T>) -> Self {
        Address(Filed::address(obj))
    }
}

impl<T> equivalent::Equivalent<Filed<T>> for Address {
    fn equivalent(&self, filed: &Filed<T>) -> bool {
        self.0 == Filed::address(&filed.0)
    }
}

/// The objects filed under one value.
pub(crate) type FiledSet<T> = hashbrown::HashSet<Filed<T>>;

/// One index's value → objects map, whatever holds it (a plain map under the
/// cache's lock, or a sharded map). A holder gives access to the set of a value; the
/// filing itself is written once, here.
pub(crate) trait Postings<T> {
    /// Runs `f` on the set under `value`, created empty when missing.
    fn with_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>));
    /// Runs `f` on the set under `value`, if any, dropping the value when its set
    /// ends up empty.
    fn with_existing_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>));
    /// Runs `f` on every set, dropping the values whose sets end up empty.
    fn with_every_set(&mut self, f: impl FnMut(&mut FiledSet<T>));

    /// Files `obj` under `value`.
    fn insert(&mut self, value: &str, obj: &Arc<T>) {
        self.with_set(value, |set| {
            set.insert(Filed(Arc::clone(obj)));
        });
    }

    /// Takes `obj` out of `value`, dropping the value when its set empties.
    fn remove(&mut self, value: &str, obj: &Arc<T>) {
        self.with_existing_set(value, |set| {
            set.remove(&Address::of(obj));
        });
    }

    /// Files `new` under `value` in place of `old` (an update of the same key).
    fn swap(&mut self, value: &str, old: &Arc<T>, new: &Arc<T>) {
        self.with_set(value, |set| {
            set.remove(&Address::of(old));
            set.insert(Filed(Arc::clone(new)));
        });
    }

    /// Takes `obj` out of every value: the slow path when the values `obj` was
    /// filed under cannot be computed (its index function panicked).
    fn remove_everywhere(&mut self, obj: &Arc<T>) {
        self.with_every_set(|set| {
            set.remove(&Address::of(obj));
        });
    }
}

/// An object leaving its postings, with the values it was filed under (or the panic
/// computing them raised).
pub(crate) type Leaving<'a, T> = (&'a Arc<T>, Result<Vec<String>, Error>);

/// Moves an object's postings: `old` is the object leaving (with its values, or the
/// panic that computing them raised: then it is taken out of every value), `new`
/// the object arriving with its values. Values both share are swapped in place.
pub(crate) fn reindex<T, P: Postings<T>>(
    postings: &mut P,
    old: Option<Leaving<'_, T>>,
    new: Option<(&Arc<T>, &[String])>,
) {
    let kept = match old {
        None => Vec::new(),
        Some((old, Ok(old_values))) => {
            for value in &old_values {
                match new {
                    Some((new, new_values)) if new_values.contains(value) => {
                        postings.swap(value, old, new)
                    }
                    _ => postings.remove(value, old),
                }
            }
            old_values
        }
        Some((old, Err(_))) => {
            postings.remove_everywhere(old);
            Vec::new()
        }
    };
    if let Some((new, new_values)) = new {
        new_values
            .iter()
            .filter(|value| !kept.contains(value))
            .for_each(|value| postings.insert(value, new));
    }
}

/// Moves the postings of a key-derived index from `old` to `new`, an update of the
/// same key: both are filed under the same `values`.
pub(crate) fn refile<T, P: Postings<T>>(
    postings: &mut P,
    values: &[String],
    old: &Arc<T>,
    new: &Arc<T>,
) {
    values
        .iter()
        .for_each(|value| postings.swap(value, old, new));
}

impl<T> Postings<T> for hashbrown::HashMap<String, FiledSet<T>> {
    fn with_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>)) {
        match self.get_mut(value) {
            Some(set) => f(set),
            None => {
                // The value's string is allocated only for a new value.
                let mut set = FiledSet::default();
                f(&mut set);
                self.insert(value.to_owned(), set);
            }
        }
    }

    fn with_existing_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>)) {
        if let Some(set) = self.get_mut(value) {
            f(set);
            if set.is_empty() {
                self.remove(value);
            }
        }
    }

    fn with_every_set(&mut self, mut f: impl FnMut(&mut FiledSet<T>)) {
        self.retain(|_, set| {
            f(set);
            !set.is_empty()
        });
    }
}

/// A sharded value → objects map, for [`ShardedCache`](crate::ShardedCache).
pub(crate) struct ShardedPostings<'a, T>(
    pub(crate) &'a DashMap<String, FiledSet<T>, hashbrown::DefaultHashBuilder>,
);

impl<T> Postings<T> for ShardedPostings<'_, T> {
    fn with_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>)) {
        match self.0.get_mut(value) {
            Some(mut set) => f(&mut set),
            None => f(&mut self.0.entry(value.to_owned()).or_default()),
        }
    }

    fn with_existing_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>)) {
        self.0.remove_if_mut(value, |_, set| {
            f(set);
            set.is_empty()
        });
    }

    fn with_every_set(&mut self, mut f: impl FnMut(&mut FiledSet<T>)) {
        self.0.retain(|_, set| {
            f(set);
            !set.is_empty()
        });
    }
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
