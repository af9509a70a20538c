//! [`OrderedFifo`]: an ordered log of every change, client-go's `RealFIFO` (the queue
//! of client-go's informers since 1.33).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use hashbrown::HashSet;

use super::engine::{Engine, OnDrop};
use super::ordered_log::{Batch, Log, Taken};
use super::{KnownObjects, PopError, Queue, Requeue};
use crate::delta::{tombstones, DeletedObject, Delta};
use crate::keyed::Keyed;
use crate::resource_version::ResourceVersion;

/// One entry of an [`OrderedFifo`].
pub enum OrderedEvent<T: Keyed> {
    /// A change of one object: `Added`, `Updated`, `Deleted` (typed tombstones for
    /// deletions a relist inferred), `Replaced` (listed by a relist) or `Sync`
    /// (re-delivered unchanged by a resync).
    Delta(Delta<T>),
    /// An atomic relist: the consumer must now hold exactly `objects`. It reconciles
    /// them against what it holds (deleting what the list lacks) in one step, so no
    /// reader sees a half-applied relist. Queued by
    /// [`replace`](OrderedFifo::replace) in [atomic mode](OrderedFifo::atomic_replace).
    ReplacedAll {
        /// The listed objects.
        objects: Vec<Arc<T>>,
        /// The resource version of the list.
        resource_version: ResourceVersion,
    },
    /// The source reached this resource version with no change (a watch bookmark),
    /// queued in order so the consumer's store learns the version when it has
    /// applied everything before it. Only with
    /// [`emit_bookmarks`](OrderedFifo::emit_bookmarks).
    Bookmark(ResourceVersion),
}

impl<T: Keyed> OrderedEvent<T> {
    /// The key of the object concerned: `None` for `ReplacedAll` and `Bookmark`.
    pub fn key(&self) -> Option<T::Key> {
        match self {
            OrderedEvent::Delta(delta) => Some(delta.key()),
            OrderedEvent::ReplacedAll { .. } | OrderedEvent::Bookmark(_) => None,
        }
    }

    /// The change of one object, if this is one.
    pub fn delta(&self) -> Option<&Delta<T>> {
        match self {
            OrderedEvent::Delta(delta) => Some(delta),
            _ => None,
        }
    }
}

impl<T: Keyed> Clone for OrderedEvent<T> {
    fn clone(&self) -> Self {
        match self {
            OrderedEvent::Delta(delta) => OrderedEvent::Delta(delta.clone()),
            OrderedEvent::ReplacedAll {
                objects,
                resource_version,
            } => OrderedEvent::ReplacedAll {
                objects: objects.clone(),
                resource_version: resource_version.clone(),
            },
            OrderedEvent::Bookmark(rv) => OrderedEvent::Bookmark(rv.clone()),
        }
    }
}

impl<T: Keyed + fmt::Debug> fmt::Debug for OrderedEvent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderedEvent::Delta(delta) => delta.fmt(f),
            OrderedEvent::ReplacedAll {
                objects,
                resource_version,
            } => f
                .debug_struct("ReplacedAll")
                .field("objects", objects)
                .field("resource_version", resource_version)
                .finish(),
            OrderedEvent::Bookmark(rv) => f.debug_tuple("Bookmark").field(rv).finish(),
        }
    }
}

impl<T: Keyed + PartialEq> PartialEq for OrderedEvent<T> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (OrderedEvent::Delta(a), OrderedEvent::Delta(b)) => a == b,
            (
                OrderedEvent::ReplacedAll {
                    objects: a,
                    resource_version: ra,
                },
                OrderedEvent::ReplacedAll {
                    objects: b,
                    resource_version: rb,
                },
            ) => a == b && ra == rb,
            (OrderedEvent::Bookmark(a), OrderedEvent::Bookmark(b)) => a == b,
            _ => false,
        }
    }
}

