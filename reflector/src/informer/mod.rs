//! [`Informer`]: reflector → [`OrderedFifo`] → indexed cache → event handlers, with
//! client-go's current (≥ 1.33, "in-order informers") semantics.
//!
//! - [`InformerBuilder`] configures it; [`start`](InformerBuilder::start) consumes the
//!   builder (a second start cannot compile) and hands back the running [`Informer`]
//!   and the task that ends once it has shut down and every handler has drained.
//! - [`Informer::store`] is a read-only [`CacheReader`]: the informer is the only
//!   writer of its cache.
//! - [`EventHandler`]s run on their own threads, in source order;
//!   [`HandlerRegistration`] follows one and removes it.
//! - [`InformerMetrics`]: queue depth, processing latency, store resource version,
//!   relists, watch restarts, handler backlog (also through the `metrics` facade).

mod handler;
mod metrics;
mod reader;
mod writer;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use std::collections::HashSet;
use store_core::Queue as _;
use store_core::{
    DeletedObject, Delta, Indexer, Keyed, OrderedEvent, OrderedFifo, PopError, Requeue,
    ResourceVersion, ShardedCache, Write,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::handler::{EventHandler, Handler, HandlerRegistration};
pub use self::metrics::{InformerMetrics, LatencySummary};
pub use self::reader::CacheReader;

use self::handler::{register, Deregister, Listener, Notification, Registered};
use self::metrics::Recorded;
use self::writer::QueueWriter;
use crate::error::{InformerStopped, ReflectorError, StoppedBeforeSync};
use crate::lister_watcher::ListerWatcher;
use crate::reflector::{Reflector, ReflectorConfig, ReflectorHandle};

/// Whether an informer has synced, and whether it has stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SyncState {
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

type ErrorHook = Arc<dyn Fn(&ReflectorError) + Send + Sync>;
/// The informer's error hook, read each time a failure is reported (so that a hook
/// set after a handler registered still hears that handler's panics).
type SharedHook = Arc<Mutex<Option<ErrorHook>>>;
/// The tokio runtime the informer started on, entered by the handler threads so
/// that a handler may `tokio::spawn`.
type RuntimeSlot = Arc<OnceLock<tokio::runtime::Handle>>;
type Transform<T> = Arc<dyn Fn(Arc<T>) -> Arc<T> + Send + Sync>;
type Unchanged<T> = fn(&Arc<T>, &Arc<T>) -> bool;
type Starter<T> = Box<
    dyn FnOnce(
            QueueWriter<T>,
            ReflectorConfig,
            SharedHook,
            CancellationToken,
        ) -> (ReflectorHandle, Pin<Box<dyn Future<Output = ()> + Send>>)
        + Send,
>;

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

/// The registered handlers, and whether new ones are still accepted.
struct Listeners<T: Keyed> {
    list: Vec<Listener<T>>,
    /// Set once the informer has stopped: no handler can join after.
    closed: bool,
}

/// What the informer's parts share: the builder creates it, `start` runs on it, the
/// [`Informer`] handle reads it.
struct Shared<T: Keyed, S> {
    store: CacheReader<T, S>,
    /// Held while a popped batch is applied to the store and fanned out, and while a
    /// late handler takes its snapshot: a new handler sees every object exactly once,
    /// either in its replay or as a later notification.
    listeners: Mutex<Listeners<T>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    state: watch::Sender<SyncState>,
    on_error: SharedHook,
    runtime: RuntimeSlot,
    reflector: OnceLock<ReflectorHandle>,
    queue: OnceLock<OrderedFifo<T>>,
    next_handler: AtomicU64,
    /// The resync period handlers registered without one get (the builder's
    /// `ReflectorConfig::resync_period`).
    default_resync: Mutex<Option<Duration>>,
    /// The period the resync check runs at once started (the smallest asked for).
    resync_check: OnceLock<Option<Duration>>,
    recorded: Recorded,
    name: Mutex<String>,
    unchanged: Unchanged<T>,
}

/// Two versions of an object are the same when their resource versions are (or,
/// when the type has none, when they are the same allocation).
fn same_version<T: Keyed>(old: &Arc<T>, new: &Arc<T>) -> bool {
    match (old.resource_version(), new.resource_version()) {
        (Some(old), Some(new)) => old == new,
        _ => Arc::ptr_eq(old, new),
    }
}

/// Configures an [`Informer`]; [`start`](InformerBuilder::start) consumes it.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use reflector::{Informer, MemoryServer, ReflectorConfig};
/// use store_core::Keyed;
/// use tokio_util::sync::CancellationToken;
///
/// #[derive(Keyed, Debug)]
/// struct Lease { #[key] name: String, holder: String }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = MemoryServer::new();
/// server.create(Lease { name: "a".into(), holder: "x".into() }).unwrap();
/// let mut builder = Informer::builder(server)
///     .with_name("leases")
///     .with_transform(|lease: Arc<Lease>| lease) // e.g. drop fields you never read
///     .on_error(|error| eprintln!("informer: {error}"));
/// // a handler registered before start sees the initial list as it is applied
/// let seen = builder.on_add(|lease: &Arc<Lease>, initial| assert!(initial && lease.name == "a"));
/// let shutdown = CancellationToken::new();
/// let (informer, running) = builder.start(shutdown.clone());
/// // builder.start(..) again: does not compile, the builder is gone
/// seen.caught_up().await.unwrap();
/// assert_eq!(informer.store().len(), 1);
/// shutdown.cancel();
/// running.await.unwrap(); // the reflector stopped, the queue drained, handlers joined
/// assert!(informer.add_handler(reflector::Handler::new()).is_err());
/// # });
/// ```
pub struct InformerBuilder<T: Keyed, S = ShardedCache<T>> {
    shared: Arc<Shared<T, S>>,
    starter: Starter<T>,
    config: ReflectorConfig,
    transform: Option<Transform<T>>,
    atomic: bool,
    batch_size: usize,
}

/// The running informer: read its cache, add and remove handlers, wait for its
/// sync, read its metrics. Cheap to clone; every clone sees the same informer.
///
/// Reflector → [`OrderedFifo`] → indexed cache → handlers: client-go's shared
/// informer as of 1.33+ (`InOrderInformers`, `AtomicFIFO`, batch processing).
///
/// - **In order.** The reflector writes every change into an ordered log; one task
///   pops it in batches (never one key twice, never across the initial-list boundary),
///   applies each batch to the cache in one write ([`Store::apply_batch`]) and hands
///   the notifications to every handler in the order the source made the changes,
///   across keys. A relist's deletions reach handlers before its adds and updates.
/// - **Relists.** Atomic by default (client-go's `AtomicFIFO`): the relist is one queue
///   entry, reconciled against the cache under one write (a reader of a [`Cache`]
///   never sees it half-applied); tombstone deletes first (in key order), then adds
///   and updates in list order. [`atomic_relist(false)`](InformerBuilder::atomic_relist)
///   queues them as separate entries instead (same handler events). With
///   [`RelistMode::InPlace`](crate::RelistMode::InPlace) in the reflector config, a
///   relist's pages are queued as they arrive and applied batch by batch (a reader sees
///   each key old or new), and its tombstones come last, once the whole list was seen:
///   the informer then never holds the old content and the whole new list at once.
/// - **Resync.** A handler gets unchanged objects (a resync, or a relisted object
///   whose [resource version](store_core::Keyed::resource_version) did not change) as
///   updates only when its own resync period is due
///   ([`add_handler_with_resync`](Informer::add_handler_with_resync)); a handler
///   without one never does.
/// - **Handlers** run on their own threads; a slow one falls behind
///   ([`HandlerRegistration::pending`]) without delaying the others; a panic is caught
///   and reported. Handlers added after start first receive the current content as
///   adds with `is_initial_list = true`, then live events, with no gap and no
///   duplicate.
/// - **Shutdown.** Cancelling the token stops the reflector; the task `start` returned
///   ends once the queue is drained and every handler has handled what it was given
///   (their threads joined). Adding a handler after that is an error.
///
/// [`Store::apply_batch`]: store_core::Store::apply_batch
/// [`Cache`]: store_core::Cache
///
/// ```
/// use std::sync::Arc;
/// use reflector::{Informer, MemoryServer};
/// use store_core::{Keyed, NAMESPACE_INDEX};
/// use tokio_util::sync::CancellationToken;
///
/// #[derive(Keyed, Debug)]
/// #[keyed(namespace = "namespace", name = "name")]
/// struct Pod { namespace: String, name: String }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = MemoryServer::new();
/// server.create(Pod { namespace: "web".into(), name: "a".into() }).unwrap();
/// let shutdown = CancellationToken::new();
/// let (informer, running) = Informer::builder(server.clone()).start(shutdown.clone());
/// informer.wait_until_synced().await.unwrap();
///
/// // a handler added late gets the content first
/// let late = informer.on_add(|pod: &Arc<Pod>, _| println!("have {}", pod.name)).unwrap();
/// late.caught_up().await.unwrap();
/// assert_eq!(late.processed(), 1);
/// assert_eq!(informer.store().by_index(NAMESPACE_INDEX, "web").unwrap().len(), 1);
/// assert!(late.remove());
/// shutdown.cancel();
/// running.await.unwrap();
/// # });
/// ```
pub struct Informer<T: Keyed, S = ShardedCache<T>> {
    shared: Arc<Shared<T, S>>,
}

impl<T: Keyed + Send + Sync + 'static> Informer<T, ShardedCache<T>> {
    /// A builder for an informer from `source` into a fresh [`ShardedCache`] (with the
    /// type's indexes).
    pub fn builder<L: ListerWatcher<T>>(source: L) -> InformerBuilder<T, ShardedCache<T>> {
        InformerBuilder::new(source, ShardedCache::new())
    }
}

