//! [`Informer`]: reflector → `DeltaFifo` → indexed cache → event handlers.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::sync::{mpsc, OnceLock};
use store_core::{
    DeletedObject, Delta, DeltaFifo, Deltas, Indexer, Keyed, PopError, Requeue, ResourceVersion,
    ShardedCache,
};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{ReflectorError, StoppedBeforeSync};
use crate::lister_watcher::ListerWatcher;
use crate::reflector::{Reflector, ReflectorConfig, ReflectorHandle};
use crate::reflector_store::{Change, ReflectorStore};

/// Reacts to what an [`Informer`] sees. Every method has an empty default.
///
/// Callbacks run on the handler's own OS thread (named `informer-handler-N`), one at
/// a time and in order, inside the informer's tokio runtime once it started (so a
/// callback may `tokio::spawn`). A slow, blocking or panicking handler never delays or
/// breaks the others, nor the runtime, whatever its flavour: it only falls behind
/// ([`HandlerRegistration::pending`]). A panic is caught, reported to the error hook,
/// and the next notification goes on. The cost is one thread per handler.
pub trait EventHandler<T: Keyed>: Send + Sync + 'static {
    /// An object appeared: from the initial list (`is_initial_list`), a later add,
    /// or — for a handler added after start — the content it joined with.
    fn on_add(&self, obj: &Arc<T>, is_initial_list: bool) {
        let _ = (obj, is_initial_list);
    }

    /// An object changed (also on a resync or a relist, where `old` and `new` may be
    /// equal).
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
enum Notification<T: Keyed> {
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

/// A handler's queue: its counters are the metric of how far behind it is.
struct Listener<T: Keyed> {
    sender: mpsc::Sender<Notification<T>>,
    progress: Arc<Progress>,
}

struct Progress {
    enqueued: AtomicU64,
    processed: watch::Sender<u64>,
    panics: AtomicUsize,
}

/// Whether an informer has synced, and whether it has stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SyncState {
    synced: bool,
    stopped: bool,
}

/// Waits until the informer has synced: `Err` once it stopped (or is gone) first.
async fn wait_synced(state: &watch::Receiver<SyncState>) -> Result<(), StoppedBeforeSync> {
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

/// What [`Informer::add_handler`] returns: the handler's progress.
#[derive(Clone)]
pub struct HandlerRegistration {
    progress: Arc<Progress>,
    informer_state: watch::Receiver<SyncState>,
}

impl HandlerRegistration {
    /// Notifications queued for this handler and not yet handled: how far behind it
    /// is (the handler's queue is unbounded; this is its metric).
    pub fn pending(&self) -> u64 {
        let enqueued = self.progress.enqueued.load(Ordering::SeqCst);
        enqueued.saturating_sub(*self.progress.processed.borrow())
    }

    /// Notifications this handler has handled.
    pub fn processed(&self) -> u64 {
        *self.progress.processed.borrow()
    }

    /// How many of its callbacks panicked.
    pub fn panics(&self) -> usize {
        self.progress.panics.load(Ordering::SeqCst)
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
        // handler's task counts every notification it takes or drops.
        let _ = processed.wait_for(|done| *done >= target).await;
        Ok(())
    }
}

impl fmt::Debug for HandlerRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerRegistration")
            .field("pending", &self.pending())
            .field("processed", &self.processed())
            .field("panics", &self.panics())
            .finish()
    }
}

type ErrorHook = Arc<dyn Fn(&ReflectorError) + Send + Sync>;
/// The informer's error hook, read each time a failure is reported (so that a hook
/// set after a handler registered still hears that handler's panics).
type SharedHook = Arc<Mutex<Option<ErrorHook>>>;
/// The tokio runtime the informer started on, entered by the handler threads so
/// that a handler may `tokio::spawn`.
type RuntimeSlot = Arc<OnceLock<tokio::runtime::Handle>>;
type Transform<T> = Arc<dyn Fn(Arc<T>) -> Arc<T> + Send + Sync>;
type Starter<T> = Box<
    dyn FnOnce(
            DeltaFifoWithTransform<T>,
            ReflectorConfig,
            SharedHook,
            CancellationToken,
        ) -> (ReflectorHandle, Pin<Box<dyn Future<Output = ()> + Send>>)
        + Send,