/// An ordered log of every change: client-go's `RealFIFO`, the queue client-go's
/// informers run on since 1.33 (and the one [`Informer`]s here run on).
///
/// - **Every write is its own entry**, popped in arrival order: no per-key merging, so
///   a consumer sees changes across keys in the order the source made them. A
///   deletion is always queued, also of a key nobody knows (the consumer decides).
/// - **`replace(list, rv)`** (a relist) queues, *before* the listed objects, a typed
///   tombstone (`Deleted(Unknown)`, in key order) for every key the consumer will hold
///   — what it holds now ([`KnownObjects`]), updated by the entries being processed and
///   still queued — that the list lacks; then `Replaced` for each listed object, in
///   list order. In [atomic mode](OrderedFifo::atomic_replace) it queues one
///   [`OrderedEvent::ReplacedAll`] instead, which the consumer reconciles in one step.
/// - **`resync`** queues `Sync` for every known object whose key has nothing queued
///   or being processed.
/// - **Bookmarks** ([`emit_bookmarks`](OrderedFifo::emit_bookmarks)) flow through as
///   entries, so a consumer's store learns the version in order.
/// - **`pop`** takes one entry; **`pop_batch(max)`** takes up to `max` from the front,
///   stopping before a second entry of one key, before the initial-list boundary
///   (entries of the first `replace` and later ones are never mixed) and before a
///   `ReplacedAll` (which is popped alone). The closure runs outside the lock, gets
///   whether the entries belong to the initial list, and may return [`Requeue`]: the
///   entries go back to the *tail* (they lose their place in the order; a consumer
///   that must keep order retries inside its closure instead).
/// - With one popper, events are processed in order. With several, each takes the
///   next entries in order but they process concurrently, as on a channel.
/// - **`close`** and **`has_synced`**: as for the other queues (`has_synced` counts the
///   entries of the first `replace`, tombstones included, or its one `ReplacedAll`).
///
/// ```
/// use store_core::{Delta, Keyed, OrderedEvent, OrderedFifo, Queue, Requeue};
///
/// #[derive(Keyed, Debug)]
/// struct Pod { #[key] name: String, phase: &'static str }
///
/// let queue = OrderedFifo::new();
/// queue.add(Pod { name: "a".into(), phase: "Pending" });
/// queue.add(Pod { name: "b".into(), phase: "Pending" });
/// queue.update(Pod { name: "a".into(), phase: "Running" }); // its own entry, after b
/// assert_eq!(queue.len(), 3);
///
/// // a batch never holds one key twice: it stops before the second "a"
/// let names = queue.pop_batch(10, |batch, _initial| {
///     Ok::<_, Requeue<()>>(batch.events().map(|e| e.key().unwrap()).collect::<Vec<_>>())
/// }).unwrap();
/// assert_eq!(names, ["a", "b"]);
/// let phase = queue.pop(|event, _| match event {
///     OrderedEvent::Delta(Delta::Updated(pod)) => Ok::<_, Requeue<()>>(pod.phase),
///     _ => unreachable!(),
/// }).unwrap();
/// assert_eq!(phase, "Running");
/// ```
///
/// [`Informer`]: https://docs.rs/reflector/latest/reflector/informer/struct.Informer.html
pub struct OrderedFifo<T: Keyed> {
    queue: Arc<Engine<Log<T>>>,
    known: Option<Arc<dyn KnownObjects<T>>>,
    atomic: bool,
    bookmarks: bool,
}

