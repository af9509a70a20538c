//! [`ReflectorConfig`]: how a reflector lists, watches and backs off, and
//! [`RelistMode`]: how a relist reaches the store. The defaults are client-go's.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::backoff::BackoffConfig;

/// How a [`Reflector`](super::Reflector) lists, watches and backs off. `Default` is client-go's.
///
/// Built from the defaults with one `with_*` setter per field (the fields stay
/// readable; the struct is `#[non_exhaustive]`, so new settings are not a breaking
/// change):
///
/// ```
/// use std::time::Duration;
/// use reflector::{BackoffConfig, ReflectorConfig, RelistMode};
///
/// let config = ReflectorConfig::default()
///     .with_page_size(Some(40))
///     .with_streaming_list(true)
///     .with_relist_mode(RelistMode::InPlace)
///     .with_backoff(BackoffConfig::default().with_jitter(false));
/// assert_eq!(config.page_size, Some(40));
/// assert_eq!(config.min_watch_duration, Duration::from_secs(1));
/// assert!(!config.backoff.jitter);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
    /// How long a list answer may bring nothing — neither its start nor, for a source
    /// that streams it in ([`ListerWatcher::list_stream`]), its next objects — before
    /// the list fails (a `Timeout` status, reported) and is retried after a backoff: a
    /// server that stalls mid-answer cannot hold a reflector forever. An atomic list
    /// applies nothing of what it took; a relist in place is completed by the next
    /// list. `None` (or zero): wait as long as it takes. Default 60 s (kube-apiserver's own
    /// limit for a request that is not a watch).
    ///
    /// [`ListerWatcher::list_stream`]: crate::source::ListerWatcher::list_stream
    pub list_timeout: Option<Duration>,
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
    /// Zero means never too (client-go's reading of a resync period of 0), and so does
    /// a period longer than the clock can count.
    ///
    /// [`Change::Resync`]: crate::store::Change::Resync
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
    ///
    /// [`WatchOptions::send_initial_events`]: crate::source::WatchOptions::send_initial_events
    /// [`WatchEvent::InitialEventsEnd`]: crate::source::WatchEvent::InitialEventsEnd
    /// [`ReflectorError::StreamingListStalled`]: crate::error::ReflectorError::StreamingListStalled
    pub streaming_list: bool,
    /// How a relist (any list after the first) reaches the store; see [`RelistMode`].
    /// Default [`RelistMode::InPlace`] (peak memory about 1× the steady state, as
    /// client-go's informers); [`RelistMode::Atomic`] for a store whose readers must
    /// never see a relist half done.
    pub relist_mode: RelistMode,
    /// On a multi-thread runtime, run the reflector on a thread of its own (with a
    /// current-thread runtime) rather than on the caller's workers. Default `true`.
    ///
    /// Every list is decoded where the reflector runs; on one thread for its whole
    /// life, every list allocates from one malloc arena, so the memory a relist frees
    /// (the objects it replaces) is the memory the next objects reuse. Spread over the
    /// workers of a multi-thread runtime, glibc's one arena per thread keeps the freed
    /// memory in the first list's arena while the relist grows another: measured 1.9–2.0×
    /// the steady memory at the peak of a relist in place, against 1.02× on one thread
    /// (`BENCHMARKS.md`, "Relist memory"). The source's requests still go through the
    /// caller's runtime where the source's client lives (a kube `Client`, a tonic
    /// channel): only the reflector's own work moves.
    ///
    /// On a current-thread runtime (where everything already runs on one thread, and
    /// where tokio's paused test clock lives) the reflector runs inline whatever this
    /// says; `false` runs it inline on a multi-thread runtime too.
    pub own_thread: bool,
}

/// How a relist reaches the store (DESIGN §10). The default is [`InPlace`](RelistMode::InPlace).
///
/// The first list always fills the store with one replace: the store is empty, so
/// nothing is held twice.
///
/// Before 0.2 the default was `Atomic`; for a [`Cache`](store_core::Cache)
/// whose readers must see the whole old list or the whole new one, ask for it:
///
/// ```
/// use reflector::{ReflectorConfig, RelistMode};
///
/// let config = ReflectorConfig::default().with_relist_mode(RelistMode::Atomic);
/// assert_eq!(config.relist_mode, RelistMode::Atomic);
/// assert_eq!(ReflectorConfig::default().relist_mode, RelistMode::InPlace);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelistMode {
    /// The whole list is gathered, then handed to the store as one `Replaced`: a
    /// [`Cache`](store_core::Cache) reader never sees a half-relisted store, but the
    /// old content and the whole new list are held at once (about 2× the steady
    /// memory at the peak).
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
    /// replaced ones free. glibc's default of one arena per thread does when every
    /// list is decoded on one thread, which is what
    /// [`own_thread`](ReflectorConfig::own_thread) (on by default) ensures on a
    /// multi-thread runtime; with it off, a relist decoded on another worker than the
    /// first list peaks at about 2× (measured 1.93–1.96× instead of 1.01–1.05×;
    /// `BENCHMARKS.md`).
    ///
    /// This is how client-go's informers relist (their indexer is written delta by
    /// delta), and what an [`Informer`](crate::Informer)'s handlers see either way.
    ///
    /// [`ReflectorStore::supports_in_place_relist`]: crate::store::ReflectorStore::supports_in_place_relist
    #[default]
    InPlace,
}

