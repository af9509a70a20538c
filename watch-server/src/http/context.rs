//! What every request shares: the [`ServerConfig`], the counters behind
//! [`ServerStats`], and the token that ends every watch at shutdown.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;

use crate::http::config::ServerConfig;

/// Counters of a [`WatchServer`](crate::http::WatchServer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Watches open now.
    pub open_watches: usize,
    /// Watches opened since the start.
    pub watches: u64,
    /// List and get requests answered.
    pub lists: u64,
    /// Requests refused with a 4xx or 5xx answer (bad parameters, unknown paths,
    /// over the watch limit, not ready, …).
    pub refused: u64,
}

/// The live counters [`ServerStats`] reads (relaxed: each is a tally, none orders
/// anything).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) open_watches: AtomicUsize,
    pub(crate) watches: AtomicU64,
    pub(crate) lists: AtomicU64,
    pub(crate) refused: AtomicU64,
}

impl Counters {
    /// Their values now.
    pub(crate) fn stats(&self) -> ServerStats {
        ServerStats {
            open_watches: self.open_watches.load(Ordering::Relaxed),
            watches: self.watches.load(Ordering::Relaxed),
            lists: self.lists.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// What every request shares.
pub(crate) struct Context {
    pub(crate) config: ServerConfig,
    pub(crate) counters: Counters,
    /// Cancelled when the server stops: every watch stream then ends cleanly.
    pub(crate) shutdown: CancellationToken,
}

impl Context {
    /// A server's context, with no request counted yet.
    pub(crate) fn new(config: ServerConfig) -> Self {
        Context {
            config,
            counters: Counters::default(),
            shutdown: CancellationToken::new(),
        }
    }
}
