//! [`ShardedCache`]: a DashMap-sharded backend for read-heavy, many-core use.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use equivalent::Equivalent;
use hashbrown::{DefaultHashBuilder, HashSet};
use parking_lot::RwLock;

use crate::error::Error;
use crate::index::{
    guarded_values, refile, register_defaults, reindex, values_for_all, Address, Filed, FiledSet,
    IndexDef, Indexer, ShardedPostings,
};
use crate::keyed::Keyed;
use crate::options::{transformed, StoreOptions, Transform};
use crate::resource_version::ResourceVersion;
use crate::store::{BatchWrite, Removed, Store, Written};

/// An index's value → objects map: each object filed by its `Arc` (one pointer, no
/// key copy).
type Postings<T> = DashMap<String, FiledSet<T>, DefaultHashBuilder>;

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
    postings: Postings<T>,
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
        Self::with_options(StoreOptions::new().with_indexes(defs))
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
    /// An upsert under the registry the caller holds: index values first, from the
    /// object just written and outside the shard lock, so a panic there changes
    /// nothing.
    fn add(&self, indexes: &[ShardedIndex<T>], obj: Arc<T>) -> Result<Option<Arc<T>>, Error> {
        let key = obj.key();
        if indexes.is_empty() {
            return Ok(self.items.insert(key, obj));
        }
        let values = values_for_all(indexes.iter().map(|index| &index.def), &obj, &key)?;
        Ok(self.upsert(indexes, key, obj, &values))
    }

    /// What `f` gives for each entry, one shard at a time: each shard's read lock is
    /// taken once for all its entries (DashMap's iterator pays a guard per entry).
    /// `capacity` is what the result is allocated for up front.
    fn collect_entries<R>(
        &self,
        capacity: usize,
        mut f: impl FnMut(&T::Key, &Arc<T>) -> Option<R>,
    ) -> Vec<R> {
        let mut out = Vec::with_capacity(capacity);
        for shard in self.items.shards() {
            let shard = shard.read();
            out.extend(shard.iter().filter_map(|(key, obj)| f(key, obj)));
        }
        out
    }

    /// Upserts under the key's shard lock, moving the index entries along.
    /// `indexes` is the registry, held by the caller; `new_values` holds the values
    /// of `obj` for every index.
    fn upsert(
        &self,
        indexes: &[ShardedIndex<T>],
        key: T::Key,
        obj: Arc<T>,
        new_values: &[Vec<String>],
    ) -> Option<Arc<T>> {
        match self.items.entry(key) {
            Entry::Occupied(mut entry) => {
                let old = entry.insert(obj);
                let new = entry.get();
                for (index, values) in indexes.iter().zip(new_values) {
                    let mut postings = ShardedPostings(&index.postings);
                    if index.def.is_key_derived() {
                        // Same key, same values: only the pointer changes, and the
                        // old (often cold) object is not read.
                        refile(&mut postings, values, &old, new);
                    } else {
                        let old_values = guarded_values(&index.def, &old, entry.key());
                        reindex(&mut postings, Some((&old, old_values)), Some((new, values)));
                    }
                }
                Some(old)
            }
            Entry::Vacant(entry) => {
                let stored = entry.insert(obj);
                for (index, values) in indexes.iter().zip(new_values) {
                    reindex(
                        &mut ShardedPostings(&index.postings),
                        None,
                        Some((stored.value(), values)),
                    );
                }
                None
            }
        }
    }

    /// Removes under the key's shard lock, taking the object out of every index.
    fn remove<Q>(&self, indexes: &[ShardedIndex<T>], key: &Q) -> Option<(T::Key, Arc<T>)>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.items.remove_if(key, |key, old| {
            for index in indexes {
                let old_values = guarded_values(&index.def, old, key);
                reindex(
                    &mut ShardedPostings(&index.postings),
                    Some((old, old_values)),
                    None,
                );
            }
            true
        })
    }

    /// The stored objects of the keys of `candidates` that are filed under one of
    /// `values` of `index`, each once.
    ///
    /// The candidates were read from the postings earlier; a writer may have moved a
    /// key since. Each key's current object is checked while its item shard is held:
    /// a writer updates the postings of a key under that shard's lock, so what the
    /// check sees is what the object is filed under (lock order as for writers: item
    /// shard, then postings shard).
    fn objects_filed_under(
        &self,
        index: &ShardedIndex<T>,
        candidates: Vec<Arc<T>>,
        values: &[&str],
    ) -> Vec<Arc<T>> {
        let mut found: HashSet<Filed<T>> = HashSet::with_capacity(candidates.len());
        for candidate in candidates {
            let Some(entry) = self.items.get(&candidate.key()) else {
                continue;
            };
            let filed = values.iter().any(|value| {
                index
                    .postings
                    .get(*value)
                    .is_some_and(|set| set.contains(&Address::of(entry.value())))
            });
            if filed {
                found.insert(Filed(Arc::clone(entry.value())));
            }
        }
        found.into_iter().map(|obj| obj.0).collect()
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
    fn apply_batch(&self, writes: Vec<BatchWrite<T>>) -> Vec<Result<Written<T>, Error>> {
        let writes: Vec<Result<BatchWrite<T>, Error>> = writes
            .into_iter()
            .map(|write| match write {
                BatchWrite::Upsert(obj) => {
                    transformed(&self.shared.transform, obj).map(BatchWrite::Upsert)
                }
                delete => Ok(delete),
            })
            .collect();
        let indexes = self.shared.indexes.read();
        writes
            .into_iter()
            .map(|write| match write? {
                BatchWrite::Upsert(obj) => {
                    let stored = Arc::clone(&obj);
                    let previous = self.shared.add(&indexes, obj)?;
                    Ok(Written::upserted(previous, stored))
                }
                BatchWrite::Delete(key) => {
                    let previous = self.shared.remove(&indexes, &key).map(|(_, obj)| obj);
                    Ok(Written::removed(previous))
                }
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
        let len = self.shared.items.len();
        self.shared
            .collect_entries(len, |_, obj| Some(Arc::clone(obj)))
    }

    fn list_keys(&self) -> Vec<T::Key> {
        let len = self.shared.items.len();
        self.shared.collect_entries(len, |key, _| Some(key.clone()))
    }

    fn len(&self) -> usize {
        self.shared.items.len()
    }

    /// Upserts the listed objects, then removes the keys the list lacked (see the type's
    /// documentation for what concurrent readers observe). The transformer and the
    /// index functions run on every listed object first, so a failure changes nothing.
    fn replace<I>(
        &self,
        items: I,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error>
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        let mut indexes = self.shared.indexes.write();
        let items = items.into_iter();
        // Everything that can fail, while each object is warm in cache: the new
        // postings are built aside, the store is not touched yet.
        let mut listed: Vec<(T::Key, Arc<T>)> = Vec::with_capacity(items.size_hint().0);
        let fresh: Vec<Postings<T>> = indexes
            .iter()
            .map(|_| Postings::with_hasher(DefaultHashBuilder::default()))
            .collect();
        for obj in items {
            let obj = transformed(&self.shared.transform, obj)?;
            let key = obj.key();
            for (index, postings) in indexes.iter().zip(&fresh) {
                let values = guarded_values(&index.def, &obj, &key)?;
                reindex(&mut ShardedPostings(postings), None, Some((&obj, &values)));
            }
            listed.push((key, obj));
        }
        // Index queries wait for the registry we hold: the new postings go in now,
        // and the old ones let go of the objects they held.
        for (index, postings) in indexes.iter_mut().zip(fresh) {
            index.postings = postings;
        }
        // The listed objects by address: what survives, with no key copies.
        let addresses: HashSet<Address> = listed.iter().map(|(_, obj)| Address::of(obj)).collect();
        let mut superseded = Vec::new();
        for (key, obj) in listed {
            let address = Address::of(&obj);
            if let Some(old) = self.shared.items.insert(key, obj) {
                // A key listed twice: the earlier object was filed aside too.
                let old_address = Address::of(&old);
                if old_address != address && addresses.contains(&old_address) {
                    superseded.push(old);
                }
            }
        }
        for old in &superseded {
            for index in indexes.iter() {
                let values = guarded_values(&index.def, old, &old.key());
                reindex(
                    &mut ShardedPostings(&index.postings),
                    Some((old, values)),
                    None,
                );
            }
        }
        let mut removed = Vec::new();
        self.shared.items.retain(|key, obj| {
            let listed = addresses.contains(&Address::of(obj));
            if !listed {
                removed.push((key.clone(), Arc::clone(obj)));
            }
            listed
        });
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
            .collect_entries(0, |key, _| (!seen.contains(key)).then(|| key.clone()));
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
            reindex(
                &mut ShardedPostings(&postings),
                None,
                Some((entry.value(), &values)),
            );
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
        let candidates = filed_under(index, value);
        Ok(self.shared.objects_filed_under(index, candidates, &[value]))
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
        // An object under several of the values is looked up once.
        let mut candidates: HashSet<Filed<T>> = HashSet::new();
        for value in &values {
            candidates.extend(filed_under(index, value).into_iter().map(Filed));
        }
        let candidates: Vec<Arc<T>> = candidates.into_iter().map(|obj| obj.0).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        Ok(self.shared.objects_filed_under(index, candidates, &values))
    }
}

/// The objects under `value` in `index`, copied out so that no postings shard is
/// held while they are checked against the items.
fn filed_under<T: Keyed>(index: &ShardedIndex<T>, value: &str) -> Vec<Arc<T>> {
    index
        .postings
        .get(value)
        .map(|set| set.iter().map(|obj| Arc::clone(&obj.0)).collect())
        .unwrap_or_default()
}