impl Default for ReflectorConfig {
    fn default() -> Self {
        ReflectorConfig {
            page_size: Some(500),
            list_timeout: Some(Duration::from_secs(60)),
            always_paginate: false,
            watch_timeout: Duration::from_secs(300)..=Duration::from_secs(600),
            min_watch_duration: Duration::from_secs(1),
            bookmarks: true,
            resync_period: None,
            backoff: BackoffConfig::default(),
            internal_error_retry: Duration::ZERO,
            streaming_list: false,
            relist_mode: RelistMode::InPlace,
            own_thread: true,
        }
    }
}

impl ReflectorConfig {
    /// Sets [`page_size`](ReflectorConfig::page_size): objects per list page, `None`
    /// for one answer.
    #[must_use]
    pub fn with_page_size(mut self, page_size: Option<usize>) -> Self {
        self.page_size = page_size;
        self
    }

    /// Sets [`list_timeout`](ReflectorConfig::list_timeout): how long a list answer
    /// may bring nothing before it fails; `None` for no limit.
    #[must_use]
    pub fn with_list_timeout(mut self, list_timeout: Option<Duration>) -> Self {
        self.list_timeout = list_timeout;
        self
    }

    /// Sets [`always_paginate`](ReflectorConfig::always_paginate): paginate lists at
    /// every version.
    #[must_use]
    pub fn with_always_paginate(mut self, always_paginate: bool) -> Self {
        self.always_paginate = always_paginate;
        self
    }

    /// Sets [`watch_timeout`](ReflectorConfig::watch_timeout): the range each watch's
    /// timeout is drawn from.
    #[must_use]
    pub fn with_watch_timeout(mut self, watch_timeout: RangeInclusive<Duration>) -> Self {
        self.watch_timeout = watch_timeout;
        self
    }

    /// Sets [`min_watch_duration`](ReflectorConfig::min_watch_duration): how short an
    /// empty, cleanly ended watch counts as an error.
    #[must_use]
    pub fn with_min_watch_duration(mut self, min_watch_duration: Duration) -> Self {
        self.min_watch_duration = min_watch_duration;
        self
    }

    /// Sets [`bookmarks`](ReflectorConfig::bookmarks): whether to ask the source for
    /// bookmarks.
    #[must_use]
    pub fn with_bookmarks(mut self, bookmarks: bool) -> Self {
        self.bookmarks = bookmarks;
        self
    }

    /// Sets [`resync_period`](ReflectorConfig::resync_period): how often the store is
    /// handed a resync, `None` for never.
    #[must_use]
    pub fn with_resync_period(mut self, resync_period: Option<Duration>) -> Self {
        self.resync_period = resync_period;
        self
    }

    /// Sets [`backoff`](ReflectorConfig::backoff): the waits after failures.
    #[must_use]
    pub fn with_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets [`internal_error_retry`](ReflectorConfig::internal_error_retry): how long
    /// a watch failing with `InternalError` is retried before a relist.
    #[must_use]
    pub fn with_internal_error_retry(mut self, internal_error_retry: Duration) -> Self {
        self.internal_error_retry = internal_error_retry;
        self
    }

    /// Sets [`streaming_list`](ReflectorConfig::streaming_list): whether to sync with
    /// a streaming list (watch-list) instead of a list.
    #[must_use]
    pub fn with_streaming_list(mut self, streaming_list: bool) -> Self {
        self.streaming_list = streaming_list;
        self
    }

    /// Sets [`relist_mode`](ReflectorConfig::relist_mode): how a relist reaches the
    /// store.
    #[must_use]
    pub fn with_relist_mode(mut self, relist_mode: RelistMode) -> Self {
        self.relist_mode = relist_mode;
        self
    }

    /// Sets [`own_thread`](ReflectorConfig::own_thread): whether, on a multi-thread
    /// runtime, the reflector runs on a thread of its own.
    #[must_use]
    pub fn with_own_thread(mut self, own_thread: bool) -> Self {
        self.own_thread = own_thread;
        self
    }
}
