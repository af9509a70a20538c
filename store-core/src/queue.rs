//! What [`Fifo`](crate::Fifo) and [`DeltaFifo`](crate::DeltaFifo) share: one entry per
//! key in arrival order, pop with a processing closure, requeue, close, `has_synced`,
//! and the blocking and async ways to wait for an item.
//!
//! The queues differ only in their accumulator (the latest object, or the deltas of
//! a key), so the protocol lives here once.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use equivalent::Equivalent;
use hashbrown::HashMap;
use thiserror::Error;

use crate::sync::{Condvar, Mutex, MutexGuard};

/// What a processing closure returns to put the popped item back at the tail of the
/// queue; `pop` then returns [`PopError::Requeued`] with the inner error.
///
/// A requeue never overwrites a newer version of the key queued meanwhile: a
/// [`Fifo`](crate::Fifo) keeps the newer object, a [`DeltaFifo`](crate::DeltaFifo) puts
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

/// The queue's data, always accessed under [`Queue`]'s lock.
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
    closed: bool,
    populated: bool,
    /// Entries with a seq below this belong to the first `replace`.
    initial_boundary: u64,
    initial_remaining: usize,
    wakers: Vec<(u64, Waker)>,
    next_waiter: u64,
    /// Threads blocked on the condition variable: a write with none to wake (and no
    /// task waiting) skips the notification entirely.
    sleepers: usize,
}

impl<K: Hash + Eq + Clone, A, S> State<K, A, S> {
    fn new() -> Self {
        State {
            items: HashMap::new(),
            order: VecDeque::new(),
            in_flight: HashMap::new(),
            parked: HashMap::new(),
            next_seq: 0,
            stale: 0,
            closed: false,
            populated: false,
            initial_boundary: 0,
            initial_remaining: 0,
            wakers: Vec::new(),
            next_waiter: 0,
            sleepers: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
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

    fn is_live(&self, key: &K, seq: u64) -> bool {
        self.items.get(key).is_some_and(|slot| slot.seq == seq)
    }

    /// Queues `acc` under a key that is not queued, at the back.
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
    pub(crate) fn upsert(&mut self, key: K, value: A, merge: impl FnOnce(&mut A, A)) {
        match self.items.get_mut(&key) {
            Some(slot) => merge(&mut slot.acc, value),
            None => self.push_back(key, value),
        }
    }

    /// Takes a key out of the queue; its entry turns stale.
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<A>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let slot = self.items.remove(key)?;
        self.forget(slot.seq);
        Some(slot.acc)
    }

    /// Bookkeeping for an entry leaving without being popped.
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

    /// Records a write. The first `replace` calls [`State::end_first_replace`] instead.
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

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    fn take_front(&mut self, summarize: fn(&A) -> S) -> Option<Taken<K, A>> {
        while let Some((key, seq)) = self.order.pop_front() {
            if !self.is_live(&key, seq) {
                self.stale = self.stale.saturating_sub(1);
                continue;
            }
            if self.in_flight.contains_key(&key) {
                self.parked.insert(key, seq);
                continue;
            }
            let slot = self.items.remove(&key)?;
            self.in_flight.insert(key.clone(), summarize(&slot.acc));
            return Some(Taken {
                key,
                acc: slot.acc,
                is_initial_list: !self.has_synced(),
                counts_toward_sync: seq < self.initial_boundary,
            });
        }
        None
    }

    /// A popper is done with `key`: counts it for `has_synced` and lets a parked
    /// newer entry of the key go back to the front.
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

    /// Takes the async waiters' wakers, to be woken once the lock is released (a
    /// waker may run the woken task at once, on this thread, and it would then wait
    /// for the lock this thread holds).
    fn take_async_waiters(&mut self) -> Vec<(u64, Waker)> {
        std::mem::take(&mut self.wakers)
    }
}

/// The lock, the condition variable and the wake-up protocol around [`State`].
pub(crate) struct Queue<K, A, S> {
    state: Mutex<State<K, A, S>>,
    cond: Condvar,
    summarize: fn(&A) -> S,
}

impl<K: Hash + Eq + Clone, A, S> Queue<K, A, S> {
    /// An empty queue; `summarize` gives what `in_flight` keeps of a popped item.
    pub(crate) fn new(summarize: fn(&A) -> S) -> Self {
        Queue {
            state: Mutex::new(State::new()),
            cond: Condvar::new(),
            summarize,
        }
    }

    /// Reads the state under the lock.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State<K, A, S>) -> R) -> R {
        f(&self.state.lock())
    }

