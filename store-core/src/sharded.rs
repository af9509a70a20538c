//! [`ShardedCache`]: a DashMap-sharded backend for read-heavy, many-core use.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use equivalent::Equivalent;
use hashbrown::{DefaultHashBuilder, HashSet};
use parking_lot::RwLock;

use crate::index::{
    guarded_values, register_defaults, reindex, values_for_all, IndexDef, Indexer, ShardedPostings,
};
use crate::options::{transformed, StoreOptions, Transform};
use crate::store::{Removed, Store, Write};
use crate::{Error, Keyed, ResourceVersion};

type Postings<K> = DashMap<String, HashSet<K>, DefaultHashBuilder>;

/// A listed object with its values for every index, computed before `replace`
/// changes anything.
type Indexed<T> = (Arc<T>, Vec<Option<Vec<String>>>);

/// A [`Store`] and [`Indexer`] over DashMap shards: reads and writes of different
/// keys rarely touch the same lock.
///
/// Each single-key operation is atomic, and an index and the store agree as soon as
/// the write returns (a write holds its key's shard while it updates the indexes).
///
/// **What a reader can observe during [`replace`](Store::replace).** `replace` upserts
/// the listed objects one by one, then removes the keys the list lacked, shard by
/// shard. A concurrent `get` sees each key either at its old or at its new object,
/// never anything else; but `list`, `len` and other multi-key reads may mix old and new
/// entries, and may briefly count a key that is about to be removed. Index queries and
/// other writers wait for the whole `replace`. Use [`Cache`](crate::Cache) when
/// readers must never see a half-replaced store.
///
/// Multi-key reads (`list`, `list_keys`, index queries) are not snapshots of one
/// instant when writers run concurrently; each entry they return was stored at some
/// point during the call.
///
/// ```
/// use store_core::{Keyed, ShardedCache, Store};
///
/// #[derive(Keyed)]
/// struct Lease { #[key] id: u64, holder: String }
///
/// let leases = ShardedCache::new();
/// std::thread::scope(|s| {
///     for t in 0..2u64 {
///         let leases = leases.clone();
///         s.spawn(move || {
///             for i in 0..100 {
///                 leases.add(Lease { id: t * 100 + i, holder: format!("t{t}") }).unwrap();
///             }
///         });
///     }
/// });
/// assert_eq!(leases.len(), 200);
/// assert_eq!(leases.get(&150).unwrap().holder, "t1");
/// ```
pub struct ShardedCache<T: Keyed> {
    shared: Arc<Shared<T>>,
}

struct Shared<T: Keyed> {
    items: DashMap<T::Key, Arc<T>, DefaultHashBuilder>,
    /// The registry of indexes. Writers hold it shared for the whole write; index
    /// queries hold it shared; `add_index` and `replace` hold it exclusively. Lock
    /// order: registry, then an item shard, then a postings shard.
    indexes: RwLock<Vec<ShardedIndex<T>>>,
    resource_version: RwLock<Option<ResourceVersion>>,
    /// Set at construction.
    transform: Option<Transform<T>>,
}

struct ShardedIndex<T: Keyed> {
    def: IndexDef<T>,
    postings: Postings<T::Key>,
}

impl<T: Keyed + Send + Sync + 'static> ShardedCache<T> {
    /// An empty cache with the type's own indexes ([`Keyed::indexes`]).
    ///
    /// Should a hand-written `indexes()` name two indexes alike, the first is kept
    /// and the clash is logged as an error (`with_indexes` reports it instead).
    pub fn new() -> Self {
        let cache = Self::bare();
        register_defaults(&cache, T::indexes());
        cache
    }

    fn bare() -> Self {
        Self::bare_with(None)
    }

    fn bare_with(transform: Option<Transform<T>>) -> Self {
        ShardedCache {
            shared: Arc::new(Shared {
                items: DashMap::with_hasher(DefaultHashBuilder::default()),
                indexes: RwLock::new(Vec::new()),
                resource_version: RwLock::new(None),
                transform,
            }),
        }
    }

    /// An empty cache with exactly these indexes (none of the type's defaults).
    /// Fails with [`Error::DuplicateIndex`] when two share a name.
    pub fn with_indexes(defs: impl IntoIterator<Item = IndexDef<T>>) -> Result<Self, Error> {
        Self::with_options(StoreOptions::new().indexes(defs))
    }

    /// An empty cache set up as `options` say: its indexes and a transformer run on
    /// every written object. Fails with [`Error::DuplicateIndex`] when two explicit
    /// indexes share a name.
    pub fn with_options(options: StoreOptions<T>) -> Result<Self, Error> {
        options.build(Self::bare_with)
    }
}

