//! Watches (`?watch=1` or the legacy `/watch/` prefix) and the whole watch framing:
//! a chunked body of newline-delimited `{"type":…,"object":…}` lines — events,
//! bookmarks, and the one `ERROR` line of a watch that cannot go on — gathered into
//! chunks of at most [`CHUNK`] bytes, as kube-apiserver's watch handler writes them.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;
use store_core::Status;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::cache::entry::Entry;
use crate::cache::event::Event;
use crate::cache::{Message, WatchCache, WatchStart};
use crate::http::context::Context;
use crate::http::query::Query;
use crate::http::response::{self, Answer};
use crate::resource::ServedResource;
use crate::selector::Filter;

/// The most bytes one chunk of a watch gathers before it is sent.
const CHUNK: usize = 64 * 1024;

/// `{"type":"<kind>","object":<json>}\n`.
pub(crate) fn event_line(kind: &str, json: &[u8]) -> Bytes {
    let mut line = BytesMut::with_capacity(json.len() + kind.len() + 24);
    put_event_line(&mut line, kind, json);
    line.freeze()
}

/// Appends `{"type":"<kind>","object":<json>}\n` to `out`.
fn put_event_line(out: &mut BytesMut, kind: &str, json: &[u8]) {
    out.put_slice(br#"{"type":""#);
    out.put_slice(kind.as_bytes());
    out.put_slice(br#"","object":"#);
    out.put_slice(json);
    out.put_slice(b"}\n");
}

/// The `ERROR` line a watch is answered with when it cannot go on (a 410 for a
/// version older than the window, a 504 for one the cache has not reached).
fn error_line(status: &Status) -> Bytes {
    match serde_json::to_vec(status) {
        Ok(json) => event_line("ERROR", &json),
        Err(error) => {
            warn!(%error, "a Status could not be written");
            Bytes::new()
        }
    }
}

/// Opens a watch and answers with its stream: from a resource version (replayed
/// from the window), from `""`/`"0"` (the current objects as `ADDED` first), or as a
/// streaming list (`sendInitialEvents=true`, ending with the
/// `k8s.io/initial-events-end` bookmark). Over [`ServerConfig::max_watchers`] it is
/// a 429; an error once the watch is accepted is one `ERROR` line in a 200, as
/// kube-apiserver sends it.
///
/// [`ServerConfig::max_watchers`]: crate::http::ServerConfig::max_watchers
pub(crate) async fn watch<T: ServedResource>(
    cache: &WatchCache<T>,
    query: &Query,
    filter: Filter,
    context: Arc<Context>,
) -> Answer {
    // Counted from here, so concurrent requests cannot all slip under the limit.
    let slot = OpenWatch::take(Arc::clone(&context));
    if slot.open_before >= context.config.max_watchers {
        return Err(Status::too_many_requests(
            format!(
                "too many watches open ({}, the limit is {})",
                slot.open_before, context.config.max_watchers
            ),
            1,
        )
        .into());
    }
    let requested = query.resource_version_number()?;
    let start = match (query.resource_version.as_deref(), query.send_initial_events) {
        (_, Some(true)) => WatchStart::State { end_bookmark: true },
        (Some("0"), Some(false)) => WatchStart::After(cache.resource_version()),
        (None | Some("0"), _) => WatchStart::State {
            end_bookmark: false,
        },
        (Some(_), _) => WatchStart::After(requested.unwrap_or_default()),
    };
    let timeout = query.timeout.unwrap_or_else(|| {
        let base = context.config.default_watch_timeout;
        base + base.mul_f64(fastrand::f64())
    });
    // Errors after the request is accepted are sent in the stream, as
    // kube-apiserver does: 200, one ERROR event, end.
    let mut ready = Ok(());
    if let Some(rv) = requested {
        ready = cache.wait_for(rv, context.config.freshness_wait).await;
    }
    let opened = match ready {
        Ok(()) => cache.open(start, &filter, query.bookmarks),
        Err(status) => Err(status),
    };
    let opened = match opened {
        Ok(opened) => opened,
        Err(status) => {
            debug!(%status, "watch answered with an error event");
            return Ok(response::stream(Body::from(error_line(&status))));
        }
    };
    context.counters.watches.fetch_add(1, Ordering::Relaxed);
    debug!(
        resource = T::PLURAL,
        ?start,
        replay = opened.replay.len(),
        state = opened.state.len(),
        "watch opened"
    );
    let mut pending = VecDeque::new();
    let last_rv = match start {
        WatchStart::After(rv) => {
            pending.extend(opened.replay.into_iter().map(Pending::Event));
            rv
        }
        WatchStart::State { end_bookmark } => {
            pending.extend(opened.state.into_iter().map(Pending::State));
            if end_bookmark {
                pending.push_back(Pending::EndBookmark(opened.rv));
            }
            opened.rv
        }
    };
    let now = Instant::now();
    let watch = Watch {
        pending,
        receiver: opened.receiver,
        filter,
        bookmarks: query.bookmarks,
        bookmark_interval: context.config.bookmark_interval,
        last_bookmark: now,
        last_rv,
        deadline: now + timeout,
        shutdown: context.shutdown.clone(),
        type_meta: TypeMeta::of::<T>(),
        done: false,
        _slot: slot,
    };
    let body = futures::stream::unfold(watch, |mut watch| async move {
        let chunk = watch.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), watch))
    });
    Ok(response::stream(Body::from_stream(body)))
}

