//! [`DeltaFifo`]: a queue of every change per key, with typed tombstones.

use std::fmt;
use std::sync::Arc;

use smallvec::{smallvec, SmallVec};

use std::hash::Hash;

use equivalent::Equivalent;

use super::engine::Engine;
use super::keyed::State;
use super::{KnownObjects, PopError, Queue, Requeue};
use crate::delta::{tombstones, DeletedObject, Delta, DeltaKind};
use crate::keyed::Keyed;
use crate::resource_version::ResourceVersion;

/// The changes queued for one key, oldest first. Never empty when popped.
///
/// The first change is held inline: a key with one change (the common case: a watch
/// event per key between two pops) costs no allocation of its own.
pub struct Deltas<T: Keyed>(SmallVec<[Delta<T>; 1]>);

impl<T: Keyed> Deltas<T> {
    /// The oldest change.
    pub fn oldest(&self) -> Option<&Delta<T>> {
        self.0.first()
    }

    /// The newest change.
    pub fn newest(&self) -> Option<&Delta<T>> {
        self.0.last()
    }

    /// The key these changes are about (every batch a [`DeltaFifo`] hands out has
    /// at least one change, so this is `Some` for them), also when the newest change
    /// is a tombstone with no object.
    ///
    /// ```
    /// use store_core::{Delta, DeltaFifo, DeletedObject, Keyed};
    ///
    /// #[derive(Keyed, Debug)]
    /// struct Pod { #[key] name: String }
    ///
    /// let queue = DeltaFifo::<Pod>::new();
    /// queue.add(Pod { name: "a".into() });
    /// assert_eq!(queue.get("a").unwrap().key().as_deref(), Some("a"));
    ///
    /// // a tombstone that carries no object still has its key
    /// let tombstone: Delta<Pod> = Delta::Deleted(DeletedObject::Unknown { key: "gone".into(), last: None });
    /// assert!(tombstone.object().is_none());
    /// assert_eq!(tombstone.key(), "gone");
    /// ```
    pub fn key(&self) -> Option<T::Key> {
        self.0.last().map(Delta::key)
    }

    /// The changes, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, Delta<T>> {
        self.0.iter()
    }

    /// The changes as a slice, oldest first.
    pub fn as_slice(&self) -> &[Delta<T>] {
        &self.0
    }

    /// How many changes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no change.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The kinds of the changes, oldest first.
    pub fn kinds(&self) -> Vec<DeltaKind> {
        self.0.iter().map(Delta::kind).collect()
    }

    /// The object a consumer should hold after these changes: `None` when the
    /// newest change is a deletion.
    pub fn newest_object(&self) -> Option<&Arc<T>> {
        match self.newest()? {
            Delta::Deleted(_) => None,
            delta => delta.object(),
        }
    }

    /// Appends a change, merging two consecutive deletions into one: the older is
    /// kept, unless it is a tombstone and the newer carries more (client-go's
    /// `dedupDeltas`).
    fn push(&mut self, delta: Delta<T>) {
        if let (Some(Delta::Deleted(older)), Delta::Deleted(_)) = (self.0.last(), &delta) {
            if older.is_tombstone() {
                if let Some(last) = self.0.last_mut() {
                    *last = delta;
                }
            }
            return;
        }
        self.0.push(delta);
    }

    /// Puts `older` (a requeued, already popped batch) in front of these changes.
    fn prepend(&mut self, older: Deltas<T>) {
        let newer = std::mem::replace(&mut self.0, older.0);
        for delta in newer {
            self.push(delta);
        }
    }
}

impl<T: Keyed> Clone for Deltas<T> {
    fn clone(&self) -> Self {
        Deltas(self.0.clone())
    }
}

