//! The keyed state of [`Fifo`](crate::Fifo) and [`DeltaFifo`](crate::DeltaFifo): one
//! entry per key in arrival order, a key processed by one popper at a time, pop with a
//! processing closure, requeue, `has_synced`. The queues differ only in their
//! accumulator (the latest object, or the deltas of a key).

// The per-item path (push, take, finish, process) is marked `#[inline]`: split over
// `engine.rs` and `keyed.rs`, its generic functions land in different codegen units of
// the crate that uses them and stop being inlined into each other, which cost a
// `Fifo<u64>` 788 -> 855 instructions per item; with these marks it is 751
// (`queue_work fifo u64` under cachegrind, BENCHMARKS.md).

use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::Arc;

use equivalent::Equivalent;
use hashbrown::HashMap;

use super::engine::{Core, Engine, OnDrop};
use super::{KnownObjects, PopError, Requeue};
use crate::keyed::Keyed;

/// The popped entry handed to the processing step.
pub(crate) struct Taken<K, A> {
    pub(crate) key: K,
    pub(crate) acc: A,
    /// The queue had not synced when this item was taken.
    pub(crate) is_initial_list: bool,
    /// This item belongs to the first `replace`: popping it moves `has_synced`.
    counts_toward_sync: bool,
}

struct Slot<A> {
    acc: A,
    seq: u64,
}

/// The queue's data, always accessed under [`Engine`]'s lock.
///
/// `order` holds `(key, seq)` per queued entry in arrival order; an entry is live
/// while `items[key].seq == seq`. Removing a key leaves its entry behind, stale, to be
/// skipped at pop (or compacted away), which keeps every operation O(1).
///
/// A key is processed by one popper at a time: while a key is in flight (taken, its
/// closure running), a newer entry of it is parked instead of handed to a second
/// popper, and goes back to the front when the first finishes. `in_flight` keeps a
/// summary `S` of each in-flight item, which the queues consult where a popped but
/// unfinished item matters (replace, resync, the delete drop rule).
pub(crate) struct State<K, A, S> {
    items: HashMap<K, Slot<A>>,
    order: VecDeque<(K, u64)>,
    in_flight: HashMap<K, S>,
    parked: HashMap<K, u64>,
    next_seq: u64,
    stale: usize,
    populated: bool,
    /// Entries with a seq below this belong to the first `replace`.
    initial_boundary: u64,
    initial_remaining: usize,
    summarize: fn(&A) -> S,
}