impl<T, S> Informer<T, S>
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    /// A builder for an informer from `source` into `store` (any [`Indexer`]: a
    /// [`Cache`](store_core::Cache) for one consistent lock, a [`ShardedCache`] for
    /// many readers). Keep no clone of `store` to write to: the informer must be its
    /// only writer.
    pub fn builder_with_store<L: ListerWatcher<T>>(source: L, store: S) -> InformerBuilder<T, S> {
        InformerBuilder::new(source, store)
    }
}

impl<T, S> InformerBuilder<T, S>
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    fn new<L: ListerWatcher<T>>(source: L, store: S) -> Self {
        let (state, _) = watch::channel(SyncState::default());
        let starter: Starter<T> = Box::new(move |queue, config, on_error, shutdown| {
            let reflector = Reflector::new(source, queue)
                .with_config(config)
                .on_error(move |error| report_to(&on_error, error));
            let handle = reflector.handle();
            (handle, Box::pin(reflector.run(shutdown)))
        });
        InformerBuilder {
            shared: Arc::new(Shared {
                store: CacheReader::new(store),
                listeners: Mutex::new(Listeners {
                    list: Vec::new(),
                    closed: false,
                }),
                threads: Mutex::new(Vec::new()),
                state,
                on_error: Arc::new(Mutex::new(None)),
                runtime: Arc::new(OnceLock::new()),
                reflector: OnceLock::new(),
                queue: OnceLock::new(),
                next_handler: AtomicU64::new(0),
                default_resync: Mutex::new(None),
                resync_check: OnceLock::new(),
                recorded: Recorded::default(),
                name: Mutex::new(std::any::type_name::<T>().to_owned()),
                unchanged: same_version::<T>,
            }),
            starter,
            config: ReflectorConfig::default(),
            transform: None,
            atomic: true,
            batch_size: 256,
        }
    }

    /// Sets the reflector's configuration. Its `resync_period` is the period of the
    /// handlers registered without one of their own.
    pub fn with_config(mut self, config: ReflectorConfig) -> Self {
        *self.shared.default_resync.lock() = config.resync_period;
        self.config = config;
        self
    }

    /// Runs `transform` once on every object before it is queued or cached (client-go's
    /// `SetTransform`): to drop fields you never read, say. Never on tombstones. A
    /// panicking transform skips that object (reported to the error hook).
    pub fn with_transform(
        mut self,
        transform: impl Fn(Arc<T>) -> Arc<T> + Send + Sync + 'static,
    ) -> Self {
        self.transform = Some(Arc::new(transform));
        self
    }

    /// Calls `hook` with every failure: the reflector's, handler and transform
    /// panics, store errors. The hook is read when a failure is reported; it runs
    /// without any informer lock held.
    pub fn on_error(self, hook: impl Fn(&ReflectorError) + Send + Sync + 'static) -> Self {
        *self.shared.on_error.lock() = Some(Arc::new(hook));
        self
    }

    /// Whether a relist is one queue entry reconciled in one write (`true`, the
    /// default: client-go's `AtomicFIFO`) or tombstones and replacements queued one
    /// by one (`false`). Handlers see the same events either way.
    pub fn atomic_relist(mut self, atomic: bool) -> Self {
        self.atomic = atomic;
        self
    }

    /// How many queue entries one batch applies at most (default 256; 1 turns batching
    /// off).
    pub fn batch_size(mut self, max: usize) -> Self {
        self.batch_size = max.max(1);
        self
    }

    /// Names the informer in its metrics (label `name`) and logs; the default is the
    /// object's type name.
    pub fn with_name(self, name: impl Into<String>) -> Self {
        *self.shared.name.lock() = name.into();
        self
    }

    /// Registers a handler before start: it sees the initial list as it is applied
    /// (`is_initial_list = true`), then live events. Resyncs at the informer's default
    /// period (see [`with_config`](InformerBuilder::with_config)), if any.
    pub fn add_handler(&mut self, handler: impl EventHandler<T>) -> HandlerRegistration {
        let resync = *self.shared.default_resync.lock();
        self.add_handler_with_resync(handler, resync)
    }

    /// Registers a handler before start with its own resync period (client-go's
    /// `AddEventHandlerWithResyncPeriod`; `None`: never resync). The informer's resync
    /// check runs at the smallest period asked for.
    pub fn add_handler_with_resync(
        &mut self,
        handler: impl EventHandler<T>,
        resync: Option<Duration>,
    ) -> HandlerRegistration {
        let (listener, registration, thread) = Shared::listen(&self.shared, handler, resync);
        self.shared.listeners.lock().list.push(listener);
        self.shared.threads.lock().extend(thread);
        registration
    }

    /// Registers a handler with only an add callback.
    pub fn on_add(
        &mut self,
        f: impl Fn(&Arc<T>, bool) + Send + Sync + 'static,
    ) -> HandlerRegistration {
        self.add_handler(Handler::new().on_add(f))
    }

    /// Registers a handler with only an update callback.
    pub fn on_update(
        &mut self,
        f: impl Fn(&Arc<T>, &Arc<T>) + Send + Sync + 'static,
    ) -> HandlerRegistration {
        self.add_handler(Handler::new().on_update(f))
    }

    /// Registers a handler with only a delete callback.
    pub fn on_delete(
        &mut self,
        f: impl Fn(&DeletedObject<T>) + Send + Sync + 'static,
    ) -> HandlerRegistration {
        self.add_handler(Handler::new().on_delete(f))
    }

    /// Starts the reflector and the processing task on the current tokio runtime,
    /// consuming the builder. Answers the running informer, and the task that ends
    /// once `shutdown` is cancelled, the queue is drained and every handler has
    /// handled what it was given.
    pub fn start(self, shutdown: CancellationToken) -> (Informer<T, S>, JoinHandle<()>) {
        let InformerBuilder {
            shared,
            starter,
            mut config,
            transform,
            atomic,
            batch_size,
        } = self;
        let known = shared.store.writer().clone();
        let mut queue = OrderedFifo::with_known_objects(known).emit_bookmarks();
        if atomic {
            queue = queue.atomic_replace();
        }
        let _ = shared.queue.set(queue.clone());
        // The resync check runs at the smallest period any handler asked for.
        let check = {
            let listeners = shared.listeners.lock();
            listeners
                .list
                .iter()
                .filter_map(|listener| listener.resync)
                .chain(config.resync_period)
                .min()
        };
        let _ = shared.resync_check.set(check);
        config.resync_period = check;
        let cached_in = shared.store.clone();
        let due = Arc::downgrade(&shared);
        let writer = QueueWriter {
            queue: queue.clone(),
            transform,
            cached: Arc::new(move |obj: &T| cached_in.get(&obj.key())),
            on_error: Arc::clone(&shared.on_error),
            resync_due: Arc::new(move || due.upgrade().is_some_and(|shared| shared.resync_due())),
        };
        let _ = shared.runtime.set(tokio::runtime::Handle::current());
        let (handle, reflector) = starter(
            writer,
            config,
            Arc::clone(&shared.on_error),
            shutdown.clone(),
        );
        let _ = shared.reflector.set(handle.clone());
        tracing::debug!(name = %shared.name.lock(), atomic, batch_size, "informer starting");
        // An empty first list may queue nothing, so no pop would ever see the sync:
        // watch for it here too.
        let (watcher, watched) = (Arc::clone(&shared), handle.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = watched.wait_until_synced() => watcher.mark_synced_if_done(),
            }
        });
        let running = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            let processor = tokio::spawn(process(Arc::clone(&running), queue.clone(), batch_size));
            reflector.await;
            queue.close();
            if let Err(error) = processor.await {
                tracing::error!(%error, "informer processing task failed");
            }
            running.join_handlers().await;
            running.state.send_modify(|state| state.stopped = true);
            tracing::debug!("informer stopped");
        });
        (Informer { shared }, task)
    }
}

