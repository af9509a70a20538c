//! # serve
//!
//! The serving half of *typed watch cache*: what a server of list and watch keeps so
//! that many clients can watch one source — the part of kube-apiserver's watch cache
//! that is not HTTP. Shared by every server in this workspace, the embedded
//! `reflector::MemoryServer` and `watch-server`'s `WatchCache`, so that both keep their
//! history, fan out their events and page their lists with one mechanism.
//!
//! ```
//! use serve::{Fanout, History, Revision};
//!
//! let mut history = History::new(100, 0);
//! let mut watchers: Fanout<&str> = Fanout::new(16);
//! let mut watch = watchers.subscribe(false);
//! let rv: Revision = "1".parse()?;
//! history.push(rv.get(), "added a");
//! watchers.send(|| "added a");
//! assert_eq!(watch.try_recv(), Ok("added a"));
//! assert_eq!(history.since(0).unwrap().count(), 1);
//! # Ok::<(), serve::RevisionError>(())
//! ```
//!
//! ## Map
//!
//! - [`revision`]: [`Revision`], a numeric resource version — the one parse and the
//!   one written form of numbered versions.
//! - [`history`]: [`History`], the window of recent events a watch from an older
//!   version is replayed from.
//! - [`fanout`]: [`Fanout`], the open watches, each with a bounded buffer.
//! - [`snapshots`]: [`ListSnapshots`], the snapshots paginated lists are served from,
//!   and their continue tokens.
//!
//! Versions are [`Revision`] numbers here, as kube-apiserver orders them; they must
//! grow with every event but need not be contiguous (an etcd key prefix skips the
//! revisions of other prefixes).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fanout;
pub mod history;
pub mod revision;
pub mod snapshots;

pub use fanout::Fanout;
pub use history::History;
pub use revision::{Revision, RevisionError};
pub use snapshots::{ListSnapshots, Page};
