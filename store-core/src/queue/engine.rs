//! The engine every queue runs on: the lock, the condition variable and the wake-up
//! protocol ([`Engine`]) around a queue's data ([`Core`]): blocking, non-blocking and
//! async takes, close, and wake-ups sent after the lock is released. The data is the
//! keyed state of [`Fifo`](crate::Fifo) and [`DeltaFifo`](crate::DeltaFifo)
//! (`keyed.rs`) or the ordered log of [`OrderedFifo`](crate::OrderedFifo)
//! (`ordered_log.rs`), so the protocol lives here once.

// The per-item path (push, take, finish, process) is marked `#[inline]`: split over
// `engine.rs` and `keyed.rs`, its generic functions land in different codegen units of
// the crate that uses them and stop being inlined into each other, which cost a
// `Fifo<u64>` 788 -> 855 instructions per item; with these marks it is 751
// (`queue_work fifo u64` under cachegrind, BENCHMARKS.md).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::sync::{Condvar, Mutex, MutexGuard};

/// What a queue's data gives the shared wake-up protocol: something to take, and how
/// much is queued. [`State`] (one entry per key) and the ordered log of
/// [`OrderedFifo`](crate::OrderedFifo) are the two.
pub(crate) trait Core {
    /// What one take hands out (an item, or a batch of up to `max` entries).
    type Taken;
    /// Takes what is next, if anything can be taken now.
    fn take(&mut self, max: usize) -> Option<Self::Taken>;
    /// How many entries are queued (taken ones excluded).
    fn queued(&self) -> usize;
    /// Whether the first `replace` (or an earlier write) has been fully processed.
    fn has_synced(&self) -> bool;
}

/// A queue's data with the waiting side of the protocol, under one lock.
pub(crate) struct Guarded<C> {
    core: C,
    closed: bool,
    wakers: Vec<(u64, Waker)>,
    next_waiter: u64,
    /// Threads blocked on the condition variable: a write with none to wake (and no
    /// task waiting) skips the notification entirely.
    sleepers: usize,
}

impl<C: Core> Guarded<C> {
    fn drained(&self) -> bool {
        self.closed && self.core.queued() == 0
    }
}

/// The lock, the condition variable and the wake-up protocol around a [`Core`]: the
/// blocking, non-blocking and async takes, close, and wake-ups sent after the lock is
/// released.
pub(crate) struct Engine<C> {
    state: Mutex<Guarded<C>>,
    cond: Condvar,
}

impl<C: Core> Engine<C> {
    /// A queue around `core`, open.
    pub(crate) fn new(core: C) -> Self {
        Engine {
            state: Mutex::new(Guarded {
                core,
                closed: false,
                wakers: Vec::new(),
                next_waiter: 0,
                sleepers: 0,
            }),
            cond: Condvar::new(),
        }
    }

    /// Reads the data under the lock.
    #[inline]
    pub(crate) fn read<R>(&self, f: impl FnOnce(&C) -> R) -> R {
        f(&self.state.lock().core)
    }

    /// Changes the data under the lock, then wakes waiters if there is something
    /// to take.
    #[inline]
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut C) -> R) -> R {
        let mut state = self.state.lock();
        let result = f(&mut state.core);
        self.notify(state);
        result
    }

    #[inline]
    fn notify(&self, mut state: MutexGuard<'_, Guarded<C>>) {
        let queued = state.core.queued();
        if (queued == 0 && !state.closed) || (state.sleepers == 0 && state.wakers.is_empty()) {
            return;
        }
        // Taken now, woken once the lock is released: a waker may run the woken task
        // at once, on this thread, and it would then wait for the lock held here.
        let wakers = std::mem::take(&mut state.wakers);
        let many = queued > 1 || state.closed;
        drop(state);
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
        let mut state = self.state.lock();
        state.closed = true;
        self.notify(state);
    }

    /// Whether the queue was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Whether the queue has synced (see the queues' documentation).
    pub(crate) fn has_synced(&self) -> bool {
        self.read(Core::has_synced)
    }

    /// How many entries are queued.
    pub(crate) fn len(&self) -> usize {
        self.read(Core::queued)
    }

    /// `(len, closed, has_synced)` read at once, for `Debug`.
    pub(crate) fn summary(&self) -> (usize, bool, bool) {
        let state = self.state.lock();
        (state.core.queued(), state.closed, state.core.has_synced())
    }

    /// Blocks until something can be taken; `None` once closed and empty.
    #[inline]
    pub(crate) fn take_blocking(&self, max: usize) -> Option<C::Taken> {
        let mut state = self.state.lock();
        loop {
            if let Some(taken) = state.core.take(max) {
                self.pass_on(state);
                return Some(taken);
            }
            if state.drained() {
                return None;
            }
            // Counted under the lock, which `wait` releases atomically: a writer that
            // takes the lock next sees this sleeper and wakes it.
            state.sleepers += 1;
            state = self.cond.wait(state);
            state.sleepers -= 1;
        }
    }

    /// Takes something if it can, without waiting; `Err(())` when closed and empty.
    #[inline]
    pub(crate) fn try_take(&self, max: usize) -> Result<Option<C::Taken>, ()> {
        let mut state = self.state.lock();
        match state.core.take(max) {
            Some(taken) => {
                self.pass_on(state);
                Ok(Some(taken))
            }
            None if state.drained() => Err(()),
            None => Ok(None),
        }
    }

    /// After a take: if more is queued, make sure another waiter hears of it.
    #[inline]
    fn pass_on(&self, state: MutexGuard<'_, Guarded<C>>) {
        if state.core.queued() > 0 {
            self.notify(state);
        }
    }

    /// Waits for something to take without blocking a thread.
    pub(crate) fn take_async(&self, max: usize) -> TakeFuture<'_, C> {
        TakeFuture {
            queue: self,
            max,
            waiter: None,
        }
    }
}

/// Runs its closure when dropped unless disarmed: the bookkeeping after a processing
/// closure that must happen even when the closure panics, so a panic can neither
/// leave `has_synced` false forever nor keep a key in flight.
pub(crate) struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnDrop<F> {
    pub(crate) fn new(f: F) -> Self {
        OnDrop(Some(f))
    }

    /// The closure returned normally: the caller does the bookkeeping itself.
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// The future of an async take: registers its waker under the queue's lock, so no
/// wake-up can fall between its check and its sleep.
pub(crate) struct TakeFuture<'a, C> {
    queue: &'a Engine<C>,
    max: usize,
    waiter: Option<u64>,
}

impl<C: Core> Future for TakeFuture<'_, C> {
    type Output = Option<C::Taken>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.queue;
        let mut state = queue.state.lock();
        if let Some(taken) = state.core.take(self.max) {
            if let Some(id) = self.waiter.take() {
                state.wakers.retain(|(waiter, _)| *waiter != id);
            }
            queue.pass_on(state);
            return Poll::Ready(Some(taken));
        }
        if state.drained() {
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

impl<C> Drop for TakeFuture<'_, C> {
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

impl<C> fmt::Debug for Engine<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}
