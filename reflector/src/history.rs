//! The serving side's building blocks, shared by every server in this workspace (the
//! embedded [`MemoryServer`](crate::MemoryServer) and the `watch-server` crate's watch
//! cache), so that both keep their history, fan out their events and page their lists
//! with one mechanism:
//!
//! - [`History`]: the window of recent events, by resource version, that a watch from
//!   an older version is replayed from (kube-apiserver's watch-cache history);
//! - [`Fanout`]: the open watches, each with a bounded buffer; a watcher whose buffer
//!   is full is dropped (its stream ends, the client watches again) and counted, so a
//!   slow reader never holds up a writer or the other watchers;
//! - [`ListSnapshots`]: the snapshots that the pages of a paginated list are served
//!   from, and their continue tokens.
//!
//! Resource versions are `u64`s here, as kube-apiserver parses them; they must grow
//! with every event but need not be contiguous (an etcd key prefix skips the
//! revisions of other prefixes).

// `Status` (~300 bytes) is what a server answers; the answers here are meant to be sent.
#![allow(clippy::result_large_err)]

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use store_core::Status;
use tokio::sync::mpsc;
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
/// use reflector::history::History;
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
    pub fn since(&self, rv: u64) -> Result<impl Iterator<Item = &E> + '_, Status> {
        if rv < self.compacted {
            return Err(Status::expired(format!(
                "too old resource version: {rv} ({})",
                self.compacted + 1
            )));
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

/// The open watches of a server: one bounded channel each.
///
/// [`send`](Fanout::send) offers a message to every watcher without waiting; a
/// watcher whose buffer is full is dropped — its receiver yields what was buffered,
/// then ends — and counted in [`slow_dropped`](Fanout::slow_dropped). One slot of
/// every channel is kept free for a final message ([`close_all`](Fanout::close_all)),
/// so an injected error or a shutdown notice always fits.
///
/// ```
/// use reflector::history::Fanout;
///
/// let mut fanout = Fanout::new(2);
/// let mut fast = fanout.subscribe(false);
/// let mut slow = fanout.subscribe(true);
/// for n in 0..2 {
///     fanout.send(|| n);
///     assert_eq!(fast.try_recv(), Ok(n));
/// }
/// fanout.send(|| 2); // `slow` never read: its buffer of 2 is full
/// assert_eq!(fanout.slow_dropped(), 1);
/// assert_eq!(fanout.len(), 1);
/// assert_eq!((slow.try_recv(), slow.try_recv()), (Ok(0), Ok(1)));
/// assert!(slow.try_recv().is_err()); // then it ends
/// ```
pub struct Fanout<M> {
    /// The open watchers.
    subscribers: Vec<Subscriber<M>>,
    /// How many messages one watcher may hold.
    buffer: usize,
    /// How many watchers were dropped for falling behind.
    slow_dropped: u64,
}

/// One watcher of a [`Fanout`].
struct Subscriber<M> {
    /// Where its messages go.
    sender: mpsc::Sender<M>,
    /// Whether it asked for bookmarks.
    bookmarks: bool,
}

impl<M> Fanout<M> {
    /// No watchers yet; each will hold up to `buffer` messages (with none, a watcher
    /// is dropped at its first message).
    pub fn new(buffer: usize) -> Self {
        Fanout {
            subscribers: Vec::new(),
            // Tokio's channels hold at most `Semaphore::MAX_PERMITS`; one slot is
            // reserved for a final message.
            buffer: buffer.min(tokio::sync::Semaphore::MAX_PERMITS - 1),
            slow_dropped: 0,
        }
    }

    /// Registers a watcher (`bookmarks`: whether [`send_bookmark`](Self::send_bookmark)
    /// reaches it) and answers its receiver. Watchers that went away are forgotten.
    pub fn subscribe(&mut self, bookmarks: bool) -> mpsc::Receiver<M> {
        let (sender, receiver) = mpsc::channel(self.buffer + 1);
        self.subscribers
            .retain(|subscriber| !subscriber.sender.is_closed());
        self.subscribers.push(Subscriber { sender, bookmarks });
        receiver
    }

    /// Offers the message `make` builds to every watcher; answers how many were
    /// dropped for falling behind.
    pub fn send(&mut self, make: impl Fn() -> M) -> usize {
        self.offer(|_| true, make)
    }

    /// Offers the message `make` builds to every watcher that asked for bookmarks;
    /// answers how many were dropped for falling behind.
    pub fn send_bookmark(&mut self, make: impl Fn() -> M) -> usize {
        self.offer(|subscriber| subscriber.bookmarks, make)
    }

    fn offer(&mut self, to: impl Fn(&Subscriber<M>) -> bool, make: impl Fn() -> M) -> usize {
        let mut slow = 0;
        self.subscribers.retain(|subscriber| {
            if !to(subscriber) {
                return !subscriber.sender.is_closed();
            }
            if subscriber.sender.capacity() > 1 {
                return subscriber.sender.try_send(make()).is_ok();
            }
            if !subscriber.sender.is_closed() {
                slow += 1;
            }
            false
        });
        if slow > 0 {
            self.slow_dropped += slow as u64;
            debug!(
                slow,
                buffered = self.buffer,
                "dropping watchers that fell behind"
            );
        }
        slow
    }

    /// Ends every watch: each receiver yields what was buffered, then `last()` if
    /// given, then ends. Answers how many watches there were.
    pub fn close_all(&mut self, last: Option<&dyn Fn() -> M>) -> usize {
        let subscribers = std::mem::take(&mut self.subscribers);
        if let Some(last) = last {
            for subscriber in &subscribers {
                // The slot `offer` keeps free makes this succeed unless the watch is
                // already gone.
                let _ = subscriber.sender.try_send(last());
            }
        }
        subscribers.len()
    }

    /// How many watches are open (registered and not yet gone).
    pub fn len(&self) -> usize {
        self.subscribers
            .iter()
            .filter(|subscriber| !subscriber.sender.is_closed())
            .count()
    }

    /// Whether no watch is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many watchers were dropped, since the start, for falling behind.
    pub fn slow_dropped(&self) -> u64 {
        self.slow_dropped
    }

    /// How many messages one watcher may hold.
    pub fn buffer(&self) -> usize {
        self.buffer
    }
}

impl<M> fmt::Debug for Fanout<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fanout")
            .field("watchers", &self.subscribers.len())
            .field("buffer", &self.buffer)
            .field("slow_dropped", &self.slow_dropped)
            .finish()
    }
}

