//! [`ReflectorStore`]: what a [`Reflector`](crate::Reflector) writes into, implemented
//! by both caches and both queues of `store-core`.

use std::sync::Arc;

use store_core::{
    Cache, DeletedObject, Delta, DeltaFifo, Error, Fifo, Keyed, OrderedFifo, ResourceVersion,
    ShardedCache, Store,
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

impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for Cache<T> {
    fn apply(&self, change: Change<T>) -> Result<(), Error> {
        apply_to_store(self, change)
    }
}

impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for ShardedCache<T> {
    fn apply(&self, change: Change<T>) -> Result<(), Error> {
        apply_to_store(self, change)
    }
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
}
