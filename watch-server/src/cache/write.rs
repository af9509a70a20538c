//! How a [`Reflector`](reflector::Reflector) writes into a [`WatchCache`]: its
//! [`ReflectorStore`] impl. An event at its resource version becomes one
//! [`Event`] of the window, sent to every watcher; a relist replaces the state,
//! resets the window and closes every watch; a bookmark moves the version on.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use reflector::{Change, ReflectorStore};
use store_core::{Error, ResourceVersion};
use tracing::{debug, info};

use crate::cache::entry::Entry;
use crate::cache::event::{Event, EventType};
use crate::cache::{Message, SortKey, WatchCache};
use crate::resource::Resource;

impl<T: Resource> ReflectorStore<T> for WatchCache<T> {
    /// Lists (`Replaced`) and resyncs; a watch event without its resource version is
    /// refused — the reflector hands events to [`apply_at`](Self::apply_at).
    fn apply(&self, change: Change<T>) -> Result<(), Error> {
        match change {
            Change::Replaced(items, rv) => self.replace(items, &rv),
            Change::Resync => Ok(()),
            Change::Added(_) | Change::Modified(_) | Change::Deleted(_) => {
                Err(Error::InvalidResourceVersion {
                    resource_version: String::new(),
                    reason: "is missing: a watch cache needs each event's version (apply_at)",
                })
            }
        }
    }

    fn apply_at(&self, change: Change<T>, resource_version: &ResourceVersion) -> Result<(), Error> {
        self.write(change, resource_version)
    }

    fn bookmark(&self, resource_version: &ResourceVersion) {
        let Ok(rv) = parse_rv(resource_version) else {
            return;
        };
        let mut state = self.inner.state.lock();
        if rv > state.rv && state.ready {
            state.rv = rv;
            drop(state);
            self.inner.version.send_replace(rv);
        }
    }
}

impl<T: Resource> WatchCache<T> {
    /// Applies one change at `rv`: a watch event must advance the cache's version
    /// (else `InvalidResourceVersion`); its event joins the window and goes to every
    /// watcher under the state's lock, so no watcher misses it or gets it twice.
    fn write(&self, change: Change<T>, rv: &ResourceVersion) -> Result<(), Error> {
        let (object, deleted) = match change {
            Change::Added(object) | Change::Modified(object) => (object, false),
            Change::Deleted(object) => (object, true),
            Change::Replaced(items, rv) => return self.replace(items, &rv),
            Change::Resync => return Ok(()),
        };
        let rv = parse_rv(rv)?;
        let entry = Arc::new(Entry::encode(object, rv)?);
        let key = sort_key(&*entry.object);
        let mut state = self.inner.state.lock();
        if rv <= state.rv {
            return Err(Error::InvalidResourceVersion {
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
    fn replace(&self, items: Vec<Arc<T>>, rv: &ResourceVersion) -> Result<(), Error> {
        let rv = parse_rv(rv)?;
        let mut objects = BTreeMap::new();
        for object in items {
            let entry = Entry::encode(object, rv)?;
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
fn sort_key<T: Resource>(object: &T) -> SortKey {
    (
        object.namespace().unwrap_or_default().to_owned(),
        object.name().to_owned(),
    )
}

/// The number a source's resource version is: decimal digits only (no sign, no
/// spaces), fitting a `u64` — the rule kube-apiserver reads versions by.
// A copy of the HTTP parameter's rule (`http::query`), kept here so the cache does
// not depend on the HTTP layer; both go once resource versions get one type.
fn parse_rv(rv: &ResourceVersion) -> Result<u64, Error> {
    let text = rv.as_str();
    let number = if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    };
    number.ok_or_else(|| {
        debug!(%rv, "watch cache: a resource version that is not a number");
        Error::InvalidResourceVersion {
            resource_version: rv.to_string(),
            reason: "is not a decimal number (a watch cache orders events by it)",
        }
    })
}
