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

use crate::source::{ListOptions, ListPage, ListerWatcher, WatchEvent, WatchOptions, WatchStream};
use serve::{Fanout, History, ListSnapshots, Revision};

mod faults;
mod list;
#[cfg(test)]
mod tests;
mod watch;

/// The resource version of an empty server (a fresh etcd's revision).
const INITIAL_RESOURCE_VERSION: u64 = 1;
/// How many paginated-list snapshots are kept at once; the oldest is evicted first and
/// its continue tokens then answer `Expired`.
const MAX_LIST_SNAPSHOTS: usize = 64;
/// How many requests [`MemoryServer::requests`] remembers (the most recent ones).
const MAX_RECORDED_REQUESTS: usize = 100_000;

/// One item of a watch stream.
type WatchItem<T> = Result<WatchEvent<T>, Box<Status>>;

/// Settings of a [`MemoryServer`].
///
/// ```
/// use std::time::Duration;
/// use reflector::MemoryServerConfig;
///
/// let config = MemoryServerConfig::default()
///     .with_history_len(100)
///     .with_bookmark_interval(None);
/// assert_eq!(config.watch_buffer, 4096);
/// assert_eq!(MemoryServerConfig::default().bookmark_interval, Some(Duration::from_secs(1)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

impl MemoryServerConfig {
    /// Sets [`history_len`](MemoryServerConfig::history_len): how many events the
    /// history keeps.
    #[must_use]
    pub fn with_history_len(mut self, history_len: usize) -> Self {
        self.history_len = history_len;
        self
    }

    /// Sets [`bookmark_interval`](MemoryServerConfig::bookmark_interval): how often an
    /// open watch receives a bookmark, `None` for never.
    #[must_use]
    pub fn with_bookmark_interval(mut self, bookmark_interval: Option<Duration>) -> Self {
        self.bookmark_interval = bookmark_interval;
        self
    }

    /// Sets [`watch_buffer`](MemoryServerConfig::watch_buffer): how many undelivered
    /// events one watch may hold.
    #[must_use]
    pub fn with_watch_buffer(mut self, watch_buffer: usize) -> Self {
        self.watch_buffer = watch_buffer;
        self
    }
}

