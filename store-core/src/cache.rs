//! [`Cache`]: one lock around one map — the simple, fully consistent backend.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use equivalent::Equivalent;
use hashbrown::{HashMap, HashSet};
use parking_lot::RwLock;

use crate::error::Error;
use crate::index::{guarded_values, refile, reindex, Filed, FiledSet, IndexDef, Indexer};
use crate::keyed::Keyed;
use crate::options::{transformed, StoreOptions, Transform};
use crate::resource_version::ResourceVersion;
use crate::store::{BatchWrite, Removed, Store, Written};

/// An index's value → objects map: each object filed by its `Arc` (one pointer, no
/// key copy).
type Postings<T> = HashMap<String, FiledSet<T>>;

/// A [`Store`] and [`Indexer`] behind one `parking_lot::RwLock<HashMap<Key, Arc<T>>>`.
///
/// Every operation, indexes included, happens under the one lock, so a reader always
/// sees a state that existed between two writes: in particular [`replace`](Store::replace)
/// builds the new map aside and swaps it in, and no reader ever sees a half-replaced
/// store. Writers exclude each other and readers; reads run in parallel. Reads hold
/// the lock only to clone `Arc`s out.
///
/// Starts with the indexes of [`Keyed::indexes`] (the namespace index for
/// `ObjectName`-keyed types, the `#[index]` fields of a derived type).
///
/// ```
/// use store_core::{Cache, Keyed, ObjectNameRef, Store};
///
/// #[derive(Keyed)]
/// #[keyed(namespace = "namespace", name = "name")]
/// struct Secret { namespace: String, name: String }
///
/// let cache = Cache::new();
/// let reader = cache.clone(); // a handle on the same data
/// cache.add(Secret { namespace: "ns".into(), name: "token".into() })?;
/// // look up by a borrowed key: no allocation
/// assert!(reader.get(&ObjectNameRef::namespaced("ns", "token")).is_some());
/// # Ok::<(), store_core::Error>(())
/// ```
pub struct Cache<T: Keyed> {
    inner: Arc<RwLock<Inner<T>>>,
    /// Set at construction, the same for every handle.
    transform: Option<Transform<T>>,
}

struct Inner<T: Keyed> {
    items: HashMap<T::Key, Arc<T>>,
    indexes: Vec<CacheIndex<T>>,
    resource_version: Option<ResourceVersion>,
}

struct CacheIndex<T: Keyed> {
    def: IndexDef<T>,
    postings: Postings<T>,
}

impl<T: Keyed + Send + Sync + 'static> Cache<T> {
    /// An empty cache with the type's own indexes ([`Keyed::indexes`]).
    ///
    /// Should a hand-written `indexes()` name two indexes alike, the first is kept
    /// and the clash is logged as an error (`with_indexes` reports it instead).
    pub fn new() -> Self {
        let cache = Self::bare();
        crate::index::register_defaults(&cache, T::indexes());
        cache
    }

    fn bare() -> Self {
        Self::bare_with(None)
    }

    fn bare_with(transform: Option<Transform<T>>) -> Self {
        Cache {
            inner: Arc::new(RwLock::new(Inner {
                items: HashMap::new(),
                indexes: Vec::new(),
                resource_version: None,
            })),
            transform,
        }
    }

    /// An empty cache with exactly these indexes (none of the type's defaults).
    /// Fails with [`Error::DuplicateIndex`] when two share a name.
    pub fn with_indexes(defs: impl IntoIterator<Item = IndexDef<T>>) -> Result<Self, Error> {
        Self::with_options(StoreOptions::new().with_indexes(defs))
    }

    /// An empty cache set up as `options` say: its indexes and a transformer run on
    /// every written object. Fails with [`Error::DuplicateIndex`] when two explicit
    /// indexes share a name.
    pub fn with_options(options: StoreOptions<T>) -> Result<Self, Error> {
        options.build(Self::bare_with)
    }

    /// Runs `f` on the stored object under `key` while holding the read lock, without
    /// cloning the `Arc`. `f` must not call back into this cache.
    pub fn with_item<Q, R>(&self, key: &Q, f: impl FnOnce(&T) -> R) -> Option<R>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.inner.read().items.get(key).map(|obj| f(obj))
    }
}

impl<T: Keyed + Send + Sync + 'static> Default for Cache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> Clone for Cache<T> {
    fn clone(&self) -> Self {
        Cache {
            inner: Arc::clone(&self.inner),
            transform: self.transform.clone(),
        }
    }
}

impl<T: Keyed> fmt::Debug for Cache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.read();
        f.debug_struct("Cache")
            .field("len", &inner.items.len())
            .field(
                "indexes",
                &inner
                    .indexes
                    .iter()
                    .map(|index| index.def.name())
                    .collect::<Vec<_>>(),
            )
            .field("resource_version", &inner.resource_version)
            .field("transform", &self.transform.is_some())
            .finish()
    }
}

