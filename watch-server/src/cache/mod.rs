//! [`WatchCache`]: the current objects and a window of recent events, each written
//! out once and shared by every watcher; fed by a `Reflector` (it is a
//! [`ReflectorStore`](reflector::ReflectorStore)).
//!
//! The cache knows objects, versions and watchers, not HTTP: what a list, a get or
//! a watch request reads from it (`list`, `list_page`, `get`, `open`, `wait_for`)
//! is answered on the wire by [`http`](crate::http). `event` holds the window's
//! `Event` and the lines it is sent as; `write` is how a reflector writes in (the
//! [`ReflectorStore`](reflector::ReflectorStore) impl); `error`: [`WatchCacheError`],
//! what it refuses a write with.

pub(crate) mod entry;
pub mod error;
pub(crate) mod event;
#[cfg(test)]
pub(crate) mod fixtures;
mod write;

pub use error::WatchCacheError;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serve::{Fanout, History, ListSnapshots};
use store_core::Status;
use tokio::sync::{mpsc, watch};

use crate::cache::entry::Entry;
use crate::cache::event::Event;
use crate::resource::ServedResource;
use crate::selector::Filter;

/// How a [`WatchCache`] keeps its window and buffers.
///
/// ```
/// use watch_server::WatchCacheConfig;
///
/// let config = WatchCacheConfig::default().with_window(100).with_watch_buffer(16);
/// assert_eq!(config.list_snapshots, 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchCacheConfig {
    /// How many recent events are kept for watches that resume from an older
    /// resource version (default 10 000); a watch from before the window gets a 410.
    pub window: usize,
    /// How many events one watcher may have queued (default 1024); a watcher that
    /// falls further behind is closed (it re-watches from its last version) and
    /// counted.
    pub watch_buffer: usize,
    /// How many paginated lists may be in progress at once (default 64); the
    /// continue token of an evicted one answers 410.
    pub list_snapshots: usize,
}

impl Default for WatchCacheConfig {
    fn default() -> Self {
        WatchCacheConfig {
            window: 10_000,
            watch_buffer: 1024,
            list_snapshots: 64,
        }
    }
}

impl WatchCacheConfig {
    /// Sets [`window`](WatchCacheConfig::window): how many recent events are kept.
    #[must_use]
    pub fn with_window(mut self, window: usize) -> Self {
        self.window = window;
        self
    }

    /// Sets [`watch_buffer`](WatchCacheConfig::watch_buffer): how many events one
    /// watcher may have queued.
    #[must_use]
    pub fn with_watch_buffer(mut self, watch_buffer: usize) -> Self {
        self.watch_buffer = watch_buffer;
        self
    }

    /// Sets [`list_snapshots`](WatchCacheConfig::list_snapshots): how many paginated
    /// lists may be in progress at once.
    #[must_use]
    pub fn with_list_snapshots(mut self, list_snapshots: usize) -> Self {
        self.list_snapshots = list_snapshots;
        self
    }
}

/// The key objects are sorted by: namespace (empty when cluster-scoped), then name,
/// as kube-apiserver lists them.
type SortKey = (String, String);

/// What a watcher receives.
pub(crate) enum Message<T> {
    /// An event of the window.
    Event(Arc<Event<T>>),
    /// The cache reached this version (sent about every second to watchers that
    /// allowed bookmarks; they decide how often to pass one on).
    Bookmark(u64),
}

/// What one list answers.
pub(crate) struct Listed<T> {
    pub(crate) items: Vec<Arc<Entry<T>>>,
    pub(crate) rv: u64,
    pub(crate) continue_token: Option<String>,
    pub(crate) remaining: usize,
}

/// Where a new watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchStart {
    /// Every event after this version, from the window, then live.
    After(u64),
    /// The current objects as `ADDED` (optionally followed by the initial-events-end
    /// bookmark), then live.
    State { end_bookmark: bool },
}

/// A watch just opened: what to send first, then its live messages.
pub(crate) struct Opened<T> {
    pub(crate) replay: Vec<Arc<Event<T>>>,
    pub(crate) state: Vec<Arc<Entry<T>>>,
    /// The version of the state (the end bookmark's version).
    pub(crate) rv: u64,
    pub(crate) receiver: mpsc::Receiver<Message<T>>,
}

