//! [`Event`]: one change of the window, with the lines watchers receive for it,
//! each made at most once and shared by every watcher that sees it.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::cache::entry::Entry;
use crate::resource::{encode, ServedResource};
use crate::selector::Filter;

/// How a watch line is framed: `(type, object JSON) → line`. The watch stream's
/// framing ([`event_line`](crate::http::watch::event_line)) is the only one; the
/// cache takes it as an argument so that it knows nothing of the wire.
pub(crate) type Frame = fn(&str, &[u8]) -> Bytes;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The event's `type` as kube-apiserver writes it (`ADDED`, `MODIFIED`, `DELETED`).
    pub(crate) fn wire(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One event of the window. Its line is made once, by the first watcher that sends
/// it, and shared by every other watcher that sees the event as is; a watcher whose
/// selector the object enters or leaves sees it as `ADDED` or `DELETED`, a line
/// made at most once too.
pub(crate) struct Event<T> {
    kind: EventType,
    rv: u64,
    /// The object after the event (for a deletion, its final state).
    entry: Arc<Entry<T>>,
    /// The object before the event, if there was one.
    previous: Option<Arc<Entry<T>>>,
    /// The event as is.
    line: OnceLock<Bytes>,
    /// The event as `ADDED` (the object entered a watcher's selection).
    entered: OnceLock<Bytes>,
    /// The previous object as `DELETED` at this version (it left a selection).
    left: OnceLock<Bytes>,
}

impl<T: ServedResource> Event<T> {
    /// The event `kind` at `rv`: `entry` is the object after it, `previous` the
    /// object it replaced or removed.
    pub(crate) fn new(
        kind: EventType,
        rv: u64,
        entry: Arc<Entry<T>>,
        previous: Option<Arc<Entry<T>>>,
    ) -> Self {
        Event {
            kind,
            rv,
            entry,
            previous,
            line: OnceLock::new(),
            entered: OnceLock::new(),
            left: OnceLock::new(),
        }
    }

    /// The line this event is for a watcher with `filter`, if it sees it at all
    /// (kube-apiserver's `convertToWatchEvent`): entering the selection is `ADDED`,
    /// leaving it `DELETED` with the previous object at this event's version.
    ///
    /// A line is framed by `frame` the first time it is asked for and kept: every
    /// call must pass the same `frame`.
    pub(crate) fn render(&self, filter: &Filter, frame: Frame) -> Option<Bytes> {
        let as_is = || {
            self.line
                .get_or_init(|| frame(self.kind.wire(), &self.entry.json))
                .clone()
        };
        if filter.is_everything() {
            return Some(as_is());
        }
        let now = filter.matches(&*self.entry.object);
        if self.kind != EventType::Modified {
            return now.then(as_is);
        }
        let before = self
            .previous
            .as_ref()
            .is_some_and(|previous| filter.matches(&*previous.object));
        match (before, now) {
            (true, true) => Some(as_is()),
            (false, true) => Some(
                self.entered
                    .get_or_init(|| frame(EventType::Added.wire(), &self.entry.json))
                    .clone(),
            ),
            (true, false) => {
                let previous = self.previous.as_ref()?;
                let line = self.left.get_or_init(|| {
                    // Written at this event's version, as kube-apiserver does; the
                    // object wrote out once already, so this cannot fail in practice.
                    let json = encode(&*previous.object, self.rv)
                        .unwrap_or_else(|_| previous.json.clone());
                    frame(EventType::Deleted.wire(), &json)
                });
                Some(line.clone())
            }
            (false, false) => None,
        }
    }

    /// The event's resource version.
    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }
}
