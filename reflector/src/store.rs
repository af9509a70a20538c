//! [`ReflectorStore`]: what a [`Reflector`](crate::Reflector) writes into, implemented
//! by both caches and the queues of `store-core`; the [`Change`]s it applies, each
//! with the resource version the source made it at; and [`StoreError`], what a store
//! refuses a change with.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use store_core::{
    BatchWrite, Cache, DeletedObject, Delta, DeltaFifo, Fifo, Keyed, OrderedFifo, ResourceVersion,
    ShardedCache, Store,
};
use thiserror::Error;

/// One change a reflector hands to its store, with the resource version the source
/// made it at: a store that serves the changes on (a watch cache, an ordered queue)
/// keeps the version with the change; a cache may ignore it.
#[derive(Debug)]
pub enum Change<T: Keyed> {
    /// A watch reported a new object, made at this resource version.
    Added(Arc<T>, ResourceVersion),
    /// A watch reported a changed object.
    Modified(Arc<T>, ResourceVersion),
    /// A watch reported a deletion, with the object's final state.
    Deleted(Arc<T>, ResourceVersion),
    /// The source reached this resource version with no change (a bookmark, or the
    /// end of a streaming list's initial events after they were applied).
    Bookmark(ResourceVersion),
    /// A list answered: the store must now hold exactly these objects, at this
    /// resource version (an atomic relist).
    Replaced(Vec<Arc<T>>, ResourceVersion),
    /// One page of an in-place relist
    /// ([`RelistMode::InPlace`](crate::RelistMode::InPlace)), to write as it arrives;
    /// sent only to a store that [takes them](ReflectorStore::supports_in_place_relist).
    RelistPage(Vec<Arc<T>>),
    /// The end of an in-place relist: every key not in `seen` (the keys of every page)
    /// is gone; the store is now at `resource_version`.
    RelistEnd {
        /// The keys of every page of the relist.
        seen: HashSet<T::Key>,
        /// The version the list was made at.
        resource_version: ResourceVersion,
    },
    /// The resync period passed.
    Resync,
}

impl<T: Keyed> Change<T> {
    /// The resource version the change brings the store to: `None` for a relist page
    /// (the version comes with its end) and a resync.
    pub fn resource_version(&self) -> Option<&ResourceVersion> {
        match self {
            Change::Added(_, rv)
            | Change::Modified(_, rv)
            | Change::Deleted(_, rv)
            | Change::Bookmark(rv)
            | Change::Replaced(_, rv) => Some(rv),
            Change::RelistEnd {
                resource_version, ..
            } => Some(resource_version),
            Change::RelistPage(_) | Change::Resync => None,
        }
    }
}

/// What a [`ReflectorStore`] refuses a change with; the reflector reports it
/// ([`ReflectorError::Store`](crate::ReflectorError::Store)) and goes on.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A store of store-core refused: an index function or a transformer panicked.
    #[error(transparent)]
    Store(#[from] store_core::Error),
    /// The store was handed an in-place relist it does not take (it says so through
    /// [`ReflectorStore::supports_in_place_relist`]).
    #[error("this store does not take in-place relists")]
    InPlaceRelistUnsupported,
    /// Any other store's own error (a watch cache's, a user store's).
    #[error(transparent)]
    Other(Arc<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a store's own error.
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Other(Arc::new(error))
    }
}

/// A destination a [`Reflector`](crate::Reflector) keeps in sync with its source.
///
/// Implemented for [`Cache`], [`ShardedCache`] (the caches take the changes), [`Fifo`],
/// [`DeltaFifo`] and [`OrderedFifo`] (the queues hand them on to a consumer). Implement
/// it to reflect into anything else: one method applies every [`Change`], in the order
/// given; another says whether the store takes in-place relists.
///
/// ```
/// use std::sync::Arc;
/// use reflector::{Change, ReflectorStore};
/// use store_core::{Cache, Keyed, Store};
///
/// #[derive(Keyed)]
/// struct Lease { #[key] name: String }
///
/// let cache = Cache::new();
/// cache.apply(Change::Added(Arc::new(Lease { name: "a".into() }), "5".into()))?;
/// cache.apply(Change::Replaced(vec![Arc::new(Lease { name: "b".into() })], "7".into()))?;
/// assert_eq!(cache.list_keys(), ["b"]);
/// # Ok::<(), reflector::store::StoreError>(())
/// ```
pub trait ReflectorStore<T: Keyed>: Send + Sync + 'static {
    /// Applies one change.
    ///
    /// # Errors
    ///
    /// What the store refuses the change with; the reflector reports it and goes on
    /// (a refused relist is retried after a backoff).
    fn apply(&self, change: Change<T>) -> Result<(), StoreError>;

    /// Whether this store takes in-place relists
    /// ([`RelistMode::InPlace`](crate::RelistMode::InPlace)): [`Change::RelistPage`]
    /// and [`Change::RelistEnd`]. The default, `false`, makes the reflector relist it
    /// atomically (one [`Change::Replaced`]).
    fn supports_in_place_relist(&self) -> bool {
        false
    }

    /// Waits until the store has room for another page of an in-place relist. The
    /// reflector awaits it after each [`Change::RelistPage`], so that a store which
    /// hands its changes on to a consumer (an informer's queue) holds about one page
    /// more than its steady state during a relist, not a whole list the consumer has
    /// yet to catch up with. Shutdown ends the wait. The default: at once.
    fn ready_for_page(&self) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

