//! [`MemoryServer`]: the embedded, in-process source — a versioned store that lists,
//! watches, compacts and fails on command.
//!
//! It plays the part of a Kubernetes API server for one resource type: every write
//! bumps a monotonic resource version and is kept in a bounded event history; lists
//! are served from the current state (paginated lists from one snapshot); watches
//! replay the history after their resource version and then follow live writes;
//! versions older than the history answer `Expired` (410) as kube-apiserver does after
//! an etcd compaction. Test helpers inject the faults a reflector must survive.
//!
//! # Resource versions
//!
//! Resource versions are decimal `u64` strings. Like a fresh etcd, an empty server is
//! at version `1` and its first write is version `2`; so no list ever answers `"0"`,
//! which a watch would read as "from now" and could miss the writes in between.

// `Status` (~300 bytes) is the error of every source: the `ListerWatcher` contract
// answers it, so this server's own methods answer it too rather than a boxed copy.
#![allow(clippy::result_large_err)]

use std::borrow::Borrow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use parking_lot::Mutex;
use store_core::{Keyed, ResourceVersion, Status};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};
use tracing::debug;

use crate::history::{Fanout, History, ListSnapshots};
use crate::lister_watcher::{
    List, ListOptions, ListerWatcher, WatchEvent, WatchOptions, WatchStream,
};

/// The resource version of an empty server (a fresh etcd's revision).
const INITIAL_RESOURCE_VERSION: u64 = 1;
/// How many paginated-list snapshots are kept at once; the oldest is evicted first and
/// its continue tokens then answer `Expired`.
const MAX_LIST_SNAPSHOTS: usize = 64;
/// How many requests [`MemoryServer::requests`] remembers (the most recent ones).
const MAX_RECORDED_REQUESTS: usize = 100_000;

/// One item of a watch stream.
type WatchItem<T> = Result<WatchEvent<T>, Status>;

/// Settings of a [`MemoryServer`].
///
/// ```
/// use std::time::Duration;
/// use reflector::MemoryServerConfig;
///
/// let config = MemoryServerConfig {
///     history_len: 100,
///     bookmark_interval: None,
///     ..MemoryServerConfig::default()
/// };
/// assert_eq!(config.watch_buffer, 4096);
/// assert_eq!(MemoryServerConfig::default().bookmark_interval, Some(Duration::from_secs(1)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryServerConfig {
    /// How many events the history keeps for watches that start from an older
    /// version (default 10 000). Older events are compacted away automatically: a
    /// watch or a list continuation from before them answers `Expired` (410).
    pub history_len: usize,
    /// How often a watch that allowed bookmarks receives a
    /// [`WatchEvent::Bookmark`] while it is open (default every second); `None` (or
    /// zero) sends none, except through [`MemoryServer::bookmark_now`].
    pub bookmark_interval: Option<Duration>,
    /// How many undelivered events one watch may hold (default 4096). A watcher that
    /// falls further behind is dropped: its stream ends after the buffered events,
    /// as kube-apiserver closes a slow watcher, and the client watches again.
    pub watch_buffer: usize,
}

impl Default for MemoryServerConfig {
    fn default() -> Self {
        MemoryServerConfig {
            history_len: 10_000,
            bookmark_interval: Some(Duration::from_secs(1)),
            watch_buffer: 4096,
        }
    }
}

/// One call a [`MemoryServer`] received, as [`MemoryServer::requests`] records it.
///
/// ```
/// use reflector::{ListOptions, ListerWatcher, MemoryServer, Request, WatchOptions};
/// # struct Node(u32);
/// # impl store_core::Keyed for Node {
/// #     type Key = u32;
/// #     fn key(&self) -> u32 { self.0 }
/// # }
///
/// let runtime = tokio::runtime::Runtime::new()?;
/// let server = MemoryServer::<Node>::new();
/// let list = runtime.block_on(server.list(ListOptions::default()))?;
/// let _watch = runtime.block_on(server.watch(list.resource_version, WatchOptions::default()))?;
/// assert_eq!(
///     server.requests(),
///     [
///         Request::List(ListOptions::default()),
///         Request::Watch { resource_version: "1".into(), options: WatchOptions::default() },
///     ]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A [`ListerWatcher::list`] call (one page).
    List(ListOptions),
    /// A [`ListerWatcher::watch`] call.
    Watch {
        /// The resource version the watch asked to start after.
        resource_version: ResourceVersion,
        /// The options it asked for.
        options: WatchOptions,
    },
}

/// An in-process, versioned store of `T` that lists and watches like a Kubernetes API
/// server: the default source of the quickstart and of the reflector's tests.
///
/// A cheap handle: clones share one server. Writes ([`create`](Self::create),
/// [`update`](Self::update), [`apply`](Self::apply), [`delete`](Self::delete)) take
/// one lock, bump the resource version by one, record the event in the history and
/// hand it to every open watch; they never wait for a watcher.
///
/// What it guarantees, as a [`ListerWatcher`]:
///
/// - **list** serves the current state, sorted by key, for resource version `""`,
///   `"0"` or any version not newer than the current one ("not older than"
///   semantics). A newer version answers [`Status::too_large_resource_version`]; a
///   non-numeric one, `BadRequest`. With a `limit`, the first page snapshots the
///   state and later pages slice that same snapshot, so the pages together are one
///   consistent list and all report its resource version. A continue token from
///   before the compaction point, or whose snapshot was evicted (at most 64 are
///   kept), answers `Expired` (410), like kube-apiserver's "continue token too old";
///   a token this server never issued answers `BadRequest`. With a continue token the
///   request's resource version is ignored (client-go's pager clears it).
/// - **watch** from a numeric version `R` streams every event after `R` — first from
///   the history, then live — without gap or duplicate; events carry the version of
///   their write. `""` and `"0"` start from the current version with no replay (no
///   synthetic `Added` events). If events after `R` were compacted, the stream yields
///   one [`WatchEvent::Error`] with [`Status::expired`] and ends; if `R` is newer
///   than the server, one `Error` with a too-large-resource-version status. A
///   non-numeric version fails the call with `BadRequest`.
///   With [`WatchOptions::send_initial_events`] (a streaming list) the stream starts
///   with every stored object as `Added`, then [`WatchEvent::InitialEventsEnd`] at the
///   current version, then live events. The stream ends cleanly
///   after [`WatchOptions::timeout`] (Tokio time), and yields a
///   [`WatchEvent::Bookmark`] of the version it has reached every
///   [`MemoryServerConfig::bookmark_interval`] when bookmarks are allowed and it is
///   idle.
///
/// Timeouts, bookmarks and [`set_latency`](Self::set_latency) use Tokio timers:
/// poll those watches and calls inside a Tokio runtime with time enabled.
///
/// Resource versions are decimal numbers: an empty server is at `"1"` (as a fresh
/// etcd is) and its first write is `"2"`.
///
/// ```
/// use futures::StreamExt;
/// use reflector::{ListOptions, ListerWatcher, MemoryServer, WatchEvent, WatchOptions};
/// use store_core::Keyed;
///
/// #[derive(Debug)]
/// struct Node {
///     name: String,
///     ready: bool,
/// }
///
/// impl Keyed for Node {
///     type Key = String;
///     fn key(&self) -> String {
///         self.name.clone()
///     }
/// }
///
/// let runtime = tokio::runtime::Runtime::new()?;
/// runtime.block_on(async {
///     let server = MemoryServer::new();
///     server.create(Node { name: "worker-1".into(), ready: false })?;
///
///     let list = server.list(ListOptions::default()).await?;
///     assert_eq!(list.items.len(), 1);
///     assert_eq!(list.resource_version, "2");
///
///     let mut watch = server.watch(list.resource_version, WatchOptions::default()).await?;
///     let written = server.apply(Node { name: "worker-1".into(), ready: true });
///     match watch.next().await {
///         Some(Ok(WatchEvent::Modified(node, rv))) => {
///             assert!(node.ready);
///             assert_eq!(rv, written);
///         }
///         other => panic!("expected a Modified event, got {other:?}"),
///     }
///     Ok::<(), store_core::Status>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryServer<T: Keyed> {
    shared: Arc<Shared<T>>,
}

/// What every handle of one server shares.
struct Shared<T: Keyed> {
    /// The settings, fixed at construction.
    config: MemoryServerConfig,
    /// Objects, history and watchers: the one lock of the write path.
    state: Mutex<State<T>>,
    /// Fault injection and the request log; never taken by writes.
    control: Mutex<Control>,
}

