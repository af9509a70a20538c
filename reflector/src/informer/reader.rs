//! [`CacheReader`]: the read-only view of an informer's cache.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use store_core::{Equivalent, Error, Indexer, Keyed, ResourceVersion};

/// The informer's cache, read-only: every read of a [`Store`](store_core::Store) and
/// an [`Indexer`], no write (kube-runtime's `Store`/`Writer` split). Writes happen only
/// through the informer, in the source's order, so what a reader sees is always a
/// state the informer's handlers were (or will be) told about. Cheap to clone.
///
/// ```
/// use std::sync::Arc;
/// use reflector::{Informer, MemoryServer};
/// use store_core::{Keyed, NAMESPACE_INDEX};
/// use tokio_util::sync::CancellationToken;
///
/// #[derive(Keyed, Debug)]
/// #[keyed(namespace = "namespace", name = "name")]
/// struct Pod { namespace: String, name: String }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = MemoryServer::new();
/// server.create(Pod { namespace: "web".into(), name: "a".into() }).unwrap();
/// let shutdown = CancellationToken::new();
/// let (informer, running) = Informer::builder(server).start(shutdown.clone());
/// informer.wait_until_synced().await.unwrap();
/// let pods = informer.store().clone(); // hand it to whoever reads
/// assert_eq!(pods.by_index(NAMESPACE_INDEX, "web").unwrap().len(), 1);
/// // pods.add(..) does not exist: the informer is the only writer
/// shutdown.cancel();
/// running.await.unwrap();
/// # });
/// ```
pub struct CacheReader<T, S> {
    store: S,
    _object: PhantomData<fn() -> T>,
}

impl<T: Keyed, S: Indexer<T>> CacheReader<T, S> {
    pub(super) fn new(store: S) -> Self {
        CacheReader {
            store,
            _object: PhantomData,
        }
    }

    /// The store behind the view, for the informer's own writes.
    pub(super) fn writer(&self) -> &S {
        &self.store
    }

    /// The object of `key`, if cached.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.store.get(key)
    }

    /// Whether `key` is cached.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.store.contains_key(key)
    }

    /// Every cached object, in no particular order.
    pub fn list(&self) -> Vec<Arc<T>> {
        self.store.list()
    }

    /// Every cached key, in no particular order.
    pub fn list_keys(&self) -> Vec<T::Key> {
        self.store.list_keys()
    }

    /// How many objects are cached.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The resource version of the last relist the cache took.
    pub fn last_sync_resource_version(&self) -> Option<ResourceVersion> {
        self.store.last_sync_resource_version()
    }

    /// The objects filed under `value` in `index`.
    pub fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<T>>, Error> {
        self.store.by_index(index, value)
    }

    /// The keys filed under `value` in `index`.
    pub fn index_keys(&self, index: &str, value: &str) -> Result<Vec<T::Key>, Error> {
        self.store.index_keys(index, value)
    }

    /// The values `index` files objects under.
    pub fn list_index_values(&self, index: &str) -> Result<Vec<String>, Error> {
        self.store.list_index_values(index)
    }

    /// The objects sharing an index value with `probe`.
    pub fn matching(&self, index: &str, probe: &T) -> Result<Vec<Arc<T>>, Error> {
        self.store.matching(index, probe)
    }

    /// The names of the cache's indexes.
    pub fn index_names(&self) -> Vec<String> {
        self.store.index_names()
    }
}

impl<T, S: Clone> Clone for CacheReader<T, S> {
    fn clone(&self) -> Self {
        CacheReader {
            store: self.store.clone(),
            _object: PhantomData,
        }
    }
}

impl<T, S: fmt::Debug> fmt::Debug for CacheReader<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CacheReader").field(&self.store).finish()
    }
}
