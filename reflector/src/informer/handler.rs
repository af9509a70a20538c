//! Event handlers, as a user writes and holds them: the [`EventHandler`] trait,
//! closure-built [`HandlerFns`]s, and the [`HandlerRegistration`] that follows a
//! registered handler and removes it. The threads that run them are in `listener`.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use store_core::{DeletedObject, Keyed};
use tokio::sync::watch;

use super::progress::Progress;
use crate::error::StoppedBeforeSync;
use crate::readiness::{wait_synced, SyncState};

/// Reacts to what an [`Informer`](crate::Informer) sees. Every method has an empty
/// default.
///
/// Callbacks run on the handler's own OS thread (named `informer-handler-N`), one at
/// a time and in the order the source made the changes (across keys), inside the
/// informer's tokio runtime once it started (so a callback may `tokio::spawn`). A
/// slow, blocking or panicking handler never delays or breaks the others, nor the
/// runtime: it only falls behind ([`HandlerRegistration::pending`]). A panic is
/// caught, reported to the error hook, and the next notification goes on.
pub trait EventHandler<T: Keyed>: Send + Sync + 'static {
    /// An object appeared: from the initial list (`is_initial_list`), a later add,
    /// or — for a handler added after start — the content it joined with (as
    /// client-go, with `is_initial_list = true`).
    fn on_add(&self, obj: &Arc<T>, is_initial_list: bool) {
        let _ = (obj, is_initial_list);
    }

    /// An object changed. A resync, or a relisted object whose resource version did
    /// not change, reaches only handlers whose resync is due, with `old` and `new`
    /// the same version.
    fn on_update(&self, old: &Arc<T>, new: &Arc<T>) {
        let _ = (old, new);
    }

    /// An object left: its final state, or, when a relist inferred the deletion,
    /// its key and last known state.
    fn on_delete(&self, deleted: &DeletedObject<T>) {
        let _ = deleted;
    }
}

type AddFn<T> = Box<dyn Fn(&Arc<T>, bool) + Send + Sync>;
type UpdateFn<T> = Box<dyn Fn(&Arc<T>, &Arc<T>) + Send + Sync>;
type DeleteFn<T> = Box<dyn Fn(&DeletedObject<T>) + Send + Sync>;

/// An [`EventHandler`] made of closures.
///
/// ```
/// use std::sync::Arc;
/// use reflector::informer::{EventHandler, HandlerFns};
///
/// let handler = HandlerFns::<Obj>::new()
///     .on_add(|obj, initial| println!("add {} {initial}", obj.0))
///     .on_delete(|deleted| println!("delete {}", deleted.key()));
/// // the builder's `on_add` sets a callback; the trait's calls it
/// EventHandler::on_add(&handler, &Arc::new(Obj(1)), true);
/// # #[derive(Debug)] struct Obj(u32);
/// # impl store_core::Keyed for Obj { type Key = u32; fn key(&self) -> u32 { self.0 } }
/// ```
pub struct HandlerFns<T: Keyed> {
    add: Option<AddFn<T>>,
    update: Option<UpdateFn<T>>,
    delete: Option<DeleteFn<T>>,
}

impl<T: Keyed> HandlerFns<T> {
    /// A handler that does nothing yet.
    pub fn new() -> Self {
        HandlerFns {
            add: None,
            update: None,
            delete: None,
        }
    }

    /// Sets the add callback.
    pub fn on_add(mut self, f: impl Fn(&Arc<T>, bool) + Send + Sync + 'static) -> Self {
        self.add = Some(Box::new(f));
        self
    }

    /// Sets the update callback.
    pub fn on_update(mut self, f: impl Fn(&Arc<T>, &Arc<T>) + Send + Sync + 'static) -> Self {
        self.update = Some(Box::new(f));
        self
    }

    /// Sets the delete callback.
    pub fn on_delete(mut self, f: impl Fn(&DeletedObject<T>) + Send + Sync + 'static) -> Self {
        self.delete = Some(Box::new(f));
        self
    }
}

