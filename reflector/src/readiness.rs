//! Whether a reflector or an informer has synced or stopped, and the wait on it that
//! always ends: [`ReflectorHandle::wait_until_synced`](crate::ReflectorHandle::wait_until_synced),
//! [`Informer::wait_until_synced`](crate::Informer::wait_until_synced) and
//! [`HandlerRegistration::caught_up`](crate::HandlerRegistration::caught_up) all wait
//! here; and the error hook both report to.

use std::sync::Arc;

use tokio::sync::watch;

use crate::error::{ReflectorError, StoppedBeforeSync};

/// The error hook of a reflector or an informer.
pub(crate) type ErrorHook = Arc<dyn Fn(&ReflectorError) + Send + Sync>;

/// Whether a reflector or an informer has synced, and whether it has stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SyncState {
    pub(crate) synced: bool,
    pub(crate) stopped: bool,
}

/// Whether a reflector or an informer has synced and whether it has stopped: the
/// one writer marks it, every handle reads and waits on it.
pub(crate) struct Readiness(watch::Sender<SyncState>);

impl Readiness {
    /// Neither synced nor stopped.
    pub(crate) fn new() -> Self {
        Readiness(watch::channel(SyncState::default()).0)
    }

    /// Whether it has synced.
    pub(crate) fn has_synced(&self) -> bool {
        self.0.borrow().synced
    }

    /// Whether it has stopped.
    pub(crate) fn has_stopped(&self) -> bool {
        self.0.borrow().stopped
    }

    /// Marks it synced, waking every waiter.
    pub(crate) fn mark_synced(&self) {
        self.0.send_modify(|state| state.synced = true);
    }

    /// Marks it stopped, waking every waiter.
    pub(crate) fn mark_stopped(&self) {
        self.0.send_modify(|state| state.stopped = true);
    }

    /// A receiver to wait on later (a handler registration keeps one).
    pub(crate) fn subscribe(&self) -> watch::Receiver<SyncState> {
        self.0.subscribe()
    }

    /// Waits until synced (see [`wait_synced`]). The sender lives in `self`, so the
    /// wait cannot fail with "closed" while it runs.
    pub(crate) async fn wait(&self) -> Result<(), StoppedBeforeSync> {
        wait_synced(&self.0.subscribe()).await
    }
}

/// Waits until synced: `Err` once stopped (or gone) first, so the future always ends
/// (kube's `wait_until_ready`).
pub(crate) async fn wait_synced(
    state: &watch::Receiver<SyncState>,
) -> Result<(), StoppedBeforeSync> {
    let mut state = state.clone();
    let synced = state
        .wait_for(|state| state.synced || state.stopped)
        .await
        .map(|state| state.synced)
        .unwrap_or(false);
    if synced {
        Ok(())
    } else {
        Err(StoppedBeforeSync)
    }
}
