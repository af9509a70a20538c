//! [`DeltaFifo`]: a queue of every change per key, with typed tombstones.

use std::fmt;
use std::sync::Arc;

use smallvec::{smallvec, SmallVec};

use crate::queue::{common_queue_methods, keyed_queue_methods, PopError, Queue, Requeue, State};
use crate::{Keyed, ResourceVersion, Store};

/// How an object left: its final state, or — when the deletion was inferred from a
/// relist, so the final state was never seen — its key and the last state known.
///
/// A handler matching on it cannot forget the "final state unknown" case, which is
/// the typed form of client-go's `DeletedFinalStateUnknown`.
///
/// ```
/// use std::sync::Arc;
/// use store_core::DeletedObject;
///
/// fn describe(deleted: &DeletedObject<Obj>) -> String {
///     match deleted {
///         DeletedObject::Final(obj) => format!("deleted at {}", obj.0),
///         DeletedObject::Unknown { key, last: Some(obj) } => format!("{key} gone, last seen at {}", obj.0),
///         DeletedObject::Unknown { key, last: None } => format!("{key} gone, never seen"),
///     }
/// }
/// # #[derive(Debug)] struct Obj(u32);
/// # impl store_core::Keyed for Obj { type Key = u32; fn key(&self) -> u32 { self.0 } }
/// assert_eq!(describe(&DeletedObject::Final(Arc::new(Obj(3)))), "deleted at 3");
/// assert_eq!(describe(&DeletedObject::Unknown { key: 4, last: None }), "4 gone, never seen");
/// ```
pub enum DeletedObject<T: Keyed> {
    /// The deletion was observed; this is the object's final state.
    Final(Arc<T>),
    /// The deletion was inferred (the object was missing from a relist): its final
    /// state is unknown. `last` is the last state the queue or the consumer's store
    /// knew, if any.
    Unknown {
        /// The deleted key.
        key: T::Key,
        /// The last known state.
        last: Option<Arc<T>>,
    },
}

impl<T: Keyed> DeletedObject<T> {
    /// The key of the deleted object.
    pub fn key(&self) -> T::Key {
        match self {
            DeletedObject::Final(obj) => obj.key(),
            DeletedObject::Unknown { key, .. } => key.clone(),
        }
    }

    /// The final state if known, else the last known state, if any.
    pub fn last_known(&self) -> Option<&Arc<T>> {
        match self {
            DeletedObject::Final(obj) => Some(obj),
            DeletedObject::Unknown { last, .. } => last.as_ref(),
        }
    }

    /// Whether the final state is unknown (a tombstone).
    pub fn is_tombstone(&self) -> bool {
        matches!(self, DeletedObject::Unknown { .. })
    }
}

impl<T: Keyed> Clone for DeletedObject<T> {
    fn clone(&self) -> Self {
        match self {
            DeletedObject::Final(obj) => DeletedObject::Final(Arc::clone(obj)),
            DeletedObject::Unknown { key, last } => DeletedObject::Unknown {
                key: key.clone(),
                last: last.clone(),
            },
        }
    }
}

impl<T: Keyed + fmt::Debug> fmt::Debug for DeletedObject<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeletedObject::Final(obj) => f.debug_tuple("Final").field(obj).finish(),
            DeletedObject::Unknown { key, last } => f
                .debug_struct("Unknown")
                .field("key", key)
                .field("last", last)
                .finish(),
        }
    }
}

impl<T: Keyed + PartialEq> PartialEq for DeletedObject<T> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (DeletedObject::Final(a), DeletedObject::Final(b)) => a == b,
            (
                DeletedObject::Unknown { key: ka, last: la },
                DeletedObject::Unknown { key: kb, last: lb },
            ) => ka == kb && la == lb,
            _ => false,
        }
    }
}

/// One change of one object, as a [`DeltaFifo`] records it.
pub enum Delta<T: Keyed> {
    /// The object was added.
    Added(Arc<T>),
    /// The object was updated.
    Updated(Arc<T>),
    /// The object was deleted.
    Deleted(DeletedObject<T>),
    /// The object was listed by a relist (`replace`).
    Replaced(Arc<T>),
    /// The object was re-delivered unchanged: a periodic resync, or a relist when
    /// the queue emits `Sync` for replaced objects.
    Sync(Arc<T>),
}

/// The kind of a [`Delta`], without its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeltaKind {
    /// [`Delta::Added`].
    Added,
    /// [`Delta::Updated`].
    Updated,
    /// [`Delta::Deleted`].
    Deleted,
    /// [`Delta::Replaced`].
    Replaced,
    /// [`Delta::Sync`].
    Sync,
}

impl<T: Keyed> Delta<T> {
    /// The kind of change.
    pub fn kind(&self) -> DeltaKind {
        match self {
            Delta::Added(_) => DeltaKind::Added,
            Delta::Updated(_) => DeltaKind::Updated,
            Delta::Deleted(_) => DeltaKind::Deleted,
            Delta::Replaced(_) => DeltaKind::Replaced,
            Delta::Sync(_) => DeltaKind::Sync,
        }
    }

    /// The key of the object changed — also for a deletion that carries no object
    /// (a tombstone of a key the consumer knew only by name).
    pub fn key(&self) -> T::Key {
        match self {
            Delta::Added(obj) | Delta::Updated(obj) | Delta::Replaced(obj) | Delta::Sync(obj) => {
                obj.key()
            }
            Delta::Deleted(deleted) => deleted.key(),
        }
    }