impl<T: Keyed + Send + Sync + 'static> OrderedFifo<T> {
    /// An empty queue without known objects: a relist's tombstones are computed against
    /// the queued entries only, and `resync` does nothing.
    pub fn new() -> Self {
        OrderedFifo {
            queue: Arc::new(Engine::new(Log::new())),
            known: None,
            atomic: false,
            bookmarks: false,
        }
    }

    /// An empty queue consulting `known` (usually the consumer's store) for a
    /// relist's tombstones and for `resync`.
    pub fn with_known_objects(known: impl KnownObjects<T> + 'static) -> Self {
        let queue = Self::new();
        // A non-atomic replace must know what batches being processed will leave.
        queue
            .queue
            .write(|log| log.in_flight = Some(BTreeMap::new()));
        OrderedFifo {
            known: Some(Arc::new(known)),
            ..queue
        }
    }

    /// Makes `replace` queue one [`OrderedEvent::ReplacedAll`] (client-go's
    /// `AtomicFIFO`): the consumer reconciles the list against what it holds.
    pub fn atomic_replace(mut self) -> Self {
        self.atomic = true;
        self.queue.write(|log| log.in_flight = None);
        self
    }

    /// Makes [`bookmark`](OrderedFifo::bookmark) queue an [`OrderedEvent::Bookmark`].
    pub fn emit_bookmarks(mut self) -> Self {
        self.bookmarks = true;
        self
    }

    /// Whether `replace` queues one `ReplacedAll`.
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// Queues `Added`.
    pub fn add(&self, obj: impl Into<Arc<T>>) {
        self.push(Delta::Added(obj.into()), None);
    }

    /// Queues `Updated`.
    pub fn update(&self, obj: impl Into<Arc<T>>) {
        self.push(Delta::Updated(obj.into()), None);
    }

    /// Queues `Deleted` with the object's final state — always, also for a key
    /// nobody knows. Returns `true` (the deletion was queued), as the other queues'
    /// `delete` returns whether it changed the queue.
    pub fn delete(&self, obj: impl Into<Arc<T>>) -> bool {
        self.push(Delta::Deleted(DeletedObject::Final(obj.into())), None);
        true
    }

    /// Queues one change, made by the source at `resource_version` when given (a
    /// [`Batch`] reports the newest version it holds).
    pub fn push(&self, delta: Delta<T>, resource_version: Option<ResourceVersion>) {
        self.queue.write(|log| {
            log.populated = true;
            log.push(OrderedEvent::Delta(delta), resource_version);
        });
    }

    /// The source reached `resource_version` with no change: queues a `Bookmark` when
    /// [`emit_bookmarks`](OrderedFifo::emit_bookmarks) is on, else does nothing.
    pub fn bookmark(&self, resource_version: impl Into<ResourceVersion>) {
        if self.bookmarks {
            let rv = resource_version.into();
            self.queue
                .write(|log| log.push(OrderedEvent::Bookmark(rv), None));
        }
    }

    /// A relist: see the type's documentation for what it queues.
    pub fn replace<I>(&self, items: I, resource_version: impl Into<ResourceVersion>)
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        let rv = resource_version.into();
        let objects: Vec<Arc<T>> = items.into_iter().collect();
        self.queue.write(|log| {
            let before = log.entries.len();
            if self.atomic {
                log.push(
                    OrderedEvent::ReplacedAll {
                        objects,
                        resource_version: rv.clone(),
                    },
                    Some(rv),
                );
            } else {
                // Read under the queue's lock, with the in-flight outcomes: a popper
                // finishing meanwhile cannot slip between the two.
                let projected = log.projected(self.known.as_deref());
                let listed: HashSet<T::Key> = objects.iter().map(|obj| obj.key()).collect();
                let candidates = projected.into_iter().map(|(key, last)| (key, Some(last)));
                for tombstone in tombstones(candidates, |key| listed.contains(key)) {
                    log.push(OrderedEvent::Delta(Delta::Deleted(tombstone)), None);
                }
                let count = objects.len();
                for (i, obj) in objects.into_iter().enumerate() {
                    // The list's version goes with its last entry: the consumer is at
                    // it once the whole list is applied.
                    let at = (i + 1 == count).then(|| rv.clone());
                    log.push(OrderedEvent::Delta(Delta::Replaced(obj)), at);
                }
            }
            log.end_relist();
            tracing::trace!(
                queued = log.entries.len() - before,
                atomic = self.atomic,
                "ordered fifo replace"
            );
        });
    }

    /// One page of an in-place relist (a reflector's `RelistMode::InPlace`): each object
    /// is queued as a `Replaced` delta as it arrives, atomic mode or not;
    /// [`relist_end`](OrderedFifo::relist_end) finishes the relist. Unlike
    /// [`replace`](OrderedFifo::replace), the relist's tombstones come after its
    /// objects — they can only be known once the whole list was seen — and the queue
    /// never holds the whole list at once unless the consumer stalls.
    ///
    /// Meant for relists: the initial list of an empty queue is best a `replace`, so
    /// that every entry of it counts as initial.
    pub fn relist_page<I>(&self, items: I)
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        self.queue.write(|log| {
            for obj in items {
                log.push(OrderedEvent::Delta(Delta::Replaced(obj)), None);
            }
        });
    }

    /// The end of an in-place relist: a typed tombstone for every key the consumer
    /// will hold (known, in flight or queued) that the list lacked (`seen` holds every
    /// listed key), in key order; the list's version goes with the last tombstone, or
    /// with a `Bookmark` entry when nothing was deleted.
    pub fn relist_end(
        &self,
        seen: &std::collections::HashSet<T::Key>,
        resource_version: impl Into<ResourceVersion>,
    ) {
        let rv = resource_version.into();
        self.queue.write(|log| {
            let candidates = log
                .projected(self.known.as_deref())
                .into_iter()
                .map(|(key, last)| (key, Some(last)));
            let gone = tombstones(candidates, |key| seen.contains(key));
            if gone.is_empty() {
                log.push(OrderedEvent::Bookmark(rv.clone()), Some(rv));
            } else {
                let count = gone.len();
                for (i, tombstone) in gone.into_iter().enumerate() {
                    let at = (i + 1 == count).then(|| rv.clone());
                    log.push(OrderedEvent::Delta(Delta::Deleted(tombstone)), at);
                }
            }
            log.end_relist();
        });
    }

    /// Queues `Sync` for every known object whose key has nothing queued or being
    /// processed, in key order. No-op without known objects.
    pub fn resync(&self) {
        let Some(known) = &self.known else { return };
        self.queue.write(|log| {
            let pending = log.pending_keys();
            let mut keys = known.known_keys();
            keys.sort_unstable();
            for key in keys {
                if pending.contains(&key) {
                    continue;
                }
                if let Some(obj) = known.known_object(&key) {
                    log.push(OrderedEvent::Delta(Delta::Sync(obj)), None);
                }
            }
        });
    }

    /// Waits (blocking the thread) for an entry, takes it and runs
    /// `process(event, is_in_initial_list)` outside the lock.
    pub fn pop<R, E>(
        &self,
        process: impl FnOnce(&OrderedEvent<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<R, PopError<E>> {
        let taken = self.queue.take_blocking(1).ok_or(PopError::Closed)?;
        self.process(taken, one(process))
    }

    /// Waits (without blocking a thread) for an entry, takes it and runs `process`.
    /// Cancel-safe: dropping the future before it resolves takes nothing.
    pub async fn pop_async<R, E>(
        &self,
        process: impl FnOnce(&OrderedEvent<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<R, PopError<E>> {
        let taken = self.queue.take_async(1).await.ok_or(PopError::Closed)?;
        self.process(taken, one(process))
    }

    /// Pops an entry if one is queued, without waiting: `Ok(None)` when empty and open.
    pub fn try_pop<R, E>(
        &self,
        process: impl FnOnce(&OrderedEvent<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<Option<R>, PopError<E>> {
        match self.queue.try_take(1) {
            Err(()) => Err(PopError::Closed),
            Ok(None) => Ok(None),
            Ok(Some(taken)) => self.process(taken, one(process)).map(Some),
        }
    }

    /// Waits (blocking the thread) for entries and takes up to `max` (at least one)
    /// as one [`Batch`] (see the type's documentation for where a batch stops), then
    /// runs `process(batch, is_in_initial_list)` outside the lock.
    pub fn pop_batch<R, E>(
        &self,
        max: usize,
        process: impl FnOnce(&Batch<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<R, PopError<E>> {
        let taken = self.queue.take_blocking(max).ok_or(PopError::Closed)?;
        self.process(taken, process)
    }

    /// [`pop_batch`](OrderedFifo::pop_batch) without blocking a thread; cancel-safe.
    pub async fn pop_batch_async<R, E>(
        &self,
        max: usize,
        process: impl FnOnce(&Batch<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<R, PopError<E>> {
        let taken = self.queue.take_async(max).await.ok_or(PopError::Closed)?;
        self.process(taken, process)
    }

    /// Runs `process` on a taken batch; the batch counts as popped for `has_synced`
    /// once it returns, or unwinds. On [`Requeue`] the entries go back to the tail.
    fn process<R, E>(
        &self,
        taken: Taken<T>,
        process: impl FnOnce(&Batch<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<R, PopError<E>> {
        let Taken {
            batch,
            is_initial_list,
            initial,
            flight,
        } = taken;
        let finish = OnDrop::new(|| self.queue.write(|log| log.finish(initial, flight)));
        let outcome = process(&batch, is_initial_list);
        finish.disarm();
        self.queue.write(|log| {
            log.finish(initial, flight);
            match outcome {
                Ok(result) => Ok(result),
                Err(Requeue(error)) => {
                    let Batch { first, rest } = batch;
                    for entry in std::iter::once(first).chain(rest) {
                        log.push(entry.event, entry.resource_version);
                    }
                    Err(PopError::Requeued(error))
                }
            }
        })
    }

    /// Whether an entry of `key` is queued (a `ReplacedAll` belongs to no key).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: std::hash::Hash + equivalent::Equivalent<T::Key> + ?Sized,
    {
        self.queue.read(|log| {
            log.entries
                .iter()
                .any(|entry| entry.key.as_ref().is_some_and(|k| key.equivalent(k)))
        })
    }

    /// The keys with entries queued, each once, in the order of their first entry.
    pub fn list_keys(&self) -> Vec<T::Key> {
        self.queue.read(|log| {
            let mut seen = HashSet::new();
            log.entries
                .iter()
                .filter_map(|entry| entry.key.clone())
                .filter(|key| seen.insert(key.clone()))
                .collect()
        })
    }

    /// Copies of the queued entries, in pop order.
    pub fn list(&self) -> Vec<OrderedEvent<T>> {
        self.queue.read(|log| {
            log.entries
                .iter()
                .map(|entry| entry.event.clone())
                .collect()
        })
    }
}

impl<T: Keyed + Send + Sync + 'static> Queue for OrderedFifo<T> {
    fn close(&self) {
        self.queue.close();
    }

    fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    fn has_synced(&self) -> bool {
        self.queue.has_synced()
    }

    /// How many entries are queued.
    fn len(&self) -> usize {
        self.queue.len()
    }
}

/// A one-entry closure as a batch closure.
fn one<T: Keyed, R, E>(
    process: impl FnOnce(&OrderedEvent<T>, bool) -> Result<R, Requeue<E>>,
) -> impl FnOnce(&Batch<T>, bool) -> Result<R, Requeue<E>> {
    move |batch, initial| process(batch.first(), initial)
}

impl<T: Keyed + Send + Sync + 'static> Default for OrderedFifo<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> Clone for OrderedFifo<T> {
    fn clone(&self) -> Self {
        OrderedFifo {
            queue: Arc::clone(&self.queue),
            known: self.known.clone(),
            atomic: self.atomic,
            bookmarks: self.bookmarks,
        }
    }
}

impl<T: Keyed> fmt::Debug for OrderedFifo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (len, closed, synced) = self.queue.summary();
        f.debug_struct("OrderedFifo")
            .field("len", &len)
            .field("closed", &closed)
            .field("has_synced", &synced)
            .field("atomic", &self.atomic)
            .field("known_objects", &self.known.is_some())
            .finish()
    }
}
