//! [`Reflector`]: client-go's list-then-watch state machine, keeping a
//! [`ReflectorStore`] in sync with a [`ListerWatcher`].
//!
//! A reflector's life is a loop over phases (`Phase`), each a step of work that ends
//! in the next phase, in the manner of kube-runtime's watcher `State` and `step`.
//! Shutdown ends any phase.
//!
//! ```text
//! StreamList  synced ───────────────────────▶ Watch, going on with the same stream
//!             failed ───────────────────────▶ List, same attempt (and from then on
//!                                             if the source cannot stream lists)
//!             store refused a page ─────────▶ Backoff ▶ a new attempt
//! List        synced ───────────────────────▶ Watch
//!             version unavailable ──────────▶ List at "", same attempt, no backoff
//!             failed, store refused ────────▶ Backoff ▶ a new attempt
//! Watch       clean close ──────────────────▶ Watch
//!             refused connection, throttled,
//!             InternalError within budget ──▶ Backoff ▶ Watch
//!             anything else ────────────────▶ Backoff ▶ a new attempt
//! ```
//!
//! A list attempt is a `StreamList` when [`ReflectorConfig::streaming_list`] is on
//! and the source has not said it cannot, else a `List`; "synced" includes the store
//! taking the list, and a store that refuses it backs off too.
//!
//! Each phase's work lives in its own file; this one holds the transitions.
//!
//! - `config`: [`ReflectorConfig`] and [`RelistMode`].
//! - `handle`: [`ReflectorHandle`] and the state the reflector shares with it.
//! - `list`: the paginated list and the store write that ends every list.
//! - `stream_list`: the streaming list (watch-list, `sendInitialEvents`).
//! - `watch`: one watch, applied event by event, and what its end means.
//! - `backoff`: [`BackoffConfig`], the wait between attempts and the retry budget
//!   for watches answering `InternalError`.
//! - `thread`: the thread of its own a reflector runs on, on a multi-thread runtime.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use store_core::{Keyed, ReadOnly, ResourceVersion, Status, Store};
use tokio::time::Interval;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::backoff::{sleep, Backoff, InternalErrorRetry};
use self::handle::{Shared, StopGuard};
use self::list::{Attempt, ListFrom, Sink};
use self::watch::{resync_clock, Next};
use crate::error::{Chain, ReflectorError};
use crate::readiness::ErrorHook;
use crate::source::{ListerWatcher, WatchStream};
use crate::store::ReflectorStore;

mod backoff;
mod config;
mod handle;
mod list;
mod stream_list;
mod thread;
mod watch;

pub use self::backoff::BackoffConfig;
pub use self::config::{ReflectorConfig, RelistMode};
pub use self::handle::ReflectorHandle;

/// Keeps a [`ReflectorStore`] in sync with a [`ListerWatcher`]: client-go's reflector.
///
/// The state machine, as client-go's:
/// 1. **List** — the first at resource version `"0"`, later ones at the last synced
///    version; a list at a version the source no longer has (Expired/Gone) or has not
///    reached ("too large resource version") is followed at once, in the same attempt
///    and without being reported, by a list at `""` (the latest). Paginated by
///    [`page_size`](ReflectorConfig::page_size) with client-go's rule (no pages at a
///    non-zero version unless the first list came back paginated); a continuation
///    page answered Expired falls back to one full list at the same version. The
///    store is `replace`d with the result, and the list's version becomes the last
///    synced one.
/// 2. **Watch** from the last synced version, with bookmarks and a timeout drawn from
///    [`watch_timeout`](ReflectorConfig::watch_timeout). Every event, bookmarks
///    included, advances the last synced version.
///    - a clean close re-watches from there, without relisting — unless the watch
///      closed at once with no event, which counts as an error (backoff, relist);
///    - Expired/Gone relists (after a backoff);
///    - a refused connection (`ServiceUnavailable`) or `TooManyRequests` backs off and
///      re-watches, whether the watch failed to start or failed while open;
///    - any other error backs off and relists;
///    - a resync the store refuses ends the watch: back off and relist (client-go).
/// 3. **Backoff** — see [`BackoffConfig`]. Every failure goes to the error hook and to
///    `tracing`; the reflector never gives up, it stops only on shutdown.
///
/// ```
/// use std::time::Duration;
/// use reflector::{MemoryServer, Reflector};
/// use store_core::{Cache, Keyed, Store};
/// use tokio_util::sync::CancellationToken;
///
/// #[derive(Keyed, Debug)]
/// struct Lease { #[key] name: String, holder: String }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = MemoryServer::new();
/// server.create(Lease { name: "a".into(), holder: "x".into() }).unwrap();
///
/// let cache = Cache::new();
/// let reflector = Reflector::new(server.clone(), cache.clone());
/// let handle = reflector.handle();
/// let shutdown = CancellationToken::new();
/// let task = tokio::spawn(reflector.run(shutdown.clone()));
///
/// handle.wait_until_synced().await.unwrap();
/// assert!(cache.contains_key("a"));
/// server.create(Lease { name: "b".into(), holder: "y".into() }).unwrap();
/// while !cache.contains_key("b") {
///     tokio::time::sleep(Duration::from_millis(1)).await;
/// }
/// shutdown.cancel();
/// task.await.unwrap();
/// # });
/// ```
pub struct Reflector<T, L, S> {
    source: L,
    store: S,
    config: ReflectorConfig,
    on_error: Option<ErrorHook>,
    name: String,
    shared: Arc<Shared>,
    /// Whether the first list at `"0"` came back paginated (client-go's
    /// `paginatedResult`): then later lists at a version paginate too.
    paginated_result: AtomicBool,
    /// The source said it cannot stream lists: list+watch from now on.
    streaming_unsupported: AtomicBool,
    /// The source instance the last list came from ([`ListPage::source_id`]), handed to
    /// every watch so that a replaced source (a recreated etcd cluster) is noticed.
    ///
    /// [`ListPage::source_id`]: crate::source::ListPage::source_id
    source_id: Mutex<Option<String>>,
    _stopped: StopGuard,
    _object: PhantomData<fn() -> T>,
}

