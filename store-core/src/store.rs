//! The [`Store`] contract both cache backends implement.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use equivalent::Equivalent;

use crate::error::Error;
use crate::keyed::Keyed;
use crate::resource_version::ResourceVersion;

/// What a [`Store::replace`] took out: the key and the last stored object of every
/// entry that the new list did not contain, so a caller can emit deletes for them.
pub type Removed<T> = Vec<(<T as Keyed>::Key, Arc<T>)>;

/// A thread-safe, keyed object cache: client-go's `Store`, typed.
///
/// Objects are stored and handed out as `Arc<T>`: a reader gets its own reference
/// and never holds a lock or guard once a call returns. You must not rely on interior
/// mutability of stored objects: a stored object is a snapshot, replaced whole by the
/// next write of its key.
///
/// Handles are cheap to clone (`Arc` inside) and every clone sees the same data.
///
/// `add` and `update` are the same upsert (the names follow client-go's event
/// vocabulary). Writes return the object they replaced or removed. A write fails only
/// when an index function panics; the store is then left exactly as it was.
///
/// Look-ups take anything [`Equivalent`] to the key: the key itself, or a borrowed
/// form such as [`ObjectNameRef`](crate::ObjectNameRef), so `get` allocates nothing.
///
/// ```
/// use std::sync::Arc;
/// use store_core::{Cache, Keyed, Store};
///
/// #[derive(Keyed, Debug, PartialEq)]
/// struct Node {
///     #[key]
///     name: String,
///     ready: bool,
/// }
///
/// fn demo(store: impl Store<Node>) -> Result<(), store_core::Error> {
///     store.add(Node { name: "a".into(), ready: false })?;
///     store.update(Node { name: "a".into(), ready: true })?;
///     assert_eq!(store.get("a").map(|n| n.ready), Some(true));
///     let removed = store.replace([Arc::new(Node { name: "b".into(), ready: true })], "7")?;
///     assert_eq!(removed.len(), 1);
///     assert_eq!(store.list_keys(), ["b"]);
///     assert_eq!(store.last_sync_resource_version().as_ref().map(|rv| rv.as_str()), Some("7"));
///     Ok(())
/// }
/// demo(Cache::new())?;
/// demo(store_core::ShardedCache::new())?;
/// # Ok::<(), store_core::Error>(())
/// ```
pub trait Store<T: Keyed>: Clone + Send + Sync {
    /// Inserts or replaces the object under its key; returns the object it replaced.
    fn add(&self, obj: impl Into<Arc<T>>) -> Result<Option<Arc<T>>, Error>;

    /// Same as [`add`](Store::add): inserts or replaces the object under its key.
    fn update(&self, obj: impl Into<Arc<T>>) -> Result<Option<Arc<T>>, Error> {
        self.add(obj)
    }

    /// Removes the object under `key`; returns it. A missing key is a no-op (`None`).
    fn delete<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized;

    /// The object under `key`, if any.
    fn get<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized;

    /// Whether an object is stored under `key`.
    fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: Hash + Equivalent<T::Key> + ?Sized;

    /// Every stored object, in no particular order. Costs one `Arc` clone per object.
    fn list(&self) -> Vec<Arc<T>>;

    /// Every stored key, in no particular order.
    fn list_keys(&self) -> Vec<T::Key>;

    /// How many objects are stored.
    fn len(&self) -> usize;

