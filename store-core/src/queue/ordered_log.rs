//! The log behind an [`OrderedFifo`](super::OrderedFifo): its entries in arrival
//! order, the batches a pop hands out ([`Batch`]), and what the consumer will hold
//! once what is queued and in flight is applied (the state a relist's tombstones are
//! computed against).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use hashbrown::{HashMap, HashSet};

use super::engine::Core;
use super::ordered_fifo::OrderedEvent;
use super::KnownObjects;
use crate::delta::Delta;
use crate::keyed::Keyed;
use crate::resource_version::ResourceVersion;

/// One queued entry: the event, the resource version the source made it at (when
/// the writer said), and its place in the log.
pub(super) struct Entry<T: Keyed> {
    pub(super) event: OrderedEvent<T>,
    pub(super) key: Option<T::Key>,
    pub(super) resource_version: Option<ResourceVersion>,
    pub(super) seq: u64,
}

/// Entries popped together by [`OrderedFifo::pop_batch`](super::OrderedFifo::pop_batch), oldest first: never two of
/// one key, never some of the initial list and some after it, and a `ReplacedAll`
/// always alone.
pub struct Batch<T: Keyed> {
    /// Never empty: the first entry apart.
    pub(super) first: Entry<T>,
    pub(super) rest: Vec<Entry<T>>,
}

impl<T: Keyed> Batch<T> {
    fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry<T>> + '_ {
        std::iter::once(&self.first).chain(self.rest.iter())
    }

    /// The oldest event (a batch is never empty).
    pub fn first(&self) -> &OrderedEvent<T> {
        &self.first.event
    }

    /// The events, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &OrderedEvent<T>> + '_ {
        self.entries().map(|entry| &entry.event)
    }

    /// The events with the resource version each was made at (when known), oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&OrderedEvent<T>, Option<&ResourceVersion>)> + '_ {
        self.entries()
            .map(|entry| (&entry.event, entry.resource_version.as_ref()))
    }

    /// The newest resource version in the batch: the version the consumer's store is
    /// at once it has applied the batch (`None` when no entry carried one).
    pub fn resource_version(&self) -> Option<&ResourceVersion> {
        self.entries().rev().find_map(|entry| {
            entry.resource_version.as_ref().or(match &entry.event {
                OrderedEvent::ReplacedAll {
                    resource_version, ..
                } => Some(resource_version),
                OrderedEvent::Bookmark(rv) => Some(rv),
                OrderedEvent::Delta(_) => None,
            })
        })
    }

    /// How many events (at least one).
    #[allow(clippy::len_without_is_empty)] // never empty
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }
}

impl<T: Keyed + fmt::Debug> fmt::Debug for Batch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.events()).finish()
    }
}

/// What a popped batch leaves the consumer holding, kept while it is processed so a
/// non-atomic `replace` decides as if the consumer had applied it.
pub(super) enum Outcome<T: Keyed> {
    Set(T::Key, Option<Arc<T>>),
    ResetTo(Vec<Arc<T>>),
}

pub(super) fn outcome_of<T: Keyed>(entry: &Entry<T>) -> Option<Outcome<T>> {
    match &entry.event {
        OrderedEvent::Delta(Delta::Deleted(deleted)) => Some(Outcome::Set(deleted.key(), None)),
        OrderedEvent::Delta(delta) => Some(Outcome::Set(delta.key(), delta.object().cloned())),
        OrderedEvent::ReplacedAll { objects, .. } => Some(Outcome::ResetTo(objects.clone())),
        OrderedEvent::Bookmark(_) => None,
    }
}

/// What a take hands the processing step.
pub(super) struct Taken<T: Keyed> {
    pub(super) batch: Batch<T>,
    pub(super) is_initial_list: bool,
    /// How many entries of the first `replace` the batch holds.
    pub(super) initial: usize,
    /// The key of the in-flight record, when the queue keeps one.
    pub(super) flight: Option<u64>,
}

/// The log, under the queue's lock.
pub(super) struct Log<T: Keyed> {
    pub(super) entries: VecDeque<Entry<T>>,
    pub(super) next_seq: u64,
    pub(super) populated: bool,
    /// Entries with a seq below this belong to the first `replace`.
    pub(super) initial_boundary: u64,
    pub(super) initial_remaining: usize,
    /// Outcomes of the batches being processed, by first seq (kept only when a
    /// non-atomic `replace` consults known objects).
    pub(super) in_flight: Option<BTreeMap<u64, Vec<Outcome<T>>>>,
    /// Reused by `take` for the one-key-per-batch rule.
    pub(super) batch_keys: HashSet<T::Key>,
}

