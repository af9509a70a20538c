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