impl<T, S> Informer<T, S>
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    /// The indexed cache the informer fills, read-only.
    pub fn store(&self) -> &CacheReader<T, S> {
        &self.shared.store
    }

    /// Whether the initial list has been listed, cached and handed to the handlers'
    /// queues.
    pub fn has_synced(&self) -> bool {
        self.shared.state.borrow().synced
    }

    /// Whether the informer has stopped (its task ended: handlers drained).
    pub fn has_stopped(&self) -> bool {
        self.shared.state.borrow().stopped
    }

    /// Waits until [`has_synced`](Informer::has_synced); [`StoppedBeforeSync`] once
    /// the informer stopped without syncing (as kube's `wait_until_ready`), so the
    /// future always ends.
    pub async fn wait_until_synced(&self) -> Result<(), StoppedBeforeSync> {
        wait_synced(&self.shared.state.subscribe()).await
    }

    /// The resource version the reflector last synced to (its next watch starts
    /// there; the cache may still be applying what came before).
    pub fn last_sync_resource_version(&self) -> Option<ResourceVersion> {
        self.shared
            .reflector
            .get()
            .and_then(ReflectorHandle::last_sync_resource_version)
    }

    /// The informer's metrics now (see [`InformerMetrics`] for their facade names).
    pub fn metrics(&self) -> InformerMetrics {
        let mut metrics = InformerMetrics {
            queued_items: self.shared.queue.get().map_or(0, OrderedFifo::len),
            ..InformerMetrics::default()
        };
        self.shared.recorded.fill(&mut metrics);
        if let Some(reflector) = self.shared.reflector.get() {
            metrics.relists = reflector.relists();
            metrics.watch_restarts = reflector.watch_restarts();
        }
        metrics.handler_backlog = self
            .shared
            .listeners
            .lock()
            .list
            .iter()
            .map(|listener| listener.progress.pending())
            .sum();
        metrics
    }

    /// Registers a handler on the running informer. It first receives the current
    /// content as adds with `is_initial_list = true` (as client-go), then the live
    /// events. Resyncs at the informer's default period, if any.
    /// [`InformerStopped`] once the informer has stopped.
    pub fn add_handler(
        &self,
        handler: impl EventHandler<T>,
    ) -> Result<HandlerRegistration, InformerStopped> {
        let resync = *self.shared.default_resync.lock();
        self.add_handler_with_resync(handler, resync)
    }

    /// Registers a handler with its own resync period (client-go's
    /// `AddEventHandlerWithResyncPeriod`; `None`: never resync). After start the check
    /// period is fixed: a smaller period is raised to it, as client-go does.
    pub fn add_handler_with_resync(
        &self,
        handler: impl EventHandler<T>,
        resync: Option<Duration>,
    ) -> Result<HandlerRegistration, InformerStopped> {
        let resync = match (resync, self.shared.resync_check.get().copied().flatten()) {
            (Some(asked), Some(check)) if asked < check => {
                tracing::warn!(
                    ?asked,
                    ?check,
                    "resync period raised to the informer's check period"
                );
                Some(check)
            }
            (Some(asked), None) => {
                tracing::warn!(
                    ?asked,
                    "the informer started without a resync check: this handler will not resync"
                );
                None
            }
            (resync, _) => resync,
        };
        Shared::join(&self.shared, handler, resync)
    }

    /// Registers a handler with only an add callback.
    pub fn on_add(
        &self,
        f: impl Fn(&Arc<T>, bool) + Send + Sync + 'static,
    ) -> Result<HandlerRegistration, InformerStopped> {
        self.add_handler(Handler::new().on_add(f))
    }

    /// Registers a handler with only an update callback.
    pub fn on_update(
        &self,
        f: impl Fn(&Arc<T>, &Arc<T>) + Send + Sync + 'static,
    ) -> Result<HandlerRegistration, InformerStopped> {
        self.add_handler(Handler::new().on_update(f))
    }

    /// Registers a handler with only a delete callback.
    pub fn on_delete(
        &self,
        f: impl Fn(&DeletedObject<T>) + Send + Sync + 'static,
    ) -> Result<HandlerRegistration, InformerStopped> {
        self.add_handler(Handler::new().on_delete(f))
    }
}

