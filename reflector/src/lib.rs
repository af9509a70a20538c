//! # reflector
//!
//! Async list+watch for `store-core`: a [`Reflector`] keeps any [`ReflectorStore`] (a
//! `Cache`, a `ShardedCache`, a `Fifo`, a `DeltaFifo`, an `OrderedFifo`) in sync with a
//! [`ListerWatcher`] source, with client-go's state machine (list, watch, relist,
//! backoff, resync); an [`Informer`] adds an `OrderedFifo`, an indexed cache and event
//! handlers on top — client-go's in-order informer (1.33+): handlers see changes in the
//! order the source made them, across keys. (For per-key coalescing instead, run a
//! [`Reflector`] into a `store_core::DeltaFifo` and pop it yourself.) The default source
//! is the embedded [`MemoryServer`].
//!
//! ```
//! use std::sync::Arc;
//! use reflector::{Informer, MemoryServer};
//! use store_core::{Keyed, Store};
//! use tokio_util::sync::CancellationToken;
//!
//! #[derive(Keyed, Debug)]
//! #[keyed(namespace = "namespace", name = "name")]
//! struct Pod { namespace: String, name: String, node: String }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let server = MemoryServer::new();
//! server.create(Pod { namespace: "web".into(), name: "a".into(), node: "n1".into() }).unwrap();
//!
//! let mut builder = Informer::builder(server.clone());
//! builder.on_add(|pod: &Arc<Pod>, initial| println!("added {} (initial list: {initial})", pod.name));
//! let shutdown = CancellationToken::new();
//! let (informer, running) = builder.start(shutdown.clone());
//! informer.wait_until_synced().await.expect("the informer syncs");
//! assert_eq!(informer.store().len(), 1);
//! shutdown.cancel();
//! running.await.unwrap();
//! # });
//! ```
//!
//! ## Map
//!
//! - [`source`]: the source contract — [`ListerWatcher`], [`ListPage`],
//!   [`WatchEvent`].
//! - [`sources`]: the sources — [`MemoryServer`] (the embedded versioned source, with
//!   fault injection), `EtcdSource` (feature `etcd`: a real etcd's key prefix) and
//!   `KubeSource` (feature `kube`: the Kubernetes API).
//! - [`store`]: [`ReflectorStore`], what a reflector writes into, the [`Change`]s it
//!   applies (each with its resource version) and the [`StoreError`] it may refuse one
//!   with.
//! - [`reflector`](mod@reflector): [`Reflector`], its [`ReflectorConfig`],
//!   [`BackoffConfig`] and [`ReflectorHandle`].
//! - [`informer`]: [`Informer`] and its handlers.
//! - [`error`]: [`ReflectorError`], what the error hook receives.
//! - `readiness` (private): synced-or-stopped and the wait on it, shared by the
//!   reflector's and the informer's handles.
//!
//! The serving half — the event window, watcher fan-out and list snapshots the
//! `MemoryServer` serves from, and `Revision` — is the `serve` crate, shared with
//! `watch-server`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod informer;
mod readiness;
pub mod reflector;
pub mod source;
pub mod sources;
pub mod store;

pub use error::{InformerStopped, ReflectorError, StoppedBeforeSync};
pub use informer::{
    EventHandler, HandlerFns, HandlerRegistration, Informer, InformerBuilder, InformerMetrics,
};
pub use reflector::{BackoffConfig, Reflector, ReflectorConfig, ReflectorHandle, RelistMode};
pub use source::{
    ListOptions, ListPage, ListPart, ListStream, ListerWatcher, WatchEvent, WatchOptions,
    WatchStream,
};
#[cfg(feature = "etcd")]
pub use sources::etcd::{EtcdConfig, EtcdSource, EtcdWriter};
#[cfg(feature = "kube")]
pub use sources::kube::KubeSource;
pub use sources::memory::{MemoryServer, MemoryServerConfig};
pub use store::{Change, ReflectorStore, StoreError};
pub use store_core;