impl<T: Keyed + fmt::Debug> fmt::Debug for Deltas<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl<T: Keyed + PartialEq> PartialEq for Deltas<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<'a, T: Keyed> IntoIterator for &'a Deltas<T> {
    type Item = &'a Delta<T>;
    type IntoIter = std::slice::Iter<'a, Delta<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// What `in_flight` keeps of a popped batch: the object its consumer will hold once
/// the batch is processed (`None`: the batch ends in a deletion).
type Outcome<T> = Option<Arc<T>>;

fn outcome_of<T: Keyed>(deltas: &Deltas<T>) -> Outcome<T> {
    deltas.newest_object().cloned()
}

/// A queue of every change per key: client-go's `DeltaFIFO`, with typed tombstones.
///
/// Each key holds its [`Deltas`], oldest first, and keeps its place in the queue while
/// changes accumulate; a key added after it was popped goes to the back. Popping hands
/// the whole batch of a key to the processing closure, with whether it belongs to the
/// initial list (the queue had not synced yet).
///
/// Rules, as client-go's:
/// - `add`, `update` append `Added`, `Updated`.
/// - `delete` appends `Deleted(Final)`, except for a key that is neither queued nor
///   known to the consumer ([`KnownObjects`]): that deletion was already reported and is
///   dropped. Without known objects, only queued keys take deletions. Two consecutive
///   deletions merge: the older is kept unless it is a tombstone.
/// - `replace(list)` appends `Replaced` (or `Sync`, see
///   [`emit_sync_on_replace`](DeltaFifo::emit_sync_on_replace)) for every listed object,
///   then a tombstone (`Deleted(Unknown)`) for every queued key the list lacks (its last
///   object is the newest one queued), then one for every known key the list lacks
///   that has nothing queued (its last object is the consumer's), in key order.
/// - `resync` appends `Sync` for every known key with nothing queued.
/// - `has_synced` is true once any write happened before the first `replace`, or once
///   every key queued by the first `replace` (tombstones included) has been popped.
///
/// And what the processing-outside-the-lock design adds: a key is processed by one
/// popper at a time, and a key whose batch is being processed counts as known with
/// the batch's outcome, so `replace`, `resync` and `delete` decide as if the
/// consumer had finished it.
///
/// Popping, requeue and close work as for [`Fifo`](crate::Fifo); a requeued batch goes
/// in front of changes queued for its key meanwhile.
///
/// ```
/// use store_core::{Cache, DeltaFifo, DeltaKind, Keyed, Queue, Requeue, Store};
///
/// #[derive(Keyed, Debug, PartialEq)]
/// struct Pod { #[key] name: String, phase: &'static str }
///
/// let known = Cache::<Pod>::new(); // what the consumer holds
/// let queue = DeltaFifo::with_known_objects(known.clone());
/// queue.add(Pod { name: "a".into(), phase: "Pending" });
/// queue.update(Pod { name: "a".into(), phase: "Running" });
/// queue.delete(Pod { name: "ghost".into(), phase: "?" }); // unknown and not queued: dropped
///
/// let kinds = queue.pop(|deltas, _initial| {
///     // apply the batch to the consumer's store
///     match deltas.newest_object() {
///         Some(pod) => { known.add(pod.clone()).map_err(Requeue)?; }
///         // a deletion: by key, as a tombstone may carry no object
///         None => { if let Some(key) = deltas.key() { known.delete(&key); } }
///     }
///     Ok::<_, Requeue<store_core::Error>>(deltas.kinds())
/// }).unwrap();
/// assert_eq!(kinds, [DeltaKind::Added, DeltaKind::Updated]);
/// assert!(queue.is_empty());
///
/// // "a" vanished from a relist: a tombstone with the consumer's last state
/// queue.replace(Vec::new(), "9");
/// let tombstone = queue.get("a").unwrap();
/// assert_eq!(tombstone.kinds(), [DeltaKind::Deleted]);
/// ```
pub struct DeltaFifo<T: Keyed> {
    queue: Arc<Engine<DeltaState<T>>>,
    known: Option<Arc<dyn KnownObjects<T>>>,
    emit_sync_on_replace: bool,
}

/// The keyed queue state behind a [`DeltaFifo`].
type DeltaState<T> = State<<T as Keyed>::Key, Deltas<T>, Outcome<T>>;

impl<T: Keyed + Send + Sync + 'static> DeltaFifo<T> {
    /// An empty queue without known objects: deletions of keys that are not queued are
    /// dropped, and `resync` does nothing.
    pub fn new() -> Self {
        DeltaFifo {
            queue: Arc::new(Engine::keyed(outcome_of::<T>)),
            known: None,
            emit_sync_on_replace: false,
        }
    }