impl<T: Keyed, S> Clone for Informer<T, S> {
    fn clone(&self) -> Self {
        Informer {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Pops the queue in batches until it is closed and drained.
async fn process<T, S>(shared: Arc<Shared<T, S>>, queue: OrderedFifo<T>, batch_size: usize)
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    loop {
        let popped = queue
            .pop_batch_async(batch_size, |batch, is_initial_list| {
                let started = std::time::Instant::now();
                let events = shared.distribute(batch.events(), is_initial_list);
                let name = shared.name.lock().clone();
                shared.recorded.batch(
                    &name,
                    events,
                    started.elapsed(),
                    batch.resource_version(),
                    queue.len(),
                );
                Ok::<_, Requeue<store_core::Error>>(())
            })
            .await;
        match popped {
            Ok(()) => {}
            Err(PopError::Closed) => break,
            Err(PopError::Requeued(error)) => shared.report(&ReflectorError::Store(error)),
        }
        shared.mark_synced_if_done();
    }
    tracing::debug!("informer processing stopped");
}

/// What one write of a batch tells the handlers once applied.
enum Pending<T: Keyed> {
    /// An upsert: an add, or an update (to every handler, or — `sync` — only to the
    /// handlers whose resync is due, when unchanged).
    Upsert {
        obj: Arc<T>,
        sync: Resync,
    },
    Delete(DeletedObject<T>),
}

/// Whether an upsert is a resync (or may be an unchanged relisted object).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resync {
    /// A change: every handler hears it.
    No,
    /// A relisted object: unchanged (same resource version) means a resync.
    IfUnchanged,
    /// A resync.
    Yes,
}

impl<T, S> Shared<T, S>
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    /// A new handler's listener (not yet registered), registration and thread.
    fn listen(
        this: &Arc<Self>,
        handler: impl EventHandler<T>,
        resync: Option<Duration>,
    ) -> (
        Listener<T>,
        HandlerRegistration,
        Option<std::thread::JoinHandle<()>>,
    ) {
        let id = this.next_handler.fetch_add(1, Ordering::Relaxed);
        let deregister: Arc<dyn Deregister> = Arc::clone(this) as Arc<dyn Deregister>;
        let weak: Weak<dyn Deregister> = Arc::downgrade(&deregister);
        drop(deregister);
        let Registered {
            listener,
            registration,
            thread,
        } = register(
            handler,
            id,
            resync,
            this.state.subscribe(),
            weak,
            Arc::clone(&this.on_error),
            Arc::clone(&this.runtime),
        );
        (listener, registration, thread)
    }

