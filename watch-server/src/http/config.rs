//! [`ServerConfig`]: how a [`WatchServer`](crate::http::WatchServer) serves — its
//! limits and timings, each with kube-apiserver's default.

use std::time::Duration;

/// How a [`WatchServer`](crate::http::WatchServer) serves.
#[derive(Debug, Clone, PartialEq, Eq)]
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
