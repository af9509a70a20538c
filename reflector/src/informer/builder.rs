//! [`InformerBuilder`]: configures an informer, registers its first handlers, and
//! starts it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use store_core::{DeletedObject, Indexer, Keyed, OrderedFifo, Queue, ReadOnly, ShardedCache};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::handler::{EventHandler, HandlerFns, HandlerRegistration};
use super::hooks::{report_to, SharedHook, Transform};
use super::informer::{Informer, Listeners, Shared};
use super::metrics::Recorded;
use super::processor::{process, resync_due, same_version};
use super::queue_writer::QueueWriter;
use crate::error::ReflectorError;
use crate::readiness::Readiness;
use crate::reflector::{Reflector, ReflectorConfig, ReflectorHandle};
use crate::source::ListerWatcher;

/// Starts the reflector on the informer's queue: built in `new`, where the source's
/// type is known, so that the builder is generic only over the object and the store.
type Starter<T> = Box<
    dyn FnOnce(
            QueueWriter<T>,
            ReflectorConfig,
            SharedHook,
            CancellationToken,
            Companion,
        ) -> (ReflectorHandle, Pin<Box<dyn Future<Output = ()> + Send>>)
        + Send,
>;

/// What runs beside the informer's reflector: the processing task, and what closes its
/// queue once the reflector stops.
struct Companion {
    processing: Pin<Box<dyn Future<Output = ()> + Send>>,
    close_queue: Box<dyn FnOnce() + Send>,
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
/// assert!(informer.add_handler(reflector::HandlerFns::new()).is_err());
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
        let starter: Starter<T> = Box::new(move |queue, config, on_error, shutdown, beside| {
            let reflector = Reflector::new(source, queue)
                .with_config(config)
                .on_error(move |error| report_to(&on_error, error));
            let handle = reflector.handle();
            let Companion {
                processing,
                close_queue,
            } = beside;
            let running = reflector.run_beside(shutdown, close_queue, processing);
            (handle, Box::pin(running))
        });
        InformerBuilder {
            shared: Arc::new(Shared {
                reader: ReadOnly::new(store.clone()),
                store,
                listeners: Mutex::new(Listeners {
                    list: Vec::new(),
                    closed: false,
                }),
                threads: Mutex::new(Vec::new()),
                state: Readiness::new(),
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
    #[must_use]
    pub fn with_config(mut self, config: ReflectorConfig) -> Self {
        *self.shared.default_resync.lock() = config.resync_period;
        self.config = config;
        self
    }

    /// Runs `transform` once on every object before it is queued or cached (client-go's
    /// `SetTransform`): to drop fields you never read, say. Never on tombstones. A
    /// panicking transform skips that object (reported to the error hook).
    #[must_use]
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
    #[must_use]
    pub fn on_error(self, hook: impl Fn(&ReflectorError) + Send + Sync + 'static) -> Self {
        *self.shared.on_error.lock() = Some(Arc::new(hook));
        self
    }

    /// Whether a relist is one queue entry reconciled in one write (`true`, the
    /// default: client-go's `AtomicFIFO`) or tombstones and replacements queued one
    /// by one (`false`). Handlers see the same events either way.
    ///
    /// This is about the informer's *queue*; how a relist reaches the reflector's
    /// store is [`RelistMode`](crate::RelistMode) (in
    /// [`ReflectorConfig::relist_mode`](crate::ReflectorConfig::relist_mode)), a
    /// different choice.
    #[must_use]
    pub fn with_relist_as_one_entry(mut self, atomic: bool) -> Self {
        self.atomic = atomic;
        self
    }

    /// How many queue entries one batch applies at most (default 256; 1 turns batching
    /// off).
    #[must_use]
    pub fn with_batch_size(mut self, max: usize) -> Self {
        self.batch_size = max.max(1);
        self
    }

    /// Names the informer in its metrics (label `name`) and logs; the default is the
    /// object's type name.
    #[must_use]
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
        self.add_handler(HandlerFns::new().on_add(f))
    }

    /// Registers a handler with only an update callback.
    pub fn on_update(
        &mut self,
        f: impl Fn(&Arc<T>, &Arc<T>) + Send + Sync + 'static,
    ) -> HandlerRegistration {
        self.add_handler(HandlerFns::new().on_update(f))
    }

    /// Registers a handler with only a delete callback.
    pub fn on_delete(
        &mut self,
        f: impl Fn(&DeletedObject<T>) + Send + Sync + 'static,
    ) -> HandlerRegistration {
        self.add_handler(HandlerFns::new().on_delete(f))
    }

    /// Starts the reflector and the processing task on the current tokio runtime,
    /// consuming the builder. Answers the running informer, and the task that ends
    /// once `shutdown` is cancelled, the queue is drained and every handler has
    /// handled what it was given.
    ///
    /// # Panics
    ///
    /// Panics if called from **outside** of a Tokio runtime: it takes the current
    /// runtime's handle (the handler threads enter it) and spawns its tasks there.
    pub fn start(self, shutdown: CancellationToken) -> (Informer<T, S>, JoinHandle<()>) {
        let InformerBuilder {
            shared,
            starter,
            mut config,
            transform,
            atomic,
            batch_size,
        } = self;
        let known = shared.store.clone();
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
                .filter(|period| !period.is_zero())
                .min()
        };
        let _ = shared.resync_check.set(check);
        config.resync_period = check;
        let cached_in = shared.store.clone();
        let due = Arc::downgrade(&shared);
        let popped = Arc::new(tokio::sync::Notify::new());
        let writer = QueueWriter {
            queue: queue.clone(),
            popped: Arc::clone(&popped),
            transform,
            cached: Arc::new(move |obj: &T| cached_in.get(&obj.key())),
            on_error: Arc::clone(&shared.on_error),
            resync_due: Arc::new(move || due.upgrade().is_some_and(|shared| resync_due(&shared))),
        };
        let _ = shared.runtime.set(tokio::runtime::Handle::current());
        // The processing task runs beside the reflector, on its thread; a panic there
        // is logged and ends the processing only, as a task of its own would.
        let processing = process(Arc::clone(&shared), queue.clone(), batch_size, popped);
        let processing = Box::pin(async move {
            if let Err(panic) =
                futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(processing)).await
            {
                tracing::error!(
                    message = %store_core::panic::panic_message(panic.as_ref()),
                    "informer processing task panicked"
                );
            }
        });
        let closing = queue.clone();
        let beside = Companion {
            processing,
            close_queue: Box::new(move || closing.close()),
        };
        let (handle, reflector) = starter(
            writer,
            config,
            Arc::clone(&shared.on_error),
            shutdown.clone(),
            beside,
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
            // The reflector, then (the queue closed) the processing task draining it.
            reflector.await;
            running.join_handlers().await;
            running.state.mark_stopped();
            tracing::debug!("informer stopped");
        });
        (Informer { shared }, task)
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
