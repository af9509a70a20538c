//! [`History`]: the window of recent events, by revision, that a watch from an older
//! version is replayed from (kube-apiserver's watch-cache history).

use std::collections::VecDeque;

use store_core::Status;
use tracing::debug;

/// The last events of a server, oldest first, by resource version: what a watch from
/// an older version is replayed from.
///
/// It holds at most `capacity` events; pushing one more evicts the oldest, which
/// moves the *compaction point* forward. A watch can resume from any version at or
/// after the compaction point; one from before it has missed events and must relist
/// ([`History::since`] answers `Expired`).
///
/// ```
/// use serve::History;
///
/// let mut history = History::new(2, 10);
/// history.push(11, "a");
/// history.push(13, "b");
/// assert_eq!(history.since(10).unwrap().collect::<Vec<_>>(), [&"a", &"b"]);
/// assert_eq!(history.push(14, "c"), Some((11, "a"))); // the oldest is evicted
/// assert_eq!(history.compacted(), 11);
/// assert_eq!(history.since(12).unwrap().collect::<Vec<_>>(), [&"b", &"c"]);
/// assert!(matches!(history.since(10), Err(status) if status.is_expired()));
/// ```
#[derive(Debug, Clone)]
pub struct History<E> {
    /// The events after `compacted`, oldest first, with their versions (increasing).
    events: VecDeque<(u64, E)>,
    /// Every event up to this version is gone; every later one is in `events`.
    compacted: u64,
    /// How many events are kept.
    capacity: usize,
}

impl<E> History<E> {
    /// An empty history keeping up to `capacity` events, whose compaction point is
    /// `start` (the version of the state it begins from: a watch from `start` is
    /// served, one from before it is not).
    pub fn new(capacity: usize, start: u64) -> Self {
        History {
            events: VecDeque::with_capacity(capacity.min(1024)),
            compacted: start,
            capacity,
        }
    }

    /// Records the event of version `rv` and answers the event it evicted, if the
    /// history was full (for the caller to drop after releasing its lock: it may hold
    /// the last reference to a large object).
    ///
    /// Versions must grow: an `rv` not above the last one (or the compaction point)
    /// is a caller's bug; the event is then not recorded and is handed back, and the
    /// history stays as it was.
    pub fn push(&mut self, rv: u64, event: E) -> Option<(u64, E)> {
        if rv <= self.latest() {
            debug!(
                rv,
                latest = self.latest(),
                "history: an event that does not advance the version was not recorded"
            );
            return Some((rv, event));
        }
        if self.capacity == 0 {
            self.compacted = rv;
            return Some((rv, event));
        }
        let evicted = if self.events.len() >= self.capacity {
            self.events.pop_front().inspect(|(version, _)| {
                self.compacted = *version;
            })
        } else {
            None
        };
        self.events.push_back((rv, event));
        evicted
    }

    /// The events after version `rv`, oldest first; `Expired` (410, with the message
    /// kube-apiserver sends) when some of them were compacted away.
    pub fn since(&self, rv: u64) -> Result<impl Iterator<Item = &E> + '_, Box<Status>> {
        if rv < self.compacted {
            return Err(Box::new(Status::expired(format!(
                "too old resource version: {rv} ({})",
                self.compacted + 1
            ))));
        }
        let start = self.events.partition_point(|(version, _)| *version <= rv);
        Ok(self.events.range(start..).map(|(_, event)| event))
    }

    /// Drops every event up to version `rv`: a watch from before `rv` then answers
    /// `Expired`. A version at or below the compaction point changes nothing; one
    /// above the latest event empties the history and moves the compaction point
    /// there. Answers how many events were dropped.
    pub fn compact_to(&mut self, rv: u64) -> usize {
        if rv <= self.compacted {
            return 0;
        }
        let dropped = self.events.partition_point(|(version, _)| *version <= rv);
        self.events.drain(..dropped);
        self.compacted = rv;
        dropped
    }

    /// Empties the history, which now starts at version `start` (after a relist: the
    /// events before the new state are not comparable with it).
    pub fn reset(&mut self, start: u64) {
        self.events.clear();
        self.compacted = start;
    }

    /// The compaction point: events up to it are gone.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    /// The version of the newest event, or the compaction point when there is none.
    pub fn latest(&self) -> u64 {
        self.events
            .back()
            .map_or(self.compacted, |(version, _)| *version)
    }

    /// How many events are kept now.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// How many events it keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_serves_every_event_after_a_version_and_refuses_compacted_ones() {
        let mut history = History::new(3, 1);
        for rv in [2, 5, 6, 9] {
            history.push(rv, rv);
        }
        assert_eq!(history.compacted(), 2);
        assert_eq!(history.latest(), 9);
        let after = |history: &History<u64>, rv| {
            history
                .since(rv)
                .map(|events| events.copied().collect::<Vec<_>>())
        };
        assert_eq!(after(&history, 2).unwrap(), [5, 6, 9]);
        assert_eq!(after(&history, 3).unwrap(), [5, 6, 9]);
        assert_eq!(after(&history, 6).unwrap(), [9]);
        assert_eq!(after(&history, 9).unwrap(), Vec::<u64>::new());
        assert_eq!(
            after(&history, 1).unwrap_err().message,
            "too old resource version: 1 (3)"
        );
        // a stale version is not recorded
        assert_eq!(history.push(9, 0), Some((9, 0)));
        assert_eq!(history.len(), 3);
        assert_eq!(history.compact_to(5), 1);
        assert!(history.since(4).is_err());
        assert_eq!(after(&history, 5).unwrap(), [6, 9]);
        history.reset(20);
        assert!(history.is_empty());
        assert!(history.since(19).is_err());
        assert_eq!(after(&history, 20).unwrap(), Vec::<u64>::new());
    }

    #[test]
    fn a_zero_capacity_history_only_serves_from_now() {
        let mut history = History::new(0, 1);
        assert_eq!(history.push(2, "a"), Some((2, "a")));
        assert_eq!(history.compacted(), 2);
        assert!(history.since(1).is_err());
        assert_eq!(history.since(2).unwrap().count(), 0);
    }
}
