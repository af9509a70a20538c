//! The informer's queue as its reflector writes into it: the transform runs here,
//! once per object, before anything is queued or cached; resyncs go to the queue only
//! when a handler's resync is due.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use store_core::{DeletedObject, Delta, Keyed, OrderedFifo, Queue};
use tokio::sync::Notify;

use super::hooks::{report_to, SharedHook, Transform};
use crate::error::ReflectorError;
use crate::store::{Change, ReflectorStore, StoreError};
use store_core::panic::panic_message;

/// The cached version of an object's key: what a relist keeps for an object the
/// transform panicked on.
pub(super) type Cached<T> = Arc<dyn Fn(&T) -> Option<Arc<T>> + Send + Sync>;
/// Marks the handlers whose resync is due; `true` when there is any.
pub(super) type ResyncDue = Arc<dyn Fn() -> bool + Send + Sync>;

/// How many entries the queue may hold before a relist in place waits for the
/// processing task to catch up (two of the reflector's default pages).
const RELIST_BACKLOG: usize = 1_000;

pub(super) struct QueueWriter<T: Keyed> {
    pub(super) queue: OrderedFifo<T>,
    /// Told by the processing task after each batch it took.
    pub(super) popped: Arc<Notify>,
    pub(super) transform: Option<Transform<T>>,
    pub(super) cached: Cached<T>,
    pub(super) on_error: SharedHook,
    pub(super) resync_due: ResyncDue,
}

impl<T: Keyed + Send + Sync + 'static> QueueWriter<T> {
    /// Listed objects, transformed; one the transform panicked on keeps its cached
    /// version (or is left out when nothing is cached).
    fn listed(&self, items: Vec<Arc<T>>) -> Vec<Arc<T>> {
        let Some(transform) = &self.transform else {
            return items;
        };
        items
            .into_iter()
            .filter_map(|obj| {
                let raw = Arc::clone(&obj);
                self.transformed(transform, obj)
                    .or_else(|| (self.cached)(&raw))
            })
            .collect()
    }

    /// The transformed object, or `None` (reported) when the transform panicked.
    fn transformed(&self, transform: &Transform<T>, obj: Arc<T>) -> Option<Arc<T>> {
        let key = obj.key();
        match catch_unwind(AssertUnwindSafe(|| transform(obj))) {
            Ok(obj) => Some(obj),
            Err(payload) => {
                let error = ReflectorError::TransformPanicked {
                    key: key.to_string(),
                    message: panic_message(payload.as_ref()),
                };
                tracing::error!(%error, "informer transform panicked; object skipped");
                report_to(&self.on_error, &error);
                None
            }
        }
    }

    /// A panicking transform skips the object: an add or update of it is not queued
    /// (the cache keeps what it had), a relist keeps the cached version of its key (or
    /// leaves it out when nothing is cached). A deletion is still queued, with the
    /// object as the source sent it, so that nothing outlives its deletion.
    fn write(&self, change: Change<T>) {
        let transform = |obj: Arc<T>| match &self.transform {
            Some(f) => self.transformed(f, obj),
            None => Some(obj),
        };
        let (delta, rv) = match change {
            Change::Added(obj, rv) => (transform(obj).map(Delta::Added), rv),
            Change::Modified(obj, rv) => (transform(obj).map(Delta::Updated), rv),
            Change::Deleted(obj, rv) => {
                let raw = Arc::clone(&obj);
                let obj = transform(obj).unwrap_or(raw);
                (Some(Delta::Deleted(DeletedObject::Final(obj))), rv)
            }
            Change::Bookmark(rv) => return self.queue.bookmark(rv),
            Change::Replaced(items, rv) => return self.queue.replace(self.listed(items), rv),
            // A page of an in-place relist: transformed as a relist's objects are,
            // queued as `Replaced` entries at once.
            Change::RelistPage(page) => return self.queue.relist_page(self.listed(page)),
            Change::RelistEnd {
                seen,
                resource_version,
            } => return self.queue.relist_end(&seen, resource_version),
            Change::Resync => {
                if (self.resync_due)() {
                    self.queue.resync();
                }
                return;
            }
        };
        if let Some(delta) = delta {
            self.queue.push(delta, Some(rv));
        }
    }
}

impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for QueueWriter<T> {
    fn apply(&self, change: Change<T>) -> Result<(), StoreError> {
        self.write(change);
        Ok(())
    }

    fn supports_in_place_relist(&self) -> bool {
        true
    }

    /// Until the processing task has brought the queue down to
    /// [`RELIST_BACKLOG`] entries (or the queue is closed): without it, a source that
    /// lists faster than the handlers take events queues the whole new list while
    /// the cache still holds the old one (measured 1.22× the steady memory at the
    /// peak of a relist of 100k objects, 1.06× with it).
    async fn ready_for_page(&self) {
        loop {
            let popped = self.popped.notified();
            let mut popped = std::pin::pin!(popped);
            // Registered before the check, so that a pop in between is not missed.
            popped.as_mut().enable();
            if self.queue.len() <= RELIST_BACKLOG || self.queue.is_closed() {
                return;
            }
            popped.await;
        }
    }
}
