//! How a [`Reflector`](reflector::Reflector) writes into a [`WatchCache`]: its
//! [`ReflectorStore`] impl. An event at its resource version becomes one
//! [`Event`] of the window, sent to every watcher; a relist replaces the state,
//! resets the window and closes every watch; a bookmark moves the version on.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use reflector::{Change, ReflectorStore, StoreError};
use serve::Revision;
use store_core::ResourceVersion;
use tracing::{debug, info};

use crate::cache::entry::Entry;
use crate::cache::error::WatchCacheError;
use crate::cache::event::{Event, EventType};
use crate::cache::{Message, SortKey, WatchCache};
use crate::resource::ServedResource;

impl<T: ServedResource> ReflectorStore<T> for WatchCache<T> {
    /// Watch events at their versions join the window; a list (`Replaced`) replaces
    /// the state; a bookmark moves the version on. A watch cache relists atomically
    /// (it keeps every object's bytes for its window), so it takes no in-place relists.
    fn apply(&self, change: Change<T>) -> Result<(), StoreError> {
        let written = match change {
            Change::Added(object, rv) | Change::Modified(object, rv) => {
                self.write(object, false, &rv)
            }
            Change::Deleted(object, rv) => self.write(object, true, &rv),
            Change::Bookmark(rv) => {
                self.bookmark(&rv);
                Ok(())
            }
            Change::Replaced(items, rv) => self.replace(items, &rv),
            Change::RelistPage(_) | Change::RelistEnd { .. } => Err(WatchCacheError::InPlaceRelist),
            Change::Resync => Ok(()),
        };
        written.map_err(StoreError::other)
    }
}

impl<T: ServedResource> WatchCache<T> {
    /// The source reached `rv` with no change: the cache's version moves on.
    fn bookmark(&self, rv: &ResourceVersion) {
        let Ok(rv) = parse_rv(rv) else {
            return;
        };
        let mut state = self.inner.state.lock();
        if rv.get() > state.rv && state.ready {
            state.rv = rv.get();
            drop(state);
            self.inner.version.send_replace(rv.get());
        }
    }

    /// Applies one watch event at `rv` (the object's own version: the source wrote it
    /// then): it must advance the cache's version (else `InvalidResourceVersion`); its
    /// event joins the window and goes to every watcher under the state's lock, so no
    /// watcher misses it or gets it twice.
    fn write(
        &self,
        object: Arc<T>,
        deleted: bool,
        rv: &ResourceVersion,
    ) -> Result<(), WatchCacheError> {
        let revision = parse_rv(rv)?;
        let entry = Arc::new(Entry::encode(object, revision)?);
        let rv = revision.get();
        let key = sort_key(&*entry.object);
        let mut state = self.inner.state.lock();
        if rv <= state.rv {
            return Err(WatchCacheError::InvalidResourceVersion {
                resource_version: rv.to_string(),
                reason: "does not advance the watch cache's version",
            });
        }
        let previous = if deleted {
            state.objects.remove(&key)
        } else {
            state.objects.insert(key, Arc::clone(&entry))
        };
        let kind = match (deleted, &previous) {
            (true, _) => EventType::Deleted,
            (false, Some(_)) => EventType::Modified,
            (false, None) => EventType::Added,
        };
        let event = Arc::new(Event::new(kind, rv, entry, previous));
        state.watchers.send(|| Message::Event(Arc::clone(&event)));
        let evicted = state.history.push(rv, event);
        state.rv = rv;
        drop(state);
        // The evicted event may hold the last reference to a large object: freed
        // outside the lock.
        drop(evicted);
        self.inner.version.send_replace(rv);
        self.inner.events.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// A relist: the state becomes `items` at `rv` (each written out before the
    /// lock is taken), the window restarts at `rv`, and every watch is closed.
    ///
    /// Each object is served with its own version (`Keyed::resource_version`: the
    /// revision its source wrote it at), as kube-apiserver serves each object's etcd
    /// revision: a relist that changed nothing changes no object's version, so a
    /// downstream informer that relists sees no update. Only an object that carries no
    /// numeric version of its own is served with the list's.
    fn replace(&self, items: Vec<Arc<T>>, rv: &ResourceVersion) -> Result<(), WatchCacheError> {
        let listed = parse_rv(rv)?;
        let rv = listed.get();
        let mut objects = BTreeMap::new();
        for object in items {
            let own = object
                .resource_version()
                .and_then(|own| Revision::parse(own).ok());
            let entry = Entry::encode(object, own.unwrap_or(listed))?;
            objects.insert(sort_key(&*entry.object), Arc::new(entry));
        }
        let mut state = self.inner.state.lock();
        let old = std::mem::replace(&mut state.objects, objects);
        state.history.reset(rv);
        state.snapshots.clear();
        let closed = state.watchers.close_all(None);
        let first = !state.ready;
        state.ready = true;
        state.rv = rv;
        let count = state.objects.len();
        drop(state);
        drop(old);
        self.inner.version.send_replace(rv);
        self.inner.relists.fetch_add(1, Ordering::Relaxed);
        if first {
            info!(
                resource = T::PLURAL,
                objects = count,
                resource_version = rv,
                "watch cache ready"
            );
        } else {
            info!(
                resource = T::PLURAL,
                objects = count,
                resource_version = rv,
                closed,
                "watch cache relisted; every watch closed"
            );
        }
        Ok(())
    }
}

/// Where `object` sorts: its namespace, then its name.
fn sort_key<T: ServedResource>(object: &T) -> SortKey {
    (
        object.namespace().unwrap_or_default().to_owned(),
        object.name().to_owned(),
    )
}

/// The number a source's resource version is (kube-apiserver's rule: decimal digits
/// only, fitting a `u64`).
fn parse_rv(rv: &ResourceVersion) -> Result<Revision, WatchCacheError> {
    Revision::try_from(rv).map_err(|_| {
        debug!(%rv, "watch cache: a resource version that is not a number");
        WatchCacheError::InvalidResourceVersion {
            resource_version: rv.to_string(),
            reason: "is not a decimal number (a watch cache orders events by it)",
        }
    })
}
