//! [`ReflectorStore`]: what a [`Reflector`](crate::Reflector) writes into, implemented
//! by both caches and the queues of `store-core`.

use std::collections::HashSet;
use std::sync::Arc;

use store_core::{
    BatchWrite, Cache, DeletedObject, Delta, DeltaFifo, Error, Fifo, Keyed, OrderedFifo,
    ResourceVersion, ShardedCache, Store,
};

/// One change a reflector hands to its store.
#[derive(Debug)]
pub enum Change<T> {
    /// A watch reported a new object.
    Added(Arc<T>),
    /// A watch reported a changed object.
    Modified(Arc<T>),
    /// A watch reported a deletion, with the object's final state.
    Deleted(Arc<T>),
    /// A list answered: the store must now hold exactly these objects.
    Replaced(Vec<Arc<T>>, ResourceVersion),
    /// The resync period passed.
    Resync,
}

/// A destination a [`Reflector`](crate::Reflector) keeps in sync with its source.
///
/// Implemented for [`Cache`], [`ShardedCache`] (the caches take the changes), [`Fifo`],
/// [`DeltaFifo`] and [`OrderedFifo`] (the queues hand them on to a consumer). Implement it to reflect
/// into anything else; a change must be applied in the order given.
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
/// cache.apply(Change::Added(Arc::new(Lease { name: "a".into() })))?;
/// cache.apply(Change::Replaced(vec![Arc::new(Lease { name: "b".into() })], "7".into()))?;
/// assert_eq!(cache.list_keys(), ["b"]);
/// # Ok::<(), store_core::Error>(())
/// ```
pub trait ReflectorStore<T: Keyed>: Send + Sync + 'static {
    /// Applies one change.
    fn apply(&self, change: Change<T>) -> Result<(), Error>;

    /// Applies the change of one watch event, which the source made at
    /// `resource_version`. The reflector calls this, not [`apply`](Self::apply), for
    /// watch events; the default forgets the version. A store that serves the
    /// changes on (a watch cache) keeps it.
    fn apply_at(&self, change: Change<T>, resource_version: &ResourceVersion) -> Result<(), Error> {
        let _ = resource_version;
        self.apply(change)
    }

    /// The source reached `resource_version` with no change for this store (a
    /// bookmark). The default does nothing.
    fn bookmark(&self, resource_version: &ResourceVersion) {
        let _ = resource_version;
    }

    /// Whether this store takes in-place relists
    /// ([`RelistMode::InPlace`](crate::RelistMode::InPlace)): [`relist_page`] and
    /// [`relist_end`]. The default, `false`, makes the reflector relist it atomically
    /// (one `Replaced`).
    ///
    /// [`relist_page`]: Self::relist_page
    /// [`relist_end`]: Self::relist_end
    fn supports_in_place_relist(&self) -> bool {
        false
    }

    /// One page of an in-place relist, written as it arrives. The default upserts
    /// each object as a [`Change::Modified`].
    fn relist_page(&self, page: Vec<Arc<T>>) -> Result<(), Error> {
        page.into_iter()
            .try_for_each(|obj| self.apply(Change::Modified(obj)))
    }

    /// The end of an in-place relist: every key not in `seen` (the keys of every page)
    /// is gone; the store is now at `resource_version`. The default refuses
    /// ([`Error::InPlaceRelistUnsupported`]): a store that takes in-place relists
    /// implements it.
    fn relist_end(
        &self,
        seen: &HashSet<T::Key>,
        resource_version: &ResourceVersion,
    ) -> Result<(), Error> {
        let _ = (seen, resource_version);
        Err(Error::InPlaceRelistUnsupported)
    }
}

/// A page of an in-place relist into a cache: one `apply_batch` (one write lock for a
/// `Cache`); the first refused object's error is returned, after the others.
fn page_into_store<T: Keyed, S: Store<T>>(store: &S, page: Vec<Arc<T>>) -> Result<(), Error> {
    let writes = page.into_iter().map(BatchWrite::Upsert).collect();
    store
        .apply_batch(writes)
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), Err)
}

fn apply_to_store<T, S>(store: &S, change: Change<T>) -> Result<(), Error>
where
    T: Keyed,
    S: Store<T>,
{
    match change {
        Change::Added(obj) | Change::Modified(obj) => store.add(obj).map(drop),
        Change::Deleted(obj) => {
            store.delete(&obj.key());
            Ok(())
        }
        Change::Replaced(items, rv) => store.replace(items, rv).map(drop),
        Change::Resync => {
            store.resync();
            Ok(())
        }
    }
}