    /// An empty queue consulting `known` (usually the consumer's store) for the
    /// deletion rules and `resync`.
    pub fn with_known_objects(known: impl KnownObjects<T> + 'static) -> Self {
        DeltaFifo {
            known: Some(Arc::new(known)),
            ..Self::new()
        }
    }

    /// Makes `replace` append `Sync` instead of `Replaced` (client-go's behaviour
    /// without `EmitDeltaTypeReplaced`).
    pub fn emit_sync_on_replace(mut self) -> Self {
        self.emit_sync_on_replace = true;
        self
    }

    /// Appends `Added`.
    pub fn add(&self, obj: impl Into<Arc<T>>) {
        self.queue_delta(Delta::Added(obj.into()));
    }

    /// Appends `Updated`.
    pub fn update(&self, obj: impl Into<Arc<T>>) {
        self.queue_delta(Delta::Updated(obj.into()));
    }

    /// Appends `Deleted` with the object's final state, unless the key is neither
    /// queued nor known (then the deletion was already reported, and is dropped).
    /// Returns whether the deletion was queued.
    pub fn delete(&self, obj: impl Into<Arc<T>>) -> bool {
        let obj = obj.into();
        let key = obj.key();
        self.queue.write(|state| {
            state.mark_populated();
            let queued = state.contains(&key);
            let known = match state.in_flight(&key) {
                Some(outcome) => outcome.is_some(),
                None => self
                    .known
                    .as_ref()
                    .is_some_and(|known| known.known_object(&key).is_some()),
            };
            if !queued && !known {
                tracing::trace!(%key, "dropping the deletion of an unknown key");
                return false;
            }
            append(state, key, Delta::Deleted(DeletedObject::Final(obj)));
            true
        })
    }

    fn queue_delta(&self, delta: Delta<T>) {
        let Some(key) = delta.object().map(|obj| obj.key()) else {
            return;
        };
        self.queue.write(|state| {
            state.mark_populated();
            append(state, key, delta);
        });
    }