    /// A handler joining the running informer: the current content first (under the
    /// listeners' lock, so no batch falls between the replay and its registration).
    fn join(
        this: &Arc<Self>,
        handler: impl EventHandler<T>,
        resync: Option<Duration>,
    ) -> Result<HandlerRegistration, InformerStopped> {
        let mut listeners = this.listeners.lock();
        if listeners.closed {
            return Err(InformerStopped);
        }
        let (mut listener, registration, thread) = Self::listen(this, handler, resync);
        for obj in this.store.list() {
            listener.push(Notification::Add(obj, true));
        }
        listener.flush();
        listeners.list.push(listener);
        drop(listeners);
        this.threads.lock().extend(thread);
        Ok(registration)
    }

    /// The resync check: marks the handlers whose period has passed (and schedules
    /// their next); `true` when any is due, so the queue resyncs.
    fn resync_due(&self) -> bool {
        let now = tokio::time::Instant::now();
        let mut listeners = self.listeners.lock();
        let mut any = false;
        for listener in &mut listeners.list {
            listener.syncing = false;
            if let Some(period) = listener.resync {
                if now >= listener.next_resync {
                    listener.syncing = true;
                    listener.next_resync = now + period;
                    any = true;
                }
            }
        }
        any
    }

    /// After shutdown: no handler may join; every handler's queue is dropped (its
    /// thread handles what it holds, then ends) and its thread joined.
    async fn join_handlers(&self) {
        {
            let mut listeners = self.listeners.lock();
            listeners.closed = true;
            listeners.list.clear();
        }
        let threads = std::mem::take(&mut *self.threads.lock());
        if threads.is_empty() {
            return;
        }
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                // A handler's panics are caught inside its thread: a join error
                // cannot carry anything new.
                let _ = thread.join();
            }
        });
        if let Err(error) = joined.await {
            tracing::error!(%error, "joining the informer's handler threads failed");
        }
    }

    /// Sets the informer's synced flag once the reflector has listed and every entry
    /// of that first list has been popped and distributed.
    fn mark_synced_if_done(&self) {
        let reflector_synced = self
            .reflector
            .get()
            .is_some_and(ReflectorHandle::has_synced);
        let queue_synced = self.queue.get().is_some_and(OrderedFifo::has_synced);
        if !self.state.borrow().synced && reflector_synced && queue_synced {
            self.state.send_modify(|state| state.synced = true);
        }
    }

    /// Applies a batch to the store in one write and notifies every handler, in
    /// order. Answers how many events it applied.
    fn distribute<'a>(
        &self,
        events: impl Iterator<Item = &'a OrderedEvent<T>>,
        is_initial_list: bool,
    ) -> usize {
        let mut listeners = self.listeners.lock();
        let mut writes: Vec<Write<T>> = Vec::new();
        let mut pending: Vec<Pending<T>> = Vec::new();
        for event in events {
            match event {
                OrderedEvent::Delta(delta) => {
                    let (write, note) = match delta {
                        Delta::Deleted(deleted) => (
                            Write::Delete(deleted.key()),
                            Pending::Delete(deleted.clone()),
                        ),
                        Delta::Added(obj) | Delta::Updated(obj) => upsert(obj, Resync::No),
                        Delta::Replaced(obj) => upsert(obj, Resync::IfUnchanged),
                        Delta::Sync(obj) => upsert(obj, Resync::Yes),
                    };
                    writes.push(write);
                    pending.push(note);
                }
                OrderedEvent::ReplacedAll { objects, .. } => {
                    // Reconciled against the cache: what the list lacks leaves first
                    // (tombstones, in key order), then the list in its order.
                    let listed: HashSet<T::Key> = objects.iter().map(|obj| obj.key()).collect();
                    let mut gone: Vec<T::Key> = self
                        .store
                        .list_keys()
                        .into_iter()
                        .filter(|key| !listed.contains(key))
                        .collect();
                    gone.sort_unstable();
                    for key in gone {
                        let last = self.store.get(&key);
                        writes.push(Write::Delete(key.clone()));
                        pending.push(Pending::Delete(DeletedObject::Unknown { key, last }));
                    }
                    for obj in objects {
                        let (write, note) = upsert(obj, Resync::IfUnchanged);
                        writes.push(write);
                        pending.push(note);
                    }
                }
                OrderedEvent::Bookmark(_) => {}
            }
        }
        let applied = pending.len();
        let answers = self.store.writer().apply_batch(writes);
        for (answer, note) in answers.into_iter().zip(pending) {
            let (notification, sync_only) = match (answer, note) {
                (Err(error), _) => {
                    self.report(&ReflectorError::Store(error));
                    continue;
                }
                (Ok(_), Pending::Delete(deleted)) => (Notification::Delete(deleted), false),
                (Ok(None), Pending::Upsert { obj, .. }) => {
                    (Notification::Add(obj, is_initial_list), false)
                }
                (Ok(Some(old)), Pending::Upsert { obj, sync }) => {
                    let sync_only = match sync {
                        Resync::No => false,
                        Resync::Yes => true,
                        Resync::IfUnchanged => (self.unchanged)(&old, &obj),
                    };
                    (Notification::Update(old, obj), sync_only)
                }
            };
            for listener in &mut listeners.list {
                if !sync_only || listener.syncing {
                    listener.push(notification.clone());
                }
            }
        }
        for listener in &mut listeners.list {
            listener.flush();
        }
        let name = self.name.lock().clone();
        for listener in &listeners.list {
            ::metrics::gauge!(
                "informer_handler_backlog",
                "name" => name.clone(),
                "handler" => listener.id.to_string()
            )
            .set(listener.progress.pending() as f64);
        }
        applied
    }

    fn report(&self, error: &ReflectorError) {
        tracing::warn!(%error, "informer error");
        report_to(&self.on_error, error);
    }
}

fn upsert<T: Keyed>(obj: &Arc<T>, sync: Resync) -> (Write<T>, Pending<T>) {
    (
        Write::Upsert(Arc::clone(obj)),
        Pending::Upsert {
            obj: Arc::clone(obj),
            sync,
        },
    )
}

impl<T, S> Deregister for Shared<T, S>
where
    T: Keyed + Send + Sync + 'static,
    S: Send + Sync,
{
    fn deregister(&self, id: u64) -> bool {
        let mut listeners = self.listeners.lock();
        let before = listeners.list.len();
        listeners.list.retain(|listener| listener.id != id);
        before != listeners.list.len()
    }
}

impl<T: Keyed, S> fmt::Debug for Informer<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = *self.shared.state.borrow();
        f.debug_struct("Informer")
            .field("name", &*self.shared.name.lock())
            .field("has_synced", &state.synced)
            .field("stopped", &state.stopped)
            .field("handlers", &self.shared.listeners.lock().list.len())
            .finish_non_exhaustive()
    }
}

impl<T: Keyed, S> fmt::Debug for InformerBuilder<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InformerBuilder")
            .field("name", &*self.shared.name.lock())
            .field("atomic", &self.atomic)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}