impl<T: Keyed> Inner<T> {
    fn index(&self, name: &str) -> Result<&CacheIndex<T>, Error> {
        self.indexes
            .iter()
            .find(|index| index.def.name() == name)
            .ok_or_else(|| Error::UnknownIndex {
                name: name.to_owned(),
            })
    }

    /// Inserts or replaces `obj`, keeping every index in step.
    fn upsert(&mut self, obj: Arc<T>) -> Result<Option<Arc<T>>, Error> {
        let key = obj.key();
        let Inner { items, indexes, .. } = self;
        if indexes.is_empty() {
            return Ok(items.insert(key, obj));
        }
        // The new values first, from the object just written (warm in cache): a
        // panic there leaves everything untouched.
        let new_values = indexes
            .iter()
            .map(|index| guarded_values(&index.def, &obj, &key))
            .collect::<Result<Vec<_>, Error>>()?;
        match items.entry(key) {
            hashbrown::hash_map::Entry::Occupied(mut entry) => {
                let old = entry.insert(obj);
                let (key, new) = (entry.key(), entry.get());
                for (index, values) in indexes.iter_mut().zip(&new_values) {
                    if index.def.is_key_derived() {
                        // Same key, same values: the postings only change pointer,
                        // and the old (often cold) object is not read.
                        refile(&mut index.postings, values, &old, new);
                    } else {
                        let old_values = guarded_values(&index.def, &old, key);
                        reindex(
                            &mut index.postings,
                            Some((&old, old_values)),
                            Some((new, values)),
                        );
                    }
                }
                Ok(Some(old))
            }
            hashbrown::hash_map::Entry::Vacant(entry) => {
                // The key moves into the map: no clone for the entry itself.
                let new = entry.insert(obj);
                for (index, values) in indexes.iter_mut().zip(&new_values) {
                    reindex(&mut index.postings, None, Some((new, values)));
                }
                Ok(None)
            }
        }
    }

    fn remove<Q>(&mut self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        let (key, old) = self.items.remove_entry(key)?;
        for index in &mut self.indexes {
            let old_values = guarded_values(&index.def, &old, &key);
            reindex(&mut index.postings, Some((&old, old_values)), None);
        }
        Some(old)
    }
}

impl<T: Keyed + Send + Sync + 'static> Store<T> for Cache<T> {
    fn add(&self, obj: impl Into<Arc<T>>) -> Result<Option<Arc<T>>, Error> {
        let obj = transformed(&self.transform, obj.into())?;
        self.inner.write().upsert(obj)
    }

    /// The whole batch under one write lock: a reader sees none of it or all of it.
    /// The transformer runs before the lock is taken.
    fn apply_batch(&self, writes: Vec<BatchWrite<T>>) -> Vec<Result<Written<T>, Error>> {
        let writes: Vec<Result<BatchWrite<T>, Error>> = match &self.transform {
            None => writes.into_iter().map(Ok).collect(),
            Some(transform) => writes
                .into_iter()
                .map(|write| match write {
                    BatchWrite::Upsert(obj) => transform.apply(obj).map(BatchWrite::Upsert),
                    delete => Ok(delete),
                })
                .collect(),
        };
        let mut inner = self.inner.write();
        writes
            .into_iter()
            .map(|write| match write? {
                BatchWrite::Upsert(obj) => {
                    let stored = Arc::clone(&obj);
                    inner
                        .upsert(obj)
                        .map(|previous| Written::upserted(previous, stored))
                }
                BatchWrite::Delete(key) => Ok(Written::removed(inner.remove(&key))),
            })
            .collect()
    }

    fn delete<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.inner.write().remove(key)
    }

    fn get<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.inner.read().items.get(key).cloned()
    }

    fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.inner.read().items.contains_key(key)
    }

    fn list(&self) -> Vec<Arc<T>> {
        self.inner.read().items.values().cloned().collect()
    }

    fn list_keys(&self) -> Vec<T::Key> {
        self.inner.read().items.keys().cloned().collect()
    }

    fn len(&self) -> usize {
        self.inner.read().items.len()
    }

    /// Builds the new map and indexes aside, then swaps them in under the write lock:
    /// readers see either the whole old content or the whole new one.
    fn replace<I>(
        &self,
        items: I,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error>
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        let transform = &self.transform;
        self.replace_with(
            items.into_iter().map(|obj| transformed(transform, obj)),
            resource_version.into(),
        )
    }

    fn last_sync_resource_version(&self) -> Option<ResourceVersion> {
        self.inner.read().resource_version.clone()
    }

    /// Removes the unseen keys and records the version under one write lock.
    fn retain_listed(
        &self,
        seen: &std::collections::HashSet<T::Key>,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error> {
        let resource_version = resource_version.into();
        let mut inner = self.inner.write();
        let gone: Vec<T::Key> = inner
            .items
            .keys()
            .filter(|key| !seen.contains(*key))
            .cloned()
            .collect();
        let removed = gone
            .into_iter()
            .filter_map(|key| {
                let obj = inner.remove(&key)?;
                Some((key, obj))
            })
            .collect();
        inner.resource_version = Some(resource_version);
        Ok(removed)
    }
}

