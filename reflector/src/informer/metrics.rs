//! The informer's metrics: client-go's three (KEP-4346: queued items, processing
//! latency, store resource version) plus relists, watch restarts and handler
//! backlog, as plain accessors ([`InformerMetrics`]) and through the `metrics` facade.

use std::time::Duration;

use parking_lot::Mutex;
use serve::Revision;
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
        if let Some(value) = rv.and_then(|rv| Revision::gauge_value(rv.as_str())) {
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
