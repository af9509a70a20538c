//! Event handlers: the [`EventHandler`] trait, closure-built [`Handler`]s, and each
//! registered handler's queue, thread and [`HandlerRegistration`].

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Weak};
use std::time::Duration;

use store_core::{DeletedObject, Keyed};
use tokio::sync::watch;

use super::{panic_message, report_to, wait_synced, RuntimeSlot, SharedHook, SyncState};
use crate::error::{ReflectorError, StoppedBeforeSync};

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
/// use reflector::informer::{EventHandler, Handler};
///
/// let handler = Handler::<Obj>::new()
///     .on_add(|obj, initial| println!("add {} {initial}", obj.0))
///     .on_delete(|deleted| println!("delete {}", deleted.key()));
/// // the builder's `on_add` sets a callback; the trait's calls it
/// EventHandler::on_add(&handler, &Arc::new(Obj(1)), true);
/// # #[derive(Debug)] struct Obj(u32);
/// # impl store_core::Keyed for Obj { type Key = u32; fn key(&self) -> u32 { self.0 } }
/// ```
pub struct Handler<T: Keyed> {
    add: Option<AddFn<T>>,
    update: Option<UpdateFn<T>>,
    delete: Option<DeleteFn<T>>,
}

impl<T: Keyed> Handler<T> {
    /// A handler that does nothing yet.
    pub fn new() -> Self {
        Handler {
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

impl<T: Keyed> Default for Handler<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed + Send + Sync + 'static> EventHandler<T> for Handler<T> {
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

pub(super) struct Progress {
    enqueued: AtomicU64,
    processed: watch::Sender<u64>,
    panics: AtomicUsize,
    removed: AtomicBool,
}

impl Progress {
    fn new() -> Arc<Self> {
        let (processed, _) = watch::channel(0);
        Arc::new(Progress {
            enqueued: AtomicU64::new(0),
            processed,
            panics: AtomicUsize::new(0),
            removed: AtomicBool::new(false),
        })
    }

    pub(super) fn pending(&self) -> u64 {
        let enqueued = self.enqueued.load(Ordering::SeqCst);
        enqueued.saturating_sub(*self.processed.borrow())
    }
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
        self.progress.enqueued.fetch_add(count, Ordering::SeqCst);
        if self.sender.send(batch).is_err() {
            // The handler's thread is gone (the OS refused it, or it ended): count the
            // notifications as handled so that nobody waits for them.
            self.progress.processed.send_modify(|done| *done += count);
        }
    }
}

/// What the informer does when a registration asks to be removed.
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
    /// Notifications queued for this handler and not yet handled: how far behind it
    /// is (the handler's queue is unbounded; this is its metric, also published as
    /// the `informer_handler_backlog` gauge).
    pub fn pending(&self) -> u64 {
        self.progress.pending()
    }

    /// Notifications this handler has handled.
    pub fn processed(&self) -> u64 {
        *self.progress.processed.borrow()
    }

    /// How many of its callbacks panicked.
    pub fn panics(&self) -> usize {
        self.progress.panics.load(Ordering::SeqCst)
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
    /// content included). [`StoppedBeforeSync`] once the informer stopped (or was
    /// dropped) without syncing: the future always ends.
    pub async fn caught_up(&self) -> Result<(), StoppedBeforeSync> {
        wait_synced(&self.informer_state).await?;
        let target = self.progress.enqueued.load(Ordering::SeqCst);
        let mut processed = self.progress.processed.subscribe();
        // `Progress` owns the sender and this registration keeps it alive; the
        // handler's thread counts every notification it takes.
        let _ = processed.wait_for(|done| *done >= target).await;
        Ok(())
    }

    /// Removes the handler (client-go's `RemoveEventHandler`): it gets nothing queued
    /// after this call, handles what was already queued, and its thread ends. Returns
    /// whether it was still registered (a second call, or one after the informer
    /// stopped, answers `false`).
    pub fn remove(&self) -> bool {
        self.progress.removed.store(true, Ordering::SeqCst);
        self.informer
            .upgrade()
            .is_some_and(|informer| informer.deregister(self.id))
    }

    /// Whether [`remove`](HandlerRegistration::remove) was called.
    pub fn is_removed(&self) -> bool {
        self.progress.removed.load(Ordering::SeqCst)
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
            next_resync: now + resync.unwrap_or_default(),
            syncing: false,
        },
        registration: HandlerRegistration {
            id,
            progress,
            informer_state: state,
            informer,
            resync,
        },
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
                    progress.panics.fetch_add(1, Ordering::SeqCst);
                    let message = panic_message(payload.as_ref());
                    let error = ReflectorError::HandlerPanicked { message };
                    tracing::error!(%error, "event handler panicked");
                    report_to(&on_error, &error);
                }
            }
            let count = chunk.len() as u64;
            progress.processed.send_modify(|done| *done += count);
        }
    }
}