>;

type Cached<T> = Arc<dyn Fn(&T) -> Option<Arc<T>> + Send + Sync>;

/// The informer's queue as its reflector writes into it: the transform runs here,
/// once per object, before anything is queued or cached.
struct DeltaFifoWithTransform<T: Keyed> {
    queue: DeltaFifo<T>,
    transform: Option<Transform<T>>,
    /// The cached version of an object's key: what a relist keeps for an object the
    /// transform panicked on.
    cached: Cached<T>,
    on_error: SharedHook,
}

impl<T: Keyed + Send + Sync + 'static> DeltaFifoWithTransform<T> {
    /// The transformed object, or `None` (reported) when the transform panicked.
    fn transformed(&self, transform: &Transform<T>, obj: Arc<T>) -> Option<Arc<T>> {
        let key = obj.key();
        match catch_unwind(AssertUnwindSafe(|| transform(obj))) {
            Ok(obj) => Some(obj),
            Err(payload) => {
                let error = ReflectorError::TransformPanicked {
                    key: key.to_string(),
                    message: panic_message(payload.as_ref()),
                };
                tracing::error!(%error, "informer transform panicked; object skipped");
                report_to(&self.on_error, &error);
                None
            }
        }
    }
}

/// A panicking transform skips the object: an add or update of it is not queued (the
/// cache keeps what it had), a relist keeps the cached version of its key (or leaves
/// it out when nothing is cached). A deletion is still queued, with the object as the
/// source sent it, so that nothing outlives its deletion.
impl<T: Keyed + Send + Sync + 'static> ReflectorStore<T> for DeltaFifoWithTransform<T> {
    fn apply(&self, change: Change<T>) -> Result<(), store_core::Error> {
        let Some(f) = &self.transform else {
            return self.queue.apply(change);
        };
        let change = match change {
            Change::Added(obj) => match self.transformed(f, obj) {
                Some(obj) => Change::Added(obj),
                None => return Ok(()),
            },
            Change::Modified(obj) => match self.transformed(f, obj) {
                Some(obj) => Change::Modified(obj),
                None => return Ok(()),
            },
            Change::Deleted(obj) => {
                let raw = Arc::clone(&obj);
                Change::Deleted(self.transformed(f, obj).unwrap_or(raw))
            }
            Change::Replaced(items, rv) => {
                let items = items
                    .into_iter()
                    .filter_map(|obj| {
                        let raw = Arc::clone(&obj);
                        self.transformed(f, obj).or_else(|| (self.cached)(&raw))
                    })
                    .collect();
                Change::Replaced(items, rv)
            }
            Change::Resync => Change::Resync,
        };
        self.queue.apply(change)
    }
}

/// A panic payload as text.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// Reports `error` to the hook as it is now, called without holding its lock.
fn report_to(hook: &SharedHook, error: &ReflectorError) {
    let hook = hook.lock().clone();
    if let Some(hook) = hook {
        hook(error);
    }
}

struct Shared<T: Keyed, S> {
    store: S,
    queue: DeltaFifo<T>,
    /// Held while a popped batch is applied to the store and fanned out, and while a
    /// late handler takes its snapshot: a new handler sees every object exactly once,
    /// either in its replay or as a later notification.
    listeners: Mutex<Vec<Listener<T>>>,
    state: watch::Sender<SyncState>,
    on_error: SharedHook,
    reflector: Mutex<Option<ReflectorHandle>>,
}