impl<T: Keyed> Default for HandlerFns<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed + Send + Sync + 'static> EventHandler<T> for HandlerFns<T> {
    fn on_add(&self, obj: &Arc<T>, is_initial_list: bool) {
        if let Some(f) = &self.add {
            f(obj, is_initial_list);
        }
    }

    fn on_update(&self, old: &Arc<T>, new: &Arc<T>) {
        if let Some(f) = &self.update {
            f(old, new);
        }
    }

    fn on_delete(&self, deleted: &DeletedObject<T>) {
        if let Some(f) = &self.delete {
            f(deleted);
        }
    }
}

/// What the informer does when a registration asks to be removed (implemented by
/// the informer's shared state; the registration holds it weakly).
pub(super) trait Deregister: Send + Sync {
    fn deregister(&self, id: u64) -> bool;
}

/// What [`Informer::add_handler`](crate::Informer::add_handler) returns: the
/// handler's progress, and the way to remove it.
#[derive(Clone)]
pub struct HandlerRegistration {
    id: u64,
    progress: Arc<Progress>,
    informer_state: watch::Receiver<SyncState>,
    informer: Weak<dyn Deregister>,
    resync: Option<Duration>,
}

impl HandlerRegistration {
    /// The registration of handler `id`, following `progress`.
    pub(super) fn new(
        id: u64,
        progress: Arc<Progress>,
        informer_state: watch::Receiver<SyncState>,
        informer: Weak<dyn Deregister>,
        resync: Option<Duration>,
    ) -> Self {
        HandlerRegistration {
            id,
            progress,
            informer_state,
            informer,
            resync,
        }
    }

    /// Notifications queued for this handler and not yet handled: how far behind it
    /// is (the handler's queue is unbounded; this is its metric, also published as
    /// the `informer_handler_backlog` gauge).
    pub fn pending(&self) -> u64 {
        self.progress.pending()
    }

    /// Notifications this handler has handled.
    pub fn processed(&self) -> u64 {
        self.progress.processed()
    }

    /// How many of its callbacks panicked.
    pub fn panics(&self) -> usize {
        self.progress.panics()
    }

    /// The resync period this handler was registered with (`None`: it never gets
    /// unchanged objects as updates).
    pub fn resync_period(&self) -> Option<Duration> {
        self.resync
    }

    /// Whether the handler has handled everything up to the informer's sync (or, for
    /// a handler added later, up to the content it joined with).
    pub fn has_caught_up(&self) -> bool {
        self.informer_state.borrow().synced && self.pending() == 0
    }

    /// Waits until the informer has synced and this handler has handled every
    /// notification queued for it by then (for a late handler, its replay of the
    /// content included). The future always ends.
    ///
    /// # Errors
    ///
    /// [`StoppedBeforeSync`] once the informer stopped (or was dropped) without
    /// syncing.
    pub async fn caught_up(&self) -> Result<(), StoppedBeforeSync> {
        wait_synced(&self.informer_state).await?;
        // This registration keeps `progress` (and so its sender) alive.
        self.progress.handled_all_enqueued().await;
        Ok(())
    }

    /// Removes the handler (client-go's `RemoveEventHandler`): it gets nothing queued
    /// after this call, handles what was already queued, and its thread ends. Returns
    /// whether it was still registered (a second call, or one after the informer
    /// stopped, answers `false`).
    pub fn remove(&self) -> bool {
        self.progress.mark_removed();
        self.informer
            .upgrade()
            .is_some_and(|informer| informer.deregister(self.id))
    }

    /// Whether [`remove`](HandlerRegistration::remove) was called.
    pub fn is_removed(&self) -> bool {
        self.progress.is_removed()
    }
}

impl fmt::Debug for HandlerRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerRegistration")
            .field("pending", &self.pending())
            .field("processed", &self.processed())
            .field("panics", &self.panics())
            .field("resync_period", &self.resync)
            .finish()
    }
}