/// The versioned state, behind [`Shared::state`].
struct State<T: Keyed> {
    /// The current objects, sorted by key so lists need no sort.
    objects: BTreeMap<T::Key, Arc<T>>,
    /// The current resource version.
    rv: u64,
    /// `rv` as a string, shared by the events and answers at that version.
    rv_string: ResourceVersion,
    /// The last `history_len` events (every write makes exactly one), with the
    /// compaction point: events up to it are gone.
    history: History<WatchEvent<T>>,
    /// The open watches, each with a buffer of `watch_buffer` events.
    watchers: Fanout<Queued<T>>,
    /// The snapshots of paginated lists.
    snapshots: ListSnapshots<Arc<T>>,
}

/// What the server queues for one watcher: 32 bytes, where a [`WatchItem`] is ~300
/// (its `Err` holds a [`Status`] inline) and every write queues one per watcher.
enum Queued<T> {
    /// An event; a [`WatchEvent::Error`] ends the stream.
    Event(WatchEvent<T>),
    /// An `Err` item, which ends the stream.
    Failure(Box<Status>),
}

/// Fault injection and observability, behind [`Shared::control`].
#[derive(Default)]
struct Control {
    /// The most recent requests, oldest first.
    requests: VecDeque<Request>,
    /// How many list calls were made.
    list_calls: usize,
    /// How many watch calls were made.
    watch_calls: usize,
    /// How long each list or watch call stalls before answering.
    latency: Option<Duration>,
    /// The injected failure of the next list calls.
    fail_lists: Option<InjectedFailure>,
    /// The injected failure of the next watch calls.
    fail_watches: Option<InjectedFailure>,
}

/// "The next `remaining` calls answer `status`".
struct InjectedFailure {
    /// How many calls are still to fail.
    remaining: usize,
    /// What they answer.
    status: Status,
}

impl InjectedFailure {
    /// Takes one failure from `slot`, if any is left.
    fn take(slot: &mut Option<InjectedFailure>) -> Option<Status> {
        let failure = slot.as_mut()?;
        failure.remaining = failure.remaining.saturating_sub(1);
        if failure.remaining == 0 {
            slot.take().map(|failure| failure.status)
        } else {
            Some(failure.status.clone())
        }
    }
}

/// How a write treats the object already stored under its key.
#[derive(Clone, Copy)]
enum WriteMode {
    /// The key must be free.
    Create,
    /// The key must be taken.
    Update,
    /// Either.
    Apply,
}