/// One open watch, counted in [`ServerStats::open_watches`] until dropped.
///
/// [`ServerStats::open_watches`]: crate::http::ServerStats::open_watches
struct OpenWatch {
    context: Arc<Context>,
    open_before: usize,
}

impl OpenWatch {
    fn take(context: Arc<Context>) -> Self {
        let open_before = context
            .counters
            .open_watches
            .fetch_add(1, Ordering::Relaxed);
        OpenWatch {
            context,
            open_before,
        }
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.context
            .counters
            .open_watches
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a watch sends before its live events.
enum Pending<T> {
    /// An event of the window (a resumed watch).
    Event(Arc<Event<T>>),
    /// A current object, as `ADDED`.
    State(Arc<Entry<T>>),
    /// The `k8s.io/initial-events-end` bookmark at this version.
    EndBookmark(u64),
}

/// `kind` and `apiVersion`, which every bookmark carries (kube-rs needs them).
struct TypeMeta {
    kind: &'static str,
    api_version: String,
}

impl TypeMeta {
    fn of<T: ServedResource>() -> Self {
        TypeMeta {
            kind: T::KIND,
            api_version: T::api_version(),
        }
    }

    /// The `BOOKMARK` line at `rv`, annotated `k8s.io/initial-events-end` when it
    /// ends a streaming list's initial events.
    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object =
            json!({"kind": self.kind, "apiVersion": self.api_version, "metadata": metadata});
        event_line("BOOKMARK", object.to_string().as_bytes())
    }
}

/// The state of one watch stream.
struct Watch<T: ServedResource> {
    pending: VecDeque<Pending<T>>,
    receiver: tokio::sync::mpsc::Receiver<Message<T>>,
    filter: Filter,
    bookmarks: bool,
    bookmark_interval: Duration,
    last_bookmark: Instant,
    /// The version of the last event sent (what a resumed watch starts from).
    last_rv: u64,
    deadline: Instant,
    shutdown: CancellationToken,
    type_meta: TypeMeta,
    done: bool,
    _slot: OpenWatch,
}

impl<T: ServedResource> Watch<T> {
    /// The next chunk of the body: every line ready now (up to [`CHUNK`] bytes), or
    /// `None` once the stream ends — at its timeout, at shutdown, when the cache
    /// closes it (it fell behind, or relisted).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut chunk = BytesMut::new();
        while chunk.len() < CHUNK {
            let Some(next) = self.pending.pop_front() else {
                break;
            };
            match next {
                Pending::Event(event) => self.put_event(&event, &mut chunk),
                Pending::State(entry) => put_event_line(&mut chunk, "ADDED", &entry.json),
                Pending::EndBookmark(rv) => {
                    chunk.put_slice(&self.type_meta.bookmark(rv, true));
                    self.last_bookmark = Instant::now();
                }
            }
        }
        if !chunk.is_empty() {
            return Some(chunk.freeze());
        }
        loop {
            let message = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => None,
                _ = tokio::time::sleep_until(self.deadline) => None,
                message = self.receiver.recv() => message,
            };
            let Some(message) = message else {
                self.done = true;
                return None;
            };
            self.take(message, &mut chunk);
            while chunk.len() < CHUNK {
                match self.receiver.try_recv() {
                    Ok(message) => self.take(message, &mut chunk),
                    Err(_) => break,
                }
            }
            if !chunk.is_empty() {
                return Some(chunk.freeze());
            }
        }
    }

    /// Adds the line `event` is for this watcher, if it sees it; either way the
    /// watch has now reached the event's version.
    fn put_event(&mut self, event: &Event<T>, chunk: &mut BytesMut) {
        if let Some(line) = event.render(&self.filter, event_line) {
            chunk.put_slice(&line);
        }
        self.last_rv = event.rv();
    }

    /// Adds what a live message is for this watcher: its event's line, or a
    /// bookmark when bookmarks are allowed and one is due (every
    /// `bookmark_interval`, and in the last 2 s before the deadline).
    fn take(&mut self, message: Message<T>, chunk: &mut BytesMut) {
        match message {
            Message::Event(event) => self.put_event(&event, chunk),
            Message::Bookmark(rv) => {
                let due = self.last_bookmark.elapsed() >= self.bookmark_interval
                    || self.deadline.saturating_duration_since(Instant::now())
                        < Duration::from_secs(2);
                if self.bookmarks && due && rv >= self.last_rv {
                    chunk.put_slice(&self.type_meta.bookmark(rv, false));
                    self.last_bookmark = Instant::now();
                    self.last_rv = rv;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::fixtures::{cm, ready};
    use reflector::{Change, ReflectorStore};
    use store_core::ResourceVersion;

    use crate::configmap::ConfigMap;

    /// The change `make` of `object` at version `rv`, applied.
    fn at(
        cache: &WatchCache<ConfigMap>,
        make: fn(Arc<ConfigMap>, ResourceVersion) -> Change<ConfigMap>,
        object: Arc<ConfigMap>,
        rv: u64,
    ) {
        cache.apply(make(object, rv.to_string().into())).unwrap();
    }

    fn text(line: &Bytes) -> String {
        String::from_utf8(line.to_vec()).unwrap()
    }

    #[test]
    fn an_event_is_one_json_line() {
        assert_eq!(
            text(&event_line("ADDED", br#"{"a":1}"#)),
            "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
        );
    }

    #[test]
    fn events_are_written_once_with_their_version_and_kind() {
        let cache = ready(vec![cm("a", "x", "web")], "10");
        at(&cache, Change::Modified, cm("a", "x", "db"), 11);
        at(&cache, Change::Added, cm("a", "y", "web"), 12);
        at(&cache, Change::Deleted, cm("a", "x", "db"), 14);
        let opened = cache
            .open(WatchStart::After(10), &Filter::default(), false)
            .unwrap();
        let lines: Vec<String> = opened
            .replay
            .iter()
            .map(|event| text(&event.render(&Filter::default(), event_line).unwrap()))
            .collect();
        assert!(
            lines[0].starts_with(
                r#"{"type":"MODIFIED","object":{"apiVersion":"v1","kind":"ConfigMap""#
            ),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains(r#""resourceVersion":"11""#));
        assert!(lines[1].starts_with(r#"{"type":"ADDED""#));
        assert!(
            lines[2].starts_with(r#"{"type":"DELETED""#)
                && lines[2].contains(r#""resourceVersion":"14""#)
        );
        assert!(lines.iter().all(|line| line.ends_with("}\n")));
        // the shared line is the same allocation for every watcher
        let event = &opened.replay[0];
        assert_eq!(
            event
                .render(&Filter::default(), event_line)
                .unwrap()
                .as_ptr(),
            event
                .render(&Filter::default(), event_line)
                .unwrap()
                .as_ptr()
        );
        assert_eq!(cache.stats().events, 3);
    }

    #[test]
    fn a_selector_sees_objects_enter_and_leave_it() {
        let cache = ready(vec![cm("a", "x", "web")], "10");
        at(&cache, Change::Modified, cm("a", "x", "db"), 11);
        at(&cache, Change::Modified, cm("a", "x", "web"), 12);
        at(&cache, Change::Modified, cm("a", "x", "web"), 13);
        let web = Filter {
            labels: "tier=web".parse().unwrap(),
            ..Filter::default()
        };
        let opened = cache.open(WatchStart::After(10), &web, false).unwrap();
        let seen: Vec<String> = opened
            .replay
            .iter()
            .filter_map(|event| event.render(&web, event_line))
            .map(|line| text(&line))
            .collect();
        assert_eq!(seen.len(), 3);
        // leaving: DELETED with the previous (still matching) state at the event's version
        assert!(
            seen[0].starts_with(r#"{"type":"DELETED""#)
                && seen[0].contains(r#""tier":"web""#)
                && seen[0].contains(r#""resourceVersion":"11""#),
            "{}",
            seen[0]
        );
        assert!(
            seen[1].starts_with(r#"{"type":"ADDED""#)
                && seen[1].contains(r#""resourceVersion":"12""#)
        );
        assert!(seen[2].starts_with(r#"{"type":"MODIFIED""#));
        let other_namespace = Filter {
            namespace: Some("b".into()),
            ..Filter::default()
        };
        assert!(opened
            .replay
            .iter()
            .all(|event| event.render(&other_namespace, event_line).is_none()));
    }

    #[test]
    fn bookmarks_carry_kind_api_version_and_the_initial_events_end() {
        let type_meta = TypeMeta::of::<ConfigMap>();
        let plain = text(&type_meta.bookmark(7, false));
        assert!(plain.starts_with(r#"{"type":"BOOKMARK","object":{"#));
        assert!(plain.ends_with("}}\n") && plain.matches('\n').count() == 1);
        let line: serde_json::Value = serde_json::from_str(&plain).unwrap();
        assert_eq!(
            line["object"],
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}})
        );
        let end = type_meta.bookmark(8, true);
        let line: serde_json::Value = serde_json::from_slice(&end).unwrap();
        assert_eq!(
            line["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );
        assert_eq!(line["object"]["metadata"]["resourceVersion"], "8");
    }

    #[test]
    fn a_watch_that_cannot_go_on_ends_with_its_status_as_an_error_line() {
        let line = text(&error_line(&Status::expired(
            "too old resource version: 1 (5)",
        )));
        assert!(line.starts_with(r#"{"type":"ERROR","object":{"#), "{line}");
        assert!(line.ends_with("}\n"));
        let line: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(line["object"]["code"], 410);
        assert_eq!(line["object"]["kind"], "Status");
    }
}