/// Reflector → [`DeltaFifo`] → indexed cache → handlers: client-go's shared informer.
///
/// - The reflector keeps the queue in sync with the source; one task pops the queue,
///   applies each batch to the cache (`store()`, any [`Indexer`], a [`ShardedCache`]
///   by default) and notifies every handler. A relist turns into adds, updates and
///   tombstone deletes, so handlers see vanished objects leave.
/// - Each handler has its own queue and OS thread: a slow or blocking handler falls behind
///   ([`HandlerRegistration::pending`]) without delaying the others, and a panicking
///   one is isolated and reported.
/// - Handlers added after start first receive the current content as adds; every
///   registration has a [`caught_up`](HandlerRegistration::caught_up) future.
/// - A [`transform`](Informer::with_transform) runs once per object before it is
///   queued or cached (to drop fields you never read, say).
///
/// ```
/// use std::sync::Arc;
/// use reflector::{Informer, MemoryServer};
/// use store_core::{Indexer, Keyed, Store, NAMESPACE_INDEX};
/// use tokio_util::sync::CancellationToken;
///
/// #[derive(Keyed, Debug)]
/// #[keyed(namespace = "namespace", name = "name")]
/// struct Pod { namespace: String, name: String }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = MemoryServer::new();
/// server.create(Pod { namespace: "web".into(), name: "a".into() }).unwrap();
/// let informer = Informer::new(server.clone());
/// let shutdown = CancellationToken::new();
/// let running = informer.start(shutdown.clone());
/// informer.wait_until_synced().await.unwrap();
///
/// // a handler added late gets the content first
/// let late = informer.on_add(|pod: &Arc<Pod>, _| println!("have {}", pod.name));
/// late.caught_up().await.unwrap();
/// assert_eq!(late.processed(), 1);
/// assert_eq!(informer.store().by_index(NAMESPACE_INDEX, "web").unwrap().len(), 1);
/// shutdown.cancel();
/// running.await.unwrap();
/// # });
/// ```
pub struct Informer<T: Keyed, S = ShardedCache<T>> {
    shared: Arc<Shared<T, S>>,
    starter: Mutex<Option<Starter<T>>>,
    config: Mutex<ReflectorConfig>,
    transform: Mutex<Option<Transform<T>>>,
    /// Set by `start`; handler threads enter it.
    runtime: RuntimeSlot,
    /// How many handlers were registered (names their threads).
    handlers: AtomicUsize,
}

impl<T: Keyed + Send + Sync + 'static> Informer<T, ShardedCache<T>> {
    /// An informer from `source` into a fresh [`ShardedCache`] (with the type's
    /// indexes).
    pub fn new<L: ListerWatcher<T>>(source: L) -> Self {
        Self::with_store(source, ShardedCache::new())
    }
}

