//! The watch stream of an [`EtcdSource`](super::EtcdSource): etcd's watch responses
//! turned into [`WatchEvent`]s.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use etcd_client::{Event, EventType, WatchResponse};
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use store_core::{Keyed, ResourceVersion, Status};
use tokio::time::Sleep;

use super::codec::{Codec, DecodeFailure};
use super::source::resource_version;
use super::status::{self, from_etcd};
use crate::source::WatchEvent;

/// One open etcd watch as a stream of [`WatchEvent`]s.
///
/// Dropping it drops etcd-client's stream: the request half closes and the
/// response half is reset, which makes etcd cancel the watch.
pub(crate) struct EventStream<T> {
    /// etcd's responses.
    responses: etcd_client::WatchStream,
    /// Decodes values, reports the ones that do not.
    codec: Arc<Codec>,
    /// Events of the last response not yet handed out.
    pending: VecDeque<WatchEvent<T>>,
    /// Turn progress notifications into bookmarks.
    bookmarks: bool,
    /// The revision the watch started after (`None`: from now), for messages.
    after: Option<i64>,
    /// When the stream ends cleanly ([`WatchOptions::timeout`](crate::WatchOptions)).
    deadline: Option<Pin<Box<Sleep>>>,
    /// The last revision turned into a resource version, kept so that the events
    /// of one transaction share one string.
    last_revision: Option<(i64, ResourceVersion)>,
    /// Set once the stream has ended (after an error, a close or the deadline).
    done: bool,
    _object: PhantomData<fn() -> T>,
}

impl<T> EventStream<T>
where
    T: Keyed + DeserializeOwned,
{
    pub(crate) fn new(
        responses: etcd_client::WatchStream,
        codec: Arc<Codec>,
        after: Option<i64>,
        bookmarks: bool,
        timeout: Option<Duration>,
    ) -> Self {
        EventStream {
            responses,
            codec,
            pending: VecDeque::new(),
            bookmarks,
            after,
            deadline: timeout.map(|timeout| Box::pin(tokio::time::sleep(timeout))),
            last_revision: None,
            done: false,
            _object: PhantomData,
        }
    }

    /// Queues the events of one response. A cancellation (or an event that makes
    /// the watch unusable) queues an [`WatchEvent::Error`] last, after which nothing
    /// more is read.
    pub(crate) fn translate(&mut self, response: WatchResponse) {
        if response.canceled() {
            let status = if response.compact_revision() > 0 {
                let watched = match &self.last_revision {
                    Some((revision, _)) => Some(*revision),
                    None => self.after,
                };
                status::compacted(watched, Some(response.compact_revision()))
            } else {
                status::watch_cancelled(response.cancel_reason())
            };
            self.pending.push_back(WatchEvent::Error(Box::new(status)));
            return;
        }
        if response.events().is_empty() {
            // No event, not a creation: a progress notification ("nothing for you up
            // to this revision").
            if self.bookmarks && !response.created() {
                if let Some(header) = response.header() {
                    let rv = self.resource_version(header.revision());
                    self.pending.push_back(WatchEvent::Bookmark(rv));
                }
            }
            return;
        }
        for event in response.events() {
            if let Err(status) = self.translate_event(event) {
                self.pending.push_back(WatchEvent::Error(status));
                return;
            }
        }
    }

    /// Queues the watch event for one etcd event, if its value decodes; `Err` when
    /// the watch cannot go on.
    fn translate_event(&mut self, event: &Event) -> Result<(), Box<Status>> {
        let Some(kv) = event.kv() else {
            tracing::warn!("etcd sent a watch event without a key-value; skipped");
            return Ok(());
        };
        let revision = kv.mod_revision();
        // etcd-client panics on an event type other than PUT (0) and DELETE (1), the
        // only two etcd's protocol has: a server that sends another one gets an
        // error here, not a panicking reflector task. No cost unless it panics.
        let event_type = catch_unwind(AssertUnwindSafe(|| event.event_type())).map_err(|_| {
            Status::internal_error(format!(
                "etcd sent a watch event of an unknown type at revision {revision}"
            ))
        })?;
        match event_type {
            EventType::Put => match self.codec.decode::<T>(kv.key(), kv.value()) {
                Ok(mut object) => {
                    let rv = self.resource_version(revision);
                    object.set_resource_version(rv.as_str());
                    let object = Arc::new(object);
                    self.pending.push_back(if kv.create_revision() == revision {
                        WatchEvent::Added(object, rv)
                    } else {
                        WatchEvent::Modified(object, rv)
                    });
                }
                Err(failure) => self.codec.report(kv.key(), revision, failure),
            },
            EventType::Delete => {
                let last = event
                    .prev_kv()
                    .and_then(|prev| self.codec.decode::<T>(prev.key(), prev.value()).ok());
                match last {
                    Some(mut object) => {
                        // As kube-apiserver does: a deleted object carries the
                        // revision of its deletion.
                        let rv = self.resource_version(revision);
                        object.set_resource_version(rv.as_str());
                        self.pending
                            .push_back(WatchEvent::Deleted(Arc::new(object), rv));
                    }
                    None => {
                        self.codec
                            .report(kv.key(), revision, DecodeFailure::DeletedValueUnknown);
                        return Err(Status::gone(format!(
                            "the value deleted from {:?} at revision {revision} is unknown; relist",
                            String::from_utf8_lossy(kv.key())
                        ))
                        .into());
                    }
                }
            }
        }
        Ok(())
    }

    /// The resource version of `revision`, shared with the previous event's when
    /// they are equal (the events of one transaction).
    fn resource_version(&mut self, revision: i64) -> ResourceVersion {
        match &self.last_revision {
            Some((last, rv)) if *last == revision => rv.clone(),
            _ => {
                let rv = resource_version(revision);
                self.last_revision = Some((revision, rv.clone()));
                rv
            }
        }
    }
}

impl<T> Stream for EventStream<T>
where
    T: Keyed + DeserializeOwned,
{
    type Item = Result<WatchEvent<T>, Box<Status>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Every field is `Unpin` (the timer is boxed).
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(event) = this.pending.pop_front() {
                this.done = matches!(event, WatchEvent::Error(_));
                return Poll::Ready(Some(Ok(event)));
            }
            // Only between responses: ending inside one would split a transaction's
            // events, and re-watching after the last one handed out would skip the
            // rest of its revision.
            if let Some(deadline) = &mut this.deadline {
                if deadline.as_mut().poll(cx).is_ready() {
                    this.done = true;
                    return Poll::Ready(None);
                }
            }
            match this.responses.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(error))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(from_etcd(&error, None).into())));
                }
                Poll::Ready(Some(Ok(response))) => this.translate(response),
            }
        }
    }
}
