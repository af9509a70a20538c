//! The paginated list: one attempt's pages, gathered for one replace or written in
//! place, with client-go's pager rules (which lists ask for pages, an expired
//! continuation falls back to one full list) and the store write that ends it.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use store_core::{Keyed, ResourceVersion, Status};

use super::config::RelistMode;
use super::Reflector;
use futures::StreamExt;

use crate::source::{ListOptions, ListPage, ListPart, ListerWatcher};
use crate::store::{Change, ReflectorStore, StoreError};

/// Where the next list starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ListFrom {
    /// The first list: `"0"`, any version (a cache may answer).
    Any,
    /// The last synced version: at least as fresh as what we have.
    LastSynced,
    /// `""`: the most recent version, after the last synced one was refused as
    /// expired or too large.
    Latest,
}

/// One attempt at a list: where it starts, the resource version that means, and
/// where its pages go. A streaming list that fails, and a list answered "version
/// unavailable", go on in the same attempt, with the sink restarted.
pub(super) struct Attempt<T: Keyed> {
    pub(super) from: ListFrom,
    pub(super) resource_version: ResourceVersion,
    pub(super) sink: Sink<T>,
}

/// What stops a list whose page the store refused (the store's error is reported).
fn page_refused() -> Box<Status> {
    Box::new(Status::internal_error(
        "the store refused a page of an in-place relist",
    ))
}

/// Where a list's pages go.
pub(super) enum Sink<T: Keyed> {
    /// Gathered, for one `Replaced` at the end.
    Gather(Vec<Arc<T>>),
    /// Written to the store page by page (an in-place relist), with the keys seen and
    /// the store's error if it refused a page.
    InPlace {
        seen: HashSet<T::Key>,
        refused: Option<StoreError>,
    },
}

impl<T: Keyed> Sink<T> {
    /// Forgets what an abandoned list gathered (a fresh list follows).
    pub(super) fn restart(&mut self) {
        match self {
            Sink::Gather(items) => items.clear(),
            Sink::InPlace { seen, refused } => {
                seen.clear();
                *refused = None;
            }
        }
    }
}