impl<T, S> Informer<T, S>
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    /// An informer from `source` into `store`.
    pub fn with_store<L: ListerWatcher<T>>(source: L, store: S) -> Self {
        let queue = DeltaFifo::with_known_objects(store.clone());
        let (state, _) = watch::channel(SyncState::default());
        let starter: Starter<T> = Box::new(move |queue, config, on_error, shutdown| {
            let reflector = Reflector::new(source, queue)
                .with_config(config)
                .on_error(move |error| report_to(&on_error, error));
            let handle = reflector.handle();
            (handle, Box::pin(reflector.run(shutdown)))
        });
        Informer {
            shared: Arc::new(Shared {
                store,
                queue,
                listeners: Mutex::new(Vec::new()),
                state,
                on_error: Arc::new(Mutex::new(None)),
                reflector: Mutex::new(None),
            }),
            starter: Mutex::new(Some(starter)),
            config: Mutex::new(ReflectorConfig::default()),
            transform: Mutex::new(None),
            runtime: Arc::new(OnceLock::new()),
            handlers: AtomicUsize::new(0),
        }
    }

    /// Sets the reflector's configuration (before [`start`](Informer::start)).
    pub fn with_config(self, config: ReflectorConfig) -> Self {
        *self.config.lock() = config;
        self
    }

    /// Runs `transform` once on every object before it is queued or cached (before
    /// [`start`](Informer::start)).
    pub fn with_transform(
        self,
        transform: impl Fn(Arc<T>) -> Arc<T> + Send + Sync + 'static,
    ) -> Self {
        *self.transform.lock() = Some(Arc::new(transform));
        self
    }

    /// Calls `hook` with every failure: the reflector's, handler and transform
    /// panics. The hook is read when a failure is reported, so it also hears handlers
    /// registered before it was set; it runs without any informer lock held.
    pub fn on_error(self, hook: impl Fn(&ReflectorError) + Send + Sync + 'static) -> Self {
        *self.shared.on_error.lock() = Some(Arc::new(hook));
        self
    }

    /// The indexed cache the informer fills. Read it freely; do not write to it.
    pub fn store(&self) -> &S {
        &self.shared.store
    }

    /// Whether the initial list has been listed, cached and handed to the handlers'
    /// queues.
    pub fn has_synced(&self) -> bool {
        self.shared.state.borrow().synced
    }

    /// Waits until [`has_synced`](Informer::has_synced); [`StoppedBeforeSync`] once
    /// the informer stopped without syncing (as kube's `wait_until_ready`), so the
    /// future always ends.
    pub async fn wait_until_synced(&self) -> Result<(), StoppedBeforeSync> {
        wait_synced(&self.shared.state.subscribe()).await
    }

    /// The resource version the reflector last synced to.
    pub fn last_sync_resource_version(&self) -> Option<ResourceVersion> {
        self.shared
            .reflector
            .lock()
            .as_ref()
            .and_then(ReflectorHandle::last_sync_resource_version)
    }

    /// Registers a handler: before or after start. A handler added after start first
    /// receives the current content as adds with `is_initial_list = true` (as
    /// client-go), then the live events. Before start no tokio runtime is needed;
    /// after start the handler's task is spawned on the current runtime.
    pub fn add_handler(&self, handler: impl EventHandler<T>) -> HandlerRegistration {
        let (sender, receiver) = mpsc::channel();
        let (processed, _) = watch::channel(0);
        let progress = Arc::new(Progress {
            enqueued: AtomicU64::new(0),
            processed,
            panics: AtomicUsize::new(0),
        });
        let listener = Listener {
            sender,
            progress: Arc::clone(&progress),
        };
        {
            let mut listeners = self.shared.listeners.lock();
            for obj in self.shared.store.list() {
                listener.send(Notification::Add(obj, true));
            }
            listeners.push(listener);
        }
        let on_error = Arc::clone(&self.shared.on_error);
        let number = self.handlers.fetch_add(1, Ordering::Relaxed);
        let thread = std::thread::Builder::new()
            .name(format!("informer-handler-{number}"))
            .spawn({
                let (progress, runtime) = (Arc::clone(&progress), Arc::clone(&self.runtime));
                move || run_listener(handler, receiver, progress, on_error, runtime)
            });
        if let Err(error) = thread {
            // The OS refused a thread: the notifications for this handler are counted
            // as handled (its sender finds no receiver) and the failure is reported.
            tracing::error!(%error, "could not start an event handler thread");
        }
        HandlerRegistration {
            progress,
            informer_state: self.shared.state.subscribe(),
        }
    }

    /// Registers a handler with only an add callback.
    pub fn on_add(&self, f: impl Fn(&Arc<T>, bool) + Send + Sync + 'static) -> HandlerRegistration {
        self.add_handler(Handler::new().on_add(f))
    }

    /// Registers a handler with only an update callback.
    pub fn on_update(
        &self,
        f: impl Fn(&Arc<T>, &Arc<T>) + Send + Sync + 'static,
    ) -> HandlerRegistration {
        self.add_handler(Handler::new().on_update(f))
    }

    /// Registers a handler with only a delete callback.
    pub fn on_delete(
        &self,
        f: impl Fn(&DeletedObject<T>) + Send + Sync + 'static,
    ) -> HandlerRegistration {
        self.add_handler(Handler::new().on_delete(f))
    }

    /// Starts the reflector and the processing task on the current tokio runtime.
    /// The returned task ends once `shutdown` is cancelled and the queue is drained.
    /// A second call returns a task that ends at once.
    pub fn start(&self, shutdown: CancellationToken) -> JoinHandle<()> {
        let Some(starter) = self.starter.lock().take() else {
            tracing::warn!("informer already started");
            return tokio::spawn(async {});
        };
        let cached_in = self.shared.store.clone();
        let queue = DeltaFifoWithTransform {
            queue: self.shared.queue.clone(),
            transform: self.transform.lock().clone(),
            cached: Arc::new(move |obj: &T| cached_in.get(&obj.key())),
            on_error: Arc::clone(&self.shared.on_error),
        };
        let on_error = Arc::clone(&self.shared.on_error);
        let config = self.config.lock().clone();
        let _ = self.runtime.set(tokio::runtime::Handle::current());
        let (handle, reflector) = starter(queue, config, on_error, shutdown.clone());
        *self.shared.reflector.lock() = Some(handle.clone());
        // An empty first list queues nothing, so no pop would ever see the sync:
        // watch for it here too.
        let (watcher, watched) = (Arc::clone(&self.shared), handle.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = watched.wait_until_synced() => watcher.mark_synced_if_done(&watched),
            }
        });
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            let processor = tokio::spawn(process(Arc::clone(&shared), handle));
            reflector.await;
            shared.queue.close();
            if let Err(error) = processor.await {
                tracing::error!(%error, "informer processing task failed");
            }
            shared.state.send_modify(|state| state.stopped = true);
        })
    }
}

