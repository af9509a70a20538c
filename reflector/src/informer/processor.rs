//! The processing task: pops the informer's queue in batches, applies each batch to
//! the cache in one write and hands the notifications to every handler, in the
//! source's order; and the resync decision (which handlers get unchanged objects).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use store_core::delta::tombstones;
use store_core::{
    BatchWrite, DeletedObject, Delta, Indexer, Keyed, OrderedEvent, OrderedFifo, PopError, Queue,
    Requeue, Written,
};
use tokio::sync::Notify;

use super::informer::Shared;
use super::listener::Notification;
use crate::error::ReflectorError;

/// Pops the queue in batches until it is closed and drained.
pub(super) async fn process<T, S>(
    shared: Arc<Shared<T, S>>,
    queue: OrderedFifo<T>,
    batch_size: usize,
    popped: Arc<Notify>,
) where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    loop {
        let popped_batch = queue
            .pop_batch_async(batch_size, |batch, is_initial_list| {
                let started = std::time::Instant::now();
                let events = distribute(&shared, batch.events(), is_initial_list);
                let name = shared.name.lock().clone();
                shared.recorded.batch(
                    &name,
                    events,
                    started.elapsed(),
                    batch.resource_version(),
                    queue.len(),
                );
                Ok::<_, Requeue<store_core::Error>>(())
            })
            .await;
        let outcome = popped_batch;
        popped.notify_waiters();
        match outcome {
            Ok(()) => {}
            Err(PopError::Closed) => break,
            Err(PopError::Requeued(error)) => shared.report(&ReflectorError::Store(error.into())),
        }
        shared.mark_synced_if_done();
    }
    tracing::debug!("informer processing stopped");
}

/// What one write of a batch tells the handlers once applied.
enum Pending<T: Keyed> {
    /// An upsert: an add, or an update (to every handler, or — `sync` — only to the
    /// handlers whose resync is due, when unchanged).
    Upsert {
        obj: Arc<T>,
        sync: Resync,
    },
    Delete(DeletedObject<T>),
}

/// Whether an upsert is a resync (or may be an unchanged relisted object).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resync {
    /// A change: every handler hears it.
    No,
    /// A relisted object: unchanged (same resource version) means a resync.
    IfUnchanged,
    /// A resync.
    Yes,
}

/// The resync check: marks the handlers whose period has passed (and schedules
/// their next); `true` when any is due, so the queue resyncs.
pub(super) fn resync_due<T, S>(shared: &Shared<T, S>) -> bool
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    let now = tokio::time::Instant::now();
    let mut listeners = shared.listeners.lock();
    let mut any = false;
    for listener in &mut listeners.list {
        listener.syncing = false;
        if let Some(period) = listener.resync.filter(|period| !period.is_zero()) {
            if now >= listener.next_resync {
                listener.syncing = true;
                listener.next_resync = far_or(now, period);
                any = true;
            }
        }
    }
    any
}

