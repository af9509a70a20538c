//! The streaming list (Kubernetes' watch-list, `sendInitialEvents`): one watch whose
//! initial events are the list, gathered or written in place page by page until the
//! end marker, after which the same watch goes on with live events.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use store_core::{Keyed, ResourceVersion, Status};
use tokio::time::Instant;

use super::list::Sink;
use super::Reflector;
use crate::error::ReflectorError;
use crate::source::{ListerWatcher, WatchEvent, WatchStream};
use crate::store::ReflectorStore;

/// How many initial events of a streaming list an in-place relist writes at once
/// when `page_size` is `None`.
const STREAMED_PAGE: usize = 500;

/// How long a streaming list may go without its end marker before each warning.
const STREAMING_LIST_PATIENCE: Duration = Duration::from_secs(10);

/// The objects a streaming list's initial events leave: in arrival order, or — when
/// some were changes or deletions — the last state of each key, deleted ones out.
fn merge_initial_events<T: Keyed>(events: Vec<(Arc<T>, bool)>, changed: bool) -> Vec<Arc<T>> {
    if !changed {
        return events.into_iter().map(|(obj, _)| obj).collect();
    }
    let mut last: std::collections::HashMap<T::Key, (usize, Option<Arc<T>>)> =
        std::collections::HashMap::new();
    for (at, (obj, deleted)) in events.into_iter().enumerate() {
        last.insert(obj.key(), (at, (!deleted).then_some(obj)));
    }
    let mut kept: Vec<(usize, Arc<T>)> = last
        .into_values()
        .filter_map(|(at, obj)| obj.map(|obj| (at, obj)))
        .collect();
    kept.sort_unstable_by_key(|(at, _)| *at);
    kept.into_iter().map(|(_, obj)| obj).collect()
}

impl<T, L, S> Reflector<T, L, S>
where
    T: Keyed + Send + Sync + 'static,
    L: ListerWatcher<T>,
    S: ReflectorStore<T>,
{
    /// A streaming list from `resource_version` into `sink`: its version (from the end
    /// marker only) and the watch, still open, that goes on with live events; `None`
    /// when the store refused an in-place page (the error is in the sink).
    pub(super) async fn stream_list(
        &self,
        resource_version: &ResourceVersion,
        sink: &mut Sink<T>,
    ) -> Result<Option<(ResourceVersion, WatchStream<T>)>, Box<Status>> {
        tracing::debug!(%resource_version, "streaming list starting");
        let mut stream = self
            .source
            .watch(resource_version.clone(), self.watch_options(true))
            .await?;
        let in_place = matches!(sink, Sink::InPlace { .. });
        let page_size = self.config.page_size.unwrap_or(STREAMED_PAGE).max(1);
        // Gathered: the initial events are `Added` ones, one per object, kept as they
        // come; only a source that also sends changes before the end makes them be
        // merged by key at the end. In place: written in pages as they come.
        let mut state: Vec<(Arc<T>, bool)> = Vec::new();
        let mut page: Vec<Arc<T>> = Vec::new();
        let mut changed = false;
        let mut received = 0usize;
        let started = Instant::now();
        let mut warn_at = started + STREAMING_LIST_PATIENCE;
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = tokio::time::sleep_until(warn_at) => {
                    tracing::warn!(
                        received,
                        waited = ?started.elapsed(),
                        "streaming list: still waiting for the end of the initial events (k8s.io/initial-events-end)"
                    );
                    self.report(ReflectorError::StreamingListStalled {
                        resource_version: resource_version.clone(),
                        waited: started.elapsed(),
                        received,
                    });
                    warn_at += STREAMING_LIST_PATIENCE;
                    continue;
                }
            };
            let (obj, deleted) = match item {
                Some(Ok(WatchEvent::Added(obj, _))) => (obj, false),
                Some(Ok(WatchEvent::Modified(obj, _))) => {
                    changed = true;
                    (obj, false)
                }
                Some(Ok(WatchEvent::Deleted(obj, _))) => {
                    changed = true;
                    (obj, true)
                }
                Some(Ok(WatchEvent::Bookmark(_))) => continue,
                Some(Ok(WatchEvent::InitialEventsEnd(version))) => {
                    tracing::debug!(resource_version = %version, count = received, "streaming list complete");
                    if in_place {
                        if !page.is_empty() && !self.take_page(sink, page) {
                            return Ok(None);
                        }
                    } else {
                        self.take_page(sink, merge_initial_events(state, changed));
                    }
                    return Ok(Some((version, stream)));
                }
                Some(Ok(WatchEvent::Error(status))) => return Err(status),
                Some(Err(status)) => return Err(status),
                None => {
                    return Err(Box::new(Status::internal_error(
                        "the streaming list ended before its initial events were complete",
                    )))
                }
            };
            received += 1;
            if !in_place {
                state.push((obj, deleted));
                continue;
            }
            // In place: a deletion first writes what came before it, then makes its
            // key unseen, so the end of the list removes it.
            let gone = deleted.then(|| obj.key());
            if !deleted {
                page.push(obj);
            }
            if gone.is_some() || page.len() >= page_size {
                if !page.is_empty() && !self.take_page(sink, std::mem::take(&mut page)) {
                    return Ok(None);
                }
                if let (Some(key), Sink::InPlace { seen, .. }) = (gone, &mut *sink) {
                    seen.remove(&key);
                }
                self.after_page(sink).await;
            }
        }
    }

    /// A streaming list failed: list+watch for this attempt, and for good when the
    /// source said it cannot stream lists.
    pub(super) fn streaming_failed(&self, resource_version: &ResourceVersion, status: Box<Status>) {
        let unsupported = status.is_bad_request()
            || status.is_invalid()
            || status.is_method_not_allowed()
            || status.is_not_acceptable()
            || status.is_unsupported_media_type();
        if unsupported {
            self.streaming_unsupported.store(true, Ordering::Relaxed);
            tracing::info!(%status, "the source cannot stream lists; using list+watch");
        } else {
            tracing::warn!(%status, "the streaming list failed; listing instead, as making progress beats waiting");
        }
        self.report(ReflectorError::Watch {
            resource_version: resource_version.clone(),
            status,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Named(&'static str, u32);

    impl Keyed for Named {
        type Key = &'static str;
        fn key(&self) -> &'static str {
            self.0
        }
    }

    fn names(objects: &[Arc<Named>]) -> Vec<(&'static str, u32)> {
        objects.iter().map(|obj| (obj.0, obj.1)).collect()
    }

    #[test]
    fn initial_events_keep_their_order_and_changes_merge_by_key() {
        let plain = vec![
            (Arc::new(Named("b", 1)), false),
            (Arc::new(Named("a", 1)), false),
        ];
        assert_eq!(
            names(&merge_initial_events(plain, false)),
            [("b", 1), ("a", 1)]
        );
        let changed = vec![
            (Arc::new(Named("a", 1)), false),
            (Arc::new(Named("b", 1)), false),
            (Arc::new(Named("a", 2)), false),
            (Arc::new(Named("b", 1)), true),
            (Arc::new(Named("c", 1)), false),
        ];
        assert_eq!(
            names(&merge_initial_events(changed, true)),
            [("a", 2), ("c", 1)]
        );
    }
}