impl<T: Keyed + Send + Sync + 'static> MemoryServer<T> {
    /// An empty server with the default [`MemoryServerConfig`], at resource version
    /// `"1"`.
    pub fn new() -> Self {
        Self::with_config(MemoryServerConfig::default())
    }

    /// An empty server with the given settings, at resource version `"1"`.
    pub fn with_config(config: MemoryServerConfig) -> Self {
        let state = State {
            objects: BTreeMap::new(),
            rv: INITIAL_RESOURCE_VERSION,
            rv_string: format_rv(INITIAL_RESOURCE_VERSION),
            history: History::new(config.history_len, INITIAL_RESOURCE_VERSION),
            watchers: Fanout::new(config.watch_buffer),
            snapshots: ListSnapshots::new(MAX_LIST_SNAPSHOTS),
        };
        MemoryServer {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(state),
                control: Mutex::new(Control::default()),
            }),
        }
    }

    /// The settings this server was built with.
    pub fn config(&self) -> &MemoryServerConfig {
        &self.shared.config
    }

    // --- writes ------------------------------------------------------------------

    /// Stores a new object and announces it as [`WatchEvent::Added`]; answers its
    /// resource version, or `AlreadyExists` (409) when its key is taken (nothing is
    /// written then).
    pub fn create(&self, obj: impl Into<Arc<T>>) -> Result<ResourceVersion, Status> {
        self.write(obj.into(), WriteMode::Create)
    }

    /// Replaces a stored object and announces it as [`WatchEvent::Modified`];
    /// answers its resource version, or `NotFound` (404) when its key is free
    /// (nothing is written then).
    pub fn update(&self, obj: impl Into<Arc<T>>) -> Result<ResourceVersion, Status> {
        self.write(obj.into(), WriteMode::Update)
    }

    /// Stores an object whether or not its key is taken (an upsert): `Added` when it
    /// was free, `Modified` otherwise. Answers the write's resource version.
    pub fn apply(&self, obj: impl Into<Arc<T>>) -> ResourceVersion {
        match self.write(obj.into(), WriteMode::Apply) {
            Ok(rv) => rv,
            // An apply accepts either state of the key, so `write` has no error to
            // give; keep the server's version rather than panic.
            Err(_) => self.resource_version(),
        }
    }

    /// Removes an object and announces [`WatchEvent::Deleted`] with its last state;
    /// answers the write's resource version, or `NotFound` (404) when nothing is
    /// stored under `key`.
    pub fn delete<Q>(&self, key: &Q) -> Result<ResourceVersion, Status>
    where
        T::Key: Borrow<Q>,
        Q: Ord + fmt::Display + ?Sized,
    {
        let mut state = self.shared.state.lock();
        let Some(last) = state.objects.remove(key) else {
            return Err(Status::not_found(resource_name::<T>(), &key.to_string()));
        };
        let (rv, garbage) = state.commit(|rv| WatchEvent::Deleted(last, rv));
        drop(state);
        drop(garbage);
        Ok(rv)
    }

    /// The one write path: checks the key against `mode`, stores, commits.
    fn write(&self, obj: Arc<T>, mode: WriteMode) -> Result<ResourceVersion, Status> {
        // The key is computed (and allocated) before the lock is taken.
        let key = obj.key();
        let mut state = self.shared.state.lock();
        let previous = match (state.objects.entry(key), mode) {
            (Entry::Occupied(taken), WriteMode::Create) => {
                let name = taken.key().to_string();
                return Err(Status::already_exists(resource_name::<T>(), &name));
            }
            (Entry::Vacant(free), WriteMode::Update) => {
                let name = free.key().to_string();
                return Err(Status::not_found(resource_name::<T>(), &name));
            }
            (Entry::Occupied(mut taken), _) => {
                Some(std::mem::replace(taken.get_mut(), Arc::clone(&obj)))
            }
            (Entry::Vacant(free), _) => {
                free.insert(Arc::clone(&obj));
                None
            }
        };
        let (rv, garbage) = state.commit(|rv| match previous {
            Some(_) => WatchEvent::Modified(obj, rv),
            None => WatchEvent::Added(obj, rv),
        });
        // Freeing the replaced object and the compacted event (possibly the last
        // reference to a large object) happens after the lock is released.
        drop(state);
        drop((previous, garbage));
        Ok(rv)
    }

    // --- reads -------------------------------------------------------------------

    /// The object stored under `key`, if any.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        T::Key: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.shared.state.lock().objects.get(key).cloned()
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.shared.state.lock().objects.len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.shared.state.lock().objects.is_empty()
    }

    /// The current resource version (`"1"` for a server never written to).
    pub fn resource_version(&self) -> ResourceVersion {
        self.shared.state.lock().rv_string.clone()
    }

    /// Every stored object, sorted by key; O(n) `Arc` clones under the lock.
    pub fn snapshot(&self) -> Vec<Arc<T>> {
        self.shared.state.lock().objects.values().cloned().collect()
    }

    // --- compaction --------------------------------------------------------------

    /// Compacts the whole history: every watch or list continuation from before the
    /// current version now answers `Expired` (410). Open watches are not affected.
    pub fn compact(&self) {
        let mut state = self.shared.state.lock();
        let current = state.rv;
        state.compact_to(current);
    }

    /// Drops the history up to version `rv` (at most the current one): a watch from
    /// a version below `rv`, or a continue token of a list served below it, then
    /// answers `Expired` (410). Open watches are not affected. Compacting to a version
    /// at or below the current compaction point does nothing.
    pub fn compact_to(&self, rv: u64) {
        self.shared.state.lock().compact_to(rv);
    }

    // --- fault injection (test helpers) ------------------------------------------

    /// Test helper: ends every open watch cleanly, as a dropped connection or an
    /// apiserver restart would; each stream ends after the events already queued
    /// for it.
    pub fn drop_watches(&self) {
        let dropped = self.shared.state.lock().watchers.close_all(None);
        debug!(watches = dropped, "memory server: dropping every watch");
    }

    /// Test helper: every open watch yields `WatchEvent::Error(status)` after the
    /// events already queued for it, then ends.
    pub fn inject_watch_error(&self, status: Status) {
        let ended = self.end_watches(|| Queued::Event(WatchEvent::Error(Box::new(status.clone()))));
        debug!(watches = ended, %status, "memory server: injected a watch error");
    }

    /// Test helper: every open watch yields an `Err` item — an internal-error
    /// [`Status`] saying the source sent a malformed event, as a client reports an
    /// event it cannot decode — after the events already queued for it, then ends.
    pub fn inject_malformed_event(&self) {
        let status =
            Status::internal_error("malformed watch event: the object could not be decoded");
        let ended = self.end_watches(|| Queued::Failure(Box::new(status.clone())));
        debug!(watches = ended, "memory server: injected a malformed event");
    }

    /// Ends every open watch with the item `last` builds, queued after the events
    /// already queued for it; answers how many watches there were.
    fn end_watches(&self, last: impl Fn() -> Queued<T>) -> usize {
        self.shared.state.lock().watchers.close_all(Some(&last))
    }

    /// Test helper: the next `n` list calls answer `Err(status)` (after any
    /// [latency](Self::set_latency)); replaces an earlier injection, `n == 0` clears.
    pub fn fail_next_lists(&self, n: usize, status: Status) {
        self.shared.control.lock().fail_lists = (n > 0).then_some(InjectedFailure {
            remaining: n,
            status,
        });
    }

    /// Test helper: the next `n` watch calls answer `Err(status)` (after any
    /// [latency](Self::set_latency)); replaces an earlier injection, `n == 0` clears.
    pub fn fail_next_watches(&self, n: usize, status: Status) {
        self.shared.control.lock().fail_watches = (n > 0).then_some(InjectedFailure {
            remaining: n,
            status,
        });
    }

    /// Test helper: every list and watch call waits this long (Tokio time) before it
    /// answers, a stalled server; `None` answers at once. Writes are not delayed.
    pub fn set_latency(&self, latency: Option<Duration>) {
        self.shared.control.lock().latency = latency;
    }

    /// Test helper: every open watch that allowed bookmarks receives a
    /// [`WatchEvent::Bookmark`] of the current version now, after its queued events.
    pub fn bookmark_now(&self) {
        let mut state = self.shared.state.lock();
        let rv = state.rv_string.clone();
        state
            .watchers
            .send_bookmark(|| Queued::Event(WatchEvent::Bookmark(rv.clone())));
    }

    // --- observability (test helpers) --------------------------------------------

    /// Test helper: the list and watch calls received, in order (the most recent
    /// 100 000), recorded as they arrive, before latency or injected failures.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .control
            .lock()
            .requests
            .iter()
            .cloned()
            .collect()
    }

    /// Test helper: how many watches are open (registered and not yet ended or
    /// dropped by their client).
    pub fn open_watches(&self) -> usize {
        self.shared.state.lock().watchers.len()
    }

    /// Test helper: how many list calls were made (each page counts).
    pub fn list_calls(&self) -> usize {
        self.shared.control.lock().list_calls
    }

    /// Test helper: how many watch calls were made.
    pub fn watch_calls(&self) -> usize {
        self.shared.control.lock().watch_calls
    }

    // --- serving -----------------------------------------------------------------

    /// Records `request` and counts it; answers the latency to wait and the failure
    /// to inject, if any.
    fn receive(&self, request: Request) -> (Option<Duration>, Option<Status>) {
        let mut control = self.shared.control.lock();
        let failure = match request {
            Request::List(_) => {
                control.list_calls += 1;
                InjectedFailure::take(&mut control.fail_lists)
            }
            Request::Watch { .. } => {
                control.watch_calls += 1;
                InjectedFailure::take(&mut control.fail_watches)
            }
        };
        if control.requests.len() == MAX_RECORDED_REQUESTS {
            control.requests.pop_front();
        }
        control.requests.push_back(request);
        (control.latency, failure)
    }

    /// Serves one list call.
    async fn serve_list(&self, options: ListOptions) -> Result<List<T>, Status> {
        let (latency, failure) = self.receive(Request::List(options.clone()));
        stall(latency).await;
        if let Some(status) = failure {
            debug!(%status, "memory server: injected list failure");
            return Err(status);
        }
        let limit = options.limit.filter(|&limit| limit > 0);
        let answer = match options.continue_token.as_deref() {
            Some(token) if !token.is_empty() => self.list_continue(token, limit),
            _ => self.list_first(&options.resource_version, limit),
        };
        match &answer {
            Ok(list) => debug!(
                resource_version = %list.resource_version,
                items = list.items.len(),
                more = list.continue_token.is_some(),
                "memory server: list"
            ),
            Err(status) => debug!(%status, "memory server: list refused"),
        }
        answer
    }

    /// The first (or only) page of a list at `requested`.
    fn list_first(
        &self,
        requested: &ResourceVersion,
        limit: Option<usize>,
    ) -> Result<List<T>, Status> {
        let requested = parse_rv(requested)?;
        let mut state = self.shared.state.lock();
        if let Some(requested) = requested.filter(|&requested| requested > state.rv) {
            return Err(too_large(requested, state.rv));
        }
        let resource_version = state.rv_string.clone();
        let Some(limit) = limit.filter(|&limit| limit < state.objects.len()) else {
            let items = state.objects.values().cloned().collect();
            return Ok(List {
                items,
                resource_version,
                continue_token: None,
                source_id: None,
            });
        };
        let items: Arc<[Arc<T>]> = state.objects.values().cloned().collect();
        let rv = state.rv;
        let next_page = state.snapshots.keep(rv, Arc::clone(&items), limit);
        drop(state);
        Ok(List {
            items: items[..limit].to_vec(),
            resource_version,
            continue_token: Some(next_page),
            source_id: None,
        })
    }

    /// A later page of a paginated list.
    fn list_continue(&self, token: &str, limit: Option<usize>) -> Result<List<T>, Status> {
        let mut state = self.shared.state.lock();
        let compacted = state.history.compacted();
        let page = state.snapshots.page(token, limit, compacted)?;
        drop(state);
        Ok(List {
            items: page.items,
            resource_version: format_rv(page.rv),
            continue_token: page.continue_token,
            source_id: None,
        })
    }

    /// Serves one watch call.
    async fn serve_watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> Result<WatchStream<T>, Status> {
        let (latency, failure) = self.receive(Request::Watch {
            resource_version: resource_version.clone(),
            options: options.clone(),
        });
        stall(latency).await;
        if let Some(status) = failure {
            debug!(%status, "memory server: injected watch failure");
            return Err(status);
        }
        let requested = parse_rv(&resource_version)?;
        let mut state = self.shared.state.lock();
        let from = requested.unwrap_or(state.rv);
        if from > state.rv {
            let status = too_large(from, state.rv);
            drop(state);
            debug!(%status, "memory server: watch from the future");
            return Ok(error_stream(status));
        }
        // Reading the history and registering happen under one lock: the replay ends
        // exactly where the live events begin.
        let replay: Result<Vec<WatchEvent<T>>, Status> = if options.send_initial_events {
            // A streaming list: the state as `Added`, then the end marker, then live.
            let rv = state.rv_string.clone();
            let mut initial: Vec<WatchEvent<T>> = state
                .objects
                .values()
                .map(|obj| WatchEvent::Added(Arc::clone(obj), rv.clone()))
                .collect();
            initial.push(WatchEvent::InitialEventsEnd(rv));
            Ok(initial)
        } else {
            state
                .history
                .since(from)
                .map(|events| events.cloned().collect())
        };
        let replay = match replay {
            Ok(replay) => replay,
            Err(status) => {
                drop(state);
                debug!(%status, "memory server: watch from a compacted version");
                return Ok(error_stream(status));
            }
        };
        let receiver = state.watchers.subscribe(options.allow_bookmarks);
        let start = if from == state.rv || options.send_initial_events {
            state.rv_string.clone()
        } else {
            format_rv(from)
        };
        drop(state);
        debug!(
            from = %start,
            replayed = replay.len(),
            timeout = ?options.timeout,
            bookmarks = options.allow_bookmarks,
            "memory server: watch opened"
        );
        let bookmark_interval = self
            .shared
            .config
            .bookmark_interval
            .filter(|_| options.allow_bookmarks);
        Ok(Box::pin(MemoryWatch {
            replay: replay.into_iter(),
            receiver: Some(receiver),
            deadline: options
                .timeout
                .map(|timeout| Box::pin(tokio::time::sleep(timeout))),
            bookmarks: bookmark_interval.and_then(bookmark_ticker),
            last_rv: start,
        }))
    }
}

impl<T: Keyed> State<T> {
    /// Makes one event at the next version: bumps the version, hands the event to
    /// every open watch and records it. Answers the version, and what compaction
    /// pushed out of the history (for the caller to drop after unlocking).
    fn commit(
        &mut self,
        event: impl FnOnce(ResourceVersion) -> WatchEvent<T>,
    ) -> (ResourceVersion, Option<WatchEvent<T>>) {
        self.rv += 1;
        let rv = format_rv(self.rv);
        self.rv_string = rv.clone();
        let event = event(rv.clone());
        self.watchers.send(|| Queued::Event(event.clone()));
        let garbage = self.history.push(self.rv, event).map(|(_, event)| event);
        (rv, garbage)
    }