impl<T, L, S> Reflector<T, L, S>
where
    T: Keyed + Send + Sync + 'static,
    L: ListerWatcher<T>,
    S: ReflectorStore<T>,
{
    /// A new attempt from `from`: a relist in place when so configured, after the
    /// first list, into a store that takes one; otherwise gathered for one replace.
    pub(super) fn attempt(&self, from: ListFrom) -> Attempt<T> {
        let resource_version = self.list_resource_version(from);
        let in_place = self.config.relist_mode == RelistMode::InPlace
            && self.shared.lists.load(Ordering::Relaxed) > 0
            && self.store.supports_in_place_relist();
        let sink = if in_place {
            Sink::InPlace {
                seen: HashSet::new(),
                refused: None,
            }
        } else {
            Sink::Gather(Vec::new())
        };
        Attempt {
            from,
            resource_version,
            sink,
        }
    }

    /// The same attempt again, at `""` (the latest), from scratch.
    pub(super) fn list_latest(&self, attempt: &mut Attempt<T>) {
        attempt.from = ListFrom::Latest;
        attempt.resource_version = self.list_resource_version(attempt.from);
        attempt.sink.restart();
    }

    /// Lists every page at `resource_version`. A continuation page answered Expired
    /// (the snapshot was compacted away mid-list) falls back to one full,
    /// unpaginated list at the same version, as client-go's pager does.
    pub(super) async fn list_all(
        &self,
        resource_version: &ResourceVersion,
        sink: &mut Sink<T>,
    ) -> Result<ResourceVersion, Box<Status>> {
        let mut source_id = None;
        let mut options = ListOptions {
            resource_version: resource_version.clone(),
            limit: self.page_limit(resource_version),
            continue_token: None,
        };
        loop {
            let page = match self.take_list(options.clone(), sink).await {
                Ok(page) => page,
                Err(status) if status.is_expired() && options.continue_token.is_some() => {
                    tracing::info!(%resource_version, %status, "continuation expired; listing in one answer");
                    // The pages taken so far belong to a snapshot that is gone.
                    sink.restart();
                    let full = ListOptions {
                        resource_version: resource_version.clone(),
                        limit: None,
                        continue_token: None,
                    };
                    let full = self.take_list(full, sink).await?;
                    self.set_source(full.source_id);
                    return Ok(full.resource_version);
                }
                Err(status) => return Err(status),
            };
            if options.continue_token.is_none() {
                source_id.clone_from(&page.source_id);
            } else if page.source_id != source_id {
                // The pages come from two instances of the source: not one snapshot.
                return Err(Box::new(Status::gone(format!(
                    "the source changed in the middle of a list (from {source_id:?} to {:?})",
                    page.source_id
                ))));
            }
            match page.continue_token {
                Some(token) if !token.is_empty() => {
                    if options.continue_token.is_none() && resource_version.as_str() == "0" {
                        self.paginated_result.store(true, Ordering::Relaxed);
                    }
                    options.continue_token = Some(token);
                }
                _ => {
                    self.set_source(source_id);
                    return Ok(page.resource_version);
                }
            }
        }
    }

    /// Takes one list answer (one page) into the sink as it streams in
    /// ([`ListerWatcher::list_stream`]); the page's resource version, continue token
    /// and source (its items are in the sink). An answer that brings nothing for
    /// [`list_timeout`](super::ReflectorConfig::list_timeout) fails with a `Timeout`.
    async fn take_list(
        &self,
        options: ListOptions,
        sink: &mut Sink<T>,
    ) -> Result<ListPage<T>, Box<Status>> {
        let mut parts = self.source.list_stream(options);
        loop {
            let part = match self.config.list_timeout.filter(|limit| !limit.is_zero()) {
                Some(limit) => tokio::time::timeout(limit, parts.next())
                    .await
                    .map_err(|_| {
                        Box::new(Status::timeout(
                            format!("the list answer brought nothing for {limit:?}"),
                            0,
                        ))
                    })?,
                None => parts.next().await,
            };
            let (items, last) = match part {
                Some(Ok(ListPart::Items(items))) => (items, None),
                Some(Ok(ListPart::Last(mut page))) => (std::mem::take(&mut page.items), Some(page)),
                Some(Err(status)) => return Err(status),
                None => {
                    return Err(Box::new(Status::internal_error(
                        "the list answer ended without its last part",
                    )))
                }
            };
            if !items.is_empty() || last.is_some() {
                if !self.take_page(sink, items) {
                    return Err(page_refused());
                }
                self.after_page(sink).await;
            }
            if let Some(page) = last {
                return Ok(page);
            }
        }
    }

    /// Hands one listed page to the sink: gathered, or written to the store at once
    /// (in place). A page the store refuses stops the list (`false`).
    pub(super) fn take_page(&self, sink: &mut Sink<T>, items: Vec<Arc<T>>) -> bool {
        match sink {
            Sink::Gather(gathered) => gathered.extend(items),
            Sink::InPlace { seen, refused } => {
                seen.extend(items.iter().map(|obj| obj.key()));
                if let Err(error) = self.store.apply(Change::RelistPage(items)) {
                    *refused = Some(error);
                    return false;
                }
            }
        }
        true
    }

    /// Between two pages: an in-place page waits for the store to have room for the
    /// next (an informer's queue drained to about a page), and the task yields either
    /// way — a source that answers without waiting (an in-memory one) would otherwise
    /// keep it on its worker for the whole list, and the store's consumer (an
    /// informer's processing task) off the CPU.
    pub(super) async fn after_page(&self, sink: &Sink<T>) {
        if matches!(sink, Sink::InPlace { .. }) {
            self.store.ready_for_page().await;
        }
        tokio::task::yield_now().await;
    }

    /// Remembers which source instance the list came from.
    fn set_source(&self, source_id: Option<String>) {
        let mut current = self.source_id.lock();
        if current.is_some() && *current != source_id {
            tracing::warn!(was = ?*current, now = ?source_id, "the source was replaced; its resource versions start afresh");
        }
        *current = source_id;
    }

    /// The page size of a list at `resource_version` (client-go's pager rule; see
    /// [`ReflectorConfig::page_size`](super::ReflectorConfig::page_size)).
    fn page_limit(&self, resource_version: &ResourceVersion) -> Option<usize> {
        let exact = !matches!(resource_version.as_str(), "" | "0");
        if exact && !self.config.always_paginate && !self.paginated_result.load(Ordering::Relaxed) {
            None
        } else {
            self.config.page_size
        }
    }

    /// The resource version a list from `from` asks for.
    fn list_resource_version(&self, from: ListFrom) -> ResourceVersion {
        match from {
            ListFrom::Any => ResourceVersion::from("0"),
            ListFrom::Latest => ResourceVersion::from(""),
            ListFrom::LastSynced => self.last_synced(),
        }
    }

    /// Writes a finished list to the store: one `Replaced` with what was gathered, or
    /// the end of an in-place relist (the keys not seen go). The number of objects.
    pub(super) fn apply_list(
        &self,
        sink: Sink<T>,
        listed_version: &ResourceVersion,
    ) -> Result<usize, StoreError> {
        let (count, applied) = match sink {
            Sink::Gather(items) => (
                items.len(),
                self.store
                    .apply(Change::Replaced(items, listed_version.clone())),
            ),
            Sink::InPlace { seen, .. } => {
                let count = seen.len();
                let end = Change::RelistEnd {
                    seen,
                    resource_version: listed_version.clone(),
                };
                (count, self.store.apply(end))
            }
        };
        applied.map(|()| count)
    }
}
