//! [`Fifo`]: a queue holding the latest object per key.

use std::fmt;
use std::sync::Arc;

use std::hash::Hash;

use equivalent::Equivalent;

use super::engine::Engine;
use super::keyed::State;
use super::{KnownObjects, PopError, Queue, Requeue};
use crate::keyed::Keyed;
use crate::resource_version::ResourceVersion;

/// A first-in, first-out queue of the latest object per key: client-go's `FIFO`.
///
/// - **One entry per key.** Adding a key that is queued replaces its object and keeps
///   its place, so a consumer that falls behind sees only the latest version. A key
///   added again after it was popped goes to the back: no line jumping.
/// - **`pop`** blocks while the queue is empty, takes the item out of the queue, then
///   runs the processing closure on it (outside the queue's lock: producers are never
///   blocked by a slow consumer). A key is processed by one popper at a time: a newer
///   version queued while it is processed waits, at the front, until it is done. The closure may return [`Requeue`] to put the item
///   back at the tail; `pop` then hands its error back as [`PopError::Requeued`]. A
///   requeue never overwrites a newer object queued meanwhile.
/// - **`delete`** takes the key out of the queue.
/// - **`replace`** swaps the content: keys missing from the list are dropped, listed
///   keys already queued keep their place, new ones go to the back in list order.
/// - **`resync`** queues every object of the known-objects store (see
///   [`with_known_objects`](Fifo::with_known_objects)) whose key is not queued; without
///   one it does nothing.
/// - **`close`** wakes every blocked popper (threads and tasks); they drain what
///   remains, then get [`PopError::Closed`]. An item requeued after the last popper
///   left stays queued for a later `pop`.
/// - **`has_synced`** is true once any write happened before the first `replace`, or
///   once every item of the first `replace` has been popped (processed); an empty first
///   `replace` makes it true at once.
///
/// ```
/// use store_core::{Fifo, Keyed, PopError, Queue, Requeue};
///
/// #[derive(Keyed, Debug)]
/// struct Job { #[key] id: u32, attempt: u32 }
///
/// let queue = Fifo::new();
/// queue.add(Job { id: 1, attempt: 0 });
/// queue.add(Job { id: 2, attempt: 0 });
/// queue.add(Job { id: 1, attempt: 1 }); // same key: replaced in place
/// assert_eq!(queue.len(), 2);
///
/// let first = queue.pop(|job, _| Ok::<_, Requeue<String>>(job.attempt))?;
/// assert_eq!(first, 1); // key 1 first, at its newest version
///
/// // ask for a retry: the job goes to the back and pop returns the error
/// let retried = queue.pop(|job, _| Err::<(), _>(Requeue(format!("job {} busy", job.id))));
/// assert_eq!(retried, Err(PopError::Requeued("job 2 busy".to_string())));
/// assert_eq!(queue.list_keys(), [2]);
///
/// queue.close();
/// assert_eq!(queue.pop(|job, _| Ok::<_, Requeue<String>>(job.id))?, 2); // drains first
/// assert_eq!(queue.pop(|job, _| Ok::<_, Requeue<String>>(job.id)), Err(PopError::Closed));
/// # Ok::<(), PopError<String>>(())
/// ```
pub struct Fifo<T: Keyed> {
    queue: Arc<Engine<FifoState<T>>>,
    known: Option<Arc<dyn KnownObjects<T>>>,
}

/// Drops the queued keys a list lacks.
fn drop_unlisted<T: Keyed>(state: &mut FifoState<T>, listed: impl Fn(&T::Key) -> bool) {
    let dropped: Vec<T::Key> = state
        .entries()
        .map(|(key, _)| key)
        .filter(|key| !listed(key))
        .cloned()
        .collect();
    for key in &dropped {
        state.remove(key);
    }
}

/// The keyed queue state behind a [`Fifo`].
type FifoState<T> = State<<T as Keyed>::Key, Arc<T>, ()>;