    /// Drops the history up to `rv` (at most the current version) and the list
    /// snapshots older than it.
    fn compact_to(&mut self, rv: u64) {
        let target = rv.min(self.rv);
        if target <= self.history.compacted() {
            return;
        }
        self.history.compact_to(target);
        self.snapshots.compact_to(target);
        debug!(
            compacted = target,
            retained = self.history.len(),
            "memory server: history compacted"
        );
    }
}

impl<T: Keyed + Send + Sync + 'static> ListerWatcher<T> for MemoryServer<T> {
    fn list(&self, options: ListOptions) -> impl Future<Output = Result<List<T>, Status>> + Send {
        self.serve_list(options)
    }

    fn watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> impl Future<Output = Result<WatchStream<T>, Status>> + Send {
        self.serve_watch(resource_version, options)
    }
}

impl<T: Keyed + Send + Sync + 'static> Default for MemoryServer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> Clone for MemoryServer<T> {
    /// Another handle to the same server.
    fn clone(&self) -> Self {
        MemoryServer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Keyed> fmt::Debug for MemoryServer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("MemoryServer")
            .field("resource_version", &state.rv)
            .field("objects", &state.objects.len())
            .field("compacted", &state.history.compacted())
            .field("watches", &state.watchers.len())
            .finish_non_exhaustive()
    }
}

/// The stream of one open watch: the replayed history, then the live events the
/// server queues, until the server drops it, an error ends it, or its timeout passes.
struct MemoryWatch<T> {
    /// Changes from the history, delivered first.
    replay: std::vec::IntoIter<WatchEvent<T>>,
    /// Live events; `None` once the stream has ended (dropping it tells the server).
    receiver: Option<mpsc::Receiver<Queued<T>>>,
    /// When the watch's timeout ends it.
    deadline: Option<Pin<Box<Sleep>>>,
    /// When the next periodic bookmark is due.
    bookmarks: Option<Interval>,
    /// The version of the last event delivered: what a bookmark reports.
    last_rv: ResourceVersion,
}

impl<T> MemoryWatch<T> {
    /// Ends the stream: later polls answer `None`, the server sees the watch closed.
    fn finish(&mut self) {
        self.receiver = None;
        self.replay = Vec::new().into_iter();
        self.deadline = None;
        self.bookmarks = None;
    }

    /// Whether the timeout passed, ending the stream if so. Checked before every
    /// item, so a busy watch ends on time too.
    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.deadline.as_mut() else {
            return false;
        };
        if deadline.as_mut().poll(cx).is_pending() {
            return false;
        }
        debug!("memory server: watch timed out");
        self.finish();
        true
    }

    /// Hands out `queued`, noting how far it brings the watch; ends the stream after
    /// an error.
    fn deliver(&mut self, queued: Queued<T>) -> Poll<Option<WatchItem<T>>> {
        let item = match queued {
            Queued::Event(event @ WatchEvent::Error(_)) => {
                self.finish();
                Ok(event)
            }
            Queued::Event(event) => {
                if let Some(rv) = event.resource_version() {
                    self.last_rv.clone_from(rv);
                }
                Ok(event)
            }
            Queued::Failure(status) => {
                self.finish();
                Err(*status)
            }
        };
        Poll::Ready(Some(item))
    }
}

impl<T> Stream for MemoryWatch<T> {
    type Item = WatchItem<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.receiver.is_none() || this.timed_out(cx) {
            return Poll::Ready(None);
        }
        if let Some(event) = this.replay.next() {
            return this.deliver(Queued::Event(event));
        }
        let Some(receiver) = this.receiver.as_mut() else {
            return Poll::Ready(None);
        };
        match receiver.poll_recv(cx) {
            Poll::Ready(Some(item)) => return this.deliver(item),
            Poll::Ready(None) => {
                this.finish();
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        // Idle: every queued event was delivered, so `last_rv` is the server's
        // version as far as this watch knows — a bookmark never skips an event.
        if let Some(bookmarks) = this.bookmarks.as_mut() {
            if bookmarks.poll_tick(cx).is_ready() {
                return Poll::Ready(Some(Ok(WatchEvent::Bookmark(this.last_rv.clone()))));
            }
        }
        Poll::Pending
    }
}

/// A periodic bookmark timer whose first tick is one `period` from now; `None` for a
/// zero period or one so long that the clock would overflow.
fn bookmark_ticker(period: Duration) -> Option<Interval> {
    if period.is_zero() {
        return None;
    }
    let start = Instant::now().checked_add(period)?;
    start.checked_add(period)?;
    let mut ticker = tokio::time::interval_at(start, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Some(ticker)
}

/// A watch that yields one `Error(status)` and ends.
fn error_stream<T: Send + Sync + 'static>(status: Status) -> WatchStream<T> {
    Box::pin(futures::stream::iter([Ok(WatchEvent::Error(Box::new(
        status,
    )))]))
}

/// Waits `latency`, if any.
async fn stall(latency: Option<Duration>) {
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
}

/// Parses a requested resource version: `None` for `""` and `"0"` ("any", "now"),
/// the number otherwise, `BadRequest` for anything but decimal digits.
fn parse_rv(rv: &ResourceVersion) -> Result<Option<u64>, Status> {
    let text = rv.as_str();
    if text.is_empty() || text == "0" {
        return Ok(None);
    }
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Status::bad_request(format!(
            "invalid resource version {text:?}: not a decimal number"
        )));
    }
    text.parse().map(Some).map_err(|_| {
        Status::bad_request(format!("invalid resource version {text:?}: out of range"))
    })
}

/// `n` as a resource version with one allocation (`u64::to_string` then
/// `Arc<str>` would make two): this runs on every write.
fn format_rv(mut n: u64) -> ResourceVersion {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // `n % 10` is below 10, so the cast keeps it whole.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written, so this is always valid UTF-8.
    ResourceVersion::from(std::str::from_utf8(&digits[start..]).unwrap_or_default())
}

/// The answer to a read at a version newer than the server's.
fn too_large(requested: u64, current: u64) -> Status {
    Status::too_large_resource_version(&requested.to_string(), &current.to_string(), 1)
}

