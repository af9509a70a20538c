//! [`Informer`], the running informer's handle, and the state its parts share.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use store_core::{
    DeletedObject, Indexer, Keyed, OrderedFifo, Queue, ReadOnly, ResourceVersion, ShardedCache,
};

use super::handler::{Deregister, EventHandler, HandlerFns, HandlerRegistration};
use super::hooks::{report_to, SharedHook};
use super::listener::{register, Listener, Notification, Registered, RuntimeSlot};
use super::metrics::{InformerMetrics, Recorded};
use crate::error::{Chain, InformerStopped, ReflectorError, StoppedBeforeSync};
use crate::readiness::Readiness;
use crate::reflector::ReflectorHandle;

/// Whether two versions of an object are the same (then an update of it is a resync).
pub(super) type Unchanged<T> = fn(&Arc<T>, &Arc<T>) -> bool;

/// The registered handlers, and whether new ones are still accepted.
pub(super) struct Listeners<T: Keyed> {
    pub(super) list: Vec<Listener<T>>,
    /// Set once the informer has stopped: no handler can join after.
    pub(super) closed: bool,
}

/// What the informer's parts share: the builder creates it, `start` runs on it (the
/// processing task applies batches and fans them out through it), the [`Informer`]
/// handle reads it.
pub(super) struct Shared<T: Keyed, S> {
    /// The cache; the informer is its only writer.
    pub(super) store: S,
    /// The read-only view of it that [`Informer::store`] hands out.
    pub(super) reader: ReadOnly<T, S>,
    /// Held while a popped batch is applied to the store and fanned out, and while a
    /// late handler takes its snapshot: a new handler sees every object exactly once,
    /// either in its replay or as a later notification.
    pub(super) listeners: Mutex<Listeners<T>>,
    pub(super) threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    pub(super) state: Readiness,
    pub(super) on_error: SharedHook,
    pub(super) runtime: RuntimeSlot,
    pub(super) reflector: OnceLock<ReflectorHandle>,
    pub(super) queue: OnceLock<OrderedFifo<T>>,
    pub(super) next_handler: AtomicU64,
    /// The resync period handlers registered without one get (the builder's
    /// `ReflectorConfig::resync_period`).
    pub(super) default_resync: Mutex<Option<Duration>>,
    /// The period the resync check runs at once started (the smallest asked for).
    pub(super) resync_check: OnceLock<Option<Duration>>,
    pub(super) recorded: Recorded,
    pub(super) name: Mutex<String>,
    pub(super) unchanged: Unchanged<T>,
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
///   and updates in list order. [`with_relist_as_one_entry(false)`](crate::InformerBuilder::with_relist_as_one_entry)
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
    pub(super) shared: Arc<Shared<T, S>>,
}

// `Informer::builder` and `builder_with_store` live in `builder.rs`, beside what they
// build.

impl<T, S> Informer<T, S>
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    /// The indexed cache the informer fills, read-only: every read of a
    /// [`Store`](store_core::Store) and an [`Indexer`], no write (kube-runtime's
    /// `Store`/`Writer` split). Writes happen only through the informer, in the source's
    /// order, so what a reader sees is always a state the informer's handlers were (or
    /// will be) told about. Cheap to clone.
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
    /// let (informer, running) = Informer::builder(server).start(shutdown.clone());
    /// informer.wait_until_synced().await.unwrap();
    /// let pods = informer.store().clone(); // a ReadOnly: hand it to whoever reads
    /// assert_eq!(pods.by_index(NAMESPACE_INDEX, "web").unwrap().len(), 1);
    /// // pods.add(..) does not exist: the informer is the only writer
    /// shutdown.cancel();
    /// running.await.unwrap();
    /// # });
    /// ```
    pub fn store(&self) -> &ReadOnly<T, S> {
        &self.shared.reader
    }

    /// Whether the initial list has been listed, cached and handed to the handlers'
    /// queues.
    pub fn has_synced(&self) -> bool {
        self.shared.state.has_synced()
    }

    /// Whether the informer has stopped (its task ended: handlers drained).
    pub fn has_stopped(&self) -> bool {
        self.shared.state.has_stopped()
    }

    /// Waits until [`has_synced`](Informer::has_synced). The future always ends (as
    /// kube's `wait_until_ready`).
    ///
    /// # Errors
    ///
    /// [`StoppedBeforeSync`] once the informer stopped without syncing.
    pub async fn wait_until_synced(&self) -> Result<(), StoppedBeforeSync> {
        self.shared.state.wait().await
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
    ///
    /// # Errors
    ///
    /// [`InformerStopped`] once the informer has stopped: no event would reach the
    /// handler.
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
    ///
    /// # Errors
    ///
    /// [`InformerStopped`] once the informer has stopped.
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
    ///
    /// # Errors
    ///
    /// [`InformerStopped`] once the informer has stopped.
    pub fn on_add(
        &self,
        f: impl Fn(&Arc<T>, bool) + Send + Sync + 'static,
    ) -> Result<HandlerRegistration, InformerStopped> {
        self.add_handler(HandlerFns::new().on_add(f))
    }

    /// Registers a handler with only an update callback.
    ///
    /// # Errors
    ///
    /// [`InformerStopped`] once the informer has stopped.
    pub fn on_update(
        &self,
        f: impl Fn(&Arc<T>, &Arc<T>) + Send + Sync + 'static,
    ) -> Result<HandlerRegistration, InformerStopped> {
        self.add_handler(HandlerFns::new().on_update(f))
    }

    /// Registers a handler with only a delete callback.
    ///
    /// # Errors
    ///
    /// [`InformerStopped`] once the informer has stopped.
    pub fn on_delete(
        &self,
        f: impl Fn(&DeletedObject<T>) + Send + Sync + 'static,
    ) -> Result<HandlerRegistration, InformerStopped> {
        self.add_handler(HandlerFns::new().on_delete(f))
    }
}

impl<T: Keyed, S> Clone for Informer<T, S> {
    fn clone(&self) -> Self {
        Informer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, S> Shared<T, S>
where
    T: Keyed + Send + Sync + 'static,
    S: Indexer<T> + 'static,
{
    /// A new handler's listener (not yet registered), registration and thread.
    pub(super) fn listen(
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
    pub(super) fn join(
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

    /// After shutdown: no handler may join; every handler's queue is dropped (its
    /// thread handles what it holds, then ends) and its thread joined.
    pub(super) async fn join_handlers(&self) {
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
    pub(super) fn mark_synced_if_done(&self) {
        let reflector_synced = self
            .reflector
            .get()
            .is_some_and(ReflectorHandle::has_synced);
        let queue_synced = self.queue.get().is_some_and(OrderedFifo::has_synced);
        if !self.state.has_synced() && reflector_synced && queue_synced {
            self.state.mark_synced();
        }
    }

    /// Logs `error` and reports it to the error hook.
    pub(super) fn report(&self, error: &ReflectorError) {
        tracing::warn!(error = %Chain(error), "informer error");
        report_to(&self.on_error, error);
    }
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
        f.debug_struct("Informer")
            .field("name", &*self.shared.name.lock())
            .field("has_synced", &self.shared.state.has_synced())
            .field("stopped", &self.shared.state.has_stopped())
            .field("handlers", &self.shared.listeners.lock().list.len())
            .finish_non_exhaustive()
    }
}