    /// Changes the state under the lock, then wakes waiters if there is something
    /// to pop.
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut State<K, A, S>) -> R) -> R {
        let mut state = self.state.lock();
        let result = f(&mut state);
        self.notify(state);
        result
    }

    fn notify(&self, mut state: MutexGuard<'_, State<K, A, S>>) {
        if (state.items.is_empty() && !state.closed)
            || (state.sleepers == 0 && state.wakers.is_empty())
        {
            return;
        }
        let wakers = state.take_async_waiters();
        let many = state.items.len() > 1 || state.closed;
        drop(state);
        // Every waiter is woken after the lock is released.
        for (_, waker) in wakers {
            waker.wake();
        }
        if many {
            self.cond.notify_all();
        } else {
            self.cond.notify_one();
        }
    }

    /// Closes the queue: every waiter wakes, drains what remains, then sees `Closed`.
    pub(crate) fn close(&self) {
        self.write(|state| state.closed = true);
    }

    /// Blocks until an item can be taken; `None` once closed and empty.
    pub(crate) fn take_blocking(&self) -> Option<Taken<K, A>> {
        let mut state = self.state.lock();
        loop {
            if let Some(taken) = state.take_front(self.summarize) {
                self.pass_on(state);
                return Some(taken);
            }
            if state.closed && state.items.is_empty() {
                return None;
            }
            // Counted under the lock, which `wait` releases atomically: a writer that
            // takes the lock next sees this sleeper and wakes it.
            state.sleepers += 1;
            state = self.cond.wait(state);
            state.sleepers -= 1;
        }
    }

    /// Takes an item if one is queued, without waiting; `Err(())` when closed and empty.
    pub(crate) fn try_take(&self) -> Result<Option<Taken<K, A>>, ()> {
        let mut state = self.state.lock();
        match state.take_front(self.summarize) {
            Some(taken) => {
                self.pass_on(state);
                Ok(Some(taken))
            }
            None if state.closed && state.items.is_empty() => Err(()),
            None => Ok(None),
        }
    }

    /// After a take: if more is queued, make sure another waiter hears of it.
    fn pass_on(&self, state: MutexGuard<'_, State<K, A, S>>) {
        if !state.items.is_empty() {
            self.notify(state);
        }
    }

    /// Waits for an item without blocking a thread.
    pub(crate) fn take_async(&self) -> TakeFuture<'_, K, A, S> {
        TakeFuture {
            queue: self,
            waiter: None,
        }
    }

    /// Blocks for an item, then processes it (see [`Queue::process`]).
    pub(crate) fn pop<R, E>(
        &self,
        process: impl FnOnce(&A, bool) -> Result<R, Requeue<E>>,
        merge: impl FnOnce(A, &mut A),
    ) -> Result<R, PopError<E>> {
        let taken = self.take_blocking().ok_or(PopError::Closed)?;
        self.process(taken, process, merge)
    }

    /// Waits for an item without blocking a thread, then processes it.
    pub(crate) async fn pop_async<R, E>(
        &self,
        process: impl FnOnce(&A, bool) -> Result<R, Requeue<E>>,
        merge: impl FnOnce(A, &mut A),
    ) -> Result<R, PopError<E>> {
        let taken = self.take_async().await.ok_or(PopError::Closed)?;
        self.process(taken, process, merge)
    }

    /// Processes an item if one is queued: `Ok(None)` when empty and open.
    pub(crate) fn try_pop<R, E>(
        &self,
        process: impl FnOnce(&A, bool) -> Result<R, Requeue<E>>,
        merge: impl FnOnce(A, &mut A),
    ) -> Result<Option<R>, PopError<E>> {
        match self.try_take() {
            Err(()) => Err(PopError::Closed),
            Ok(None) => Ok(None),
            Ok(Some(taken)) => self.process(taken, process, merge).map(Some),
        }
    }

    /// Whether the queue was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.read(|state| state.closed)
    }

    /// Whether the queue has synced (see the queues' documentation).
    pub(crate) fn has_synced(&self) -> bool {
        self.read(|state| state.has_synced())
    }

    /// How many keys are queued.
    pub(crate) fn len(&self) -> usize {
        self.read(|state| state.len())
    }

    /// Runs `process` on a taken item outside the lock; on [`Requeue`] puts the item
    /// back (through `merge` when the key was queued again meanwhile). The item
    /// counts as popped for `has_synced` once `process` returns, or unwinds.
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
        let mut finish = FinishOnDrop {
            queue: self,
            key: Some(&key),
            counts_toward_sync,
        };
        let outcome = process(&acc, is_initial_list);
        finish.key = None;
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

/// Finishes an item even when its processing closure panics, so a panic can
/// neither leave `has_synced` false forever nor keep its key in flight.
struct FinishOnDrop<'a, K: Hash + Eq + Clone, A, S> {
    queue: &'a Queue<K, A, S>,
    key: Option<&'a K>,
    counts_toward_sync: bool,
}

impl<K: Hash + Eq + Clone, A, S> Drop for FinishOnDrop<'_, K, A, S> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let counts = self.counts_toward_sync;
            self.queue.write(|state| state.finish(key, counts));
        }
    }
}

/// The future of an async take: registers its waker under the queue's lock, so no
/// wake-up can fall between its check and its sleep.
pub(crate) struct TakeFuture<'a, K, A, S> {
    queue: &'a Queue<K, A, S>,
    waiter: Option<u64>,
}

impl<K: Hash + Eq + Clone, A, S> Future for TakeFuture<'_, K, A, S> {
    type Output = Option<Taken<K, A>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.queue;
        let mut state = queue.state.lock();
        if let Some(taken) = state.take_front(queue.summarize) {
            if let Some(id) = self.waiter.take() {
                state.wakers.retain(|(waiter, _)| *waiter != id);
            }
            queue.pass_on(state);
            return Poll::Ready(Some(taken));
        }
        if state.closed && state.items.is_empty() {
            return Poll::Ready(None);
        }
        let id = match self.waiter {
            Some(id) => id,
            None => {
                let id = state.next_waiter;
                state.next_waiter += 1;
                id
            }
        };
        match state.wakers.iter_mut().find(|(waiter, _)| *waiter == id) {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => state.wakers.push((id, cx.waker().clone())),
        }
        drop(state);
        self.waiter = Some(id);
        Poll::Pending
    }
}

impl<K, A, S> Drop for TakeFuture<'_, K, A, S> {
    fn drop(&mut self) {
        if let Some(id) = self.waiter {
            // Every waker is woken on every push, so a dropped waiter cannot swallow
            // a wake-up meant for another: removing it is enough.
            self.queue
                .state
                .lock()
                .wakers
                .retain(|(waiter, _)| *waiter != id);
        }
    }
}

impl<K, A, S> fmt::Debug for Queue<K, A, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}