impl<T: Keyed + Send + Sync + 'static> Cache<T> {
    /// [`replace`](Store::replace) of objects already transformed (or failed to).
    fn replace_with<I>(
        &self,
        items: I,
        resource_version: ResourceVersion,
    ) -> Result<Removed<T>, Error>
    where
        I: Iterator<Item = Result<Arc<T>, Error>>,
    {
        let defs: Vec<IndexDef<T>> = self
            .inner
            .read()
            .indexes
            .iter()
            .map(|index| index.def.clone())
            .collect();
        let mut fresh: HashMap<T::Key, Arc<T>> = HashMap::with_capacity(items.size_hint().0);
        let mut postings: Vec<Postings<T>> = defs.iter().map(|_| Postings::new()).collect();
        let mut replaced_duplicate = false;
        for obj in items {
            let obj = obj?;
            let key = obj.key();
            // Index values in list order, while the object is still warm in cache.
            for (def, postings) in defs.iter().zip(&mut postings) {
                let values = guarded_values(def, &obj, &key)?;
                reindex(postings, None, Some((&obj, &values)));
            }
            replaced_duplicate |= fresh.insert(key, obj).is_some();
        }
        if replaced_duplicate {
            // A key listed twice was indexed with both objects: index the survivors
            // again (rare: a source lists each key once).
            postings = defs.iter().map(|_| Postings::new()).collect();
            for (key, obj) in &fresh {
                for (def, postings) in defs.iter().zip(&mut postings) {
                    let values = guarded_values(def, obj, key)?;
                    reindex(postings, None, Some((obj, &values)));
                }
            }
        }
        let mut inner = self.inner.write();
        if inner.indexes.len() != defs.len() {
            // An index was added while we built aside: index under the lock instead.
            drop(inner);
            return self.replace_with(fresh.into_values().map(Ok), resource_version);
        }
        let mut old = std::mem::replace(&mut inner.items, fresh);
        for (index, postings) in inner.indexes.iter_mut().zip(postings) {
            index.postings = postings;
        }
        inner.resource_version = Some(resource_version);
        // Removed keys: what the new map lacks. Decided under the read side of the
        // lock, and the old map is freed after it is released.
        let inner = parking_lot::RwLockWriteGuard::downgrade(inner);
        old.retain(|key, _| !inner.items.contains_key(key));
        drop(inner);
        Ok(old.into_iter().collect())
    }
}

impl<T: Keyed + Send + Sync + 'static> Indexer<T> for Cache<T> {
    fn add_index(&self, def: IndexDef<T>) -> Result<(), Error> {
        let mut inner = self.inner.write();
        if inner.index(def.name()).is_ok() {
            return Err(Error::DuplicateIndex {
                name: def.name().to_owned(),
            });
        }
        let mut postings = Postings::new();
        for (key, obj) in &inner.items {
            let values = guarded_values(&def, obj, key)?;
            reindex(&mut postings, None, Some((obj, &values)));
        }
        inner.indexes.push(CacheIndex { def, postings });
        Ok(())
    }

    fn index_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .read()
            .indexes
            .iter()
            .map(|index| index.def.name().to_owned())
            .collect();
        names.sort();
        names
    }

    fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<T>>, Error> {
        let inner = self.inner.read();
        Ok(inner
            .index(index)?
            .postings
            .get(value)
            .map(|filed| filed.iter().map(|obj| Arc::clone(&obj.0)).collect())
            .unwrap_or_default())
    }

    fn list_index_values(&self, index: &str) -> Result<Vec<String>, Error> {
        let mut values: Vec<String> = self
            .inner
            .read()
            .index(index)?
            .postings
            .keys()
            .cloned()
            .collect();
        values.sort_unstable();
        Ok(values)
    }

    fn matching(&self, index: &str, probe: &T) -> Result<Vec<Arc<T>>, Error> {
        let inner = self.inner.read();
        let index = inner.index(index)?;
        let values = guarded_values(&index.def, probe, &probe.key())?;
        let mut found: HashSet<&Filed<T>> = HashSet::new();
        for value in &values {
            if let Some(filed) = index.postings.get(value.as_str()) {
                found.extend(filed);
            }
        }
        Ok(found.into_iter().map(|obj| Arc::clone(&obj.0)).collect())
    }
}