impl<T: Keyed + Send + Sync + 'static> Default for ShardedCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> Clone for ShardedCache<T> {
    fn clone(&self) -> Self {
        ShardedCache {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Keyed> fmt::Debug for ShardedCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .shared
            .indexes
            .read()
            .iter()
            .map(|index| index.def.name().to_owned())
            .collect();
        f.debug_struct("ShardedCache")
            .field("len", &self.shared.items.len())
            .field("indexes", &names)
            .field("resource_version", &*self.shared.resource_version.read())
            .finish()
    }
}

fn find<'a, T: Keyed>(
    indexes: &'a [ShardedIndex<T>],
    name: &str,
) -> Result<&'a ShardedIndex<T>, Error> {
    indexes
        .iter()
        .find(|index| index.def.name() == name)
        .ok_or_else(|| Error::UnknownIndex {
            name: name.to_owned(),
        })
}

impl<T: Keyed> Shared<T> {
    /// An upsert under the registry the caller holds: index values first, outside
    /// the shard lock, so a panic there changes nothing. Key-derived indexes wait: an
    /// update leaves them as they are.
    fn add(&self, indexes: &[ShardedIndex<T>], obj: Arc<T>) -> Result<Option<Arc<T>>, Error> {
        let key = obj.key();
        if indexes.is_empty() {
            return Ok(self.items.insert(key, obj));
        }
        let new_values = indexes
            .iter()
            .map(|index| {
                if index.def.is_key_derived() {
                    Ok(None)
                } else {
                    guarded_values(&index.def, &obj, &key).map(Some)
                }
            })
            .collect::<Result<Vec<_>, Error>>()?;
        self.upsert(indexes, key, obj, &new_values)
    }

    /// Upserts under the key's shard lock, moving the index entries along.
    /// `indexes` is the registry, held by the caller; `new_values` holds the values
    /// of every index, or `None` for a key-derived one (unchanged by an update, and
    /// computed here, under the shard lock, only when the key is new).
    fn upsert(
        &self,
        indexes: &[ShardedIndex<T>],
        key: T::Key,
        obj: Arc<T>,
        new_values: &[Option<Vec<String>>],
    ) -> Result<Option<Arc<T>>, Error> {
        match self.items.entry(key) {
            Entry::Occupied(mut entry) => {
                let old = entry.insert(obj);
                for (index, new) in indexes.iter().zip(new_values) {
                    // The key stays, so a key-derived index stays as it is.
                    if index.def.is_key_derived() {
                        continue;
                    }
                    if let Some(new) = new {
                        let old_values = guarded_values(&index.def, &old, entry.key());
                        reindex(
                            &mut ShardedPostings(&index.postings),
                            entry.key(),
                            Some(old_values),
                            new,
                        );
                    }
                }
                Ok(Some(old))
            }
            Entry::Vacant(entry) => {
                let mut all = Vec::with_capacity(indexes.len());
                for (index, new) in indexes.iter().zip(new_values) {
                    all.push(match new {
                        Some(values) => values.clone(),
                        None => guarded_values(&index.def, &obj, entry.key())?,
                    });
                }
                let stored = entry.insert(obj);
                for (index, new) in indexes.iter().zip(&all) {
                    reindex(
                        &mut ShardedPostings(&index.postings),
                        stored.key(),
                        None,
                        new,
                    );
                }
                Ok(None)
            }
        }
    }

