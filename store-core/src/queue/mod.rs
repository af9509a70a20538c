//! The queues: what a consumer pops and processes, fed by a reflector.
//!
//! - [`Fifo`]: the latest object per key (a work queue of objects).
//! - [`DeltaFifo`]: every change per key, coalesced under the key's place, with typed
//!   tombstones (client-go's `DeltaFIFO`).
//! - [`OrderedFifo`]: every change in arrival order across keys (client-go's
//!   `RealFIFO`, what informers run on).
//!
//! All three are [`Queue`]s (close, `has_synced`, length), pop with a processing
//! closure that may ask for a [`Requeue`], and report a closed queue as
//! [`PopError::Closed`]. A queue that reports relist deletions consults what its
//! consumer holds through [`KnownObjects`]. They share one engine: the
//! lock and the wake-up protocol (`engine.rs`), over the keyed state of the first two
//! (`keyed.rs`: one entry per key) or the ordered log of the third (`ordered_log.rs`).

use std::sync::Arc;

use thiserror::Error;

use crate::keyed::Keyed;
use crate::store::Store;

pub mod delta_fifo;
pub(crate) mod engine;
pub mod fifo;
mod keyed;
pub mod ordered_fifo;
mod ordered_log;

pub use delta_fifo::{DeltaFifo, Deltas};
pub use fifo::Fifo;
pub use ordered_fifo::{OrderedEvent, OrderedFifo};
pub use ordered_log::Batch;

/// What every queue has: close, `has_synced` and its length.
///
/// ```
/// use store_core::{Fifo, Keyed, PopError, Queue, Requeue};
///
/// #[derive(Keyed)]
/// struct Job { #[key] id: u32 }
///
/// fn drain(queue: &impl Queue) -> usize { queue.len() }
///
/// let queue = Fifo::new();
/// queue.add(Job { id: 1 });
/// assert_eq!(drain(&queue), 1);
/// queue.close();
/// assert!(queue.is_closed());
/// // a closed queue still hands out what it holds, then reports `Closed`
/// assert!(queue.pop(|job, _| Ok::<_, Requeue<()>>(job.id)).is_ok());
/// assert_eq!(queue.pop(|job, _| Ok::<_, Requeue<()>>(job.id)), Err(PopError::Closed));
/// ```
pub trait Queue {
    /// Closes the queue: every waiter (thread or task) wakes, drains what remains,
    /// then gets [`PopError::Closed`]. An item requeued after the last popper left
    /// stays queued for a later pop.
    fn close(&self);

    /// Whether `close` was called.
    fn is_closed(&self) -> bool;

    /// True once any write happened before the first `replace`, or once every entry
    /// of the first `replace` has been popped and processed (an empty first `replace`
    /// makes it true at once).
    fn has_synced(&self) -> bool;

    /// How many entries are queued (keys for the keyed queues, events for
    /// [`OrderedFifo`]); taken ones are not counted.
    fn len(&self) -> usize;

    /// Whether nothing is queued.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a processing closure returns to put the popped item back at the tail of the
/// queue; `pop` then returns [`PopError::Requeued`] with the inner error.
///
/// A requeue never overwrites a newer version of the key queued meanwhile: a
/// [`Fifo`] keeps the newer object, a [`DeltaFifo`] puts
/// the popped deltas in front of the newer ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeue<E>(pub E);

/// Why a `pop` returned no processed item.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PopError<E> {
    /// The queue is closed and empty.
    #[error("queue closed")]
    Closed,
    /// The closure asked for a requeue; the item is back in the queue.
    #[error("item requeued: {0}")]
    Requeued(E),
}

/// What the consumer of a queue holds: the keys and objects a queue consults
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