/// The snapshots the pages of paginated lists are served from: the first page takes
/// one, later pages slice it, so the pages together are one consistent list. At most
/// `max` are kept (the oldest is evicted first); a snapshot is released when its last
/// page is served.
///
/// Continue tokens are `<rv>.<snapshot id>.<offset>`: opaque to clients. A token whose
/// snapshot was evicted or compacted answers `Expired` (410, "start a new list"); one
/// this server never issued, `BadRequest`.
///
/// ```
/// use std::sync::Arc;
/// use reflector::history::ListSnapshots;
///
/// let mut snapshots = ListSnapshots::new(8);
/// let items: Arc<[u32]> = (0..5).collect();
/// let token = snapshots.keep(7, Arc::clone(&items), 2);
/// let page = snapshots.page(&token, Some(2), 0).unwrap();
/// assert_eq!((page.rv, &page.items[..]), (7, &[2, 3][..]));
/// let last = snapshots.page(page.continue_token.as_deref().unwrap(), Some(2), 0).unwrap();
/// assert_eq!((&last.items[..], last.continue_token), (&[4][..], None));
/// assert!(snapshots.page(&token, Some(2), 0).unwrap_err().is_expired()); // released
/// assert!(snapshots.page("nonsense", None, 0).unwrap_err().is_bad_request());
/// ```
pub struct ListSnapshots<I> {
    /// The snapshots, oldest first.
    snapshots: VecDeque<ListSnapshot<I>>,
    /// The id the next snapshot gets.
    next_id: u64,
    /// How many are kept.
    max: usize,
}

