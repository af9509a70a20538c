//! [`Reflector`]: client-go's list-then-watch state machine, keeping a
//! [`ReflectorStore`] in sync with a [`ListerWatcher`].

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;
use store_core::{Keyed, ResourceVersion, Status};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

mod backoff;

use self::backoff::Backoff;
pub use self::backoff::BackoffConfig;

use crate::error::{ReflectorError, StoppedBeforeSync};
use crate::lister_watcher::{ListOptions, ListerWatcher, WatchEvent, WatchOptions, WatchStream};
use crate::reflector_store::{Change, ReflectorStore};

/// How a [`Reflector`] lists, watches and backs off. `Default` is client-go's.
#[derive(Debug, Clone, PartialEq)]
pub struct ReflectorConfig {
    /// Objects per list page; `None` lists everything in one answer.
    ///
    /// As client-go's pager: lists at `"0"` and `""` ask for pages; a list at any
    /// other version is *not* paginated (a Kubernetes API server treats `limit` with
    /// `resourceVersion=N` as an exact read that can answer 410), unless the first
    /// list at `"0"` came back paginated — then the server has no watch cache and
    /// honours pages, and every later list asks for them — or
    /// [`always_paginate`](ReflectorConfig::always_paginate) is set.
    pub page_size: Option<usize>,
    /// Paginate every list, whatever its version (client-go: an explicitly set
    /// `WatchListPageSize`). Default `false`.
    pub always_paginate: bool,
    /// The range each watch's timeout is drawn from, so that many watches do not end
    /// together (client-go: 5 to 10 minutes).
    pub watch_timeout: RangeInclusive<Duration>,
    /// A watch that ends cleanly sooner than this, with no event at all, counts as an
    /// error (client-go: 1 s).
    pub min_watch_duration: Duration,
    /// Ask the source for bookmarks.
    pub bookmarks: bool,
    /// Hand the store a [`Change::Resync`] this often while watching; `None` never.
    pub resync_period: Option<Duration>,
    /// Waits after failures.
    pub backoff: BackoffConfig,
    /// How long a watch that keeps failing with `InternalError` is retried (after a
    /// backoff, from the last synced version) before the reflector relists; counted
    /// from the first such error, and started afresh after a minute without one
    /// (client-go's `MaxInternalErrorRetryDuration`). Zero, the default as in
    /// client-go, relists at the first one.
    pub internal_error_retry: Duration,
    /// Sync with a streaming list (Kubernetes' watch-list, KEP-3157) instead of a
    /// list: one watch with [`WatchOptions::send_initial_events`] delivers the state,
    /// the store is replaced at [`WatchEvent::InitialEventsEnd`] (its version is the
    /// only one taken), and the same watch goes on with live events — no second copy
    /// of a big list in flight, and no list request at all. If the source answers
    /// that it cannot (`BadRequest`, `MethodNotAllowed`, `NotAcceptable`, `Invalid`,
    /// `UnsupportedMediaType`), the reflector uses list+watch from then on; on any
    /// other failure it lists for that attempt (client-go: "making progress is better
    /// than deadlocking"). A source that never sends the end is logged and reported
    /// ([`ReflectorError::StreamingListStalled`]) every 10 s while the reflector keeps
    /// waiting. Default `false`.
    pub streaming_list: bool,
    /// How a relist (any list after the first) reaches the store; see [`RelistMode`].
    /// Default [`RelistMode::Atomic`].
    pub relist_mode: RelistMode,
}