    /// The object carried: for a deletion its final or last known state, if any.
    pub fn object(&self) -> Option<&Arc<T>> {
        match self {
            Delta::Added(obj) | Delta::Updated(obj) | Delta::Replaced(obj) | Delta::Sync(obj) => {
                Some(obj)
            }
            Delta::Deleted(deleted) => deleted.last_known(),
        }
    }
}

impl<T: Keyed> Clone for Delta<T> {
    fn clone(&self) -> Self {
        match self {
            Delta::Added(obj) => Delta::Added(Arc::clone(obj)),
            Delta::Updated(obj) => Delta::Updated(Arc::clone(obj)),
            Delta::Deleted(deleted) => Delta::Deleted(deleted.clone()),
            Delta::Replaced(obj) => Delta::Replaced(Arc::clone(obj)),
            Delta::Sync(obj) => Delta::Sync(Arc::clone(obj)),
        }
    }
}

impl<T: Keyed + fmt::Debug> fmt::Debug for Delta<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delta::Deleted(deleted) => f.debug_tuple("Deleted").field(deleted).finish(),
            other => f
                .debug_tuple(&format!("{:?}", other.kind()))
                .field(&other.object())
                .finish(),
        }
    }
}

impl<T: Keyed + PartialEq> PartialEq for Delta<T> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Delta::Deleted(a), Delta::Deleted(b)) => a == b,
            (a, b) => a.kind() == b.kind() && a.object() == b.object(),
        }
    }
}

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

/// What the consumer of a queue holds: the keys and objects a [`DeltaFifo`] consults
/// to decide which deletions to report (client-go's `KeyListerGetter`).
///
/// Every [`Store`] is one. An implementation must not call back into the queue: it
/// is called with the queue's lock held.
pub trait KnownObjects<T: Keyed>: Send + Sync {
    /// Every key the consumer holds.
    fn known_keys(&self) -> Vec<T::Key>;
    /// The object the consumer holds under `key`.
    fn known_object(&self, key: &T::Key) -> Option<Arc<T>>;
}

impl<T: Keyed, S: Store<T>> KnownObjects<T> for S {
    fn known_keys(&self) -> Vec<T::Key> {
        self.list_keys()
    }

    fn known_object(&self, key: &T::Key) -> Option<Arc<T>> {
        self.get(key)
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
/// use store_core::{Cache, DeltaFifo, DeltaKind, Keyed, Requeue, Store};
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
    queue: Arc<Queue<DeltaState<T>>>,
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
            queue: Arc::new(Queue::keyed(outcome_of::<T>)),
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
        {
            // Read under the queue's lock: a popper finishing meanwhile would otherwise
            // slip between this snapshot and the in-flight bookkeeping below.
            let known_keys = self
                .known
                .as_ref()
                .map(|known| known.known_keys())
                .unwrap_or_default();
            // Queued keys the list lacks: their newest queued state is the last known.
            let queued_gone: Vec<(T::Key, Option<Arc<T>>)> = state
                .entries()
                .filter(|(key, _)| !listed(key))
                .map(|(key, deltas)| {
                    let last = deltas.newest().and_then(|d| d.object()).cloned();
                    (key.clone(), last)
                })
                .collect();
            for (key, last) in queued_gone {
                let tombstone = DeletedObject::Unknown {
                    key: key.clone(),
                    last,
                };
                append(state, key, Delta::Deleted(tombstone));
            }
            // Known keys (and keys being processed, as their popper will leave them)
            // the list lacks, with nothing queued: the consumer's state is the last known.
            let mut known_gone: Vec<(T::Key, Option<Arc<T>>)> = Vec::new();
            for key in known_keys {
                if listed(&key) || state.contains(&key) || state.in_flight(&key).is_some() {
                    continue;
                }
                let last = self
                    .known
                    .as_ref()
                    .and_then(|known| known.known_object(&key));
                known_gone.push((key, last));
            }
            let in_flight_gone: Vec<(T::Key, Option<Arc<T>>)> = state
                .in_flight_entries()
                .filter(|(key, outcome)| outcome.is_some() && !listed(key))
                .filter(|(key, _)| !state.contains(*key))
                .map(|(key, outcome)| (key.clone(), outcome.clone()))
                .collect();
            known_gone.extend(in_flight_gone);
            // In key order, so that a relist's tombstones queue deterministically.
            known_gone.sort_by(|(a, _), (b, _)| a.cmp(b));
            for (key, last) in known_gone {
                let tombstone = DeletedObject::Unknown {
                    key: key.clone(),
                    last,
                };
                append(state, key, Delta::Deleted(tombstone));
            }
            state.end_replace();
        }
    }

    /// Appends `Sync` for every known key with nothing queued (and not being
    /// processed). No-op without known objects.
    pub fn resync(&self) {
        let Some(known) = &self.known else { return };
        self.queue.write(|state| {
            let mut keys = known.known_keys();
            keys.sort_unstable(); // deterministic order of the re-queued keys
            for key in keys {
                if state.contains(&key) || state.in_flight(&key).is_some() {
                    continue;
                }
                if let Some(obj) = known.known_object(&key) {
                    state.push_back(key, Deltas(smallvec![Delta::Sync(obj)]));
                }
            }
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

    common_queue_methods!("keys");
    keyed_queue_methods!(Deltas<T>);
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