/// The state one paginated list is served from.
struct ListSnapshot<I> {
    /// Its id, part of its continue tokens.
    id: u64,
    /// The resource version it was taken at.
    rv: u64,
    /// Every item at `rv`, in list order.
    items: Arc<[I]>,
}

/// One page cut from a [`ListSnapshots`] snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<I> {
    /// The page's items.
    pub items: Vec<I>,
    /// The version the list is at.
    pub rv: u64,
    /// The token of the next page; `None` after the last.
    pub continue_token: Option<String>,
}

impl<I: Clone> ListSnapshots<I> {
    /// No snapshots; at most `max` (at least one) are kept at once.
    pub fn new(max: usize) -> Self {
        ListSnapshots {
            snapshots: VecDeque::new(),
            next_id: 0,
            max: max.max(1),
        }
    }

    /// Keeps `items`, the state at version `rv`, and answers the continue token of its
    /// page that starts at `offset`.
    pub fn keep(&mut self, rv: u64, items: Arc<[I]>, offset: usize) -> String {
        if self.snapshots.len() >= self.max {
            if let Some(evicted) = self.snapshots.pop_front() {
                debug!(resource_version = evicted.rv, "list snapshot evicted");
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.snapshots.push_back(ListSnapshot { id, rv, items });
        ContinueToken { rv, id, offset }.to_string()
    }

    /// The page `token` points at, at most `limit` items (`None`: the rest). A token
    /// from before `compacted` (the history's compaction point) answers `Expired`.
    pub fn page(
        &mut self,
        token: &str,
        limit: Option<usize>,
        compacted: u64,
    ) -> Result<Page<I>, Status> {
        let token: ContinueToken = token.parse()?;
        if token.rv < compacted {
            self.snapshots.retain(|snapshot| snapshot.rv >= compacted);
            return Err(Status::expired(format!(
                "the provided continue parameter is too old to display a consistent list \
                 result (resource version {}, compacted to {compacted}); start a new list \
                 without the continue parameter",
                token.rv
            )));
        }
        let Some(position) = self
            .snapshots
            .iter()
            .position(|snapshot| snapshot.id == token.id)
        else {
            return if token.id < self.next_id {
                Err(Status::expired(format!(
                    "the list snapshot of the continue token at resource version {} is no \
                     longer kept; start a new list without the continue parameter",
                    token.rv
                )))
            } else {
                Err(invalid_continue("it was not issued by this server"))
            };
        };
        let snapshot = &self.snapshots[position];
        if snapshot.rv != token.rv || token.offset > snapshot.items.len() {
            return Err(invalid_continue("it does not match its list"));
        }
        let total = snapshot.items.len();
        let end = limit.map_or(total, |limit| token.offset.saturating_add(limit).min(total));
        let items = snapshot.items[token.offset..end].to_vec();
        let rv = snapshot.rv;
        let continue_token = if end < total {
            Some(
                ContinueToken {
                    offset: end,
                    ..token
                }
                .to_string(),
            )
        } else {
            // The last page was served: the snapshot is not needed anymore.
            self.snapshots.remove(position);
            None
        };
        Ok(Page {
            items,
            rv,
            continue_token,
        })
    }

    /// Drops the snapshots taken before version `rv` (after a compaction).
    pub fn compact_to(&mut self, rv: u64) {
        self.snapshots.retain(|snapshot| snapshot.rv >= rv);
    }

    /// Drops every snapshot (after a relist: the old state is gone).
    pub fn clear(&mut self) {
        self.snapshots.clear();
    }

    /// How many snapshots are kept now.
    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }
}

impl<I> fmt::Debug for ListSnapshots<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListSnapshots")
            .field("kept", &self.snapshots.len())
            .field("max", &self.max)
            .finish()
    }
}