/// How a relist reaches the store (DESIGN §10).
///
/// The first list always fills the store with one replace: the store is empty, so
/// nothing is held twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelistMode {
    /// The whole list is gathered, then handed to the store as one `Replaced`: a
    /// [`Cache`](store_core::Cache) reader never sees a half-relisted store, but the
    /// old content and the whole new list are held at once (about 2× the steady
    /// memory at the peak).
    #[default]
    Atomic,
    /// Each page is written to the store as it arrives (an upsert per object) and the
    /// keys are marked seen; at the end, the keys not seen are removed (tombstones for
    /// a queue or an informer). A reader sees each key in its old or its new state,
    /// never missing while the source still has it; the peak is the steady memory plus
    /// one page and the set of seen keys. A store that does not take in-place relists
    /// ([`ReflectorStore::supports_in_place_relist`]) is relisted atomically. A
    /// streaming list (watch-list) is written in pages of
    /// [`page_size`](ReflectorConfig::page_size) initial events (500 without one); a key
    /// deleted before the end of the initial events is removed at the end with the
    /// other unseen keys.
    ///
    /// The saving needs an allocator that reuses, for the new objects, the memory the
    /// replaced ones free. glibc's default of one arena per thread often does not: the
    /// relist decodes on another runtime worker than the first list did, so the freed
    /// objects sit in one arena while the new ones grow another (measured: 1.93–1.96×
    /// instead of 1.01–1.05×; `BENCHMARKS.md`). Either run the reflector (or the
    /// informer) on a current-thread runtime of its own, so that every list decodes on
    /// one thread and so in one arena (measured: 1.02× for a `Cache`, 1.05× for an
    /// informer, with glibc's defaults), or run with `MALLOC_ARENA_MAX=1` or `2`.
    ///
    /// ```no_run
    /// # fn informer_future() -> impl std::future::Future<Output = ()> + Send + 'static { async {} }
    /// // the rest of the program keeps its multi-thread runtime
    /// let reflecting = std::thread::spawn(|| {
    ///     tokio::runtime::Builder::new_current_thread()
    ///         .enable_all()
    ///         .build()
    ///         .expect("a runtime")
    ///         .block_on(informer_future()) // e.g. `reflector.run(shutdown)`
    /// });
    /// # reflecting.join().unwrap();
    /// ```
    InPlace,
}

impl Default for ReflectorConfig {
    fn default() -> Self {
        ReflectorConfig {
            page_size: Some(500),
            always_paginate: false,
            watch_timeout: Duration::from_secs(300)..=Duration::from_secs(600),
            min_watch_duration: Duration::from_secs(1),
            bookmarks: true,
            resync_period: None,
            backoff: BackoffConfig::default(),
            internal_error_retry: Duration::ZERO,
            streaming_list: false,
            relist_mode: RelistMode::Atomic,
        }
    }
}

/// What stops a list whose page the store refused (the store's error is reported).
fn page_refused() -> Status {
    Status::internal_error("the store refused a page of an in-place relist")
}

/// Where a list's pages go.
enum Sink<T: Keyed> {
    /// Gathered, for one `Replaced` at the end.
    Gather(Vec<Arc<T>>),
    /// Written to the store page by page (an in-place relist), with the keys seen and
    /// the store's error if it refused a page.
    InPlace {
        seen: HashSet<T::Key>,
        refused: Option<store_core::Error>,
    },
}

impl<T: Keyed> Sink<T> {
    /// Forgets what an abandoned list gathered (a fresh list follows).
    fn restart(&mut self) {
        match self {
            Sink::Gather(items) => items.clear(),
            Sink::InPlace { seen, refused } => {
                seen.clear();
                *refused = None;
            }
        }
    }
}

type ErrorHook = Arc<dyn Fn(&ReflectorError) + Send + Sync>;

/// Whether a reflector has synced, and whether it has stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SyncState {
    synced: bool,
    stopped: bool,
}

/// What the reflector shares with its [`ReflectorHandle`]s.
struct Shared {
    state: watch::Sender<SyncState>,
    last_sync_resource_version: Mutex<Option<ResourceVersion>>,
    /// Lists written to the store (the first one included).
    lists: AtomicU64,
    /// Watches opened (each watch after the first is a restart).
    watches: AtomicU64,
}

/// Marks the reflector stopped when it goes away: its `run` future ended or was
/// dropped, or it was dropped without ever running.
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.state.send_modify(|state| state.stopped = true);
    }
}

/// A cheap, cloneable view of a running [`Reflector`]: whether it has synced, and
/// the last resource version it synced to.
#[derive(Clone)]
pub struct ReflectorHandle {
    shared: Arc<Shared>,
}

impl ReflectorHandle {
    /// Whether the first list has been written to the store.
    pub fn has_synced(&self) -> bool {
        self.shared.state.borrow().synced
    }

    /// Whether the reflector has stopped (its `run` ended or was dropped, or the
    /// reflector was dropped without running).
    pub fn has_stopped(&self) -> bool {
        self.shared.state.borrow().stopped
    }

