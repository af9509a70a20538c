//! Whether the informer has synced or stopped, and the wait on it that always ends:
//! [`Informer::wait_until_synced`](crate::Informer::wait_until_synced) and
//! [`HandlerRegistration::caught_up`](crate::HandlerRegistration::caught_up) both wait
//! here.

use tokio::sync::watch;

use crate::error::StoppedBeforeSync;

/// Whether an informer has synced, and whether it has stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SyncState {
    pub(super) synced: bool,
    pub(super) stopped: bool,
}

/// Waits until the informer has synced: `Err` once it stopped (or is gone) first.
pub(super) async fn wait_synced(
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