/// Where a reflector's run loop is: each phase is one step of work, which ends in the
/// next phase (or `None`: shut down).
enum Phase<T: Keyed> {
    /// A streaming list; a failure lists instead, in the same attempt.
    StreamList(Attempt<T>),
    /// A paginated list; a version the source no longer has (or has not reached) lists
    /// the latest, in the same attempt.
    List(Attempt<T>),
    /// A watch from the last synced version, or going on with the one a streaming list
    /// opened.
    Watch(Option<WatchStream<T>>),
    /// A pause after a failure, then a new list attempt or a re-watch.
    Backoff(Resume),
}

/// Where a [`Phase::Backoff`] goes once waited out.
enum Resume {
    /// A new list attempt from here.
    List(ListFrom),
    /// A watch from the last synced version.
    Watch,
}

/// What the run loop carries from phase to phase.
struct Run {
    backoff: Backoff,
    internal_errors: InternalErrorRetry,
    /// One resync clock for the reflector's life (started by the first list), so
    /// that frequent re-watches cannot keep postponing it.
    resync: Option<Interval>,
}

impl<T, L, S> Reflector<T, L, S>
where
    T: Keyed + Send + Sync + 'static,
    L: ListerWatcher<T>,
    S: ReflectorStore<T>,
{
    /// A reflector from `source` into `store`, with the default configuration.
    pub fn new(source: L, store: S) -> Self {
        let shared = Arc::new(Shared::new());
        Reflector {
            source,
            store,
            config: ReflectorConfig::default(),
            on_error: None,
            name: std::any::type_name::<T>().to_owned(),
            _stopped: StopGuard(Arc::clone(&shared)),
            shared,
            paginated_result: AtomicBool::new(false),
            streaming_unsupported: AtomicBool::new(false),
            source_id: Mutex::new(None),
            _object: PhantomData,
        }
    }

    /// Replaces the configuration.
    #[must_use]
    pub fn with_config(mut self, config: ReflectorConfig) -> Self {
        self.config = config;
        self
    }

    /// Calls `hook` with every failure the reflector recovers from.
    #[must_use]
    pub fn on_error(mut self, hook: impl Fn(&ReflectorError) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(hook));
        self
    }

    /// Names the reflector in its `tracing` spans (default: the object type's name).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// A handle to watch this reflector's progress from elsewhere.
    pub fn handle(&self) -> ReflectorHandle {
        ReflectorHandle::new(Arc::clone(&self.shared))
    }

    /// A read-only view of the store this reflector writes, to hand to code that only
    /// reads (kube-runtime's `Store`/`Writer` split): the reflector stays its only
    /// writer. Any number can be made, before or after `run` starts.
    ///
    /// ```
    /// use reflector::{MemoryServer, Reflector};
    /// use store_core::{Cache, Keyed};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// #[derive(Keyed, Debug)]
    /// struct Node { #[key] name: String }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let server = MemoryServer::new();
    /// server.create(Node { name: "n1".into() }).unwrap();
    /// let reflector = Reflector::new(server, Cache::new());
    /// let (nodes, handle) = (reflector.reader(), reflector.handle());
    /// let shutdown = CancellationToken::new();
    /// let running = tokio::spawn(reflector.run(shutdown.clone()));
    /// handle.wait_until_synced().await.expect("synced");
    /// assert!(nodes.get("n1").is_some()); // reads only: `nodes.add` does not exist
    /// shutdown.cancel();
    /// running.await.unwrap();
    /// # });
    /// ```
    pub fn reader(&self) -> ReadOnly<T, S>
    where
        S: Store<T>,
    {
        ReadOnly::new(self.store.clone())
    }

    /// Lists and watches until `shutdown` is cancelled; see the type's documentation.
    ///
    /// On a multi-thread runtime the work runs on a thread of the reflector's own
    /// (unless [`ReflectorConfig::own_thread`] is off) and this future waits for it; a
    /// panic there is resumed here, and dropping this future stops the thread as
    /// shutdown does.
    pub async fn run(self, shutdown: CancellationToken) {
        self.run_beside(shutdown, || {}, std::future::ready(()))
            .await;
    }

    /// [`run`](Reflector::run), with `companion` running beside it on the same thread
    /// (the reflector's own, or the caller's): when the reflector stops, `stopped` is
    /// called, then `companion` is awaited. An informer runs its processing task so,
    /// next to the reflector that feeds its queue: handing an event from one to the
    /// other then wakes no other thread.
    pub(crate) async fn run_beside<C>(
        self,
        shutdown: CancellationToken,
        stopped: impl FnOnce() + Send + 'static,
        companion: C,
    ) where
        C: Future<Output = ()> + Send + 'static,
    {
        let span = tracing::info_span!("reflector", name = %self.name);
        let own_thread = self.config.own_thread && thread::on_multi_thread_runtime();
        let name = thread_name(&self.name);
        let work = move |stop: CancellationToken| async move {
            let reflecting = async move {
                self.run_until(stop).instrument(span).await;
                stopped();
            };
            futures::join!(reflecting, companion);
        };
        if !own_thread {
            return work(shutdown).await;
        }
        if let Err((work, error)) = thread::run_on_own_thread(name, &shutdown, work).await {
            tracing::warn!(%error, "no thread of its own for the reflector: running on the caller's runtime");
            work(shutdown).await;
        }
    }

    async fn run_until(self, shutdown: CancellationToken) {
        let mut run = Run {
            backoff: Backoff::new(self.config.backoff.clone()),
            internal_errors: InternalErrorRetry::new(self.config.internal_error_retry),
            resync: None,
        };
        let mut phase = (!shutdown.is_cancelled()).then(|| self.begin(ListFrom::Any));
        while let Some(now) = phase {
            phase = self.step(now, &mut run, &shutdown).await;
        }
        tracing::debug!("reflector stopped");
    }

    /// Does one phase's work; the phase that follows, or `None` once shut down.
    async fn step(
        &self,
        phase: Phase<T>,
        run: &mut Run,
        shutdown: &CancellationToken,
    ) -> Option<Phase<T>> {
        match phase {
            Phase::StreamList(mut attempt) => {
                // A streaming list asks for the latest state or one at least as fresh
                // as the last synced version ("0" would allow an older one).
                let from = match attempt.from {
                    ListFrom::LastSynced => self.last_synced(),
                    ListFrom::Any | ListFrom::Latest => ResourceVersion::from(""),
                };
                let streamed = tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    streamed = self.stream_list(&from, &mut attempt.sink) => streamed,
                };
                Some(match streamed {
                    Ok(Some((version, stream))) => self.listed(attempt, version, Some(stream), run),
                    // The store refused an in-place page (the error is in the sink):
                    // handled as for a paginated list.
                    Ok(None) => self.list_failed(
                        attempt,
                        Box::new(Status::internal_error(
                            "the store refused a page of the streaming list",
                        )),
                    ),
                    Err(status) => {
                        self.streaming_failed(&from, status);
                        // Pages already written stay; the list that follows marks its
                        // own keys seen.
                        attempt.sink.restart();
                        Phase::List(attempt)
                    }
                })
            }
            Phase::List(mut attempt) => {
                let listed = tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    listed = self.list_all(&attempt.resource_version, &mut attempt.sink) => listed,
                };
                Some(match listed {
                    Ok(version) => self.listed(attempt, version, None, run),
                    // client-go: a version the source no longer has (or has not
                    // reached) is the normal way back after a long disconnection, not a
                    // failure: list the latest at once, in the same attempt, with no
                    // backoff.
                    Err(status) if unavailable(&status) && !attempt.resource_version.is_empty() => {
                        tracing::info!(
                            resource_version = %attempt.resource_version,
                            %status,
                            "listed version unavailable; listing the latest"
                        );
                        self.list_latest(&mut attempt);
                        Phase::List(attempt)
                    }
                    Err(status) => self.list_failed(attempt, status),
                })
            }
            Phase::Watch(opened) => {
                let resource_version = self.last_synced();
                let next = self
                    .watch_once(
                        &resource_version,
                        shutdown,
                        &mut run.resync,
                        &mut run.internal_errors,
                        opened,
                    )
                    .await?;
                match next {
                    Next::Rewatch => (!shutdown.is_cancelled()).then_some(Phase::Watch(None)),
                    Next::RewatchAfterBackoff => Some(Phase::Backoff(Resume::Watch)),
                    Next::Relist => Some(Phase::Backoff(Resume::List(ListFrom::LastSynced))),
                }
            }
            Phase::Backoff(resume) => {
                // Shut down while waiting, or as the wait ended.
                if !sleep(&mut run.backoff, shutdown).await || shutdown.is_cancelled() {
                    return None;
                }
                Some(match resume {
                    Resume::List(from) => self.begin(from),
                    Resume::Watch => Phase::Watch(None),
                })
            }
        }
    }

    /// A list attempt from `from`: streaming when so configured, unless the source
    /// said it cannot.
    fn begin(&self, from: ListFrom) -> Phase<T> {
        let attempt = self.attempt(from);
        if self.config.streaming_list && !self.streaming_unsupported.load(Ordering::Relaxed) {
            Phase::StreamList(attempt)
        } else {
            Phase::List(attempt)
        }
    }

    /// A list (streaming or not) came back at `listed_version`: into the store, then
    /// watch (going on with the watch a streaming list `opened`). Synced from here on.
    fn listed(
        &self,
        attempt: Attempt<T>,
        listed_version: ResourceVersion,
        opened: Option<WatchStream<T>>,
        run: &mut Run,
    ) -> Phase<T> {
        let count = match self.apply_list(attempt.sink, &listed_version) {
            Ok(count) => count,
            Err(error) => {
                self.report(ReflectorError::Store(error));
                return Phase::Backoff(Resume::List(attempt.from));
            }
        };
        tracing::debug!(resource_version = %listed_version, count, "listed");
        if self.shared.lists.fetch_add(1, Ordering::Relaxed) > 0 {
            metrics::counter!("reflector_relists_total", "name" => self.name.clone()).increment(1);
        }
        self.set_last_synced(listed_version);
        self.shared.state.mark_synced();
        if run.resync.is_none() {
            run.resync = self.config.resync_period.and_then(resync_clock);
        }
        Phase::Watch(opened)
    }

    /// A list (streaming or not) failed: reported (the store's error when it refused a
    /// page), then a pause and a new attempt — at `""` after a version the source no
    /// longer has or has not reached.
    fn list_failed(&self, attempt: Attempt<T>, status: Box<Status>) -> Phase<T> {
        let mut from = attempt.from;
        match attempt.sink {
            Sink::InPlace {
                refused: Some(error),
                ..
            } => self.report(ReflectorError::Store(error)),
            _ => {
                if unavailable(&status) {
                    from = ListFrom::Latest;
                }
                self.report(ReflectorError::List {
                    resource_version: attempt.resource_version,
                    status,
                });
            }
        }
        Phase::Backoff(Resume::List(from))
    }

    fn last_synced(&self) -> ResourceVersion {
        self.shared
            .last_sync_resource_version
            .lock()
            .clone()
            .unwrap_or_default()
    }

    fn set_last_synced(&self, resource_version: ResourceVersion) {
        *self.shared.last_sync_resource_version.lock() = Some(resource_version);
    }

    fn report(&self, error: ReflectorError) {
        tracing::warn!(error = %Chain(&error), "reflector error");
        if let Some(hook) = &self.on_error {
            hook(&error);
        }
    }
}

/// The name of a reflector's own thread: `reflector <last segment of its name>`
/// (Linux shows the first 15 bytes).
fn thread_name(name: &str) -> String {
    let short = name.rsplit("::").next().unwrap_or(name);
    format!("reflector {short}")
}

/// A list answer meaning the version asked for is gone (Expired/Gone) or not yet
/// there ("too large resource version").
fn unavailable(status: &Status) -> bool {
    status.is_expired_or_gone() || status.is_too_large_resource_version()
}

impl<T, L, S> fmt::Debug for Reflector<T, L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reflector")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