    /// Waits until the first list has been written to the store: `Ok` at once if it
    /// has, [`StoppedBeforeSync`] once the reflector stopped without syncing (as
    /// kube's `wait_until_ready`), so the future always ends.
    pub async fn wait_until_synced(&self) -> Result<(), StoppedBeforeSync> {
        let mut state = self.shared.state.subscribe();
        // The sender lives in `shared`, which this handle keeps alive: `wait_for`
        // cannot fail with "closed" while we hold it.
        let reached = state
            .wait_for(|state| state.synced || state.stopped)
            .await
            .map(|state| state.synced)
            .unwrap_or(false);
        if reached {
            Ok(())
        } else {
            Err(StoppedBeforeSync)
        }
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

/// Where the next list starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListFrom {
    /// The first list: `"0"`, any version (a cache may answer).
    Any,
    /// The last synced version: at least as fresh as what we have.
    LastSynced,
    /// `""`: the most recent version, after the last synced one was refused as
    /// expired or too large.
    Latest,
}

/// How one watch ended.
enum WatchEnd {
    Shutdown,
    /// The store refused a resync: client-go ends the watch and relists.
    ResyncFailed,
    /// The stream ended without an error.
    Closed {
        events: usize,
    },
    /// The stream carried an error.
    Failed(Box<Status>),
}

/// The objects a streaming list's initial events leave: in arrival order, or — when
/// some were changes or deletions — the last state of each key, deleted ones out.
fn merge_initial_events<T: Keyed>(events: Vec<(Arc<T>, bool)>, changed: bool) -> Vec<Arc<T>> {
    if !changed {
        return events.into_iter().map(|(obj, _)| obj).collect();
    }
    let mut last: std::collections::HashMap<T::Key, (usize, Option<Arc<T>>)> =
        std::collections::HashMap::new();
    for (at, (obj, deleted)) in events.into_iter().enumerate() {
        last.insert(obj.key(), (at, (!deleted).then_some(obj)));
    }
    let mut kept: Vec<(usize, Arc<T>)> = last
        .into_values()
        .filter_map(|(at, obj)| obj.map(|obj| (at, obj)))
        .collect();
    kept.sort_unstable_by_key(|(at, _)| *at);
    kept.into_iter().map(|(_, obj)| obj).collect()
}

/// How many initial events of a streaming list an in-place relist writes at once
/// when `page_size` is `None`.
const STREAMED_PAGE: usize = 500;

/// How long a streaming list may go without its end marker before each warning.
const STREAMING_LIST_PATIENCE: Duration = Duration::from_secs(10);

/// What to do after a watch ends.
enum Next {
    /// Watch again at once (a clean close).
    Rewatch,
    /// Back off, then watch again (refused connection, throttling).
    RewatchAfterBackoff,
    /// Back off, then list again.
    Relist,
}

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
    /// The source instance the last list came from ([`List::source_id`]), handed to
    /// every watch so that a replaced source (a recreated etcd cluster) is noticed.
    source_id: Mutex<Option<String>>,
    _stopped: StopGuard,
    _object: PhantomData<fn() -> T>,
}