/// Pops the queue until it is closed and drained.
async fn process<T, S>(shared: Arc<Shared<T, S>>, reflector: ReflectorHandle)
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    loop {
        let popped = shared
            .queue
            .pop_async(|deltas, is_initial_list| {
                shared.distribute(deltas, is_initial_list);
                Ok::<_, Requeue<store_core::Error>>(())
            })
            .await;
        match popped {
            Ok(()) => {}
            Err(PopError::Closed) => break,
            Err(PopError::Requeued(error)) => shared.report(&ReflectorError::Store(error)),
        }
        shared.mark_synced_if_done(&reflector);
    }
    tracing::debug!("informer processing stopped");
}

impl<T, S> Shared<T, S>
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    /// Sets the informer's synced flag once the reflector has listed and every item
    /// of that first list has been popped and distributed.
    fn mark_synced_if_done(&self, reflector: &ReflectorHandle) {
        if !self.state.borrow().synced && reflector.has_synced() && self.queue.has_synced() {
            self.state.send_modify(|state| state.synced = true);
        }
    }

    /// Applies one key's deltas to the store and notifies every handler.
    fn distribute(&self, deltas: &Deltas<T>, is_initial_list: bool) {
        let listeners = self.listeners.lock();
        for delta in deltas {
            let notification = match delta {
                Delta::Deleted(deleted) => {
                    self.store.delete(&deleted.key());
                    Notification::Delete(deleted.clone())
                }
                Delta::Added(obj)
                | Delta::Updated(obj)
                | Delta::Replaced(obj)
                | Delta::Sync(obj) => match self.store.add(Arc::clone(obj)) {
                    Ok(Some(old)) => Notification::Update(old, Arc::clone(obj)),
                    Ok(None) => Notification::Add(Arc::clone(obj), is_initial_list),
                    Err(error) => {
                        self.report(&ReflectorError::Store(error));
                        continue;
                    }
                },
            };
            for listener in listeners.iter() {
                listener.send(notification.clone());
            }
        }
    }

    fn report(&self, error: &ReflectorError) {
        tracing::warn!(%error, "informer error");
        report_to(&self.on_error, error);
    }
}

impl<T: Keyed> Listener<T> {
    fn send(&self, notification: Notification<T>) {
        self.progress.enqueued.fetch_add(1, Ordering::SeqCst);
        if self.sender.send(notification).is_err() {
            // The handler's task is gone (the runtime is shutting down): count the
            // notification as handled so that nobody waits for it.
            self.progress.processed.send_modify(|done| *done += 1);
        }
    }
}

/// A handler's thread: runs the handler on every notification until the informer
/// drops its queue. Inside the informer's runtime once it started (a handler may
/// `tokio::spawn`), but on its own OS thread, so a handler that blocks delays only
/// itself, never the runtime nor the other handlers.
fn run_listener<T, H>(
    handler: H,
    receiver: mpsc::Receiver<Notification<T>>,
    progress: Arc<Progress>,
    on_error: SharedHook,
    runtime: RuntimeSlot,
) where
    T: Keyed + Send + Sync + 'static,
    H: EventHandler<T>,
{
    while let Ok(notification) = receiver.recv() {
        let _entered = runtime.get().map(tokio::runtime::Handle::enter);
        let outcome = catch_unwind(AssertUnwindSafe(|| match &notification {
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
        progress.processed.send_modify(|done| *done += 1);
    }
}

impl<T: Keyed, S> fmt::Debug for Informer<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Informer")
            .field("has_synced", &self.shared.state.borrow().synced)
            .field("handlers", &self.shared.listeners.lock().len())
            .finish_non_exhaustive()
    }
}
