//! # watch-server
//!
//! A watch cache served in the Kubernetes list/watch wire protocol — the role of
//! kube-apiserver's "cacher": one upstream watch (any
//! [`ListerWatcher`](reflector::ListerWatcher): the embedded `MemoryServer`, etcd,
//! another API server) fanned out to many HTTP clients — kubectl, kube-rs,
//! client-go, the Python client — that list and watch it as they would a real API
//! server.
//!
//! - [`WatchCache`]: the current objects plus a window of recent events, each event
//!   written out once and shared by every watcher; a [`Reflector`](reflector::Reflector)
//!   feeds it (it is a [`ReflectorStore`](reflector::ReflectorStore)).
//! - [`WatchServer`]: the HTTP surface (axum): discovery, list, get, watch; errors as
//!   `Status` with the apiserver's codes.
//! - [`Resource`]: what a served type tells (group, version, kind, resource name,
//!   name/namespace/labels); [`ConfigMap`] is one, served by the binary.
//!
//! ```
//! use std::sync::Arc;
//! use reflector::{MemoryServer, Reflector};
//! use tokio_util::sync::CancellationToken;
//! use watch_server::{ConfigMap, ServerConfig, WatchCache, WatchServer};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let source = MemoryServer::new();
//! source.create(ConfigMap::new("default", "app").with_data("mode", "fast")).unwrap();
//! let cache = WatchCache::<ConfigMap>::default();
//! let shutdown = CancellationToken::new();
//! let reflector = Reflector::new(source.clone(), cache.clone());
//! let synced = reflector.handle();
//! tokio::spawn(reflector.run(shutdown.clone()));
//! synced.wait_until_synced().await.unwrap();
//!
//! let server = WatchServer::new(ServerConfig::default()).serve(cache);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let address = listener.local_addr().unwrap();
//! let serving = tokio::spawn(server.run(listener, shutdown.clone()));
//! // kubectl --server http://{address} get configmaps -A
//! # let _ = address;
//! shutdown.cancel();
//! serving.await.unwrap().unwrap();
//! # });
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cache;
pub mod configmap;
pub mod http;
pub mod resource;
pub mod selector;

pub use cache::{WatchCache, WatchCacheConfig, WatchCacheStats};
pub use configmap::{ConfigMap, ObjectMeta};
pub use http::{ServerConfig, ServerStats, WatchServer};
pub use resource::Resource;
pub use selector::{FieldSelector, LabelSelector};