impl<K: Hash + Eq + Clone, A, S> State<K, A, S> {
    fn new(summarize: fn(&A) -> S) -> Self {
        State {
            items: HashMap::new(),
            order: VecDeque::new(),
            in_flight: HashMap::new(),
            parked: HashMap::new(),
            next_seq: 0,
            stale: 0,
            populated: false,
            initial_boundary: 0,
            initial_remaining: 0,
            summarize,
        }
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&A>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.items.get(key).map(|slot| &slot.acc)
    }

    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut A>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.items.get_mut(key).map(|slot| &mut slot.acc)
    }

    pub(crate) fn contains<Q>(&self, key: &Q) -> bool
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.items.contains_key(key)
    }

    /// Queued keys in pop order (keys parked behind an in-flight item come first:
    /// they go back to the front when it finishes).
    pub(crate) fn keys_in_order(&self) -> Vec<K> {
        let parked = self
            .parked
            .iter()
            .filter(|(key, seq)| self.is_live(key, **seq))
            .map(|(key, _)| key.clone());
        let queued = self
            .order
            .iter()
            .filter(|(key, seq)| self.is_live(key, *seq))
            .map(|(key, _)| key.clone());
        parked.chain(queued).collect()
    }

    /// Queued entries in no particular order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&K, &A)> {
        self.items.iter().map(|(key, slot)| (key, &slot.acc))
    }

    /// The summary of `key`'s item while a popper processes it.
    pub(crate) fn in_flight<Q>(&self, key: &Q) -> Option<&S>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.in_flight.get(key)
    }

    /// The keys being processed, with their summaries.
    pub(crate) fn in_flight_entries(&self) -> impl Iterator<Item = (&K, &S)> {
        self.in_flight.iter()
    }

    #[inline]
    fn is_live(&self, key: &K, seq: u64) -> bool {
        self.items.get(key).is_some_and(|slot| slot.seq == seq)
    }

    /// Queues `acc` under a key that is not queued, at the back.
    #[inline]
    pub(crate) fn push_back(&mut self, key: K, acc: A) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((key.clone(), seq));
        if let Some(replaced) = self.items.insert(key, Slot { acc, seq }) {
            // Callers only push absent keys; should one not be, the old entry turns
            // stale rather than being queued twice.
            self.forget(replaced.seq);
        }
    }

    /// Merges `value` into a queued key's accumulator in place (keeping its
    /// position), or queues it at the back.
    #[inline]
    pub(crate) fn upsert(&mut self, key: K, value: A, merge: impl FnOnce(&mut A, A)) {
        match self.items.get_mut(&key) {
            Some(slot) => merge(&mut slot.acc, value),
            None => self.push_back(key, value),
        }
    }

    /// Takes a key out of the queue; its entry turns stale.
    #[inline]
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<A>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let slot = self.items.remove(key)?;
        self.forget(slot.seq);
        Some(slot.acc)
    }

    /// Bookkeeping for an entry leaving without being popped.
    #[inline]
    fn forget(&mut self, seq: u64) {
        self.stale += 1;
        if seq < self.initial_boundary {
            // An item of the first replace that will never be popped counts as done.
            self.initial_remaining = self.initial_remaining.saturating_sub(1);
        }
        if self.stale > 64 && self.stale > self.items.len() {
            let items = &self.items;
            self.order
                .retain(|(key, seq)| items.get(key).is_some_and(|slot| slot.seq == *seq));
            self.stale = 0;
        }
    }

    /// Queues `wrap(object)` for every known key with nothing queued and nothing in
    /// flight, in key order (a periodic resync). A key in flight may not be in the known
    /// store yet: its popper is about to put the newer object there, which a resync
    /// must not undo.
    pub(crate) fn resync_from<T>(&mut self, known: &dyn KnownObjects<T>, wrap: impl Fn(Arc<T>) -> A)
    where
        T: Keyed<Key = K>,
        K: Ord,
    {
        let mut keys = known.known_keys();
        keys.sort_unstable(); // deterministic order of the re-queued keys
        for key in keys {
            if self.contains(&key) || self.in_flight(&key).is_some() {
                continue;
            }
            if let Some(obj) = known.known_object(&key) {
                self.push_back(key, wrap(obj));
            }
        }
    }

    /// Records a write. The first `replace` calls [`State::end_first_replace`] instead.
    #[inline]
    pub(crate) fn mark_populated(&mut self) {
        self.populated = true;
    }

    /// After a `replace` has queued its content: if it is the first write, everything
    /// now queued is the initial population `has_synced` waits for.
    pub(crate) fn end_replace(&mut self) {
        if !self.populated {
            self.populated = true;
            self.initial_boundary = self.next_seq;
            self.initial_remaining = self.items.len();
        }
    }

    pub(crate) fn has_synced(&self) -> bool {
        self.populated && self.initial_remaining == 0
    }

    #[inline]
    fn take_front(&mut self) -> Option<Taken<K, A>> {
        let summarize = self.summarize;
        while let Some((key, seq)) = self.order.pop_front() {
            if self.in_flight.contains_key(&key) {
                // A popper holds the key: a live newer entry waits for it to finish.
                if self.is_live(&key, seq) {
                    self.parked.insert(key, seq);
                } else {
                    self.stale = self.stale.saturating_sub(1);
                }
                continue;
            }
            // One probe of the (large, often cold) item map: the entry is taken out,
            // and put back in the rare case that this order entry is a stale one.
            match self.items.remove_entry(&key) {
                Some((stored_key, slot)) if slot.seq == seq => {
                    // The map's copy of the key moves to `in_flight`: no clone.
                    self.in_flight.insert(stored_key, summarize(&slot.acc));
                    return Some(Taken {
                        key,
                        acc: slot.acc,
                        is_initial_list: !self.has_synced(),
                        counts_toward_sync: seq < self.initial_boundary,
                    });
                }
                Some((stored_key, slot)) => {
                    self.items.insert(stored_key, slot);
                    self.stale = self.stale.saturating_sub(1);
                }
                None => self.stale = self.stale.saturating_sub(1),
            }
        }
        None
    }

    /// A popper is done with `key`: counts it for `has_synced` and lets a parked
    /// newer entry of the key go back to the front.
    #[inline]
    fn finish(&mut self, key: &K, counts_toward_sync: bool) {
        if counts_toward_sync {
            self.initial_remaining = self.initial_remaining.saturating_sub(1);
        }
        self.in_flight.remove(key);
        if let Some(seq) = self.parked.remove(key) {
            if self.is_live(key, seq) {
                self.order.push_front((key.clone(), seq));
            }
        }
    }
}