impl<T> fmt::Debug for Opened<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("replay", &self.replay.len())
            .field("state", &self.state.len())
            .field("rv", &self.rv)
            .finish_non_exhaustive()
    }
}

/// A watch cache of `T`: the current objects plus a window of the last events,
/// each written out once (`bytes::Bytes`) and shared by every watcher — the
/// kube-apiserver "cacher" role. Feed it with a
/// [`Reflector`](reflector::Reflector) from any source (it is a
/// [`ReflectorStore`](reflector::ReflectorStore)); serve it with a [`WatchServer`](crate::WatchServer).
///
/// Resource versions must be decimal numbers that grow with every event, as
/// kube-apiserver requires (MemoryServer and etcd revisions are); an event that does
/// not advance is refused ([`WatchCacheError::InvalidResourceVersion`], reported by the
/// reflector). A relist (`Change::Replaced`) replaces the state, empties the window
/// and closes every watch, as kube-apiserver's cacher does: watchers re-watch, and
/// one from before the new state gets a 410 and relists.
///
/// ```
/// use std::sync::Arc;
/// use reflector::{Change, ReflectorStore};
/// use watch_server::{ConfigMap, WatchCache};
///
/// let cache = WatchCache::<ConfigMap>::default();
/// assert!(!cache.is_ready());
/// cache.apply(Change::Replaced(vec![Arc::new(ConfigMap::new("default", "a"))], "5".into()))?;
/// cache.apply(Change::Added(Arc::new(ConfigMap::new("default", "b")), "6".into()))?;
/// assert!(cache.is_ready());
/// assert_eq!((cache.len(), cache.resource_version()), (2, 6));
/// # Ok::<(), reflector::StoreError>(())
/// ```
pub struct WatchCache<T: ServedResource> {
    inner: Arc<Inner<T>>,
}

struct Inner<T: ServedResource> {
    config: WatchCacheConfig,
    state: Mutex<State<T>>,
    /// The current version, for requests that wait until the cache is fresh enough.
    version: watch::Sender<u64>,
    /// Events applied since the start.
    events: AtomicU64,
    /// Relists applied since the start.
    relists: AtomicU64,
}

struct State<T: ServedResource> {
    /// Whether the first list arrived.
    ready: bool,
    /// The current version.
    rv: u64,
    objects: BTreeMap<SortKey, Arc<Entry<T>>>,
    history: History<Arc<Event<T>>>,
    watchers: Fanout<Message<T>>,
    snapshots: ListSnapshots<Arc<Entry<T>>>,
}

/// Counters of a [`WatchCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchCacheStats {
    /// Objects stored.
    pub objects: usize,
    /// The current resource version.
    pub resource_version: u64,
    /// Events in the window.
    pub window: usize,
    /// Open watches.
    pub watchers: usize,
    /// Watchers closed, since the start, for falling behind.
    pub slow_watchers_closed: u64,
    /// Events applied since the start.
    pub events: u64,
    /// Relists applied since the start (the first list counts).
    pub relists: u64,
}

impl<T: ServedResource> Default for WatchCache<T> {
    fn default() -> Self {
        Self::new(WatchCacheConfig::default())
    }
}

