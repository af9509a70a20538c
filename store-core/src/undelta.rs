//! [`UndeltaStore`]: a store that hands its whole content to a callback after every
//! write (client-go's `UndeltaStore`), for consumers that want states, not changes.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use equivalent::Equivalent;
use parking_lot::Mutex;

use crate::cache::Cache;
use crate::error::Error;
use crate::index::{IndexDef, Indexer};
use crate::keyed::Keyed;
use crate::resource_version::ResourceVersion;
use crate::store::{BatchWrite, Removed, Store, Written};

type PushFn<T> = dyn Fn(Vec<Arc<T>>) + Send + Sync;

/// A [`Store`] that, after every write, pushes the full content (its `list()`) to a
/// callback: client-go's `UndeltaStore`, for consumers that think in whole states —
/// a config source that rebuilds from "the pods now", a renderer, a snapshot file.
///
/// Semantics, as client-go's:
/// - every successful write call pushes once: `add`, `update`, `delete` (a delete of a
///   missing key too), `replace`, and an `apply_batch` (once for the whole batch);
/// - a write that fails (an index function or transformer panicked) changes nothing
///   and pushes nothing; reads and `resync` never push.
///
/// Pushes are ordered: writes through this store are serialized, and each push is made
/// before the next write starts, so the last push always shows the content after the
/// last write. The callback runs on the writer's thread while the next write waits: it
/// must not write to this store (that would deadlock); reading it is fine. Writes made
/// to the wrapped store behind this one's back are not pushed.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use store_core::{Cache, Keyed, Store, UndeltaStore};
///
/// #[derive(Keyed)]
/// struct Endpoint { #[key] name: String, port: u16 }
///
/// let states = Arc::new(Mutex::new(Vec::new()));
/// let seen = Arc::clone(&states);
/// let store = UndeltaStore::new(Cache::new(), move |all: Vec<Arc<Endpoint>>| {
///     let mut ports: Vec<u16> = all.iter().map(|e| e.port).collect();
///     ports.sort();
///     seen.lock().unwrap().push(ports);
/// });
/// store.add(Endpoint { name: "a".into(), port: 80 })?;
/// store.add(Endpoint { name: "b".into(), port: 443 })?;
/// store.delete("a");
/// assert_eq!(*states.lock().unwrap(), [vec![80], vec![80, 443], vec![443]]);
/// # Ok::<(), store_core::Error>(())
/// ```
pub struct UndeltaStore<T: Keyed, S: Store<T> = Cache<T>> {
    store: S,
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    push: Box<PushFn<T>>,
    /// Held from a write's start until its push returned.
    writes: Mutex<()>,
}

impl<T: Keyed, S: Store<T>> UndeltaStore<T, S> {
    /// Wraps `store` (usually empty); `push` receives the content after each write.
    pub fn new<F>(store: S, push: F) -> Self
    where
        F: Fn(Vec<Arc<T>>) + Send + Sync + 'static,
    {
        UndeltaStore {
            store,
            shared: Arc::new(Shared {
                push: Box::new(push),
                writes: Mutex::new(()),
            }),
        }
    }

    /// Runs one write, then pushes the content unless the answer says it failed.
    fn write<R>(&self, write: impl FnOnce(&S) -> R, succeeded: fn(&R) -> bool) -> R {
        let _serialized = self.shared.writes.lock();
        let answer = write(&self.store);
        if succeeded(&answer) {
            (self.shared.push)(self.store.list());
        }
        answer
    }
}

impl<T: Keyed, S: Store<T>> Clone for UndeltaStore<T, S> {
    fn clone(&self) -> Self {
        UndeltaStore {
            store: self.store.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Keyed, S: Store<T> + fmt::Debug> fmt::Debug for UndeltaStore<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UndeltaStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<T: Keyed, S: Store<T>> Store<T> for UndeltaStore<T, S> {
    fn add(&self, obj: impl Into<Arc<T>>) -> Result<Option<Arc<T>>, Error> {
        self.write(|store| store.add(obj), Result::is_ok)
    }

    fn delete<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.write(|store| store.delete(key), |_| true)
    }

    fn get<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.store.get(key)
    }

    fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.store.contains_key(key)
    }

    fn list(&self) -> Vec<Arc<T>> {
        self.store.list()
    }

    fn list_keys(&self) -> Vec<T::Key> {
        self.store.list_keys()
    }

    fn len(&self) -> usize {
        self.store.len()
    }

    fn replace<I>(
        &self,
        items: I,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error>
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        self.write(
            |store| store.replace(items, resource_version),
            Result::is_ok,
        )
    }

    fn last_sync_resource_version(&self) -> Option<ResourceVersion> {
        self.store.last_sync_resource_version()
    }

    fn retain_listed(
        &self,
        seen: &std::collections::HashSet<T::Key>,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error> {
        self.write(
            |store| store.retain_listed(seen, resource_version),
            Result::is_ok,
        )
    }

    /// The batch goes to the wrapped store's `apply_batch`, then one push — made even
    /// if some writes of the batch failed, since the others were applied.
    fn apply_batch(&self, writes: Vec<BatchWrite<T>>) -> Vec<Result<Written<T>, Error>> {
        self.write(|store| store.apply_batch(writes), |_| true)
    }
}

/// Index queries read the wrapped store; adding an index is not a write of content
/// and pushes nothing.
impl<T: Keyed, S: Indexer<T>> Indexer<T> for UndeltaStore<T, S> {
    fn add_index(&self, def: IndexDef<T>) -> Result<(), Error> {
        self.store.add_index(def)
    }

    fn index_names(&self) -> Vec<String> {
        self.store.index_names()
    }

    fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<T>>, Error> {
        self.store.by_index(index, value)
    }

    fn index_keys(&self, index: &str, value: &str) -> Result<Vec<T::Key>, Error> {
        self.store.index_keys(index, value)
    }

    fn list_index_values(&self, index: &str) -> Result<Vec<String>, Error> {
        self.store.list_index_values(index)
    }

    fn matching(&self, index: &str, probe: &T) -> Result<Vec<Arc<T>>, Error> {
        self.store.matching(index, probe)
    }
}
