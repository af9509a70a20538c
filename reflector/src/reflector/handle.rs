//! [`ReflectorHandle`]: a running reflector's progress as others see it, and the
//! state the reflector shares with its handles (synced, stopped, last synced version,
//! list and watch counts).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use store_core::ResourceVersion;

use crate::error::StoppedBeforeSync;
use crate::readiness::Readiness;

/// What the reflector shares with its [`ReflectorHandle`]s.
pub(super) struct Shared {
    pub(super) state: Readiness,
    pub(super) last_sync_resource_version: Mutex<Option<ResourceVersion>>,
    /// Lists written to the store (the first one included).
    pub(super) lists: AtomicU64,
    /// Watches opened (each watch after the first is a restart).
    pub(super) watches: AtomicU64,
}

impl Shared {
    /// Not synced, not stopped, no version, nothing counted.
    pub(super) fn new() -> Self {
        Shared {
            state: Readiness::new(),
            last_sync_resource_version: Mutex::new(None),
            lists: AtomicU64::new(0),
            watches: AtomicU64::new(0),
        }
    }
}

/// Marks the reflector stopped when it goes away: its `run` future ended or was
/// dropped, or it was dropped without ever running.
pub(super) struct StopGuard(pub(super) Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.state.mark_stopped();
    }
}

/// A cheap, cloneable view of a running [`Reflector`](super::Reflector): whether it has synced, and
/// the last resource version it synced to.
#[derive(Clone)]
pub struct ReflectorHandle {
    shared: Arc<Shared>,
}

impl ReflectorHandle {
    /// A handle on the state a reflector shares.
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        ReflectorHandle { shared }
    }

    /// Whether the first list has been written to the store.
    pub fn has_synced(&self) -> bool {
        self.shared.state.has_synced()
    }

    /// Whether the reflector has stopped (its `run` ended or was dropped, or the
    /// reflector was dropped without running).
    pub fn has_stopped(&self) -> bool {
        self.shared.state.has_stopped()
    }

    /// Waits until the first list has been written to the store: `Ok` at once if it
    /// has. The future always ends (as kube's `wait_until_ready`).
    ///
    /// # Errors
    ///
    /// [`StoppedBeforeSync`] once the reflector stopped (its `run` ended or was
    /// dropped) without syncing.
    pub async fn wait_until_synced(&self) -> Result<(), StoppedBeforeSync> {
        self.shared.state.wait().await
    }

    /// The resource version of the last list, event or bookmark applied: where the
    /// next watch starts.
    pub fn last_sync_resource_version(&self) -> Option<ResourceVersion> {
        self.shared.last_sync_resource_version.lock().clone()
    }

    /// How many times the reflector listed again after its first list (each one
    /// also counts in the `reflector_relists_total` counter of the `metrics` facade,
    /// labelled with the reflector's name).
    pub fn relists(&self) -> u64 {
        self.shared.lists.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// How many times the reflector opened a watch again after its first
    /// (`reflector_watch_restarts_total`).
    pub fn watch_restarts(&self) -> u64 {
        self.shared
            .watches
            .load(Ordering::Relaxed)
            .saturating_sub(1)
    }
}

impl fmt::Debug for ReflectorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReflectorHandle")
            .field("has_synced", &self.has_synced())
            .field(
                "last_sync_resource_version",
                &self.last_sync_resource_version(),
            )
            .finish()
    }
}