impl<K: Hash + Eq + Clone, A, S> Core for State<K, A, S> {
    type Taken = Taken<K, A>;

    #[inline]
    fn take(&mut self, _max: usize) -> Option<Taken<K, A>> {
        self.take_front()
    }

    #[inline]
    fn queued(&self) -> usize {
        self.items.len()
    }

    #[inline]
    fn has_synced(&self) -> bool {
        State::has_synced(self)
    }
}

impl<K: Hash + Eq + Clone, A, S> Engine<State<K, A, S>> {
    /// An empty keyed queue; `summarize` gives what `in_flight` keeps of a popped item.
    pub(crate) fn keyed(summarize: fn(&A) -> S) -> Self {
        Engine::new(State::new(summarize))
    }
}

impl<K: Hash + Eq + Clone, A, S> Engine<State<K, A, S>> {
    /// Blocks for an item, then processes it (see [`Engine::process`]).
    #[inline]
    pub(crate) fn pop<R, E>(
        &self,
        process: impl FnOnce(&A, bool) -> Result<R, Requeue<E>>,
        merge: impl FnOnce(A, &mut A),
    ) -> Result<R, PopError<E>> {
        let taken = self.take_blocking(1).ok_or(PopError::Closed)?;
        self.process(taken, process, merge)
    }

    /// Waits for an item without blocking a thread, then processes it.
    pub(crate) async fn pop_async<R, E>(
        &self,
        process: impl FnOnce(&A, bool) -> Result<R, Requeue<E>>,
        merge: impl FnOnce(A, &mut A),
    ) -> Result<R, PopError<E>> {
        let taken = self.take_async(1).await.ok_or(PopError::Closed)?;
        self.process(taken, process, merge)
    }

    /// Processes an item if one is queued: `Ok(None)` when empty and open.
    pub(crate) fn try_pop<R, E>(
        &self,
        process: impl FnOnce(&A, bool) -> Result<R, Requeue<E>>,
        merge: impl FnOnce(A, &mut A),
    ) -> Result<Option<R>, PopError<E>> {
        match self.try_take(1) {
            Err(()) => Err(PopError::Closed),
            Ok(None) => Ok(None),
            Ok(Some(taken)) => self.process(taken, process, merge).map(Some),
        }
    }

    /// Runs `process` on a taken item outside the lock; on [`Requeue`] puts the item
    /// back (through `merge` when the key was queued again meanwhile). The item
    /// counts as popped for `has_synced` once `process` returns, or unwinds.
    #[inline]
    pub(crate) fn process<R, E>(
        &self,
        taken: Taken<K, A>,
        process: impl FnOnce(&A, bool) -> Result<R, Requeue<E>>,
        merge: impl FnOnce(A, &mut A),
    ) -> Result<R, PopError<E>> {
        let Taken {
            key,
            acc,
            is_initial_list,
            counts_toward_sync,
        } = taken;
        let finish = OnDrop::new(|| self.write(|state| state.finish(&key, counts_toward_sync)));
        let outcome = process(&acc, is_initial_list);
        finish.disarm();
        self.write(|state| {
            let outcome = match outcome {
                Ok(result) => Ok(result),
                Err(Requeue(error)) => {
                    match state.get_mut(&key) {
                        Some(newer) => merge(acc, newer),
                        None => state.push_back(key.clone(), acc),
                    }
                    Err(PopError::Requeued(error))
                }
            };
            state.finish(&key, counts_toward_sync);
            outcome
        })
    }
}
