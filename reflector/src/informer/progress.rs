//! A registered handler's counters: its listener counts what it enqueues, its thread
//! what it handled and how often it panicked; its [`HandlerRegistration`] and the
//! informer's metrics read them.
//!
//! [`HandlerRegistration`]: crate::HandlerRegistration

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

/// One handler's progress, shared by its listener, its thread and its registration.
pub(super) struct Progress {
    enqueued: AtomicU64,
    processed: watch::Sender<u64>,
    panics: AtomicUsize,
    removed: AtomicBool,
}

impl Progress {
    pub(super) fn new() -> Arc<Self> {
        let (processed, _) = watch::channel(0);
        Arc::new(Progress {
            enqueued: AtomicU64::new(0),
            processed,
            panics: AtomicUsize::new(0),
            removed: AtomicBool::new(false),
        })
    }

    /// Notifications enqueued and not yet handled.
    pub(super) fn pending(&self) -> u64 {
        let enqueued = self.enqueued.load(Ordering::SeqCst);
        enqueued.saturating_sub(*self.processed.borrow())
    }

    /// Notifications handled.
    pub(super) fn processed(&self) -> u64 {
        *self.processed.borrow()
    }

    /// Callbacks that panicked.
    pub(super) fn panics(&self) -> usize {
        self.panics.load(Ordering::SeqCst)
    }

    /// `count` notifications handed to the handler's thread.
    pub(super) fn enqueued(&self, count: u64) {
        self.enqueued.fetch_add(count, Ordering::SeqCst);
    }

    /// `count` notifications handled (or given up on: the thread is gone).
    pub(super) fn handled(&self, count: u64) {
        self.processed.send_modify(|done| *done += count);
    }

    /// One callback panicked.
    pub(super) fn panicked(&self) {
        self.panics.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits until every notification enqueued by now has been handled.
    pub(super) async fn handled_all_enqueued(&self) {
        let target = self.enqueued.load(Ordering::SeqCst);
        let mut processed = self.processed.subscribe();
        // `Progress` owns the sender and the caller keeps it alive; the handler's
        // thread counts every notification it takes.
        let _ = processed.wait_for(|done| *done >= target).await;
    }

    /// Marks the handler removed.
    pub(super) fn mark_removed(&self) {
        self.removed.store(true, Ordering::SeqCst);
    }

    /// Whether the handler was removed.
    pub(super) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::SeqCst)
    }
}
