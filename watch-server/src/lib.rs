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
//! - [`ServedResource`]: what a served type tells (group, version, kind, resource name,
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
//!
//! ## Map
//!
//! Data flows one way: a reflector writes into [`cache`], [`http`] reads it and
//! writes the wire; the cache knows nothing of HTTP.
//!
//! - [`resource`]: the [`ServedResource`] trait and how one object is written on the wire
//!   ([`resource::encode`]); [`configmap`]: [`ConfigMap`], the type the binary serves.
//! - [`selector`]: [`LabelSelector`] and [`FieldSelector`], parsed as kube-apiserver
//!   parses them, and the filter of one request (namespace + both selectors).
//! - [`cache`]: [`WatchCache`], [`WatchCacheConfig`], [`WatchCacheStats`] — the
//!   current objects (`entry`: each written out once) and the window of recent
//!   events (`event`: each event's lines, made once and shared); `write` is its
//!   [`ReflectorStore`](reflector::ReflectorStore) impl.
//! - [`http`]: [`WatchServer`] and its `run` — the axum server; `config`:
//!   [`ServerConfig`]; `context`: what every request shares and [`ServerStats`];
//!   `routes`: the path grammar as one table; `discovery`; `query`: the
//!   parameters; `endpoint`: the served resources, type-erased; `list`: lists and
//!   gets; `watch`: watch streams and all their framing; `response`: the answers,
//!   and the `Status` error answer as an axum `IntoResponse`.
//! - `src/bin/watch-server.rs` (feature `bin`): the binary — churning ConfigMaps
//!   from an embedded `MemoryServer`, or an etcd prefix.
//!
//! ## Features
//!
//! - `bin`: builds the `watch-server` binary (`cargo run -p watch-server --features
//!   bin`). What only the binary needs — its log output (`tracing-subscriber`) and
//!   Ctrl-C handling (tokio's `signal`) — is no dependency of the library without it.
//! - `etcd`: the binary's `--etcd URL --prefix P` (reflector's `EtcdSource`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cache;
pub mod configmap;
pub mod http;
pub mod resource;
pub mod selector;

pub use cache::{WatchCache, WatchCacheConfig, WatchCacheError, WatchCacheStats};
pub use configmap::{ConfigMap, ObjectMeta};
pub use http::{ServerConfig, ServerStats, WatchServer};
pub use resource::ServedResource;
pub use selector::{FieldSelector, LabelSelector};
