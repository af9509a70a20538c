//! [`ReadOnly`]: a store handle that can read and cannot write.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use equivalent::Equivalent;

use crate::error::Error;
use crate::index::Indexer;
use crate::keyed::Keyed;
use crate::resource_version::ResourceVersion;
use crate::store::Store;

/// A read-only view of a store: every read of a [`Store`] (and of an [`Indexer`] when
/// the store has indexes), no write — kube-runtime's `Store`/`Writer` split as a type.
///
/// Whoever keeps the store itself is its writer (a reflector, an informer) and hands
/// out `ReadOnly` views to the code that only reads, so "who may write" is visible in
/// the types: a function taking a `ReadOnly` cannot corrupt the cache its writer keeps
/// in sync with a source. Cheap to clone; every clone reads the same data. Reads cost
/// what the store's own reads cost (the view adds nothing).
///
/// ```
/// use store_core::{Cache, Keyed, ReadOnly, Store};
///
/// #[derive(Keyed)]
/// struct Node { #[key] name: String }
///
/// let cache = Cache::<Node>::new();            // the writer keeps this one
/// let nodes = ReadOnly::new(cache.clone());    // and hands this one out
/// cache.add(Node { name: "a".into() })?;
/// assert_eq!(nodes.len(), 1);
/// assert!(nodes.get("a").is_some());
/// // nodes.add(..) does not exist
/// # Ok::<(), store_core::Error>(())
/// ```
pub struct ReadOnly<T, S> {
    store: S,
    _object: PhantomData<fn() -> T>,
}

impl<T: Keyed, S: Store<T>> ReadOnly<T, S> {
    /// A read-only view of `store` (a clone of the writer's handle).
    pub fn new(store: S) -> Self {
        ReadOnly {
            store,
            _object: PhantomData,
        }
    }

    /// The object of `key`, if stored.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.store.get(key)
    }

    /// Whether `key` is stored.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.store.contains_key(key)
    }

    /// Every stored object, in no particular order.
    pub fn list(&self) -> Vec<Arc<T>> {
        self.store.list()
    }

    /// Every stored key, in no particular order.
    pub fn list_keys(&self) -> Vec<T::Key> {
        self.store.list_keys()
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The resource version of the last relist the store took.
    pub fn last_sync_resource_version(&self) -> Option<ResourceVersion> {
        self.store.last_sync_resource_version()
    }
}

impl<T: Keyed, S: Indexer<T>> ReadOnly<T, S> {
    /// The objects filed under `value` in `index` (see [`Indexer::by_index`]).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownIndex`] when no index is named `index`.
    pub fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<T>>, Error> {
        self.store.by_index(index, value)
    }

    /// The keys filed under `value` in `index`, sorted.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownIndex`] when no index is named `index`.
    pub fn index_keys(&self, index: &str, value: &str) -> Result<Vec<T::Key>, Error> {
        self.store.index_keys(index, value)
    }

    /// The values `index` files objects under, sorted.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownIndex`] when no index is named `index`.
    pub fn list_index_values(&self, index: &str) -> Result<Vec<String>, Error> {
        self.store.list_index_values(index)
    }

    /// The objects sharing an index value with `probe` (see [`Indexer::matching`]).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownIndex`] when no index is named `index`;
    /// [`Error::IndexFunctionPanicked`] when the index function panics on `probe`.
    pub fn matching(&self, index: &str, probe: &T) -> Result<Vec<Arc<T>>, Error> {
        self.store.matching(index, probe)
    }

    /// The names of the store's indexes, sorted.
    pub fn index_names(&self) -> Vec<String> {
        self.store.index_names()
    }
}

impl<T, S: Clone> Clone for ReadOnly<T, S> {
    fn clone(&self) -> Self {
        ReadOnly {
            store: self.store.clone(),
            _object: PhantomData,
        }
    }
}

impl<T, S: fmt::Debug> fmt::Debug for ReadOnly<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReadOnly").field(&self.store).finish()
    }
}
