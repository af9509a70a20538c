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
//! informer.wait_until_synced().await;
//! assert_eq!(informer.store().len(), 1);
//! shutdown.cancel();
//! running.await.unwrap();
//! # });
//! ```
//!
//! ## Map
//!
//! - [`lister_watcher`]: the source contract — [`ListerWatcher`], [`List`],
//!   [`WatchEvent`].
//! - [`reflector`](mod@reflector): [`Reflector`], its [`ReflectorConfig`],
//!   [`BackoffConfig`] and [`ReflectorHandle`].
//! - [`reflector_store`]: [`ReflectorStore`] and the [`Change`]s it applies.
//! - [`informer`]: [`Informer`] and its handlers.
//! - [`memory`]: [`MemoryServer`], the embedded versioned source with fault injection.
//! - [`history`]: the serving side's history window, watcher fan-out and list
//!   snapshots, shared by `MemoryServer` and the `watch-server` crate.
//! - `etcd` (feature `etcd`): `EtcdSource`, a real etcd's key prefix as a source.
//! - `kubernetes` (feature `kube`): `KubeSource`, the Kubernetes API as a source.
//! - [`error`]: [`ReflectorError`], what the error hook receives.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
#[cfg(feature = "etcd")]
pub mod etcd;
pub mod history;
pub mod informer;
#[cfg(feature = "kube")]
pub mod kubernetes;
pub mod lister_watcher;
pub mod memory;
mod readiness;
pub mod reflector;
pub mod reflector_store;

pub use error::{InformerStopped, ReflectorError, StoppedBeforeSync};
#[cfg(feature = "etcd")]
pub use etcd::{EtcdConfig, EtcdSource, EtcdWriter};
pub use informer::{
    EventHandler, Handler, HandlerRegistration, Informer, InformerBuilder, InformerMetrics,
};
#[cfg(feature = "kube")]
pub use kubernetes::KubeSource;
pub use lister_watcher::{List, ListOptions, ListerWatcher, WatchEvent, WatchOptions, WatchStream};
pub use memory::{MemoryServer, MemoryServerConfig, Request};
pub use reflector::{BackoffConfig, Reflector, ReflectorConfig, ReflectorHandle, RelistMode};
pub use reflector_store::{Change, ReflectorStore};
pub use store_core;