    /// Removes under the key's shard lock, taking the key out of every index.
    fn remove<Q>(&self, indexes: &[ShardedIndex<T>], key: &Q) -> Option<(T::Key, Arc<T>)>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.items.remove_if(key, |key, old| {
            for index in indexes {
                let old_values = guarded_values(&index.def, old, key);
                reindex(
                    &mut ShardedPostings(&index.postings),
                    key,
                    Some(old_values),
                    &[],
                );
            }
            true
        })
    }

    /// The objects of `keys` that are still filed under one of `values` of `index`.
    ///
    /// The keys were read from the postings earlier; a writer may have moved an object
    /// since. Each object is checked while its item shard is held: a writer updates
    /// the postings of a key under that shard's lock, so what the check sees is what
    /// the object is filed under (lock order as for writers: item shard, then
    /// postings shard).
    fn objects_filed_under(
        &self,
        index: &ShardedIndex<T>,
        keys: impl IntoIterator<Item = T::Key>,
        values: &[&str],
    ) -> Vec<Arc<T>> {
        keys.into_iter()
            .filter_map(|key| {
                let entry = self.items.get(&key)?;
                let filed = values.iter().any(|value| {
                    index
                        .postings
                        .get(*value)
                        .is_some_and(|keys| keys.contains(entry.key()))
                });
                filed.then(|| Arc::clone(entry.value()))
            })
            .collect()
    }
}

impl<T: Keyed + Send + Sync + 'static> Store<T> for ShardedCache<T> {
    fn add(&self, obj: impl Into<Arc<T>>) -> Result<Option<Arc<T>>, Error> {
        let obj = transformed(&self.shared.transform, obj.into())?;
        let indexes = self.shared.indexes.read();
        self.shared.add(&indexes, obj)
    }

    /// One write at a time (a reader may see part of the batch), under one hold of
    /// the index registry.
    fn apply_batch(&self, writes: Vec<Write<T>>) -> Vec<Result<Option<Arc<T>>, Error>> {
        let writes: Vec<Result<Write<T>, Error>> = writes
            .into_iter()
            .map(|write| match write {
                Write::Upsert(obj) => transformed(&self.shared.transform, obj).map(Write::Upsert),
                delete => Ok(delete),
            })
            .collect();
        let indexes = self.shared.indexes.read();
        writes
            .into_iter()
            .map(|write| match write? {
                Write::Upsert(obj) => self.shared.add(&indexes, obj),
                Write::Delete(key) => Ok(self.shared.remove(&indexes, &key).map(|(_, obj)| obj)),
            })
            .collect()
    }

    fn delete<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        let indexes = self.shared.indexes.read();
        self.shared.remove(&indexes, key).map(|(_, obj)| obj)
    }

    fn get<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.shared
            .items
            .get(key)
            .map(|obj| Arc::clone(obj.value()))
    }

    fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.shared.items.contains_key(key)
    }

    fn list(&self) -> Vec<Arc<T>> {
        self.shared
            .items
            .iter()
            .map(|entry| Arc::clone(entry.value()))
            .collect()
    }

    fn list_keys(&self) -> Vec<T::Key> {
        self.shared
            .items
            .iter()
            .map(|entry| entry.key().clone())
            .collect()
    }

    fn len(&self) -> usize {
        self.shared.items.len()
    }

    /// Upserts the listed objects, then removes the keys the list lacked (see the type's
    /// documentation for what concurrent readers observe). Index values of every
    /// listed object are computed first, so an index function panic changes nothing.
    fn replace<I>(
        &self,
        items: I,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error>
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        let indexes = self.shared.indexes.write();
        let items = items.into_iter();
        let mut fresh: hashbrown::HashMap<T::Key, Indexed<T>> =
            hashbrown::HashMap::with_capacity(items.size_hint().0);
        for obj in items {
            let obj = transformed(&self.shared.transform, obj)?;
            let key = obj.key();
            let values = values_for_all(indexes.iter().map(|i| &i.def), &obj, &key)?;
            fresh.insert(key, (obj, values.into_iter().map(Some).collect()));
        }
        let mut removed = Vec::new();
        // Keys the list lacks go first, shard by shard, so the upserts below do not
        // have to be told apart from survivors.
        let stale: Vec<T::Key> = self
            .shared
            .items
            .iter()
            .filter(|entry| !fresh.contains_key(entry.key()))
            .map(|entry| entry.key().clone())
            .collect();
        let mut upserts = fresh.into_iter();
        for (key, (obj, values)) in upserts.by_ref() {
            // Every value is computed already: nothing can fail here.
            self.shared.upsert(&indexes, key, obj, &values)?;
        }
        for key in stale {
            if let Some(entry) = self.shared.remove(&indexes, &key) {
                removed.push(entry);
            }
        }
        *self.shared.resource_version.write() = Some(resource_version.into());
        Ok(removed)
    }

    fn last_sync_resource_version(&self) -> Option<ResourceVersion> {
        self.shared.resource_version.read().clone()
    }

    /// Removes the unseen keys shard by shard (a reader may see some gone before the
    /// others), then records the version.
    fn retain_listed(
        &self,
        seen: &std::collections::HashSet<T::Key>,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error> {
        let indexes = self.shared.indexes.read();
        let gone: Vec<T::Key> = self
            .shared
            .items
            .iter()
            .filter(|entry| !seen.contains(entry.key()))
            .map(|entry| entry.key().clone())
            .collect();
        let removed = gone
            .into_iter()
            .filter_map(|key| self.shared.remove(&indexes, &key))
            .collect();
        *self.shared.resource_version.write() = Some(resource_version.into());
        Ok(removed)
    }
}

