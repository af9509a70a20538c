//! # store-core
//!
//! Typed client-side caches for watch-based sources — the runtime-free half of
//! *typed watch cache*: keys, stores, indexes, queues and a Kubernetes-wire-compatible
//! [`Status`].
//!
//! Every container is generic over `T: `[`Keyed`]: the object computes its own key
//! (usually through `#[derive(Keyed)]`), so nothing is keyed by formatted strings and
//! no key function can fail at run time.
//!
//! ```
//! use store_core::{Keyed, ObjectName, ObjectNameRef, Status};
//!
//! #[derive(Keyed)]
//! #[keyed(namespace = "metadata.namespace", name = "metadata.name")]
//! struct ConfigMap {
//!     metadata: ObjectMeta,
//!     data: std::collections::BTreeMap<String, String>,
//! }
//!
//! struct ObjectMeta {
//!     namespace: Option<String>,
//!     name: String,
//! }
//!
//! let cm = ConfigMap {
//!     metadata: ObjectMeta { namespace: Some("default".into()), name: "app".into() },
//!     data: Default::default(),
//! };
//! assert_eq!(cm.key(), ObjectName::namespaced("default", "app").unwrap());
//! assert_eq!(cm.key().as_ref(), ObjectNameRef::namespaced("default", "app"));
//!
//! let missing = Status::not_found("configmaps", "app");
//! assert!(missing.is_not_found());
//! assert_eq!(missing.code, 404);
//! ```
//!
//! ## Map
//!
//! - [`keyed`]: the [`Keyed`] trait, [`ObjectName`] and its borrowed [`ObjectNameRef`].
//! - [`store`]: the [`Store`] contract (reads and writes) and [`reader`] its read-only
//!   view [`ReadOnly`], which a writer hands out; [`cache`] and [`sharded`] its two backends,
//!   [`Cache`] (one lock, fully consistent) and [`ShardedCache`] (DashMap shards).
//! - [`index`]: [`Indexer`], [`IndexDef`] and [`IndexValues`]: typed secondary indexes.
//! - [`options`]: [`StoreOptions`] — a backend's indexes and a transformer run on every
//!   written object (client-go's `WithTransformer`).
//! - [`undelta`]: [`UndeltaStore`], which pushes the whole content to a callback after
//!   every write; [`expiration`]: [`ExpirationCache`], whose entries expire lazily by a
//!   TTL or a policy, on a pluggable [`Clock`].
//! - [`delta`]: the event vocabulary every layer shares — [`Delta`], typed tombstones
//!   [`DeletedObject`], and the one rule that turns what a relist lacks into
//!   tombstones ([`delta::tombstones`]).
//! - [`queue`]: the queues — [`Fifo`] (latest object per key), [`DeltaFifo`] (every
//!   change per key, coalesced under the key's place) and [`OrderedFifo`] (every change
//!   in arrival order across keys: client-go's `RealFIFO`, what informers run on) —
//!   and what they share: the [`Queue`] trait, [`Requeue`], [`PopError`],
//!   [`KnownObjects`].
//! - [`panic`](mod@panic): the message of a caught panic in user code.
//! - [`resource_version`]: [`ResourceVersion`], the opaque version of a source's state.
//! - [`status`]: [`Status`], the typed, wire-compatible Kubernetes error.
//! - [`error`]: [`Error`], what this crate's operations report.
//!
//! ## Which queue
//!
//! Pick [`OrderedFifo`] when a consumer must see changes in the order the source made
//! them (an informer, anything that correlates keys — "the Service changed, then its
//! Endpoints"), or wants atomic relists and batches: client-go's informers run on it
//! since 1.33, and so does `reflector::Informer`. Its memory grows with the number of
//! queued events, so a stalled consumer holds every event since it stalled. Pick
//! [`DeltaFifo`] when per-key coalescing matters more than order: a slow consumer then
//! sees all changes of a key together, in the key's first-arrival place, and the queue
//! holds at most one entry per key. Pick [`Fifo`] for work queues where only the latest
//! version of a key is worth processing.
//!
//! ## Features
//!
//! - `derive` (default): re-exports `#[derive(Keyed)]`, so `use store_core::Keyed;`
//!   brings both the trait and the derive.
//! - `k8s-openapi`: every k8s-openapi resource is `Keyed` (`Cache<ConfigMap>` just
//!   works); see `k8s_openapi`.
//! - `kube`: `Status` converts from and to kube's `Status`; implies `k8s-openapi`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cache;
pub mod delta;
mod derive_support;
pub mod error;
pub mod expiration;
pub mod index;
#[cfg(feature = "k8s-openapi")]
pub mod k8s_openapi;
pub mod keyed;
pub mod options;
pub mod panic;
pub mod queue;
pub mod reader;
pub mod resource_version;
pub mod sharded;
pub mod status;
pub mod store;
mod sync;
pub mod undelta;

pub use cache::Cache;
pub use delta::{DeletedObject, Delta, DeltaKind};
pub use error::Error;
pub use expiration::{Clock, ExpirationCache, ExpirationPolicy, ManualClock, SystemClock};
pub use index::{IndexDef, IndexValues, Indexer, NAMESPACE_INDEX};
pub use keyed::{validate_string_key, Keyed, ObjectName, ObjectNameRef};
pub use options::StoreOptions;
pub use queue::{
    Batch, DeltaFifo, Deltas, Fifo, KnownObjects, OrderedEvent, OrderedFifo, PopError, Queue,
    Requeue,
};
pub use reader::ReadOnly;
pub use resource_version::ResourceVersion;
pub use sharded::ShardedCache;
pub use status::{
    CauseType, ListMeta, Status, StatusCause, StatusDetails, StatusReason, StatusSummary,
};
pub use store::{BatchWrite, Removed, Store, Written};
pub use undelta::UndeltaStore;

/// The derive: `#[derive(Keyed)]` (see [`Keyed`]).
#[cfg(feature = "derive")]
pub use store_derive::Keyed;

pub use equivalent::Equivalent;

#[doc(hidden)]
pub mod __private {
    //! Paths the derive's generated code uses; not part of the public API.
    pub use crate::derive_support::{
        cluster_name, namespace_index_from_key, namespace_values, object_name, KeyString,
        ResourceVersionField,
    };
    pub use serde;
}

/// The README's example, compiled and run as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