/// A page of an in-place relist into a cache: one `apply_batch` (one write lock for a
/// `Cache`); the first refused object's error is returned, after the others.
fn page_into_store<T: Keyed, S: Store<T>>(store: &S, page: Vec<Arc<T>>) -> Result<(), StoreError> {
    let writes = page.into_iter().map(BatchWrite::Upsert).collect();
    store
        .apply_batch(writes)
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), |error| Err(error.into()))
}

fn apply_to_store<T, S>(store: &S, change: Change<T>) -> Result<(), StoreError>
where
    T: Keyed,
    S: Store<T>,
{
    match change {
        Change::Added(obj, _) | Change::Modified(obj, _) => store.add(obj).map(drop)?,
        Change::Deleted(obj, _) => drop(store.delete(&obj.key())),
        Change::Bookmark(_) => {}
        Change::Replaced(items, rv) => store.replace(items, rv).map(drop)?,
        Change::RelistPage(page) => page_into_store(store, page)?,
        Change::RelistEnd {
            seen,
            resource_version,
        } => store.retain_listed(&seen, resource_version).map(drop)?,
        Change::Resync => store.resync(),
    }
    Ok(())
}

/// Both caches: every change, in-place relists included.
macro_rules! cache_reflector_store {
    ($($cache:ident),*) => {$(
        impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for $cache<T> {
            fn apply(&self, change: Change<T>) -> Result<(), StoreError> {
                apply_to_store(self, change)
            }

            fn supports_in_place_relist(&self) -> bool {
                true
            }
        }
    )*};
}
cache_reflector_store!(Cache, ShardedCache);

/// The keyed queues (one entry per key): the versions are not kept, since the queue
/// holds the latest state of a key, not its history.
macro_rules! keyed_queue_reflector_store {
    ($($queue:ident),*) => {$(
        impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for $queue<T> {
            fn apply(&self, change: Change<T>) -> Result<(), StoreError> {
                match change {
                    Change::Added(obj, _) => self.add(obj),
                    Change::Modified(obj, _) => self.update(obj),
                    Change::Deleted(obj, _) => drop(self.delete(obj)),
                    Change::Bookmark(_) => {}
                    Change::Replaced(items, rv) => self.replace(items, rv),
                    Change::RelistPage(page) => self.relist_page(page),
                    Change::RelistEnd { seen, resource_version } => {
                        self.relist_end(&seen, resource_version)
                    }
                    Change::Resync => self.resync(),
                }
                Ok(())
            }

            fn supports_in_place_relist(&self) -> bool {
                true
            }
        }
    )*};
}
keyed_queue_reflector_store!(Fifo, DeltaFifo);

/// Every change becomes its own entry, with the version of the watch event that made
/// it; bookmarks are queued when the queue [emits them](OrderedFifo::emit_bookmarks).
impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for OrderedFifo<T> {
    fn apply(&self, change: Change<T>) -> Result<(), StoreError> {
        match change {
            Change::Added(obj, rv) => self.push(Delta::Added(obj), Some(rv)),
            Change::Modified(obj, rv) => self.push(Delta::Updated(obj), Some(rv)),
            Change::Deleted(obj, rv) => {
                self.push(Delta::Deleted(DeletedObject::Final(obj)), Some(rv));
            }
            Change::Bookmark(rv) => self.bookmark(rv),
            Change::Replaced(items, rv) => self.replace(items, rv),
            Change::RelistPage(page) => self.relist_page(page),
            Change::RelistEnd {
                seen,
                resource_version,
            } => self.relist_end(&seen, resource_version),
            Change::Resync => self.resync(),
        }
        Ok(())
    }

    fn supports_in_place_relist(&self) -> bool {
        true
    }
}

impl<T: Keyed, S: ReflectorStore<T>> ReflectorStore<T> for Arc<S> {
    fn apply(&self, change: Change<T>) -> Result<(), StoreError> {
        (**self).apply(change)
    }

    fn supports_in_place_relist(&self) -> bool {
        (**self).supports_in_place_relist()
    }

    fn ready_for_page(&self) -> impl Future<Output = ()> + Send {
        (**self).ready_for_page()
    }
}