    /// Whether no object is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes the store hold exactly `items` (the last of several with one key wins)
    /// and records `resource_version` as the last synced version. Returns the entries
    /// it removed (keys absent from `items`) with their last objects.
    ///
    /// Each backend documents what a concurrent reader can observe meanwhile.
    fn replace<I>(
        &self,
        items: I,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error>
    where
        I: IntoIterator<Item = Arc<T>>;

    /// Resync: a no-op for a plain store (queues re-deliver their content instead).
    fn resync(&self) {}

    /// The end of an in-place relist (a reflector's `RelistMode::InPlace`): the listed
    /// objects were written (upserted) page by page as they arrived; this removes every
    /// entry whose key is not in `seen` and records `resource_version` as the last
    /// synced version, as [`replace`](Store::replace) would have at the end. Returns
    /// the removed entries.
    ///
    /// Meanwhile a reader saw each key either in its old or in its new state, never
    /// missing while the source still has it. The peak memory is the store plus one
    /// page, not two copies of the store.
    ///
    /// Both caches remove in place. The default (for other stores) calls `replace` with
    /// the entries it keeps.
    ///
    /// ```
    /// use std::collections::HashSet;
    /// use store_core::{Cache, Keyed, Store};
    ///
    /// #[derive(Keyed)]
    /// struct Lease { #[key] name: String, holder: u32 }
    ///
    /// let cache = Cache::new();
    /// cache.replace(["a", "b", "c"].map(|n| Lease { name: n.into(), holder: 1 }.into()), "5")?;
    /// // a relist, one page at a time
    /// let mut seen = HashSet::new();
    /// for page in [vec!["a"], vec!["c"]] {
    ///     for name in page {
    ///         cache.add(Lease { name: name.into(), holder: 2 })?;
    ///         seen.insert(name.to_string());
    ///     }
    /// }
    /// let removed = cache.retain_listed(&seen, "9")?;
    /// assert_eq!(removed.len(), 1); // "b" is gone
    /// assert_eq!(cache.len(), 2);
    /// assert_eq!(cache.last_sync_resource_version().unwrap().as_str(), "9");
    /// # Ok::<(), store_core::Error>(())
    /// ```
    fn retain_listed(
        &self,
        seen: &HashSet<T::Key>,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error> {
        let kept: Vec<Arc<T>> = self
            .list()
            .into_iter()
            .filter(|obj| seen.contains(&obj.key()))
            .collect();
        self.replace(kept, resource_version)
    }

    /// The resource version passed to the last [`replace`](Store::replace), if any.
    fn last_sync_resource_version(&self) -> Option<ResourceVersion>;

    /// Applies many writes in order (client-go's `Transaction`): each answers with
    /// what it [`Written`] — the object it replaced or removed, and the object the store
    /// now holds under the key (after the store's transformer, if it has one) — or its
    /// own error; a failed write is skipped and the rest are applied.
    ///
    /// [`Cache`](crate::Cache) applies the whole batch under one write lock (a reader
    /// sees none of it or all of it); the default, and
    /// [`ShardedCache`](crate::ShardedCache), apply one write at a time.
    ///
    /// # Errors
    ///
    /// Per write, as [`add`](Store::add) fails: an index function or the transformer
    /// panicked on that object.
    ///
    /// ```
    /// use store_core::{BatchWrite, Cache, Keyed, Store};
    ///
    /// #[derive(Keyed)]
    /// struct Lease { #[key] name: String, holder: u32 }
    ///
    /// let cache = Cache::new();
    /// cache.add(Lease { name: "a".into(), holder: 1 })?;
    /// let answers = cache.apply_batch(vec![
    ///     BatchWrite::Upsert(Lease { name: "a".into(), holder: 2 }.into()),
    ///     BatchWrite::Delete("b".to_string()),
    /// ]);
    /// let first = answers[0].as_ref().unwrap();
    /// assert_eq!(first.previous.as_ref().map(|old| old.holder), Some(1));
    /// assert_eq!(first.stored.as_ref().map(|new| new.holder), Some(2));
    /// assert!(answers[1].as_ref().unwrap().previous.is_none()); // nothing to delete
    /// # Ok::<(), store_core::Error>(())
    /// ```
    fn apply_batch(&self, writes: Vec<BatchWrite<T>>) -> Vec<Result<Written<T>, Error>> {
        writes
            .into_iter()
            .map(|write| match write {
                BatchWrite::Upsert(obj) => {
                    let key = obj.key();
                    let previous = self.add(obj)?;
                    Ok(Written {
                        previous,
                        stored: self.get(&key),
                    })
                }
                BatchWrite::Delete(key) => Ok(Written::removed(self.delete(&key))),
            })
            .collect()
    }
}

/// One write of a [`Store::apply_batch`].
pub enum BatchWrite<T: Keyed> {
    /// Insert or replace the object.
    Upsert(Arc<T>),
    /// Remove the key.
    Delete(T::Key),
}

/// What one write of a [`Store::apply_batch`] did.
///
/// `stored` is what a reader of the store now gets for the key: for an upsert into a
/// store with a transformer ([`StoreOptions::with_transform`](crate::StoreOptions::with_transform)),
/// the transformed object, not the one written — so a caller that reports writes (an
/// informer's handlers) can report exactly what the store holds.
#[derive(Debug)]
pub struct Written<T> {
    /// The object the write replaced or removed.
    pub previous: Option<Arc<T>>,
    /// The object the store holds under the key now (`None` after a delete).
    pub stored: Option<Arc<T>>,
}

impl<T> Written<T> {
    /// An upsert that stored `stored` in place of `previous`.
    pub fn upserted(previous: Option<Arc<T>>, stored: Arc<T>) -> Self {
        Written {
            previous,
            stored: Some(stored),
        }
    }

    /// A delete that removed `previous` (`None`: the key was absent).
    pub fn removed(previous: Option<Arc<T>>) -> Self {
        Written {
            previous,
            stored: None,
        }
    }
}

impl<T: Keyed + fmt::Debug> fmt::Debug for BatchWrite<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchWrite::Upsert(obj) => f.debug_tuple("Upsert").field(obj).finish(),
            BatchWrite::Delete(key) => f.debug_tuple("Delete").field(key).finish(),
        }
    }
}
