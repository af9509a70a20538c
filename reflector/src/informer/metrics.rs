//! The informer's metrics: client-go's three (KEP-4346: queued items, processing
//! latency, store resource version) plus relists, watch restarts and handler
//! backlog, as plain accessors ([`InformerMetrics`]) and through the `metrics` facade.

use std::time::Duration;

use parking_lot::Mutex;
use store_core::ResourceVersion;

/// A snapshot of an informer's metrics ([`Informer::metrics`](crate::Informer::metrics)).
///
/// Through the `metrics` facade (no exporter built in: install one, e.g.
/// `metrics-exporter-prometheus`), each labelled `name` (the informer's
/// [name](crate::InformerBuilder::with_name)):
///
/// | facade name | kind | what |
/// |---|---|---|
/// | `informer_queued_items` | gauge | entries waiting in the informer's queue |
/// | `informer_processing_latency_seconds` | histogram | time to apply one popped batch and hand it to the handlers |
/// | `informer_store_resource_version` | gauge | the cache's resource version (its 15 least significant digits, as client-go) |
/// | `informer_handler_backlog` | gauge, also labelled `handler` | notifications a handler has not handled yet |
/// | `reflector_relists_total` | counter | lists after the first |
/// | `reflector_watch_restarts_total` | counter | watches opened after the first |
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct InformerMetrics {
    /// Entries waiting in the queue (client-go's `queued_items`: deltas for RealFIFO).
    pub queued_items: usize,
    /// The cache's resource version: of the newest batch applied that carried one
    /// (a watch event, a relist, a bookmark).
    pub store_resource_version: Option<ResourceVersion>,
    /// How long applying and fanning out batches took.
    pub processing_latency: LatencySummary,
    /// Events applied to the cache (a `ReplacedAll` counts its objects).
    pub events_processed: u64,
    /// Lists after the first.
    pub relists: u64,
    /// Watches opened after the first.
    pub watch_restarts: u64,
    /// Notifications queued for handlers and not handled yet, all handlers together.
    pub handler_backlog: u64,
}

/// Count, total and maximum of the batches' processing times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Batches processed.
    pub count: u64,
    /// Their processing time, together.
    pub total: Duration,
    /// The longest.
    pub max: Duration,
}

impl LatencySummary {
    /// The mean processing time of a batch (zero before the first).
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count) {
            Ok(0) => Duration::ZERO,
            Ok(count) => self.total / count,
            Err(_) => Duration::from_secs_f64(self.total.as_secs_f64() / self.count as f64),
        }
    }
}

/// What the processing task records, under one lock (taken once per batch).
#[derive(Default)]
pub(super) struct Recorded {
    inner: Mutex<RecordedInner>,
}

#[derive(Default)]
struct RecordedInner {
    store_resource_version: Option<ResourceVersion>,
    latency: LatencySummary,
    events: u64,
}

impl Recorded {
    /// One batch done: `events` applied in `took`, the cache now at `rv` (if known).
    pub(super) fn batch(
        &self,
        name: &str,
        events: usize,
        took: Duration,
        rv: Option<&ResourceVersion>,
        queued: usize,
    ) {
        {
            let mut inner = self.inner.lock();
            inner.latency.count += 1;
            inner.latency.total += took;
            inner.latency.max = inner.latency.max.max(took);
            inner.events += events as u64;
            if let Some(rv) = rv {
                inner.store_resource_version = Some(rv.clone());
            }
        }
        let name = name.to_owned();
        metrics::histogram!("informer_processing_latency_seconds", "name" => name.clone())
            .record(took.as_secs_f64());
        metrics::gauge!("informer_queued_items", "name" => name.clone()).set(queued as f64);
        if let Some(value) = rv.and_then(|rv| gauge_value(rv.as_str())) {
            metrics::gauge!("informer_store_resource_version", "name" => name).set(value);
        }
    }

    pub(super) fn fill(&self, metrics: &mut InformerMetrics) {
        let inner = self.inner.lock();
        metrics.store_resource_version = inner.store_resource_version.clone();
        metrics.processing_latency = inner.latency;
        metrics.events_processed = inner.events;
    }
}

/// A numeric resource version as a gauge value: its 15 least significant digits (an
/// f64 holds those exactly), as client-go publishes it. `None` for an opaque one.
pub(super) fn gauge_value(rv: &str) -> Option<f64> {
    if rv.is_empty() || !rv.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tail = &rv[rv.len().saturating_sub(15)..];
    tail.parse::<u64>().ok().map(|value| value as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_version_gauge_keeps_fifteen_digits() {
        assert_eq!(gauge_value("42"), Some(42.0));
        assert_eq!(gauge_value("1234567890123456789"), Some(567890123456789.0));
        assert_eq!(gauge_value("abc"), None);
        assert_eq!(gauge_value(""), None);
    }

    #[test]
    fn the_mean_of_no_batch_is_zero() {
        assert_eq!(LatencySummary::default().mean(), Duration::ZERO);
        let summary = LatencySummary {
            count: 4,
            total: Duration::from_millis(8),
            max: Duration::from_millis(5),
        };
        assert_eq!(summary.mean(), Duration::from_millis(2));
    }
}