/// One call a [`MemoryServer`] received, as [`MemoryServer::requests`] records it.
///
/// ```
/// use reflector::sources::memory::RecordedRequest;
/// use reflector::{ListOptions, ListerWatcher, MemoryServer, WatchOptions};
/// # struct Node(u32);
/// # impl store_core::Keyed for Node {
/// #     type Key = u32;
/// #     fn key(&self) -> u32 { self.0 }
/// # }
///
/// let runtime = tokio::runtime::Runtime::new()?;
/// let server = MemoryServer::<Node>::new();
/// server.record_requests();
/// let list = runtime.block_on(server.list(ListOptions::default()))?;
/// let _watch = runtime.block_on(server.watch(list.resource_version, WatchOptions::default()))?;
/// assert_eq!(
///     server.requests(),
///     [
///         RecordedRequest::List(ListOptions::default()),
///         RecordedRequest::Watch { resource_version: "1".into(), options: WatchOptions::default() },
///     ]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedRequest {
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
///     Ok::<(), Box<store_core::Status>>(())
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
    /// Whether requests are recorded (`record_requests`).
    recording: bool,
    /// The most recent requests, oldest first, while recording.
    requests: VecDeque<RecordedRequest>,
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
    /// resource version.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` (409) when its key is taken; nothing is written then.
    pub fn create(&self, obj: impl Into<Arc<T>>) -> Result<ResourceVersion, Box<Status>> {
        self.write(obj.into(), WriteMode::Create)
    }

    /// Replaces a stored object and announces it as [`WatchEvent::Modified`];
    /// answers its resource version.
    ///
    /// # Errors
    ///
    /// `NotFound` (404) when its key is free; nothing is written then.
    pub fn update(&self, obj: impl Into<Arc<T>>) -> Result<ResourceVersion, Box<Status>> {
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
    /// answers the write's resource version.
    ///
    /// # Errors
    ///
    /// `NotFound` (404) when nothing is stored under `key`.
    pub fn delete<Q>(&self, key: &Q) -> Result<ResourceVersion, Box<Status>>
    where
        T::Key: Borrow<Q>,
        Q: Ord + fmt::Display + ?Sized,
    {
        let mut state = self.shared.state.lock();
        let Some(last) = state.objects.remove(key) else {
            return Err(Status::not_found(resource_name::<T>(), &key.to_string()).into());
        };
        let rv = state.next_rv();
        let garbage = state.commit(rv.clone(), |rv| WatchEvent::Deleted(last, rv));
        drop(state);
        drop(garbage);
        Ok(rv)
    }

    /// The one write path: checks the key against `mode`, stamps the object with the
    /// version it is written at ([`Keyed::set_resource_version`], as kube-apiserver's
    /// storage does), stores, commits.
    ///
    /// An object handed over in an `Arc` that is shared elsewhere cannot be changed: it
    /// keeps the version it carries.
    fn write(&self, mut obj: Arc<T>, mode: WriteMode) -> Result<ResourceVersion, Box<Status>> {
        // The key is computed (and allocated) before the lock is taken.
        let key = obj.key();
        let mut state = self.shared.state.lock();
        let rv = state.next_rv();
        if let Some(unshared) = Arc::get_mut(&mut obj) {
            unshared.set_resource_version(rv.as_str());
        }
        let previous = match (state.objects.entry(key), mode) {
            (Entry::Occupied(taken), WriteMode::Create) => {
                let name = taken.key().to_string();
                return Err(Status::already_exists(resource_name::<T>(), &name).into());
            }
            (Entry::Vacant(free), WriteMode::Update) => {
                let name = free.key().to_string();
                return Err(Status::not_found(resource_name::<T>(), &name).into());
            }
            (Entry::Occupied(mut taken), _) => {
                Some(std::mem::replace(taken.get_mut(), Arc::clone(&obj)))
            }
            (Entry::Vacant(free), _) => {
                free.insert(Arc::clone(&obj));
                None
            }
        };
        let garbage = state.commit(rv.clone(), |rv| match previous {
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
}

impl<T: Keyed> State<T> {
    /// The version the next write is made at.
    fn next_rv(&self) -> ResourceVersion {
        format_rv(self.rv + 1)
    }

    /// Makes one event at the next version (`rv`, from [`State::next_rv`]): bumps the
    /// version, hands the event to every open watch and records it. Answers what
    /// compaction pushed out of the history (for the caller to drop after unlocking).
    fn commit(
        &mut self,
        rv: ResourceVersion,
        event: impl FnOnce(ResourceVersion) -> WatchEvent<T>,
    ) -> Option<WatchEvent<T>> {
        self.rv += 1;
        self.rv_string = rv.clone();
        let event = event(rv);
        self.watchers.send(|| Queued::Event(event.clone()));
        self.history.push(self.rv, event).map(|(_, event)| event)
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
    fn list(
        &self,
        options: ListOptions,
    ) -> impl Future<Output = Result<ListPage<T>, Box<Status>>> + Send {
        self.serve_list(options)
    }

    fn watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> impl Future<Output = Result<WatchStream<T>, Box<Status>>> + Send {
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

/// Waits `latency`, if any.
async fn stall(latency: Option<Duration>) {
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
}

/// Parses a requested resource version: `None` for `""` and `"0"` ("any", "now"),
/// the number otherwise, `BadRequest` for anything but decimal digits.
fn parse_rv(rv: &ResourceVersion) -> Result<Option<u64>, Box<Status>> {
    Ok(Revision::requested(rv.as_str())?.map(Revision::get))
}

/// `n` as a resource version (one allocation: this runs on every write).
fn format_rv(n: u64) -> ResourceVersion {
    Revision::new(n).resource_version()
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
