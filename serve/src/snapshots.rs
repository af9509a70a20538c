//! [`ListSnapshots`]: the snapshots the pages of a paginated list are served from,
//! and their continue tokens.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use store_core::Status;
use tracing::debug;

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
/// use serve::ListSnapshots;
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
    ) -> Result<Page<I>, Box<Status>> {
        let token: ContinueToken = token.parse()?;
        if token.rv < compacted {
            self.snapshots.retain(|snapshot| snapshot.rv >= compacted);
            return Err(Box::new(Status::expired(format!(
                "the provided continue parameter is too old to display a consistent list \
                 result (resource version {}, compacted to {compacted}); start a new list \
                 without the continue parameter",
                token.rv
            ))));
        }
        let Some(position) = self
            .snapshots
            .iter()
            .position(|snapshot| snapshot.id == token.id)
        else {
            return if token.id < self.next_id {
                Err(Box::new(Status::expired(format!(
                    "the list snapshot of the continue token at resource version {} is no \
                     longer kept; start a new list without the continue parameter",
                    token.rv
                ))))
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
    type Err = Box<Status>;

    fn from_str(token: &str) -> Result<Self, Box<Status>> {
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
fn invalid_continue(why: &str) -> Box<Status> {
    Box::new(Status::bad_request(format!(
        "invalid continue token: {why}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

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
