//! The watch: one watch from the last synced version (or the one a streaming list
//! left open) applied event by event to the store, with resyncs, until it ends; how
//! it ended decides what the reflector does next.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use store_core::{Keyed, ResourceVersion, Status};
use tokio::time::{Instant, Interval};
use tokio_util::sync::CancellationToken;

use super::backoff::InternalErrorRetry;
use super::Reflector;
use crate::error::ReflectorError;
use crate::source::{ListerWatcher, WatchEvent, WatchOptions, WatchStream};
use crate::store::{Change, ReflectorStore};

/// What to do after a watch ends.
pub(super) enum Next {
    /// Watch again at once (a clean close).
    Rewatch,
    /// Back off, then watch again (refused connection, throttling).
    RewatchAfterBackoff,
    /// Back off, then list again.
    Relist,
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

impl<T, L, S> Reflector<T, L, S>
where
    T: Keyed + Send + Sync + 'static,
    L: ListerWatcher<T>,
    S: ReflectorStore<T>,
{
    /// One watch from `resource_version` (or the one a streaming list `opened`) to
    /// its end, with what to do next (`None`: shut down). The caller waits out any
    /// backoff.
    pub(super) async fn watch_once(
        &self,
        resource_version: &ResourceVersion,
        shutdown: &CancellationToken,
        resync: &mut Option<Interval>,
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
                            status,
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
        resync: &mut Option<Interval>,
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
                Some(Err(status)) => return WatchEnd::Failed(status),
                Some(Ok(WatchEvent::Error(status))) => return WatchEnd::Failed(status),
                Some(Ok(event)) => event,
            };
            events += 1;
            let change = match event {
                WatchEvent::Added(obj, rv) => Change::Added(obj, rv),
                WatchEvent::Modified(obj, rv) => Change::Modified(obj, rv),
                WatchEvent::Deleted(obj, rv) => Change::Deleted(obj, rv),
                WatchEvent::Bookmark(rv) | WatchEvent::InitialEventsEnd(rv) => Change::Bookmark(rv),
                WatchEvent::Error(status) => return WatchEnd::Failed(status),
            };
            let resource_version = change.resource_version().cloned();
            if let Err(error) = self.store.apply(change) {
                self.report(ReflectorError::Store(error));
            }
            if let Some(resource_version) = resource_version {
                self.set_last_synced(resource_version);
            }
        }
    }

    pub(super) fn watch_options(&self, send_initial_events: bool) -> WatchOptions {
        WatchOptions {
            timeout: Some(self.watch_timeout()),
            allow_bookmarks: self.config.bookmarks || send_initial_events,
            source_id: self.source_id.lock().clone(),
            send_initial_events,
        }
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
}

/// Re-watch for a refused connection or throttling; relist for everything else.
fn classify(status: &Status) -> Next {
    if status.is_service_unavailable() || status.is_too_many_requests() {
        Next::RewatchAfterBackoff
    } else {
        Next::Relist
    }
}

/// The next resync tick, or never.
async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The resync clock: its first tick one `period` from now; a late tick delays the
/// next ones rather than bunching them.
pub(super) fn resync_clock(period: Duration) -> Option<Interval> {
    // Zero means "never", as client-go reads a resync period of 0; a period past what
    // the clock can count is never reached either.
    if period.is_zero() {
        return None;
    }
    let first = Instant::now().checked_add(period)?;
    let mut interval = tokio::time::interval_at(first, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    Some(interval)
}