/// A paginated list's continue token: `<rv>.<snapshot id>.<offset>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ContinueToken {
    /// The snapshot's resource version.
    rv: u64,
    /// The snapshot's id.
    id: u64,
    /// Where the next page starts in the snapshot.
    offset: usize,
}

impl fmt::Display for ContinueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.rv, self.id, self.offset)
    }
}

impl std::str::FromStr for ContinueToken {
    type Err = Status;

    fn from_str(token: &str) -> Result<Self, Status> {
        let mut parts = token.split('.');
        let mut number = || {
            parts
                .next()
                .filter(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
                .and_then(|part| part.parse::<u64>().ok())
        };
        let (Some(rv), Some(id), Some(offset)) = (number(), number(), number()) else {
            return Err(invalid_continue("malformed"));
        };
        if parts.next().is_some() {
            return Err(invalid_continue("malformed"));
        }
        let offset = usize::try_from(offset).map_err(|_| invalid_continue("malformed"))?;
        Ok(ContinueToken { rv, id, offset })
    }
}

/// The answer to a continue token this server cannot read.
fn invalid_continue(why: &str) -> Status {
    Status::bad_request(format!("invalid continue token: {why}"))
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

    #[test]
    fn fanout_closes_with_a_final_message_even_when_full() {
        let mut fanout = Fanout::new(1);
        let mut receiver = fanout.subscribe(true);
        fanout.send(|| 1);
        assert_eq!(fanout.close_all(Some(&|| 99)), 1);
        assert_eq!(receiver.try_recv(), Ok(1));
        assert_eq!(receiver.try_recv(), Ok(99));
        assert!(receiver.try_recv().is_err());
        assert_eq!(fanout.slow_dropped(), 0);
    }

    #[test]
    fn bookmarks_reach_only_the_watchers_that_asked() {
        let mut fanout = Fanout::new(4);
        let mut plain = fanout.subscribe(false);
        let mut wants = fanout.subscribe(true);
        fanout.send_bookmark(|| "bookmark");
        assert!(plain.try_recv().is_err());
        assert_eq!(wants.try_recv(), Ok("bookmark"));
        drop(plain);
        assert_eq!(fanout.len(), 1);
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = ContinueToken {
            rv: 12,
            id: 3,
            offset: 500,
        };
        assert_eq!(token.to_string(), "12.3.500");
        assert_eq!(token.to_string().parse::<ContinueToken>().unwrap(), token);
        for bad in ["", "1.2", "1.2.3.4", "a.b.c", "1..3", "-1.2.3"] {
            assert!(
                bad.parse::<ContinueToken>().unwrap_err().is_bad_request(),
                "{bad}"
            );
        }
    }

    #[test]
    fn snapshots_are_evicted_oldest_first_and_compaction_expires_them() {
        let mut snapshots = ListSnapshots::new(2);
        let items: Arc<[u8]> = Arc::from(vec![1, 2, 3]);
        let first = snapshots.keep(5, Arc::clone(&items), 1);
        let second = snapshots.keep(6, Arc::clone(&items), 1);
        let third = snapshots.keep(7, Arc::clone(&items), 1);
        assert!(snapshots.page(&first, None, 0).unwrap_err().is_expired());
        assert_eq!(snapshots.page(&second, Some(1), 0).unwrap().items, [2]);
        assert!(snapshots.page(&third, None, 7).is_ok());
        assert!(snapshots.page(&second, None, 7).unwrap_err().is_expired());
        assert!(snapshots.is_empty());
        let forged = ContinueToken {
            rv: 7,
            id: 99,
            offset: 0,
        }
        .to_string();
        assert!(snapshots
            .page(&forged, None, 0)
            .unwrap_err()
            .is_bad_request());
    }
}