    /// A relist: see the type's documentation for the deltas it queues.
    pub fn replace<I>(&self, items: I, _resource_version: impl Into<ResourceVersion>)
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        let items: Vec<(T::Key, Arc<T>)> = items.into_iter().map(|obj| (obj.key(), obj)).collect();
        self.queue.write(|state| {
            let listed: hashbrown::HashSet<&T::Key> = items.iter().map(|(key, _)| key).collect();
            self.append_listed(state, &items);
            self.tombstone_unlisted(state, |key| listed.contains(key));
        });
    }

    /// One page of an in-place relist (a reflector's `RelistMode::InPlace`): each object
    /// is queued as `Replaced` (or `Sync`) as it arrives;
    /// [`relist_end`](DeltaFifo::relist_end) finishes the relist. A page and its end
    /// together queue what one [`replace`](DeltaFifo::replace) of every page queues.
    pub fn relist_page<I>(&self, items: I)
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        let items: Vec<(T::Key, Arc<T>)> = items.into_iter().map(|obj| (obj.key(), obj)).collect();
        self.queue.write(|state| self.append_listed(state, &items));
    }

    /// The end of an in-place relist: typed tombstones for the keys the consumer holds
    /// or has queued that the list lacked (`seen` holds every listed key).
    pub fn relist_end(
        &self,
        seen: &std::collections::HashSet<T::Key>,
        _resource_version: impl Into<ResourceVersion>,
    ) {
        self.queue
            .write(|state| self.tombstone_unlisted(state, |key| seen.contains(key)));
    }

    fn append_listed(&self, state: &mut DeltaState<T>, items: &[(T::Key, Arc<T>)]) {
        for (key, obj) in items {
            let delta = if self.emit_sync_on_replace {
                Delta::Sync(Arc::clone(obj))
            } else {
                Delta::Replaced(Arc::clone(obj))
            };
            append(state, key.clone(), delta);
        }
    }

    /// Tombstones for every key queued, known or in flight that the list lacks, then
    /// the end of the relist's bookkeeping.
    fn tombstone_unlisted(&self, state: &mut DeltaState<T>, listed: impl Fn(&T::Key) -> bool) {
        // Read under the queue's lock: a popper finishing meanwhile would otherwise
        // slip between this snapshot and the in-flight bookkeeping below.
        let known_keys = self
            .known
            .as_ref()
            .map(|known| known.known_keys())
            .unwrap_or_default();
        // Queued keys the list lacks: their newest queued state is the last known.
        let queued: Vec<(T::Key, Option<Arc<T>>)> = state
            .entries()
            .map(|(key, deltas)| {
                let last = deltas.newest().and_then(Delta::object).cloned();
                (key.clone(), last)
            })
            .collect();
        for tombstone in tombstones(queued, &listed) {
            append(state, tombstone.key(), Delta::Deleted(tombstone));
        }
        // Known keys (and keys being processed, as their popper will leave them) with
        // nothing queued: the consumer's state is the last known.
        let mut unqueued: Vec<(T::Key, Option<Arc<T>>)> = known_keys
            .into_iter()
            .filter(|key| !state.contains(key) && state.in_flight(key).is_none())
            .map(|key| {
                let last = self
                    .known
                    .as_ref()
                    .and_then(|known| known.known_object(&key));
                (key, last)
            })
            .collect();
        unqueued.extend(
            state
                .in_flight_entries()
                .filter(|(key, outcome)| outcome.is_some() && !state.contains(*key))
                .map(|(key, outcome)| (key.clone(), outcome.clone())),
        );
        for tombstone in tombstones(unqueued, &listed) {
            append(state, tombstone.key(), Delta::Deleted(tombstone));
        }
        state.end_replace();
    }

    /// Appends `Sync` for every known key with nothing queued (and not being
    /// processed). No-op without known objects.
    pub fn resync(&self) {
        let Some(known) = &self.known else { return };
        self.queue.write(|state| {
            state.resync_from(known.as_ref(), |obj| Deltas(smallvec![Delta::Sync(obj)]))
        });
    }

    /// Waits (blocking the thread) for a key, takes its deltas out of the queue and
    /// runs `process(deltas, is_in_initial_list)`.
    pub fn pop<R, E>(
        &self,
        process: impl FnOnce(&Deltas<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<R, PopError<E>> {
        self.queue.pop(process, requeue_in_front::<T>)
    }

    /// Waits (without blocking a thread) for a key, takes its deltas out of the queue
    /// and runs `process(deltas, is_in_initial_list)`. Cancel-safe: dropping the
    /// future before it resolves takes nothing from the queue.
    pub async fn pop_async<R, E>(
        &self,
        process: impl FnOnce(&Deltas<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<R, PopError<E>> {
        self.queue.pop_async(process, requeue_in_front::<T>).await
    }

    /// Pops a key if one is queued, without waiting: `Ok(None)` when empty and open.
    pub fn try_pop<R, E>(
        &self,
        process: impl FnOnce(&Deltas<T>, bool) -> Result<R, Requeue<E>>,
    ) -> Result<Option<R>, PopError<E>> {
        self.queue.try_pop(process, requeue_in_front::<T>)
    }

    /// A copy of what is queued for `key`, if anything.
    pub fn get<Q>(&self, key: &Q) -> Option<Deltas<T>>
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
    pub fn list(&self) -> Vec<Deltas<T>> {
        self.queue
            .read(|state| state.entries().map(|(_, acc)| acc.clone()).collect())
    }
}

impl<T: Keyed + Send + Sync + 'static> Queue for DeltaFifo<T> {
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

fn append<T: Keyed>(state: &mut DeltaState<T>, key: T::Key, delta: Delta<T>) {
    match state.get_mut(&key) {
        Some(deltas) => deltas.push(delta),
        None => state.push_back(key, Deltas(smallvec![delta])),
    }
}

fn requeue_in_front<T: Keyed>(requeued: Deltas<T>, newer: &mut Deltas<T>) {
    newer.prepend(requeued);
}

impl<T: Keyed + Send + Sync + 'static> Default for DeltaFifo<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> Clone for DeltaFifo<T> {
    fn clone(&self) -> Self {
        DeltaFifo {
            queue: Arc::clone(&self.queue),
            known: self.known.clone(),
            emit_sync_on_replace: self.emit_sync_on_replace,
        }
    }
}

impl<T: Keyed> fmt::Debug for DeltaFifo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (len, closed, synced) = self.queue.summary();
        f.debug_struct("DeltaFifo")
            .field("len", &len)
            .field("closed", &closed)
            .field("has_synced", &synced)
            .field("known_objects", &self.known.is_some())
            .finish()
    }
}
