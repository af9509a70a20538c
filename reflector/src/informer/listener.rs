//! The thread half of an event handler: each registered handler gets a listener (its
//! queue, held by the informer) and an OS thread that runs it; notifications travel
//! from one to the other over a std `mpsc` channel, in batches.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, OnceLock, Weak};
use std::time::Duration;

use store_core::{DeletedObject, Keyed};
use tokio::sync::watch;

use super::handler::{Deregister, EventHandler, HandlerRegistration};
use super::hooks::{report_to, SharedHook};
use super::processor::far_or;
use super::progress::Progress;
use crate::error::ReflectorError;
use crate::readiness::SyncState;
use store_core::panic::panic_message;

/// The tokio runtime the informer started on, entered by the handler threads so
/// that a handler may `tokio::spawn`.
pub(super) type RuntimeSlot = Arc<OnceLock<tokio::runtime::Handle>>;

/// One notification on its way to a handler.
pub(super) enum Notification<T: Keyed> {
    Add(Arc<T>, bool),
    Update(Arc<T>, Arc<T>),
    Delete(DeletedObject<T>),
}

impl<T: Keyed> Clone for Notification<T> {
    fn clone(&self) -> Self {
        match self {
            Notification::Add(obj, initial) => Notification::Add(Arc::clone(obj), *initial),
            Notification::Update(old, new) => {
                Notification::Update(Arc::clone(old), Arc::clone(new))
            }
            Notification::Delete(deleted) => Notification::Delete(deleted.clone()),
        }
    }
}

/// How many notifications a handler's thread handles between two progress updates.
const PROGRESS_EVERY: usize = 64;

/// A registered handler as the informer holds it: its queue, counters and resync
/// schedule. Dropping it (removal, shutdown) ends the handler's thread once it has
/// handled what was queued.
pub(super) struct Listener<T: Keyed> {
    pub(super) id: u64,
    /// Notifications travel in batches: one channel operation, one wake-up and one
    /// progress update per batch, not per event.
    sender: mpsc::Sender<Vec<Notification<T>>>,
    /// The batch being gathered, sent by [`flush`](Listener::flush).
    gathered: Vec<Notification<T>>,
    pub(super) progress: Arc<Progress>,
    /// `None`: this handler never resyncs.
    pub(super) resync: Option<Duration>,
    pub(super) next_resync: tokio::time::Instant,
    /// Due at the last resync check: gets `Sync`s and unchanged relisted objects.
    pub(super) syncing: bool,
}

impl<T: Keyed> Listener<T> {
    /// Adds a notification to the batch being gathered.
    pub(super) fn push(&mut self, notification: Notification<T>) {
        self.gathered.push(notification);
    }

    /// Hands the gathered batch to the handler's thread.
    pub(super) fn flush(&mut self) {
        if self.gathered.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.gathered);
        let count = batch.len() as u64;
        self.progress.enqueued(count);
        if self.sender.send(batch).is_err() {
            // The handler's thread is gone (the OS refused it, or it ended): count the
            // notifications as handled so that nobody waits for them.
            self.progress.handled(count);
        }
    }
}

/// A new handler's parts: the listener the informer keeps, the registration the
/// caller keeps, and the thread (if the OS gave one).
pub(super) struct Registered<T: Keyed> {
    pub(super) listener: Listener<T>,
    pub(super) registration: HandlerRegistration,
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a handler's thread and builds its listener and registration.
pub(super) fn register<T, H>(
    handler: H,
    id: u64,
    resync: Option<Duration>,
    state: watch::Receiver<SyncState>,
    informer: Weak<dyn Deregister>,
    on_error: SharedHook,
    runtime: RuntimeSlot,
) -> Registered<T>
where
    T: Keyed + Send + Sync + 'static,
    H: EventHandler<T>,
{
    let (sender, receiver) = mpsc::channel();
    let progress = Progress::new();
    let thread = std::thread::Builder::new()
        .name(format!("informer-handler-{id}"))
        .spawn({
            let progress = Arc::clone(&progress);
            move || run_listener(handler, receiver, progress, on_error, runtime)
        });
    let thread = match thread {
        Ok(thread) => Some(thread),
        Err(error) => {
            // The notifications for this handler are counted as handled (its sender
            // finds no receiver) and the failure is logged.
            tracing::error!(%error, "could not start an event handler thread");
            None
        }
    };
    let now = tokio::time::Instant::now();
    Registered {
        listener: Listener {
            id,
            sender,
            gathered: Vec::new(),
            progress: Arc::clone(&progress),
            resync,
            next_resync: far_or(now, resync.unwrap_or_default()),
            syncing: false,
        },
        registration: HandlerRegistration::new(id, progress, state, informer, resync),
        thread,
    }
}

/// A handler's thread: runs the handler on every notification until the informer
/// drops its queue. Inside the informer's runtime once it started (a handler may
/// `tokio::spawn`), but on its own OS thread, so a handler that blocks delays only
/// itself, never the runtime nor the other handlers.
fn run_listener<T, H>(
    handler: H,
    receiver: mpsc::Receiver<Vec<Notification<T>>>,
    progress: Arc<Progress>,
    on_error: SharedHook,
    runtime: RuntimeSlot,
) where
    T: Keyed + Send + Sync + 'static,
    H: EventHandler<T>,
{
    while let Ok(batch) = receiver.recv() {
        let _entered = runtime.get().map(tokio::runtime::Handle::enter);
        // Progress is published every few notifications, so a long batch (a
        // replayed initial list) shows its advance.
        for chunk in batch.chunks(PROGRESS_EVERY) {
            for notification in chunk {
                let outcome = catch_unwind(AssertUnwindSafe(|| match notification {
                    Notification::Add(obj, initial) => handler.on_add(obj, *initial),
                    Notification::Update(old, new) => handler.on_update(old, new),
                    Notification::Delete(deleted) => handler.on_delete(deleted),
                }));
                if let Err(payload) = outcome {
                    progress.panicked();
                    let message = panic_message(payload.as_ref());
                    let error = ReflectorError::HandlerPanicked { message };
                    tracing::error!(%error, "event handler panicked");
                    report_to(&on_error, &error);
                }
            }
            let count = chunk.len() as u64;
            progress.handled(count);
        }
    }
}