impl<T, L, S> Reflector<T, L, S>
where
    T: Keyed + Send + Sync + 'static,
    L: ListerWatcher<T>,
    S: ReflectorStore<T>,
{
    /// A reflector from `source` into `store`, with the default configuration.
    pub fn new(source: L, store: S) -> Self {
        let (state, _) = watch::channel(SyncState::default());
        let shared = Arc::new(Shared {
            state,
            last_sync_resource_version: Mutex::new(None),
            lists: AtomicU64::new(0),
            watches: AtomicU64::new(0),
        });
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
    pub fn with_config(mut self, config: ReflectorConfig) -> Self {
        self.config = config;
        self
    }

    /// Calls `hook` with every failure the reflector recovers from.
    pub fn on_error(mut self, hook: impl Fn(&ReflectorError) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(hook));
        self
    }

    /// Names the reflector in its `tracing` spans (default: the object type's name).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// A handle to watch this reflector's progress from elsewhere.
    pub fn handle(&self) -> ReflectorHandle {
        ReflectorHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Lists and watches until `shutdown` is cancelled; see the type's documentation.
    pub async fn run(self, shutdown: CancellationToken) {
        let span = tracing::info_span!("reflector", name = %self.name);
        self.run_until(shutdown).instrument(span).await;
    }

    async fn run_until(self, shutdown: CancellationToken) {
        // One resync clock for the reflector's life (started by the first list), so
        // that frequent re-watches cannot keep postponing it.
        let mut resync: Option<tokio::time::Interval> = None;
        let mut backoff = Backoff::new(self.config.backoff.clone());
        let mut internal_errors = InternalErrorRetry::new(self.config.internal_error_retry);
        let mut list_from = ListFrom::Any;
        'relist: while !shutdown.is_cancelled() {
            let mut resource_version = self.list_resource_version(list_from);
            let mut opened = None;
            let mut listed = None;
            let in_place = self.config.relist_mode == RelistMode::InPlace
                && self.shared.lists.load(Ordering::Relaxed) > 0
                && self.store.supports_in_place_relist();
            let mut sink = if in_place {
                Sink::InPlace {
                    seen: HashSet::new(),
                    refused: None,
                }
            } else {
                Sink::Gather(Vec::new())
            };
            if self.config.streaming_list && !self.streaming_unsupported.load(Ordering::Relaxed) {
                // A streaming list asks for the latest state or one at least as fresh
                // as the last synced version ("0" would allow an older one).
                let from = match list_from {
                    ListFrom::LastSynced => self.last_synced(),
                    ListFrom::Any | ListFrom::Latest => ResourceVersion::from(""),
                };
                let streamed = tokio::select! {
                    _ = shutdown.cancelled() => break 'relist,
                    streamed = self.stream_list(&from, &mut sink) => streamed,
                };
                match streamed {
                    Ok(Some((version, stream))) => {
                        listed = Some(Ok(version));
                        opened = Some(stream);
                    }
                    Ok(None) => {
                        // The store refused an in-place page (the error is in the
                        // sink): handled below as for a paginated list.
                        listed = Some(Err(Status::internal_error(
                            "the store refused a page of the streaming list",
                        )));
                    }
                    Err(status) => {
                        self.streaming_failed(&from, status);
                        // Pages already written stay; the list that follows marks
                        // its own keys seen.
                        sink.restart();
                    }
                }
            }
            let mut listed = match listed {
                Some(listed) => listed,
                None => tokio::select! {
                    _ = shutdown.cancelled() => break 'relist,
                    listed = self.list_all(&resource_version, &mut sink) => listed,
                },
            };
            // client-go: a version the source no longer has (or has not reached) is
            // the normal way back after a long disconnection, not a failure: list
            // the latest at once, in the same attempt, with no backoff.
            if let Err(status) = &listed {
                let unavailable =
                    status.is_expired_or_gone() || status.is_too_large_resource_version();
                if unavailable && !resource_version.is_empty() {
                    tracing::info!(%resource_version, %status, "listed version unavailable; listing the latest");
                    list_from = ListFrom::Latest;
                    resource_version = self.list_resource_version(list_from);
                    sink.restart();
                    listed = tokio::select! {
                        _ = shutdown.cancelled() => break 'relist,
                        listed = self.list_all(&resource_version, &mut sink) => listed,
                    };
                }
            }
            let listed_version = match listed {
                Ok(listed) => listed,
                Err(_)
                    if matches!(
                        &sink,
                        Sink::InPlace {
                            refused: Some(_),
                            ..
                        }
                    ) =>
                {
                    if let Sink::InPlace {
                        refused: Some(error),
                        ..
                    } = sink
                    {
                        self.report(ReflectorError::Store(error));
                    }
                    if !sleep(&mut backoff, &shutdown).await {
                        break 'relist;
                    }
                    continue 'relist;
                }
                Err(status) => {
                    if status.is_expired_or_gone() || status.is_too_large_resource_version() {
                        list_from = ListFrom::Latest;
                    }
                    self.report(ReflectorError::List {
                        resource_version,
                        status,
                    });
                    if !sleep(&mut backoff, &shutdown).await {
                        break 'relist;
                    }
                    continue 'relist;
                }
            };
            let (count, applied) = match sink {
                Sink::Gather(items) => (
                    items.len(),
                    self.store
                        .apply(Change::Replaced(items, listed_version.clone())),
                ),
                Sink::InPlace { seen, .. } => {
                    (seen.len(), self.store.relist_end(&seen, &listed_version))
                }
            };
            if let Err(error) = applied {
                self.report(ReflectorError::Store(error));
                if !sleep(&mut backoff, &shutdown).await {
                    break 'relist;
                }
                continue 'relist;
            }
            tracing::debug!(resource_version = %listed_version, count, "listed");
            if self.shared.lists.fetch_add(1, Ordering::Relaxed) > 0 {
                metrics::counter!("reflector_relists_total", "name" => self.name.clone())
                    .increment(1);
            }
            self.set_last_synced(listed_version);
            list_from = ListFrom::LastSynced;
            self.shared.state.send_modify(|state| state.synced = true);
            if resync.is_none() {
                resync = self.config.resync_period.map(|period| {
                    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
                    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    interval
                });
            }

            loop {
                let resource_version = self.last_synced();
                match self
                    .watch_once(
                        &resource_version,
                        &shutdown,
                        &mut resync,
                        &mut internal_errors,
                        opened.take(),
                    )
                    .await
                {
                    None => break 'relist,
                    Some(Next::Rewatch) => {}
                    Some(Next::RewatchAfterBackoff) => {
                        if !sleep(&mut backoff, &shutdown).await {
                            break 'relist;
                        }
                    }
                    Some(Next::Relist) => {
                        if !sleep(&mut backoff, &shutdown).await {
                            break 'relist;
                        }
                        continue 'relist;
                    }
                }
                if shutdown.is_cancelled() {
                    break 'relist;
                }
            }
        }
        tracing::debug!("reflector stopped");
    }

    /// One watch from `resource_version` (or the one a streaming list `opened`) to
    /// its end, with what to do next (`None`: shut down). Waits out a backoff itself
    /// where the next step is a re-watch.
    async fn watch_once(
        &self,
        resource_version: &ResourceVersion,
        shutdown: &CancellationToken,
        resync: &mut Option<tokio::time::Interval>,
        internal_errors: &mut InternalErrorRetry,
        opened: Option<WatchStream<T>>,
    ) -> Option<Next> {
        let started = Instant::now();
        if self.shared.watches.fetch_add(1, Ordering::Relaxed) > 0 {
            metrics::counter!("reflector_watch_restarts_total", "name" => self.name.clone())
                .increment(1);
        }
        let watch = match opened {
            Some(stream) => Ok(stream),
            None => {
                let options = self.watch_options(false);
                tracing::debug!(%resource_version, timeout = ?options.timeout, "watch starting");
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    watch = self.source.watch(resource_version.clone(), options) => watch,
                }
            }
        };
        let next = match watch {
            Err(status) => {
                let next = if internal_errors.should_retry(&status) {
                    Next::RewatchAfterBackoff
                } else {
                    classify(&status)
                };
                self.report(ReflectorError::Watch {
                    resource_version: resource_version.clone(),
                    status,
                });
                next
            }
            Ok(stream) => match self.consume(stream, shutdown, resync).await {
                WatchEnd::Shutdown => return None,
                WatchEnd::ResyncFailed => Next::Relist,
                WatchEnd::Closed { events }
                    if events == 0 && started.elapsed() < self.config.min_watch_duration =>
                {
                    self.report(ReflectorError::VeryShortWatch {
                        resource_version: resource_version.clone(),
                    });
                    Next::Relist
                }
                WatchEnd::Closed { events } => {
                    tracing::debug!(events, "watch closed; re-watching");
                    return Some(Next::Rewatch);
                }
                WatchEnd::Failed(status) => {
                    let next = if internal_errors.should_retry(&status) {
                        Next::RewatchAfterBackoff
                    } else {
                        classify(&status)
                    };
                    if status.is_expired_or_gone() {
                        tracing::info!(%status, "watch expired; relisting");
                    } else {
                        self.report(ReflectorError::WatchEnded {
                            resource_version: self.last_synced(),
                            status: *status,
                        });
                    }
                    next
                }
            },
        };
        Some(next)
    }

    /// Applies a watch's events until it ends.
    async fn consume(
        &self,
        mut stream: WatchStream<T>,
        shutdown: &CancellationToken,
        resync: &mut Option<tokio::time::Interval>,
    ) -> WatchEnd {
        let mut events = 0usize;
        loop {
            let item = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return WatchEnd::Shutdown,
                _ = tick(resync) => {
                    tracing::trace!("resync");
                    if let Err(error) = self.store.apply(Change::Resync) {
                        self.report(ReflectorError::Store(error));
                        return WatchEnd::ResyncFailed;
                    }
                    continue;
                }
                item = stream.next() => item,
            };
            let event = match item {
                None => return WatchEnd::Closed { events },
                Some(Err(status)) => return WatchEnd::Failed(Box::new(status)),
                Some(Ok(WatchEvent::Error(status))) => return WatchEnd::Failed(status),
                Some(Ok(event)) => event,
            };
            events += 1;
            let (change, resource_version) = match event {
                WatchEvent::Added(obj, rv) => (Change::Added(obj), rv),
                WatchEvent::Modified(obj, rv) => (Change::Modified(obj), rv),
                WatchEvent::Deleted(obj, rv) => (Change::Deleted(obj), rv),
                WatchEvent::Bookmark(rv) | WatchEvent::InitialEventsEnd(rv) => {
                    self.store.bookmark(&rv);
                    self.set_last_synced(rv);
                    continue;
                }
                WatchEvent::Error(status) => return WatchEnd::Failed(status),
            };
            if let Err(error) = self.store.apply_at(change, &resource_version) {
                self.report(ReflectorError::Store(error));
            }
            self.set_last_synced(resource_version);
        }
    }

    /// Lists every page at `resource_version`. A continuation page answered Expired
    /// (the snapshot was compacted away mid-list) falls back to one full,
    /// unpaginated list at the same version, as client-go's pager does.
    async fn list_all(
        &self,
        resource_version: &ResourceVersion,
        sink: &mut Sink<T>,
    ) -> Result<ResourceVersion, Status> {
        let mut source_id = None;
        let mut options = ListOptions {
            resource_version: resource_version.clone(),
            limit: self.page_limit(resource_version),
            continue_token: None,
        };
        loop {
            let page = match self.source.list(options.clone()).await {
                Ok(page) => page,
                Err(status) if status.is_expired() && options.continue_token.is_some() => {
                    tracing::info!(%resource_version, %status, "continuation expired; listing in one answer");
                    let full = self
                        .source
                        .list(ListOptions {
                            resource_version: resource_version.clone(),
                            limit: None,
                            continue_token: None,
                        })
                        .await?;
                    // The pages taken so far belong to a snapshot that is gone.
                    sink.restart();
                    if !self.take_page(sink, full.items) {
                        return Err(page_refused());
                    }
                    self.set_source(full.source_id);
                    return Ok(full.resource_version);
                }
                Err(status) => return Err(status),
            };
            if options.continue_token.is_none() {
                source_id.clone_from(&page.source_id);
            } else if page.source_id != source_id {
                // The pages come from two instances of the source: not one snapshot.
                return Err(Status::gone(format!(
                    "the source changed in the middle of a list (from {source_id:?} to {:?})",
                    page.source_id
                )));
            }
            if !self.take_page(sink, page.items) {
                return Err(page_refused());
            }
            // A source that answers without waiting (an in-memory one) would keep this
            // task on its worker for the whole list; yielding lets the store's
            // consumer (an informer's processing task) drain an in-place page before
            // the next one is taken.
            tokio::task::yield_now().await;
            match page.continue_token {
                Some(token) if !token.is_empty() => {
                    if options.continue_token.is_none() && resource_version.as_str() == "0" {
                        self.paginated_result.store(true, Ordering::Relaxed);
                    }
                    options.continue_token = Some(token);
                }
                _ => {
                    self.set_source(source_id);
                    return Ok(page.resource_version);
                }
            }
        }
    }

    /// Hands one listed page to the sink: gathered, or written to the store at once
    /// (in place). A page the store refuses stops the list (`false`).
    fn take_page(&self, sink: &mut Sink<T>, items: Vec<Arc<T>>) -> bool {
        match sink {
            Sink::Gather(gathered) => gathered.extend(items),
            Sink::InPlace { seen, refused } => {
                seen.extend(items.iter().map(|obj| obj.key()));
                if let Err(error) = self.store.relist_page(items) {
                    *refused = Some(error);
                    return false;
                }
            }
        }
        true
    }

    fn watch_options(&self, send_initial_events: bool) -> WatchOptions {
        WatchOptions {
            timeout: Some(self.watch_timeout()),
            allow_bookmarks: self.config.bookmarks || send_initial_events,
            source_id: self.source_id.lock().clone(),
            send_initial_events,
        }
    }

    /// A streaming list from `resource_version` into `sink`: its version (from the end
    /// marker only) and the watch, still open, that goes on with live events; `None`
    /// when the store refused an in-place page (the error is in the sink).
    async fn stream_list(
        &self,
        resource_version: &ResourceVersion,
        sink: &mut Sink<T>,
    ) -> Result<Option<(ResourceVersion, WatchStream<T>)>, Status> {
        tracing::debug!(%resource_version, "streaming list starting");
        let mut stream = self
            .source
            .watch(resource_version.clone(), self.watch_options(true))
            .await?;
        let in_place = matches!(sink, Sink::InPlace { .. });
        let page_size = self.config.page_size.unwrap_or(STREAMED_PAGE).max(1);
        // Gathered: the initial events are `Added` ones, one per object, kept as they
        // come; only a source that also sends changes before the end makes them be
        // merged by key at the end. In place: written in pages as they come.
        let mut state: Vec<(Arc<T>, bool)> = Vec::new();
        let mut page: Vec<Arc<T>> = Vec::new();
        let mut changed = false;
        let mut received = 0usize;
        let started = Instant::now();
        let mut warn_at = started + STREAMING_LIST_PATIENCE;
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = tokio::time::sleep_until(warn_at) => {
                    tracing::warn!(
                        received,
                        waited = ?started.elapsed(),
                        "streaming list: still waiting for the end of the initial events (k8s.io/initial-events-end)"
                    );
                    self.report(ReflectorError::StreamingListStalled {
                        resource_version: resource_version.clone(),
                        waited: started.elapsed(),
                        received,
                    });
                    warn_at += STREAMING_LIST_PATIENCE;
                    continue;
                }
            };
            let (obj, deleted) = match item {
                Some(Ok(WatchEvent::Added(obj, _))) => (obj, false),
                Some(Ok(WatchEvent::Modified(obj, _))) => {
                    changed = true;
                    (obj, false)
                }
                Some(Ok(WatchEvent::Deleted(obj, _))) => {
                    changed = true;
                    (obj, true)
                }
                Some(Ok(WatchEvent::Bookmark(_))) => continue,
                Some(Ok(WatchEvent::InitialEventsEnd(version))) => {
                    tracing::debug!(resource_version = %version, count = received, "streaming list complete");
                    if in_place {
                        if !page.is_empty() && !self.take_page(sink, page) {
                            return Ok(None);
                        }
                    } else {
                        self.take_page(sink, merge_initial_events(state, changed));
                    }
                    return Ok(Some((version, stream)));
                }
                Some(Ok(WatchEvent::Error(status))) => return Err(*status),
                Some(Err(status)) => return Err(status),
                None => {
                    return Err(Status::internal_error(
                        "the streaming list ended before its initial events were complete",
                    ))
                }
            };
            received += 1;
            if !in_place {
                state.push((obj, deleted));
                continue;
            }
            // In place: a deletion first writes what came before it, then makes its
            // key unseen, so the end of the list removes it.
            let gone = deleted.then(|| obj.key());
            if !deleted {
                page.push(obj);
            }
            if gone.is_some() || page.len() >= page_size {
                if !page.is_empty() && !self.take_page(sink, std::mem::take(&mut page)) {
                    return Ok(None);
                }
                if let (Some(key), Sink::InPlace { seen, .. }) = (gone, &mut *sink) {
                    seen.remove(&key);
                }
                tokio::task::yield_now().await;
            }
        }
    }

    /// A streaming list failed: list+watch for this attempt, and for good when the
    /// source said it cannot stream lists.
    fn streaming_failed(&self, resource_version: &ResourceVersion, status: Status) {
        let unsupported = status.is_bad_request()
            || status.is_invalid()
            || status.is_method_not_allowed()
            || status.is_not_acceptable()
            || status.is_unsupported_media_type();
        if unsupported {
            self.streaming_unsupported.store(true, Ordering::Relaxed);
            tracing::info!(%status, "the source cannot stream lists; using list+watch");
        } else {
            tracing::warn!(%status, "the streaming list failed; listing instead, as making progress beats waiting");
        }
        self.report(ReflectorError::Watch {
            resource_version: resource_version.clone(),
            status,
        });
    }

    /// Remembers which source instance the list came from.
    fn set_source(&self, source_id: Option<String>) {
        let mut current = self.source_id.lock();
        if current.is_some() && *current != source_id {
            tracing::warn!(was = ?*current, now = ?source_id, "the source was replaced; its resource versions start afresh");
        }
        *current = source_id;
    }

    /// The page size of a list at `resource_version` (client-go's pager rule; see
    /// [`ReflectorConfig::page_size`]).
    fn page_limit(&self, resource_version: &ResourceVersion) -> Option<usize> {
        let exact = !matches!(resource_version.as_str(), "" | "0");
        if exact && !self.config.always_paginate && !self.paginated_result.load(Ordering::Relaxed) {
            None
        } else {
            self.config.page_size
        }
    }

    fn list_resource_version(&self, from: ListFrom) -> ResourceVersion {
        match from {
            ListFrom::Any => ResourceVersion::from("0"),
            ListFrom::Latest => ResourceVersion::from(""),
            ListFrom::LastSynced => self.last_synced(),
        }
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

    fn watch_timeout(&self) -> Duration {
        let (low, high) = (
            self.config.watch_timeout.start().as_millis(),
            self.config.watch_timeout.end().as_millis(),
        );
        let millis = if high > low {
            fastrand::u128(low..=high)
        } else {
            low
        };
        Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    fn report(&self, error: ReflectorError) {
        tracing::warn!(%error, "reflector error");
        if let Some(hook) = &self.on_error {
            hook(&error);
        }
    }
}

/// client-go's `RetryWithDeadline` for watches answering `InternalError`: retry while
/// the first of a run of such errors is at most `max` ago; a run ends after a minute
/// without one.
struct InternalErrorRetry {
    max: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl InternalErrorRetry {
    const RESET_AFTER: Duration = Duration::from_secs(60);

    fn new(max: Duration) -> Self {
        InternalErrorRetry {
            max,
            first: None,
            last: None,
        }
    }

    /// Whether a watch that just failed with `status` should be retried rather than
    /// followed by a relist.
    fn should_retry(&mut self, status: &Status) -> bool {
        if self.max.is_zero() || !status.is_internal_error() {
            return false;
        }
        let now = Instant::now();
        if self.last.is_none_or(|last| now - last > Self::RESET_AFTER) {
            self.first = Some(now);
        }
        self.last = Some(now);
        if self.first.is_some_and(|first| now - first <= self.max) {
            true
        } else {
            self.first = None;
            self.last = None;
            false
        }
    }
}

/// Re-watch for a refused connection or throttling; relist for everything else.
fn classify(status: &Status) -> Next {
    if status.is_service_unavailable() || status.is_too_many_requests() {
        Next::RewatchAfterBackoff
    } else {
        Next::Relist
    }
}

/// Waits out the next backoff delay; `false` when shut down meanwhile.
async fn sleep(backoff: &mut Backoff, shutdown: &CancellationToken) -> bool {
    let delay = backoff.next_delay();
    tracing::debug!(?delay, "backing off");
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

/// The next resync tick, or never.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl<T, L, S> fmt::Debug for Reflector<T, L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reflector")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Named(&'static str, u32);

    impl Keyed for Named {
        type Key = &'static str;
        fn key(&self) -> &'static str {
            self.0
        }
    }

    fn names(objects: &[Arc<Named>]) -> Vec<(&'static str, u32)> {
        objects.iter().map(|obj| (obj.0, obj.1)).collect()
    }

    #[test]
    fn initial_events_keep_their_order_and_changes_merge_by_key() {
        let plain = vec![
            (Arc::new(Named("b", 1)), false),
            (Arc::new(Named("a", 1)), false),
        ];
        assert_eq!(
            names(&merge_initial_events(plain, false)),
            [("b", 1), ("a", 1)]
        );
        let changed = vec![
            (Arc::new(Named("a", 1)), false),
            (Arc::new(Named("b", 1)), false),
            (Arc::new(Named("a", 2)), false),
            (Arc::new(Named("b", 1)), true),
            (Arc::new(Named("c", 1)), false),
        ];
        assert_eq!(
            names(&merge_initial_events(changed, true)),
            [("a", 2), ("c", 1)]
        );
    }
}