impl<T: Keyed + Send + Sync + 'static> Indexer<T> for ShardedCache<T> {
    fn add_index(&self, def: IndexDef<T>) -> Result<(), Error> {
        let mut indexes = self.shared.indexes.write();
        if find(&indexes, def.name()).is_ok() {
            return Err(Error::DuplicateIndex {
                name: def.name().to_owned(),
            });
        }
        let postings = Postings::with_hasher(DefaultHashBuilder::default());
        for entry in self.shared.items.iter() {
            let values = guarded_values(&def, entry.value(), entry.key())?;
            reindex(&mut ShardedPostings(&postings), entry.key(), None, &values);
        }
        indexes.push(ShardedIndex { def, postings });
        Ok(())
    }

    fn index_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .shared
            .indexes
            .read()
            .iter()
            .map(|index| index.def.name().to_owned())
            .collect();
        names.sort();
        names
    }

    fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<T>>, Error> {
        let indexes = self.shared.indexes.read();
        let index = find(&indexes, index)?;
        let keys = keys_under(index, value);
        Ok(self.shared.objects_filed_under(index, keys, &[value]))
    }

    fn index_keys(&self, index: &str, value: &str) -> Result<Vec<T::Key>, Error> {
        let mut keys = keys_under(find(&self.shared.indexes.read(), index)?, value);
        keys.sort_unstable();
        Ok(keys)
    }

    fn list_index_values(&self, index: &str) -> Result<Vec<String>, Error> {
        let indexes = self.shared.indexes.read();
        let mut values: Vec<String> = find(&indexes, index)?
            .postings
            .iter()
            .map(|entry| entry.key().clone())
            .collect();
        values.sort_unstable();
        Ok(values)
    }

    fn matching(&self, index: &str, probe: &T) -> Result<Vec<Arc<T>>, Error> {
        let indexes = self.shared.indexes.read();
        let index = find(&indexes, index)?;
        // The probe's values are computed before any shard is held (user code).
        let values = guarded_values(&index.def, probe, &probe.key())?;
        let mut keys: HashSet<T::Key> = HashSet::new();
        for value in &values {
            if let Some(found) = index.postings.get(value.as_str()) {
                keys.extend(found.iter().cloned());
            }
        }
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        Ok(self.shared.objects_filed_under(index, keys, &values))
    }
}

/// The keys under `value` in `index`, copied out so that no postings shard is held
/// while the objects are looked up.
fn keys_under<T: Keyed>(index: &ShardedIndex<T>, value: &str) -> Vec<T::Key> {
    index
        .postings
        .get(value)
        .map(|keys| keys.iter().cloned().collect())
        .unwrap_or_default()
}