impl<T: Keyed> Log<T> {
    /// An empty log.
    pub(super) fn new() -> Self {
        Log {
            entries: VecDeque::new(),
            next_seq: 0,
            populated: false,
            initial_boundary: 0,
            initial_remaining: 0,
            in_flight: None,
            batch_keys: HashSet::new(),
        }
    }

    /// After a relist has queued its entries: if it is the first write, everything now
    /// queued is the initial list `has_synced` waits for.
    pub(super) fn end_relist(&mut self) {
        if !self.populated {
            self.populated = true;
            self.initial_boundary = self.next_seq;
            self.initial_remaining = self.entries.len();
        }
    }

    pub(super) fn push(
        &mut self,
        event: OrderedEvent<T>,
        resource_version: Option<ResourceVersion>,
    ) {
        let key = event.key();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.push_back(Entry {
            event,
            key,
            resource_version,
            seq,
        });
    }

    pub(super) fn is_initial(&self, entry: &Entry<T>) -> bool {
        entry.seq < self.initial_boundary
    }

    pub(super) fn finish(&mut self, initial: usize, flight: Option<u64>) {
        self.initial_remaining = self.initial_remaining.saturating_sub(initial);
        if let (Some(flights), Some(id)) = (self.in_flight.as_mut(), flight) {
            flights.remove(&id);
        }
    }

    /// What the consumer will hold once it has applied what it holds now (`known`),
    /// the batches in flight, and every queued entry: the state a relist's deletions
    /// are computed against.
    pub(super) fn projected(&self, known: Option<&dyn KnownObjects<T>>) -> HashMap<T::Key, Arc<T>> {
        let mut state: HashMap<T::Key, Arc<T>> = HashMap::new();
        if let Some(known) = known {
            for key in known.known_keys() {
                if let Some(obj) = known.known_object(&key) {
                    state.insert(key, obj);
                }
            }
        }
        let mut apply = |outcome: Outcome<T>| match outcome {
            Outcome::Set(key, Some(obj)) => {
                state.insert(key, obj);
            }
            Outcome::Set(key, None) => {
                state.remove(&key);
            }
            Outcome::ResetTo(objects) => {
                state.clear();
                state.extend(objects.into_iter().map(|obj| (obj.key(), obj)));
            }
        };
        for outcomes in self.in_flight.iter().flat_map(BTreeMap::values) {
            for outcome in outcomes {
                apply(match outcome {
                    Outcome::Set(key, obj) => Outcome::Set(key.clone(), obj.clone()),
                    Outcome::ResetTo(objects) => Outcome::ResetTo(objects.clone()),
                });
            }
        }
        for entry in &self.entries {
            if let Some(outcome) = outcome_of(entry) {
                apply(outcome);
            }
        }
        state
    }

    /// The keys with an entry queued or in flight.
    pub(super) fn pending_keys(&self) -> HashSet<T::Key> {
        let queued = self.entries.iter().filter_map(|entry| entry.key.clone());
        let flying = self
            .in_flight
            .iter()
            .flat_map(BTreeMap::values)
            .flatten()
            .filter_map(|outcome| match outcome {
                Outcome::Set(key, _) => Some(key.clone()),
                Outcome::ResetTo(_) => None,
            });
        queued.chain(flying).collect()
    }
}

impl<T: Keyed> Core for Log<T> {
    type Taken = Taken<T>;

    #[inline]
    fn take(&mut self, max: usize) -> Option<Taken<T>> {
        let first = self.entries.pop_front()?;
        let initial_side = self.is_initial(&first);
        let lone = matches!(first.event, OrderedEvent::ReplacedAll { .. });
        let mut rest = Vec::new();
        if max > 1 && !lone {
            self.batch_keys.clear();
            if let Some(key) = &first.key {
                self.batch_keys.insert(key.clone());
            }
            while rest.len() + 1 < max {
                let Some(next) = self.entries.front() else {
                    break;
                };
                if self.is_initial(next) != initial_side
                    || matches!(next.event, OrderedEvent::ReplacedAll { .. })
                {
                    break;
                }
                if let Some(key) = &next.key {
                    if !self.batch_keys.insert(key.clone()) {
                        break;
                    }
                }
                rest.extend(self.entries.pop_front());
            }
        }
        let batch = Batch { first, rest };
        let flight = self.in_flight.as_mut().map(|flights| {
            let id = batch.first.seq;
            flights.insert(id, batch.entries().filter_map(outcome_of).collect());
            id
        });
        Some(Taken {
            initial: if initial_side { batch.len() } else { 0 },
            is_initial_list: initial_side,
            batch,
            flight,
        })
    }

    #[inline]
    fn queued(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    fn has_synced(&self) -> bool {
        self.populated && self.initial_remaining == 0
    }
}