macro_rules! cache_reflector_store {
    ($($cache:ident),*) => {$(
        impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for $cache<T> {
            fn apply(&self, change: Change<T>) -> Result<(), Error> {
                apply_to_store(self, change)
            }

            fn supports_in_place_relist(&self) -> bool {
                true
            }

            fn relist_page(&self, page: Vec<Arc<T>>) -> Result<(), Error> {
                page_into_store(self, page)
            }

            fn relist_end(
                &self,
                seen: &HashSet<T::Key>,
                resource_version: &ResourceVersion,
            ) -> Result<(), Error> {
                self.retain_listed(seen, resource_version.clone()).map(drop)
            }
        }
    )*};
}
cache_reflector_store!(Cache, ShardedCache);

/// The queues' in-place relists: their own `relist_page` and `relist_end`.
macro_rules! queue_in_place_relist {
    () => {
        fn supports_in_place_relist(&self) -> bool {
            true
        }

        fn relist_page(&self, page: Vec<Arc<T>>) -> Result<(), Error> {
            Self::relist_page(self, page);
            Ok(())
        }

        fn relist_end(
            &self,
            seen: &HashSet<T::Key>,
            resource_version: &ResourceVersion,
        ) -> Result<(), Error> {
            Self::relist_end(self, seen, resource_version.clone());
            Ok(())
        }
    };
}

impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for Fifo<T> {
    fn apply(&self, change: Change<T>) -> Result<(), Error> {
        match change {
            Change::Added(obj) | Change::Modified(obj) => self.add(obj),
            Change::Deleted(obj) => {
                self.delete(obj);
            }
            Change::Replaced(items, rv) => self.replace(items, rv),
            Change::Resync => self.resync(),
        }
        Ok(())
    }

    queue_in_place_relist!();
}

impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for DeltaFifo<T> {
    fn apply(&self, change: Change<T>) -> Result<(), Error> {
        match change {
            Change::Added(obj) => self.add(obj),
            Change::Modified(obj) => self.update(obj),
            Change::Deleted(obj) => {
                self.delete(obj);
            }
            Change::Replaced(items, rv) => self.replace(items, rv),
            Change::Resync => self.resync(),
        }
        Ok(())
    }

    queue_in_place_relist!();
}

/// Every change becomes its own entry, with the version of the watch event that made
/// it; bookmarks are queued when the queue [emits them](OrderedFifo::emit_bookmarks).
impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for OrderedFifo<T> {
    fn apply(&self, change: Change<T>) -> Result<(), Error> {
        apply_to_ordered(self, change, None);
        Ok(())
    }

    fn apply_at(&self, change: Change<T>, resource_version: &ResourceVersion) -> Result<(), Error> {
        apply_to_ordered(self, change, Some(resource_version));
        Ok(())
    }

    fn bookmark(&self, resource_version: &ResourceVersion) {
        OrderedFifo::bookmark(self, resource_version.clone());
    }

    queue_in_place_relist!();
}

fn apply_to_ordered<T: Keyed + Send + Sync + 'static>(
    queue: &OrderedFifo<T>,
    change: Change<T>,
    rv: Option<&ResourceVersion>,
) {
    let delta = match change {
        Change::Added(obj) => Delta::Added(obj),
        Change::Modified(obj) => Delta::Updated(obj),
        Change::Deleted(obj) => Delta::Deleted(DeletedObject::Final(obj)),
        Change::Replaced(items, rv) => return queue.replace(items, rv),
        Change::Resync => return queue.resync(),
    };
    queue.push(delta, rv.cloned());
}

impl<T: Keyed, S: ReflectorStore<T>> ReflectorStore<T> for Arc<S> {
    fn apply(&self, change: Change<T>) -> Result<(), Error> {
        (**self).apply(change)
    }

    fn apply_at(&self, change: Change<T>, resource_version: &ResourceVersion) -> Result<(), Error> {
        (**self).apply_at(change, resource_version)
    }

    fn bookmark(&self, resource_version: &ResourceVersion) {
        (**self).bookmark(resource_version);
    }

    fn supports_in_place_relist(&self) -> bool {
        (**self).supports_in_place_relist()
    }

    fn relist_page(&self, page: Vec<Arc<T>>) -> Result<(), Error> {
        (**self).relist_page(page)
    }

    fn relist_end(
        &self,
        seen: &HashSet<T::Key>,
        resource_version: &ResourceVersion,
    ) -> Result<(), Error> {
        (**self).relist_end(seen, resource_version)
    }
}