/// `now + period`, or a time that never comes when the clock cannot count that far.
pub(super) fn far_or(now: tokio::time::Instant, period: Duration) -> tokio::time::Instant {
    now.checked_add(period)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Applies a batch to the store in one write and notifies every handler, in
/// order. Answers how many events it applied.
fn distribute<'a, T, S>(
    shared: &Shared<T, S>,
    events: impl Iterator<Item = &'a OrderedEvent<T>>,
    is_initial_list: bool,
) -> usize
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    let mut listeners = shared.listeners.lock();
    let (writes, pending) = plan(&shared.store, events);
    let applied = pending.len();
    let answers = shared.store.apply_batch(writes);
    for (answer, note) in answers.into_iter().zip(pending) {
        // Handlers hear what the cache now holds (`stored`: after the store's own
        // transformer, if it has one), never a version a reader cannot see.
        let (notification, sync_only) = match (answer, note) {
            (Err(error), _) => {
                shared.report(&ReflectorError::Store(error.into()));
                continue;
            }
            (Ok(_), Pending::Delete(deleted)) => (Notification::Delete(deleted), false),
            (Ok(Written { previous, stored }), Pending::Upsert { obj, sync }) => {
                let obj = stored.unwrap_or(obj);
                match previous {
                    None => (Notification::Add(obj, is_initial_list), false),
                    Some(old) => {
                        let sync_only = match sync {
                            Resync::No => false,
                            Resync::Yes => true,
                            Resync::IfUnchanged => (shared.unchanged)(&old, &obj),
                        };
                        (Notification::Update(old, obj), sync_only)
                    }
                }
            }
        };
        for listener in &mut listeners.list {
            if !sync_only || listener.syncing {
                listener.push(notification.clone());
            }
        }
    }
    for listener in &mut listeners.list {
        listener.flush();
    }
    let name = shared.name.lock().clone();
    for listener in &listeners.list {
        ::metrics::gauge!(
            "informer_handler_backlog",
            "name" => name.clone(),
            "handler" => listener.id.to_string()
        )
        .set(listener.progress.pending() as f64);
    }
    applied
}

/// The batch's writes to the cache and, beside each, what it tells the handlers once
/// applied. A relist (`ReplacedAll`) is reconciled against the cache as it is; the
/// caller holds the listeners' lock (see `Shared::listeners`).
fn plan<'a, T, S>(
    store: &S,
    events: impl Iterator<Item = &'a OrderedEvent<T>>,
) -> (Vec<BatchWrite<T>>, Vec<Pending<T>>)
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    let mut writes: Vec<BatchWrite<T>> = Vec::new();
    let mut pending: Vec<Pending<T>> = Vec::new();
    for event in events {
        match event {
            OrderedEvent::Delta(delta) => {
                let (write, note) = match delta {
                    Delta::Deleted(deleted) => (
                        BatchWrite::Delete(deleted.key()),
                        Pending::Delete(deleted.clone()),
                    ),
                    Delta::Added(obj) | Delta::Updated(obj) => upsert(obj, Resync::No),
                    Delta::Replaced(obj) => upsert(obj, Resync::IfUnchanged),
                    Delta::Sync(obj) => upsert(obj, Resync::Yes),
                };
                writes.push(write);
                pending.push(note);
            }
            OrderedEvent::ReplacedAll { objects, .. } => {
                // Reconciled against the cache: what the list lacks leaves first
                // (tombstones, in key order), then the list in its order.
                let listed: HashSet<T::Key> = objects.iter().map(|obj| obj.key()).collect();
                let cached = store
                    .list_keys()
                    .into_iter()
                    .filter(|key| !listed.contains(key));
                let candidates = cached.map(|key| {
                    let last = store.get(&key);
                    (key, last)
                });
                for tombstone in tombstones(candidates, |key| listed.contains(key)) {
                    writes.push(BatchWrite::Delete(tombstone.key()));
                    pending.push(Pending::Delete(tombstone));
                }
                for obj in objects {
                    let (write, note) = upsert(obj, Resync::IfUnchanged);
                    writes.push(write);
                    pending.push(note);
                }
            }
            OrderedEvent::Bookmark(_) => {}
        }
    }
    (writes, pending)
}

/// An upsert's write, and the notification it will make.
fn upsert<T: Keyed>(obj: &Arc<T>, sync: Resync) -> (BatchWrite<T>, Pending<T>) {
    (
        BatchWrite::Upsert(Arc::clone(obj)),
        Pending::Upsert {
            obj: Arc::clone(obj),
            sync,
        },
    )
}

/// Two versions of an object are the same when their resource versions are (or,
/// when the type has none, when they are the same allocation).
pub(super) fn same_version<T: Keyed>(old: &Arc<T>, new: &Arc<T>) -> bool {
    match (old.resource_version(), new.resource_version()) {
        (Some(old), Some(new)) => old == new,
        _ => Arc::ptr_eq(old, new),
    }
}