/// The resource name in `NotFound`/`AlreadyExists` answers: `T`'s type name without
/// its path or generic arguments.
fn resource_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    let name = name.split('<').next().unwrap_or(name);
    name.rsplit("::").next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use futures::StreamExt;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Pod {
        name: String,
        generation: u64,
    }

    impl Keyed for Pod {
        type Key = String;
        fn key(&self) -> String {
            self.name.clone()
        }
    }

    fn pod(name: &str, generation: u64) -> Pod {
        Pod {
            name: name.to_owned(),
            generation,
        }
    }

    fn server() -> MemoryServer<Pod> {
        MemoryServer::new()
    }

    fn server_with(config: MemoryServerConfig) -> MemoryServer<Pod> {
        MemoryServer::with_config(config)
    }

    fn rv(text: &str) -> ResourceVersion {
        ResourceVersion::from(text)
    }

    fn number(rv: &ResourceVersion) -> u64 {
        rv.as_str()
            .parse()
            .expect("the server's versions are numbers")
    }

    fn names(items: &[Arc<Pod>]) -> Vec<&str> {
        items.iter().map(|pod| pod.name.as_str()).collect()
    }

    async fn list(server: &MemoryServer<Pod>, at: &str) -> Result<List<Pod>, Status> {
        server
            .list(ListOptions {
                resource_version: rv(at),
                ..ListOptions::default()
            })
            .await
    }

    async fn page(
        server: &MemoryServer<Pod>,
        limit: usize,
        token: Option<String>,
    ) -> Result<List<Pod>, Status> {
        server
            .list(ListOptions {
                resource_version: rv("0"),
                limit: Some(limit),
                continue_token: token,
            })
            .await
    }

    async fn watch(server: &MemoryServer<Pod>, from: &str) -> WatchStream<Pod> {
        server
            .watch(rv(from), WatchOptions::default())
            .await
            .expect("the watch opens")
    }

    /// One stream item as `TYPE name@rv` (or `ERROR reason`, `ERR reason`), for
    /// comparing sequences at a glance.
    fn describe(item: &WatchItem<Pod>) -> String {
        match item {
            Ok(WatchEvent::Added(pod, rv)) => format!("ADDED {}@{rv}", pod.name),
            Ok(WatchEvent::Modified(pod, rv)) => format!("MODIFIED {}@{rv}", pod.name),
            Ok(WatchEvent::Deleted(pod, rv)) => format!("DELETED {}@{rv}", pod.name),
            Ok(WatchEvent::Bookmark(rv)) => format!("BOOKMARK @{rv}"),
            Ok(WatchEvent::InitialEventsEnd(rv)) => format!("INITIAL-EVENTS-END @{rv}"),
            Ok(WatchEvent::Error(status)) => format!("ERROR {}", status.reason),
            Err(status) => format!("ERR {}", status.reason),
        }
    }

    /// The next item, or `None` at the end; fails the test after 10 s (Tokio time).
    async fn next(stream: &mut WatchStream<Pod>) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the watch answers within 10 s")
            .map(|item| describe(&item))
    }

    /// Every item until the stream ends.
    async fn drain(stream: &mut WatchStream<Pod>) -> Vec<String> {
        let mut items = Vec::new();
        while let Some(item) = next(stream).await {
            items.push(item);
        }
        items
    }

    /// Whether the stream stays silent for `wait` (Tokio time).
    async fn silent_for(stream: &mut WatchStream<Pod>, wait: Duration) -> bool {
        tokio::time::timeout(wait, stream.next()).await.is_err()
    }

    // --- writes and reads ----------------------------------------------------------

    #[tokio::test]
    async fn empty_server_is_at_version_one_and_writes_count_up_from_two() {
        let server = server();
        assert_eq!(server.resource_version(), "1");
        assert!(server.is_empty());
        assert_eq!(server.create(pod("a", 1)).unwrap(), "2");
        assert_eq!(server.apply(pod("b", 1)), "3");
        assert_eq!(server.update(pod("a", 2)).unwrap(), "4");
        assert_eq!(server.delete("b").unwrap(), "5");
        assert_eq!(server.resource_version(), "5");
        assert_eq!(list(&server, "").await.unwrap().resource_version, "5");
    }

    #[tokio::test]
    async fn create_of_a_taken_key_is_already_exists_and_writes_nothing() {
        let server = server();
        server.create(pod("a", 1)).unwrap();
        let status = server.create(pod("a", 2)).unwrap_err();
        assert!(status.is_already_exists(), "{status}");
        assert_eq!(status.code, 409);
        assert!(status.message.contains("\"a\""), "{}", status.message);
        assert_eq!(server.resource_version(), "2");
        assert_eq!(server.get("a").unwrap().generation, 1);
    }

    #[tokio::test]
    async fn update_or_delete_of_a_missing_key_is_not_found_and_writes_nothing() {
        let server = server();
        let status = server.update(pod("a", 1)).unwrap_err();
        assert!(status.is_not_found(), "{status}");
        assert_eq!(status.code, 404);
        let status = server.delete("a").unwrap_err();
        assert!(status.is_not_found(), "{status}");
        assert!(status.message.contains("\"a\""), "{}", status.message);
        assert_eq!(server.resource_version(), "1");
        assert!(server.is_empty());
    }

    #[tokio::test]
    async fn reads_see_the_latest_writes_sorted_by_key() {
        let server = server();
        for name in ["c", "a", "b"] {
            server.create(pod(name, 1)).unwrap();
        }
        server.apply(pod("a", 2));
        server.delete("c").unwrap();
        assert_eq!(server.len(), 2);
        assert!(!server.is_empty());
        assert_eq!(server.get("a").map(|pod| pod.generation), Some(2));
        assert_eq!(
            server.get(&"b".to_owned()).map(|pod| pod.generation),
            Some(1)
        );
        assert!(server.get("c").is_none());
        assert_eq!(names(&server.snapshot()), ["a", "b"]);
    }

    #[tokio::test]
    async fn writes_accept_an_object_or_an_arc() {
        let server = server();
        let shared = Arc::new(pod("a", 1));
        server.create(Arc::clone(&shared)).unwrap();
        assert!(Arc::ptr_eq(&server.get("a").unwrap(), &shared));
    }

    #[tokio::test]
    async fn clones_share_one_server() {
        let server = server();
        let other = server.clone();
        other.create(pod("a", 1)).unwrap();
        assert_eq!(server.len(), 1);
        assert_eq!(server.resource_version(), other.resource_version());
        assert!(format!("{server:?}").contains("resource_version: 2"));
    }

    #[tokio::test]
    async fn random_writes_match_a_model_and_a_watch_from_the_start_replays_them() {
        let server = server();
        let mut model: BTreeMap<String, u64> = BTreeMap::new();
        let mut watch = watch(&server, "1").await;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let mut expected = Vec::new();
        for generation in 0..500 {
            let name = format!("pod-{}", random(20));
            let outcome = match random(4) {
                0 => server
                    .create(pod(&name, generation))
                    .map(|rv| ("ADDED", rv)),
                1 => server
                    .update(pod(&name, generation))
                    .map(|rv| ("MODIFIED", rv)),
                2 => server.delete(name.as_str()).map(|rv| ("DELETED", rv)),
                _ => {
                    let kind = if model.contains_key(&name) {
                        "MODIFIED"
                    } else {
                        "ADDED"
                    };
                    Ok((kind, server.apply(pod(&name, generation))))
                }
            };
            let exists = model.contains_key(&name);
            match outcome {
                Ok((kind, rv)) => {
                    assert!(
                        kind == "ADDED" && !exists || kind != "ADDED" && exists,
                        "{kind} {name}"
                    );
                    if kind == "DELETED" {
                        model.remove(&name);
                    } else {
                        model.insert(name.clone(), generation);
                    }
                    expected.push(format!("{kind} {name}@{rv}"));
                }
                Err(status) => assert!(
                    status.is_already_exists() && exists || status.is_not_found() && !exists
                ),
            }
        }
        let listed = list(&server, "").await.unwrap().items;
        let listed: BTreeMap<String, u64> = listed
            .iter()
            .map(|pod| (pod.name.clone(), pod.generation))
            .collect();
        assert_eq!(listed, model);
        let mut seen = Vec::new();
        for _ in 0..expected.len() {
            seen.push(next(&mut watch).await.unwrap());
        }
        assert_eq!(seen, expected);
    }

    // --- list ----------------------------------------------------------------------

    #[tokio::test]
    async fn list_at_zero_empty_or_an_older_version_serves_the_current_state() {
        let server = server();
        for name in ["b", "a"] {
            server.create(pod(name, 1)).unwrap();
        }
        server.apply(pod("a", 2));
        for at in ["0", "", "1", "2", "4"] {
            let list = list(&server, at).await.unwrap();
            assert_eq!(list.resource_version, "4", "at {at:?}");
            assert_eq!(names(&list.items), ["a", "b"], "at {at:?}");
            assert_eq!(list.items[0].generation, 2);
            assert!(list.continue_token.is_none());
        }
    }

    #[tokio::test]
    async fn list_of_an_empty_server_is_empty_at_version_one() {
        let list = list(&server(), "0").await.unwrap();
        assert!(list.items.is_empty());
        assert_eq!(list.resource_version, "1");
    }

    #[tokio::test]
    async fn list_at_a_future_version_is_too_large() {
        let server = server();
        server.create(pod("a", 1)).unwrap();
        let status = list(&server, "3").await.unwrap_err();
        assert!(status.is_too_large_resource_version(), "{status}");
        assert!(
            status.message.contains("3, current: 2"),
            "{}",
            status.message
        );
        let status = list(&server, "18446744073709551615").await.unwrap_err();
        assert!(status.is_too_large_resource_version(), "{status}");
    }

    #[tokio::test]
    async fn list_at_a_non_numeric_version_is_a_bad_request() {
        let server = server();
        for at in [
            "abc",
            "+1",
            "-1",
            " 1",
            "1.0",
            "0x1",
            "18446744073709551616",
            "١",
        ] {
            let status = list(&server, at).await.unwrap_err();
            assert!(status.is_bad_request(), "{at:?}: {status}");
        }
    }

    #[tokio::test]
    async fn list_with_limit_zero_or_above_the_size_answers_one_page() {
        let server = server();
        for name in ["a", "b", "c"] {
            server.create(pod(name, 1)).unwrap();
        }
        for limit in [0, 3, 4, usize::MAX] {
            let list = page(&server, limit, None).await.unwrap();
            assert_eq!(names(&list.items), ["a", "b", "c"], "limit {limit}");
            assert!(list.continue_token.is_none(), "limit {limit}");
        }
    }

    #[tokio::test]
    async fn paginated_list_is_one_consistent_snapshot_across_concurrent_writes() {
        let server = server();
        for index in 0..10 {
            server.create(pod(&format!("pod-{index}"), 1)).unwrap();
        }
        let expected = names(&server.snapshot()).join(",");
        let first = page(&server, 4, None).await.unwrap();
        assert_eq!(first.resource_version, "11");
        assert_eq!(first.items.len(), 4);

        // Writes between pages must not show through.
        server.delete("pod-7").unwrap();
        server.create(pod("pod-5a", 1)).unwrap();
        server.apply(pod("pod-9", 2));

        let mut all = first.items.clone();
        let mut token = first.continue_token.clone();
        let mut pages = 1;
        while let Some(current) = token.take() {
            let next = page(&server, 4, Some(current)).await.unwrap();
            assert_eq!(
                next.resource_version, "11",
                "every page reports the first page's version"
            );
            all.extend(next.items.iter().cloned());
            token = next.continue_token;
            pages += 1;
        }
        assert_eq!(pages, 3);
        assert_eq!(names(&all).join(","), expected);
        assert!(all.iter().all(|pod| pod.generation == 1));
        assert_eq!(server.list_calls(), 3);
    }

    #[tokio::test]
    async fn continue_token_of_the_last_page_is_spent() {
        let server = server();
        for name in ["a", "b"] {
            server.create(pod(name, 1)).unwrap();
        }
        let first = page(&server, 1, None).await.unwrap();
        let token = first.continue_token.unwrap();
        let last = page(&server, 1, Some(token.clone())).await.unwrap();
        assert_eq!(names(&last.items), ["b"]);
        assert!(last.continue_token.is_none());
        // Reusing the spent token asks the client to start over.
        let status = page(&server, 1, Some(token)).await.unwrap_err();
        assert!(status.is_expired(), "{status}");
    }

    #[tokio::test]
    async fn continue_token_ignores_the_request_resource_version() {
        let server = server();
        for name in ["a", "b"] {
            server.create(pod(name, 1)).unwrap();
        }
        let first = page(&server, 1, None).await.unwrap();
        let rest = server
            .list(ListOptions {
                resource_version: rv("garbage"),
                limit: None,
                continue_token: first.continue_token,
            })
            .await
            .unwrap();
        assert_eq!(names(&rest.items), ["b"]);
        assert_eq!(rest.resource_version, "3");
    }

    #[tokio::test]
    async fn continue_token_from_before_compaction_is_expired() {
        let server = server();
        for name in ["a", "b", "c"] {
            server.create(pod(name, 1)).unwrap();
        }
        let first = page(&server, 1, None).await.unwrap();
        server.create(pod("d", 1)).unwrap();
        server.compact();
        let status = page(&server, 1, first.continue_token).await.unwrap_err();
        assert!(status.is_expired(), "{status}");
        assert_eq!(status.code, 410);
    }

    #[tokio::test]
    async fn continue_token_survives_compaction_at_its_own_version() {
        let server = server();
        for name in ["a", "b"] {
            server.create(pod(name, 1)).unwrap();
        }
        let first = page(&server, 1, None).await.unwrap();
        server.compact();
        let rest = page(&server, 1, first.continue_token).await.unwrap();
        assert_eq!(names(&rest.items), ["b"]);
    }

    #[tokio::test]
    async fn continue_token_expires_when_the_history_window_moves_past_it() {
        let server = server_with(MemoryServerConfig {
            history_len: 2,
            ..MemoryServerConfig::default()
        });
        for name in ["a", "b"] {
            server.create(pod(name, 1)).unwrap();
        }
        let first = page(&server, 1, None).await.unwrap();
        for generation in 0..3 {
            server.apply(pod("a", generation));
        }
        let status = page(&server, 1, first.continue_token).await.unwrap_err();
        assert!(status.is_expired(), "{status}");
    }

    #[tokio::test]
    async fn evicted_list_snapshot_answers_expired() {
        let server = server();
        for name in ["a", "b"] {
            server.create(pod(name, 1)).unwrap();
        }
        let oldest = page(&server, 1, None).await.unwrap().continue_token;
        let mut newest = None;
        for _ in 0..MAX_LIST_SNAPSHOTS {
            newest = page(&server, 1, None).await.unwrap().continue_token;
        }
        let status = page(&server, 1, oldest).await.unwrap_err();
        assert!(status.is_expired(), "{status}");
        assert_eq!(names(&page(&server, 1, newest).await.unwrap().items), ["b"]);
    }

    #[tokio::test]
    async fn unknown_or_garbage_continue_token_is_a_bad_request() {
        let server = server();
        for name in ["a", "b", "c"] {
            server.create(pod(name, 1)).unwrap();
        }
        let token = page(&server, 1, None)
            .await
            .unwrap()
            .continue_token
            .unwrap();
        let (rv, rest) = token.split_once('.').unwrap();
        let (id, _) = rest.split_once('.').unwrap();
        let bad = [
            "garbage".to_owned(),
            "1.2".to_owned(),
            "1.2.3.4".to_owned(),
            "..".to_owned(),
            "a.b.c".to_owned(),
            "-1.0.1".to_owned(),
            "99999999999999999999.0.1".to_owned(),
            format!("{rv}.{}.1", 1000), // never issued
            format!("{}.{id}.1", 3),    // wrong version for the snapshot
            format!("{rv}.{id}.4"),     // beyond the snapshot
            format!("9.{}.1", 1000),    // from the future
        ];
        for token in bad {
            let status = page(&server, 1, Some(token.clone())).await.unwrap_err();
            assert!(status.is_bad_request(), "{token:?}: {status}");
        }
        // The real token still works after all that.
        assert_eq!(
            names(&page(&server, 1, Some(token)).await.unwrap().items),
            ["b"]
        );
    }

    #[tokio::test]
    async fn empty_continue_token_starts_a_new_list() {
        let server = server();
        server.create(pod("a", 1)).unwrap();
        let list = page(&server, 5, Some(String::new())).await.unwrap();
        assert_eq!(names(&list.items), ["a"]);
    }

    #[test]
    fn queued_items_stay_small() {
        // Every write copies one into each watcher's queue.
        assert!(std::mem::size_of::<Queued<Pod>>() <= 32);
        assert!(
            std::mem::size_of::<WatchItem<Pod>>() > 100,
            "boxing is worth it"
        );
    }

    #[test]
    fn resource_versions_are_formatted_in_decimal() {
        for n in [0, 1, 9, 10, 1234567890, u64::MAX] {
            assert_eq!(format_rv(n), n.to_string().as_str());
        }
    }

    #[test]
    fn resource_name_is_the_bare_type_name() {
        assert_eq!(resource_name::<Pod>(), "Pod");
        assert_eq!(resource_name::<Vec<Pod>>(), "Vec");
    }

    // --- watch ---------------------------------------------------------------------

    #[tokio::test]
    async fn watch_replays_history_then_follows_live_writes() {
        let server = server();
        server.create(pod("a", 1)).unwrap(); // 2
        server.create(pod("b", 1)).unwrap(); // 3
        server.apply(pod("a", 2)); // 4
        let mut watch = watch(&server, "2").await;
        assert_eq!(server.open_watches(), 1);
        server.delete("b").unwrap(); // 5
        assert_eq!(next(&mut watch).await.unwrap(), "ADDED b@3");
        assert_eq!(next(&mut watch).await.unwrap(), "MODIFIED a@4");
        assert_eq!(next(&mut watch).await.unwrap(), "DELETED b@5");
        server.create(pod("c", 1)).unwrap(); // 6
        assert_eq!(next(&mut watch).await.unwrap(), "ADDED c@6");
    }

    #[tokio::test]
    async fn deleted_event_carries_the_last_state() {
        let server = server();
        server.create(pod("a", 1)).unwrap();
        server.apply(pod("a", 7));
        let mut watch = watch(&server, "3").await;
        server.delete("a").unwrap();
        match watch.next().await {
            Some(Ok(WatchEvent::Deleted(last, rv))) => {
                assert_eq!(*last, pod("a", 7));
                assert_eq!(rv, "4");
            }
            other => panic!("expected a Deleted event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn watch_from_zero_or_empty_starts_now_without_replay() {
        let server = server();
        server.create(pod("a", 1)).unwrap();
        for from in ["0", ""] {
            let mut watch = watch(&server, from).await;
            let rv = server.apply(pod("a", 2));
            assert_eq!(next(&mut watch).await.unwrap(), format!("MODIFIED a@{rv}"));
        }
    }

    #[tokio::test]
    async fn watch_from_the_current_version_gets_only_later_writes() {
        let server = server();
        server.create(pod("a", 1)).unwrap();
        let mut watch = watch(&server, "2").await;
        server.create(pod("b", 1)).unwrap();
        assert_eq!(next(&mut watch).await.unwrap(), "ADDED b@3");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn watches_opened_during_writes_see_every_later_event_once() {
        const WRITES: u64 = 20_000;
        let server = server_with(MemoryServerConfig {
            history_len: WRITES as usize,
            watch_buffer: WRITES as usize,
            ..MemoryServerConfig::default()
        });
        let writer = {
            let server = server.clone();
            tokio::spawn(async move {
                for generation in 0..WRITES {
                    server.apply(pod(&format!("pod-{}", generation % 100), generation));
                    if generation % 1000 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        };
        let last = 1 + WRITES;
        let mut watchers = Vec::new();
        for _ in 0..8 {
            // Start from a version somewhat behind, so some events are replayed from
            // the history while the writer keeps adding live ones.
            let current = number(&server.resource_version());
            let from = current.saturating_sub(50).max(1);
            let stream = watch(&server, &from.to_string()).await;
            watchers.push(tokio::spawn(async move {
                let mut stream = stream;
                let mut expected = from + 1;
                while expected <= last {
                    match stream.next().await {
                        Some(Ok(event)) => {
                            let rv = event.resource_version().map(number);
                            assert_eq!(rv, Some(expected), "gap or duplicate after {from}");
                            expected += 1;
                        }
                        other => panic!(
                            "watch from {from} ended early: {:?}",
                            other.map(|item| describe(&item))
                        ),
                    }
                }
            }));
            tokio::task::yield_now().await;
        }
        writer.await.unwrap();
        for watcher in watchers {
            tokio::time::timeout(Duration::from_secs(30), watcher)
                .await
                .unwrap()
                .unwrap();
        }
    }

    #[tokio::test]
    async fn watch_from_a_compacted_version_yields_expired_then_ends() {
        let server = server();
        for name in ["a", "b", "c"] {
            server.create(pod(name, 1)).unwrap(); // 2, 3, 4
        }
        server.compact_to(3);
        let mut stream = watch(&server, "2").await;
        assert_eq!(drain(&mut stream).await, ["ERROR Expired"]);
        assert_eq!(server.open_watches(), 0);
        // The compaction point itself is still served.
        let mut stream = watch(&server, "3").await;
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED c@4");
        // Compacting everything leaves only the current version.
        server.compact();
        let mut stream = watch(&server, "3").await;
        let expired = stream.next().await.unwrap().unwrap();
        match expired {
            WatchEvent::Error(status) => {
                assert!(status.is_expired());
                assert_eq!(status.code, 410);
                assert_eq!(status.message, "too old resource version: 3 (5)");
            }
            other => panic!("expected an Error event, got {other:?}"),
        }
        assert!(stream.next().await.is_none());
        let mut stream = watch(&server, "4").await;
        server.create(pod("d", 1)).unwrap();
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED d@5");
    }

    #[tokio::test]
    async fn history_window_compacts_automatically() {
        let server = server_with(MemoryServerConfig {
            history_len: 3,
            ..MemoryServerConfig::default()
        });
        for generation in 0..5 {
            server.apply(pod("a", generation)); // 2..=6
        }
        // Events 4, 5, 6 are kept: a watch from 3 is whole, one from 2 is not.
        let mut whole = watch(&server, "3").await;
        assert_eq!(next(&mut whole).await.unwrap(), "MODIFIED a@4");
        let mut stream = watch(&server, "2").await;
        assert_eq!(drain(&mut stream).await, ["ERROR Expired"]);
    }

    #[tokio::test]
    async fn compaction_does_not_disturb_open_watches() {
        let server = server();
        let mut stream = watch(&server, "1").await;
        server.create(pod("a", 1)).unwrap();
        server.create(pod("b", 1)).unwrap();
        server.compact();
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED a@2");
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
        assert_eq!(server.open_watches(), 1);
    }

    #[tokio::test]
    async fn compaction_beyond_the_current_version_stops_at_it() {
        let server = server();
        server.create(pod("a", 1)).unwrap();
        server.compact_to(u64::MAX);
        let mut stream = watch(&server, "2").await;
        server.create(pod("b", 1)).unwrap();
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
        server.compact_to(0); // behind the compaction point: nothing happens
        let mut stream = watch(&server, "2").await;
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
        let mut stream = watch(&server, "1").await;
        assert_eq!(next(&mut stream).await.unwrap(), "ERROR Expired");
    }

    #[tokio::test]
    async fn zero_history_still_serves_watches_from_now() {
        let server = server_with(MemoryServerConfig {
            history_len: 0,
            ..MemoryServerConfig::default()
        });
        server.create(pod("a", 1)).unwrap();
        let mut stream = watch(&server, "2").await;
        server.create(pod("b", 1)).unwrap();
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
        let mut stream = watch(&server, "2").await;
        assert_eq!(next(&mut stream).await.unwrap(), "ERROR Expired");
    }

    #[tokio::test]
    async fn watch_from_a_future_version_yields_too_large_then_ends() {
        let server = server();
        let mut stream = watch(&server, "5").await;
        match stream.next().await {
            Some(Ok(WatchEvent::Error(status))) => {
                assert!(status.is_too_large_resource_version(), "{status}")
            }
            other => panic!(
                "expected an Error event, got {:?}",
                other.map(|item| describe(&item))
            ),
        }
        assert!(stream.next().await.is_none());
        assert_eq!(server.open_watches(), 0);
    }

    #[tokio::test]
    async fn watch_at_a_non_numeric_version_fails_with_bad_request() {
        let server = server();
        for from in ["abc", "-2", "2.5", "99999999999999999999999"] {
            let Err(status) = server.watch(rv(from), WatchOptions::default()).await else {
                panic!("{from:?} was accepted");
            };
            assert!(status.is_bad_request(), "{from:?}: {status}");
        }
        assert_eq!(server.open_watches(), 0);
        assert_eq!(server.watch_calls(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn watch_timeout_ends_the_stream_cleanly() {
        let server = server();
        let started = Instant::now();
        let mut stream = server
            .watch(
                rv("0"),
                WatchOptions {
                    timeout: Some(Duration::from_secs(30)),
                    allow_bookmarks: false,
                    source_id: None,
                    send_initial_events: false,
                },
            )
            .await
            .unwrap();
        server.create(pod("a", 1)).unwrap();
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED a@2");
        assert!(stream.next().await.is_none());
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert_eq!(server.open_watches(), 0);
        assert!(stream.next().await.is_none(), "an ended watch stays ended");
    }

    #[tokio::test(start_paused = true)]
    async fn watch_timeout_wins_over_queued_events() {
        let server = server();
        let mut stream = server
            .watch(
                rv("0"),
                WatchOptions {
                    timeout: Some(Duration::from_secs(5)),
                    allow_bookmarks: false,
                    source_id: None,
                    send_initial_events: false,
                },
            )
            .await
            .unwrap();
        server.create(pod("a", 1)).unwrap();
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(stream.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn watch_sends_periodic_bookmarks_when_allowed() {
        let server = server();
        server.create(pod("a", 1)).unwrap();
        let started = Instant::now();
        let mut stream = server
            .watch(
                rv("2"),
                WatchOptions {
                    timeout: None,
                    allow_bookmarks: true,
                    source_id: None,
                    send_initial_events: false,
                },
            )
            .await
            .unwrap();
        server.create(pod("b", 1)).unwrap();
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED b@3");
        assert_eq!(next(&mut stream).await.unwrap(), "BOOKMARK @3");
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(next(&mut stream).await.unwrap(), "BOOKMARK @3");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        server.create(pod("c", 1)).unwrap();
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED c@4");
        assert_eq!(next(&mut stream).await.unwrap(), "BOOKMARK @4");
    }

    #[tokio::test(start_paused = true)]
    async fn watch_bookmarks_follow_the_configured_interval() {
        let server = server_with(MemoryServerConfig {
            bookmark_interval: Some(Duration::from_secs(7)),
            ..MemoryServerConfig::default()
        });
        let started = Instant::now();
        let mut stream = server
            .watch(
                rv(""),
                WatchOptions {
                    timeout: None,
                    allow_bookmarks: true,
                    source_id: None,
                    send_initial_events: false,
                },
            )
            .await
            .unwrap();
        assert_eq!(next(&mut stream).await.unwrap(), "BOOKMARK @1");
        assert_eq!(started.elapsed(), Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn watch_gets_no_periodic_bookmarks_unless_allowed_and_configured() {
        let server = server();
        let mut plain = watch(&server, "0").await;
        assert!(silent_for(&mut plain, Duration::from_secs(60)).await);

        for interval in [None, Some(Duration::ZERO), Some(Duration::MAX)] {
            let server = server_with(MemoryServerConfig {
                bookmark_interval: interval,
                ..MemoryServerConfig::default()
            });
            let mut stream = server
                .watch(
                    rv("0"),
                    WatchOptions {
                        timeout: None,
                        allow_bookmarks: true,
                        source_id: None,
                        send_initial_events: false,
                    },
                )
                .await
                .unwrap();
            assert!(
                silent_for(&mut stream, Duration::from_secs(60)).await,
                "{interval:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bookmark_now_reaches_only_watches_that_allowed_bookmarks() {
        let server = server();
        let mut with = server
            .watch(
                rv("0"),
                WatchOptions {
                    timeout: None,
                    allow_bookmarks: true,
                    source_id: None,
                    send_initial_events: false,
                },
            )
            .await
            .unwrap();
        let mut without = watch(&server, "0").await;
        server.create(pod("a", 1)).unwrap();
        server.bookmark_now();
        assert_eq!(next(&mut with).await.unwrap(), "ADDED a@2");
        assert_eq!(next(&mut with).await.unwrap(), "BOOKMARK @2");
        assert_eq!(next(&mut without).await.unwrap(), "ADDED a@2");
        assert!(silent_for(&mut without, Duration::from_millis(100)).await);
    }

    // --- fault injection -----------------------------------------------------------

    #[tokio::test]
    async fn drop_watches_ends_every_watch_cleanly_after_queued_events() {
        let server = server();
        let mut first = watch(&server, "0").await;
        let mut second = watch(&server, "0").await;
        server.create(pod("a", 1)).unwrap();
        assert_eq!(server.open_watches(), 2);
        server.drop_watches();
        assert_eq!(server.open_watches(), 0);
        assert_eq!(drain(&mut first).await, ["ADDED a@2"]);
        assert!(drain(&mut second).await == ["ADDED a@2"]);
        // Writes after the drop go nowhere; a new watch from the last version
        // catches up.
        server.create(pod("b", 1)).unwrap();
        let mut again = watch(&server, "2").await;
        assert_eq!(next(&mut again).await.unwrap(), "ADDED b@3");
    }

    #[tokio::test]
    async fn injected_watch_error_is_the_last_item_of_every_watch() {
        let server = server();
        let mut first = watch(&server, "0").await;
        let mut second = watch(&server, "0").await;
        server.create(pod("a", 1)).unwrap();
        server.inject_watch_error(Status::gone("the watch is gone"));
        assert_eq!(server.open_watches(), 0);
        assert_eq!(drain(&mut first).await, ["ADDED a@2", "ERROR Gone"]);
        assert_eq!(drain(&mut second).await, ["ADDED a@2", "ERROR Gone"]);
    }

    #[tokio::test]
    async fn injected_watch_error_fits_behind_a_full_buffer() {
        let server = server_with(MemoryServerConfig {
            watch_buffer: 2,
            ..MemoryServerConfig::default()
        });
        let mut stream = watch(&server, "0").await;
        server.create(pod("a", 1)).unwrap();
        server.create(pod("b", 1)).unwrap();
        server.inject_watch_error(Status::service_unavailable("restarting"));
        assert_eq!(
            drain(&mut stream).await,
            ["ADDED a@2", "ADDED b@3", "ERROR ServiceUnavailable"]
        );
    }

    #[tokio::test]
    async fn injected_malformed_event_is_an_err_item_then_the_end() {
        let server = server();
        let mut stream = watch(&server, "0").await;
        server.inject_malformed_event();
        match stream.next().await {
            Some(Err(status)) => {
                assert!(status.is_internal_error(), "{status}");
                assert!(status.message.contains("malformed"), "{}", status.message);
            }
            other => panic!(
                "expected an Err item, got {:?}",
                other.map(|item| describe(&item))
            ),
        }
        assert!(stream.next().await.is_none());
        assert_eq!(server.open_watches(), 0);
    }

    #[tokio::test]
    async fn fail_next_lists_fails_exactly_that_many_calls() {
        let server = server();
        server.create(pod("a", 1)).unwrap();
        server.fail_next_lists(2, Status::too_many_requests("slow down", 1));
        for _ in 0..2 {
            let status = list(&server, "0").await.unwrap_err();
            assert!(status.is_too_many_requests(), "{status}");
        }
        assert_eq!(names(&list(&server, "0").await.unwrap().items), ["a"]);
        server.fail_next_lists(1, Status::internal_error("boom"));
        server.fail_next_lists(0, Status::internal_error("boom"));
        assert!(
            list(&server, "0").await.is_ok(),
            "n = 0 clears the injection"
        );
        assert_eq!(server.list_calls(), 4);
    }

    #[tokio::test]
    async fn fail_next_watches_fails_exactly_that_many_calls() {
        let server = server();
        server.fail_next_watches(1, Status::service_unavailable("connection refused"));
        let Err(status) = server.watch(rv("0"), WatchOptions::default()).await else {
            panic!("the injected failure was not answered");
        };
        assert!(status.is_service_unavailable());
        assert_eq!(server.open_watches(), 0);
        let _stream = watch(&server, "0").await;
        assert_eq!(server.open_watches(), 1);
        assert!(list(&server, "0").await.is_ok(), "lists are not affected");
    }

    #[tokio::test(start_paused = true)]
    async fn latency_stalls_list_and_watch_calls_but_not_writes() {
        let server = server();
        server.set_latency(Some(Duration::from_secs(3)));
        let started = Instant::now();
        server.create(pod("a", 1)).unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
        list(&server, "0").await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        let _stream = watch(&server, "0").await;
        assert_eq!(started.elapsed(), Duration::from_secs(6));
        // A stalled call is already recorded while it waits.
        let stalled = {
            let server = server.clone();
            tokio::spawn(async move { list(&server, "0").await.map(|list| list.items.len()) })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(server.list_calls(), 2);
        assert!(!stalled.is_finished());
        assert_eq!(stalled.await.unwrap().unwrap(), 1);
        server.set_latency(None);
        let before = Instant::now();
        list(&server, "0").await.unwrap();
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn slow_watcher_is_dropped_once_its_buffer_is_full() {
        let server = server_with(MemoryServerConfig {
            watch_buffer: 4,
            ..MemoryServerConfig::default()
        });
        let mut slow = watch(&server, "0").await;
        let mut fast = watch(&server, "0").await;
        for generation in 0..10 {
            server.apply(pod("a", generation));
            assert!(next(&mut fast).await.is_some());
        }
        assert_eq!(
            server.open_watches(),
            1,
            "only the slow watcher was dropped"
        );
        let delivered = drain(&mut slow).await;
        assert_eq!(
            delivered,
            ["ADDED a@2", "MODIFIED a@3", "MODIFIED a@4", "MODIFIED a@5"]
        );
        // It resumes from the last version it saw, from the history.
        let mut resumed = watch(&server, "5").await;
        assert_eq!(next(&mut resumed).await.unwrap(), "MODIFIED a@6");
    }

    #[tokio::test]
    async fn zero_watch_buffer_drops_a_watcher_at_its_first_event() {
        let server = server_with(MemoryServerConfig {
            watch_buffer: 0,
            ..MemoryServerConfig::default()
        });
        let mut stream = watch(&server, "0").await;
        server.create(pod("a", 1)).unwrap();
        assert!(drain(&mut stream).await.is_empty());
    }

    #[tokio::test]
    async fn huge_watch_buffer_is_accepted() {
        let server = server_with(MemoryServerConfig {
            watch_buffer: usize::MAX,
            ..MemoryServerConfig::default()
        });
        let mut stream = watch(&server, "0").await;
        server.create(pod("a", 1)).unwrap();
        assert_eq!(next(&mut stream).await.unwrap(), "ADDED a@2");
    }

    // --- observability -------------------------------------------------------------

    #[tokio::test]
    async fn requests_are_recorded_in_order() {
        let server = server();
        server.fail_next_lists(1, Status::internal_error("boom"));
        let _ = list(&server, "0").await;
        let _ = page(&server, 10, None).await;
        let timed = WatchOptions {
            timeout: Some(Duration::from_secs(300)),
            allow_bookmarks: true,
            source_id: None,
            send_initial_events: false,
        };
        let _stream = server.watch(rv("1"), timed.clone()).await.unwrap();
        let _ = server.watch(rv("bad"), WatchOptions::default()).await;
        assert_eq!(
            server.requests(),
            [
                Request::List(ListOptions {
                    resource_version: rv("0"),
                    ..ListOptions::default()
                }),
                Request::List(ListOptions {
                    resource_version: rv("0"),
                    limit: Some(10),
                    continue_token: None
                }),
                Request::Watch {
                    resource_version: rv("1"),
                    options: timed
                },
                Request::Watch {
                    resource_version: rv("bad"),
                    options: WatchOptions::default()
                },
            ]
        );
        assert_eq!(server.list_calls(), 2);
        assert_eq!(server.watch_calls(), 2);
    }

    #[tokio::test]
    async fn open_watches_counts_only_live_streams() {
        let server = server();
        let first = watch(&server, "0").await;
        let mut second = watch(&server, "0").await;
        assert_eq!(server.open_watches(), 2);
        drop(first);
        assert_eq!(server.open_watches(), 1);
        server.inject_watch_error(Status::gone("bye"));
        assert_eq!(server.open_watches(), 0);
        assert_eq!(drain(&mut second).await, ["ERROR Gone"]);
        // A write prunes nothing it should not, and reaches nobody.
        server.create(pod("a", 1)).unwrap();
        assert_eq!(server.open_watches(), 0);
    }
}
