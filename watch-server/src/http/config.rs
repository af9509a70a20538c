//! [`ServerConfig`]: how a [`WatchServer`](crate::http::WatchServer) serves — its
//! limits and timings, each with kube-apiserver's default.

use std::time::Duration;

/// How a [`WatchServer`](crate::http::WatchServer) serves.
///
/// ```
/// use std::time::Duration;
/// use watch_server::ServerConfig;
///
/// let config = ServerConfig::default()
///     .with_max_watchers(100)
///     .with_bookmark_interval(Duration::from_secs(5));
/// assert_eq!(config.freshness_wait, Duration::from_secs(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The most watches open at once over every resource (default 10 000); past it a
    /// watch answers 429 with `Retry-After: 1`.
    pub max_watchers: usize,
    /// How long a request for a resource version the cache has not reached waits
    /// before it answers 504 `ResourceVersionTooLarge` (default 3 s, as
    /// kube-apiserver).
    pub freshness_wait: Duration,
    /// How often a watch that allowed bookmarks receives one (default 60 s, as
    /// kube-apiserver).
    pub bookmark_interval: Duration,
    /// The watch timeout when the request sets none: drawn in [t, 2t) (default
    /// t = 30 min, kube-apiserver's `--min-request-timeout`).
    pub default_watch_timeout: Duration,
    /// The `gitVersion` `/version` reports.
    pub version: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_watchers: 10_000,
            freshness_wait: Duration::from_secs(3),
            bookmark_interval: Duration::from_secs(60),
            default_watch_timeout: Duration::from_secs(1800),
            version: "v1.34.0-watch-server".to_owned(),
        }
    }
}

impl ServerConfig {
    /// Sets [`max_watchers`](ServerConfig::max_watchers): the most watches open at
    /// once.
    #[must_use]
    pub fn with_max_watchers(mut self, max_watchers: usize) -> Self {
        self.max_watchers = max_watchers;
        self
    }

    /// Sets [`freshness_wait`](ServerConfig::freshness_wait): how long a request for
    /// a version not yet reached waits.
    #[must_use]
    pub fn with_freshness_wait(mut self, freshness_wait: Duration) -> Self {
        self.freshness_wait = freshness_wait;
        self
    }

    /// Sets [`bookmark_interval`](ServerConfig::bookmark_interval): how often a watch
    /// that allowed bookmarks receives one.
    #[must_use]
    pub fn with_bookmark_interval(mut self, bookmark_interval: Duration) -> Self {
        self.bookmark_interval = bookmark_interval;
        self
    }

    /// Sets [`default_watch_timeout`](ServerConfig::default_watch_timeout): the watch
    /// timeout when the request sets none.
    #[must_use]
    pub fn with_default_watch_timeout(mut self, default_watch_timeout: Duration) -> Self {
        self.default_watch_timeout = default_watch_timeout;
        self
    }

    /// Sets [`version`](ServerConfig::version): the `gitVersion` `/version` reports.
    #[must_use]
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }
}