impl<T: Keyed + Send + Sync + 'static> Fifo<T> {
    /// An empty, open queue.
    pub fn new() -> Self {
        Fifo {
            queue: Arc::new(Engine::keyed(|_| ())),
            known: None,
        }
    }

    /// An empty queue whose [`resync`](Fifo::resync) re-queues the objects of `known`
    /// (typically the store the consumer fills).
    pub fn with_known_objects(known: impl KnownObjects<T> + 'static) -> Self {
        Fifo {
            queue: Arc::new(Engine::keyed(|_| ())),
            known: Some(Arc::new(known)),
        }
    }

    /// Queues the object: replaces a queued object of the same key in place, or
    /// goes to the back.
    pub fn add(&self, obj: impl Into<Arc<T>>) {
        let obj = obj.into();
        let key = obj.key();
        self.queue.write(|state| {
            state.mark_populated();
            state.upsert(key, obj, |queued, newer| *queued = newer);
        });
    }

    /// Same as [`add`](Fifo::add).
    pub fn update(&self, obj: impl Into<Arc<T>>) {
        self.add(obj);
    }

    /// A deletion: takes the object's key out of the queue (the consumer never sees
    /// the key's queued version). Returns whether the key was queued. Takes the object,
    /// as every queue's `delete` does (a [`DeltaFifo`](crate::DeltaFifo) and an
    /// [`OrderedFifo`](crate::OrderedFifo) queue its final state).
    pub fn delete(&self, obj: impl Into<Arc<T>>) -> bool {
        let key = obj.into().key();
        self.queue.write(|state| {
            state.mark_populated();
            state.remove(&key).is_some()
        })
    }

    /// Makes the queue hold exactly `items` (the last of several with one key wins).
    /// The resource version is accepted for symmetry with the stores and not kept.
    pub fn replace<I>(&self, items: I, _resource_version: impl Into<ResourceVersion>)
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        let items: Vec<(T::Key, Arc<T>)> = items.into_iter().map(|obj| (obj.key(), obj)).collect();
        self.queue.write(|state| {
            let listed: hashbrown::HashSet<&T::Key> = items.iter().map(|(key, _)| key).collect();
            drop_unlisted(state, |key| listed.contains(key));
            for (key, obj) in items.iter().cloned() {
                state.upsert(key, obj, |queued, newer| *queued = newer);
            }
            state.end_replace();
        });
    }

    /// One page of an in-place relist (a reflector's `RelistMode::InPlace`): the objects
    /// are queued as they arrive; [`relist_end`](Fifo::relist_end) finishes it.
    /// A page and its end together do what one [`replace`](Fifo::replace) of every
    /// page does.
    pub fn relist_page<I>(&self, items: I)
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        let items: Vec<(T::Key, Arc<T>)> = items.into_iter().map(|obj| (obj.key(), obj)).collect();
        self.queue.write(|state| {
            for (key, obj) in items {
                state.upsert(key, obj, |queued, newer| *queued = newer);
            }
        });
    }

    /// The end of an in-place relist: queued keys the list did not contain (`seen`
    /// holds every listed key) are dropped.
    pub fn relist_end(
        &self,
        seen: &std::collections::HashSet<T::Key>,
        _resource_version: impl Into<ResourceVersion>,
    ) {
        self.queue.write(|state| {
            drop_unlisted(state, |key| seen.contains(key));
            state.end_replace();
        });
    }

    /// Queues every known object whose key is not queued (no-op without known objects).
    pub fn resync(&self) {
        let Some(known) = &self.known else { return };
        self.queue
            .write(|state| state.resync_from(known.as_ref(), |obj| obj));
    }

    /// Waits (blocking the thread) for an item, takes it out of the queue and runs
    /// `process` on it with whether it belongs to the first `replace` (the initial
    /// list) — the closure shape of every queue here. See the type's documentation
    /// for requeue and close.
    pub fn pop<R, E>(
        &self,
        process: impl FnOnce(&Arc<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<R, PopError<E>> {
        self.queue
            .pop(|obj, initial| process(obj, initial), keep_newer::<T>)
    }

    /// Waits (without blocking a thread) for an item, takes it out of the queue and
    /// runs `process` on it. Cancel-safe: dropping the future before it resolves
    /// takes nothing from the queue.
    pub async fn pop_async<R, E>(
        &self,
        process: impl FnOnce(&Arc<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<R, PopError<E>> {
        self.queue
            .pop_async(|obj, initial| process(obj, initial), keep_newer::<T>)
            .await
    }

    /// Pops an item if one is queued, without waiting: `Ok(None)` when empty and open.
    pub fn try_pop<R, E>(
        &self,
        process: impl FnOnce(&Arc<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<Option<R>, PopError<E>> {
        self.queue
            .try_pop(|obj, initial| process(obj, initial), keep_newer::<T>)
    }

    /// A copy of what is queued for `key`, if anything.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.queue.read(|state| state.get(key).cloned())
    }

    /// Whether `key` is queued.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.queue.read(|state| state.contains(key))
    }

    /// The queued keys, in pop order.
    pub fn list_keys(&self) -> Vec<T::Key> {
        self.queue.read(|state| state.keys_in_order())
    }

    /// Copies of what every queued key holds, in no particular order.
    pub fn list(&self) -> Vec<Arc<T>> {
        self.queue
            .read(|state| state.entries().map(|(_, acc)| acc.clone()).collect())
    }
}

impl<T: Keyed + Send + Sync + 'static> Queue for Fifo<T> {
    fn close(&self) {
        self.queue.close();
    }

    fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    fn has_synced(&self) -> bool {
        self.queue.has_synced()
    }

    /// How many keys are queued.
    fn len(&self) -> usize {
        self.queue.len()
    }
}

/// A requeued object loses to a newer one queued while it was processed.
fn keep_newer<T>(_requeued: Arc<T>, _newer: &mut Arc<T>) {}

impl<T: Keyed + Send + Sync + 'static> Default for Fifo<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> Clone for Fifo<T> {
    fn clone(&self) -> Self {
        Fifo {
            queue: Arc::clone(&self.queue),
            known: self.known.clone(),
        }
    }
}

impl<T: Keyed> fmt::Debug for Fifo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (len, closed, synced) = self.queue.summary();
        f.debug_struct("Fifo")
            .field("len", &len)
            .field("closed", &closed)
            .field("has_synced", &synced)
            .finish()
    }
}