impl<T: ServedResource> Clone for WatchCache<T> {
    /// Another handle to the same cache.
    fn clone(&self) -> Self {
        WatchCache {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: ServedResource> fmt::Debug for WatchCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchCache")
            .field("resource", &T::PLURAL)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<T: ServedResource> WatchCache<T> {
    /// An empty cache, not ready until its first list.
    pub fn new(config: WatchCacheConfig) -> Self {
        let state = State {
            ready: false,
            rv: 0,
            objects: BTreeMap::new(),
            history: History::new(config.window, 0),
            watchers: Fanout::new(config.watch_buffer),
            snapshots: ListSnapshots::new(config.list_snapshots),
        };
        WatchCache {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
                version: watch::Sender::new(0),
                events: AtomicU64::new(0),
                relists: AtomicU64::new(0),
            }),
        }
    }

    /// The settings it was built with.
    pub fn config(&self) -> &WatchCacheConfig {
        &self.inner.config
    }

    /// Whether the first list arrived (until then requests answer 429).
    pub fn is_ready(&self) -> bool {
        self.inner.state.lock().ready
    }

    /// The current resource version (0 before the first list).
    pub fn resource_version(&self) -> u64 {
        self.inner.state.lock().rv
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.inner.state.lock().objects.len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its counters.
    pub fn stats(&self) -> WatchCacheStats {
        let state = self.inner.state.lock();
        WatchCacheStats {
            objects: state.objects.len(),
            resource_version: state.rv,
            window: state.history.len(),
            watchers: state.watchers.len(),
            slow_watchers_closed: state.watchers.slow_dropped(),
            events: self.inner.events.load(Ordering::Relaxed),
            relists: self.inner.relists.load(Ordering::Relaxed),
        }
    }

    /// Closes every open watch (their streams end cleanly; clients re-watch).
    pub fn close_watches(&self) -> usize {
        self.inner.state.lock().watchers.close_all(None)
    }

    /// Sends the current version to every watcher that allowed bookmarks (the
    /// server calls this about every second).
    pub(crate) fn tick_bookmarks(&self) {
        let mut state = self.inner.state.lock();
        if state.ready {
            let rv = state.rv;
            state.watchers.send_bookmark(|| Message::Bookmark(rv));
        }
    }

    /// One object by namespace and name.
    pub(crate) fn get(&self, namespace: Option<&str>, name: &str) -> Option<Arc<Entry<T>>> {
        let key = (namespace.unwrap_or_default().to_owned(), name.to_owned());
        self.inner.state.lock().objects.get(&key).cloned()
    }

    /// Waits up to `wait` until the cache is at `rv` or later; 504
    /// `ResourceVersionTooLarge` if it is not by then.
    pub(crate) async fn wait_for(&self, rv: u64, wait: Duration) -> Result<(), Box<Status>> {
        let mut version = self.inner.version.subscribe();
        let reached = tokio::time::timeout(wait, version.wait_for(|&current| current >= rv)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let current = *self.inner.version.borrow();
                Err(
                    Status::too_large_resource_version(&rv.to_string(), &current.to_string(), 1)
                        .into(),
                )
            }
        }
    }

    /// The current objects `filter` selects, at most `limit` (the rest is kept for
    /// the continue token's pages).
    pub(crate) fn list(&self, filter: &Filter, limit: Option<usize>) -> Listed<T> {
        let mut state = self.inner.state.lock();
        let items = matching(&state.objects, filter);
        let rv = state.rv;
        match limit.filter(|&limit| limit < items.len()) {
            Some(limit) => {
                let remaining = items.len() - limit;
                let items: Arc<[Arc<Entry<T>>]> = items.into();
                let token = state.snapshots.keep(rv, Arc::clone(&items), limit);
                drop(state);
                Listed {
                    items: items[..limit].to_vec(),
                    rv,
                    continue_token: Some(token),
                    remaining,
                }
            }
            None => Listed {
                items,
                rv,
                continue_token: None,
                remaining: 0,
            },
        }
    }

    /// A later page of a paginated list.
    pub(crate) fn list_page(
        &self,
        token: &str,
        limit: Option<usize>,
    ) -> Result<Listed<T>, Box<Status>> {
        let mut state = self.inner.state.lock();
        let compacted = state.history.compacted();
        let page = state.snapshots.page(token, limit, compacted)?;
        Ok(Listed {
            items: page.items,
            rv: page.rv,
            continue_token: page.continue_token,
            remaining: 0,
        })
    }

    /// Opens a watch: what to send first and the live messages after it, read and
    /// registered under one lock so nothing is missed or sent twice.
    pub(crate) fn open(
        &self,
        start: WatchStart,
        filter: &Filter,
        bookmarks: bool,
    ) -> Result<Opened<T>, Box<Status>> {
        let mut state = self.inner.state.lock();
        let (replay, objects) = match start {
            WatchStart::After(rv) if rv > state.rv => {
                return Err(Status::too_large_resource_version(
                    &rv.to_string(),
                    &state.rv.to_string(),
                    1,
                )
                .into())
            }
            WatchStart::After(rv) => (state.history.since(rv)?.cloned().collect(), Vec::new()),
            WatchStart::State { .. } => (Vec::new(), matching(&state.objects, filter)),
        };
        let receiver = state.watchers.subscribe(bookmarks);
        Ok(Opened {
            replay,
            state: objects,
            rv: state.rv,
            receiver,
        })
    }
}

fn matching<T>(objects: &BTreeMap<SortKey, Arc<Entry<T>>>, filter: &Filter) -> Vec<Arc<Entry<T>>>
where
    T: ServedResource,
{
    let selected = |entry: &&Arc<Entry<T>>| filter.matches(&*entry.object);
    match &filter.namespace {
        Some(namespace) => objects
            .range((namespace.clone(), String::new())..)
            .take_while(|((ns, _), _)| ns == namespace)
            .map(|(_, entry)| entry)
            .filter(selected)
            .cloned()
            .collect(),
        None => objects.values().filter(selected).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::fixtures::{cm, ready};
    use reflector::{Change, ReflectorStore, StoreError};

    #[test]
    fn the_window_expires_old_versions_and_a_relist_resets_it() {
        let cache = ready(vec![], "10");
        for rv in 11..=15 {
            cache
                .apply(Change::Added(
                    cm("a", &rv.to_string(), "web"),
                    rv.to_string().into(),
                ))
                .unwrap();
        }
        assert!(cache
            .open(WatchStart::After(11), &Filter::default(), false)
            .unwrap_err()
            .is_expired());
        assert_eq!(
            cache
                .open(WatchStart::After(12), &Filter::default(), false)
                .unwrap()
                .replay
                .len(),
            3
        );
        assert!(cache
            .open(WatchStart::After(16), &Filter::default(), false)
            .unwrap_err()
            .is_too_large_resource_version());
        let mut live = cache
            .open(WatchStart::After(15), &Filter::default(), false)
            .unwrap()
            .receiver;
        cache
            .apply(Change::Replaced(vec![cm("a", "z", "web")], "20".into()))
            .unwrap();
        assert!(live.try_recv().is_err(), "a relist closes every watch");
        assert!(cache
            .open(WatchStart::After(15), &Filter::default(), false)
            .unwrap_err()
            .is_expired());
        assert_eq!(cache.stats().relists, 2);
    }

    #[test]
    fn events_that_do_not_advance_or_have_no_number_are_refused() {
        let cache = ready(vec![], "10");
        let refusal = |answer: Result<(), StoreError>| match answer {
            Err(StoreError::Other(error)) => error.downcast_ref::<WatchCacheError>().cloned(),
            _ => None,
        };
        let stale = cache.apply(Change::Added(cm("a", "x", "web"), "10".into()));
        assert!(matches!(
            refusal(stale),
            Some(WatchCacheError::InvalidResourceVersion { .. })
        ));
        let bad = cache.apply(Change::Added(cm("a", "x", "web"), "abc".into()));
        assert!(matches!(
            refusal(bad),
            Some(WatchCacheError::InvalidResourceVersion { .. })
        ));
        assert!(cache.is_empty());
    }

    #[test]
    fn paginated_lists_are_served_from_one_snapshot() {
        let cache = ready(
            (0..5).map(|n| cm("a", &format!("o{n}"), "web")).collect(),
            "10",
        );
        let first = cache.list(&Filter::default(), Some(2));
        assert_eq!((first.items.len(), first.remaining), (2, 3));
        cache
            .apply(Change::Added(cm("a", "late", "web"), "11".into()))
            .unwrap();
        let second = cache
            .list_page(first.continue_token.as_deref().unwrap(), Some(10))
            .unwrap();
        assert_eq!(
            (second.items.len(), second.rv, second.continue_token),
            (3, 10, None)
        );
        let namespaced = cache.list(
            &Filter {
                namespace: Some("a".into()),
                ..Filter::default()
            },
            None,
        );
        assert_eq!(namespaced.items.len(), 6);
    }

    #[test]
    fn slow_watchers_are_closed_and_counted() {
        let cache = ready(vec![], "10");
        let mut slow = cache
            .open(WatchStart::After(10), &Filter::default(), false)
            .unwrap()
            .receiver;
        for rv in 11..=13 {
            cache
                .apply(Change::Added(
                    cm("a", &rv.to_string(), "web"),
                    rv.to_string().into(),
                ))
                .unwrap();
        }
        assert_eq!(cache.stats().slow_watchers_closed, 1);
        assert!(slow.try_recv().is_ok() && slow.try_recv().is_ok());
        assert!(slow.try_recv().is_err());
    }
}
