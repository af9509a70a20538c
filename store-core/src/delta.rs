//! The event vocabulary every layer above a source shares: a [`Delta`] (one change of
//! one object), a [`DeletedObject`] (how an object left, typed so that "final state
//! unknown" cannot be forgotten), and the one rule that turns "what a list lacks" into
//! tombstones ([`tombstones`]), used by every queue and by the informer.

use std::fmt;
use std::sync::Arc;

use crate::keyed::Keyed;

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

/// One change of one object, as the queues record it ([`DeltaFifo`](crate::DeltaFifo), [`OrderedFifo`](crate::OrderedFifo)) and an informer hands it to its handlers.
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

/// The tombstones a relist implies: one `DeletedObject::Unknown` for every candidate
/// key the list lacks, with the last state the caller knew of it, in key order (so
/// that a relist's deletions come out the same way every time).
///
/// `candidates` are the keys the consumer holds, or will hold once what is queued and
/// in flight is processed, each with its last known object; `listed` says whether the
/// list had a key. This is the one place the rule is written: [`Fifo`](crate::Fifo)
/// drops, [`DeltaFifo`](crate::DeltaFifo) and [`OrderedFifo`](crate::OrderedFifo)
/// queue, and an informer's in-place relist reports what it returns.
///
/// ```
/// use std::sync::Arc;
/// use store_core::{delta::tombstones, DeletedObject};
///
/// # #[derive(Debug, PartialEq)] struct Obj(u32);
/// # impl store_core::Keyed for Obj { type Key = u32; fn key(&self) -> u32 { self.0 } }
/// let known = vec![(3, Some(Arc::new(Obj(3)))), (1, None), (2, Some(Arc::new(Obj(2))))];
/// let gone = tombstones(known, |key| *key == 2);
/// assert_eq!(gone, [
///     DeletedObject::Unknown { key: 1, last: None },
///     DeletedObject::Unknown { key: 3, last: Some(Arc::new(Obj(3))) },
/// ]);
/// ```
pub fn tombstones<T: Keyed>(
    candidates: impl IntoIterator<Item = (T::Key, Option<Arc<T>>)>,
    listed: impl Fn(&T::Key) -> bool,
) -> Vec<DeletedObject<T>> {
    let mut gone: Vec<(T::Key, Option<Arc<T>>)> = candidates
        .into_iter()
        .filter(|(key, _)| !listed(key))
        .collect();
    gone.sort_by(|(a, _), (b, _)| a.cmp(b));
    gone.into_iter()
        .map(|(key, last)| DeletedObject::Unknown { key, last })
        .collect()
}
