//! [`WatchServer`]: the HTTP surface — discovery, list, get and watch in the
//! Kubernetes wire protocol — over one or more [`WatchCache`]s, on axum.
//!
//! A request goes one way through the rooms of this module:
//!
//! - `routes`: the path grammar — a path becomes a route value (discovery, or the
//!   objects of one resource), read from one table;
//! - `discovery`: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}[/{version}]`;
//! - `query`: the parameters, parsed and validated as kube-apiserver does;
//! - `endpoint`: the served resources, type-erased: the one a path names refuses
//!   what it cannot serve, then gets, lists or watches;
//! - `list`: lists and gets, `watch`: watch streams and all their framing (event,
//!   bookmark and error lines, chunks);
//! - `response`: the answers — JSON, streams, and `ApiError`, the `Status` a
//!   handler returns for a refusal (an axum `IntoResponse`: its code, its JSON,
//!   `Retry-After`).
//!
//! Beside them, `config` holds [`ServerConfig`] and `context` what every request
//! shares (the config, the counters behind [`ServerStats`], the shutdown token).
//! The cache ([`crate::cache`]) holds the data and knows nothing of HTTP; this
//! module reads it and writes the wire.

mod config;
mod context;
mod discovery;
mod endpoint;
mod list;
mod query;
mod response;
mod routes;
pub(crate) mod watch;

pub use config::ServerConfig;
pub use context::ServerStats;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use store_core::Status;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::cache::WatchCache;
use crate::http::context::Context;
use crate::http::endpoint::{Endpoint, Request};
use crate::http::query::Query;
use crate::http::response::{Answer, ApiError};
use crate::http::routes::{GroupVersion, ObjectsPath, Route};
use crate::resource::ServedResource;

/// Serves [`WatchCache`]s over HTTP as kube-apiserver serves its watch cache, so
/// that kubectl, kube-rs, client-go and the Python client list and watch them:
///
/// - `GET /api/v1/{resource}` and `/api/v1/namespaces/{ns}/{resource}` (and
///   `/apis/{group}/{version}/…` for grouped types): a list, with `limit`/`continue`,
///   `resourceVersion` + `resourceVersionMatch`, `labelSelector`, `fieldSelector`;
///   `?watch=1` streams newline-delimited events (chunked), with
///   `allowWatchBookmarks`, `timeoutSeconds`, and `sendInitialEvents=true` ending the
///   initial `ADDED`s with the `k8s.io/initial-events-end` bookmark;
/// - `GET …/{resource}/{name}`: one object;
/// - discovery: `/api`, `/api/v1`, `/apis`, `/apis/{group}[/{version}]`, `/version`.
///
/// Every error is a `Status` with its code: 400 for bad parameters, 404 for unknown
/// paths and objects, 405 for anything but GET, 410 in the stream for a watch from
/// before the window, 429 while a cache has not synced or past
/// [`ServerConfig::max_watchers`], 504 `ResourceVersionTooLarge` for a version the
/// cache has not reached in [`ServerConfig::freshness_wait`].
///
/// It serves reads only, with no authentication: bind it to loopback, or put it
/// behind a proxy that authenticates.
///
/// ```no_run
/// use tokio_util::sync::CancellationToken;
/// use watch_server::{ConfigMap, ServerConfig, WatchCache, WatchServer};
///
/// # async fn run() -> std::io::Result<()> {
/// let cache = WatchCache::<ConfigMap>::default(); // fed by a Reflector
/// let server = WatchServer::new(ServerConfig::default()).serve(cache);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8001").await?;
/// server.run(listener, CancellationToken::new()).await
/// # }
/// ```
#[derive(Clone)]
pub struct WatchServer {
    endpoints: Arc<Vec<Arc<dyn Endpoint>>>,
    context: Arc<Context>,
}

impl WatchServer {
    /// A server with no resources yet.
    pub fn new(config: ServerConfig) -> Self {
        WatchServer {
            endpoints: Arc::new(Vec::new()),
            context: Arc::new(Context::new(config)),
        }
    }

    /// Also serves `cache` (under its type's group, version and resource name).
    pub fn serve<T: ServedResource>(mut self, cache: WatchCache<T>) -> Self {
        Arc::make_mut(&mut self.endpoints).push(Arc::new(cache));
        self
    }

    /// Its counters.
    pub fn stats(&self) -> ServerStats {
        self.context.counters.stats()
    }

    /// The axum router: every path answers through [`WatchServer::handle`]'s rules.
    pub fn router(&self) -> Router {
        let server = self.clone();
        Router::new().fallback(move |method: Method, uri: Uri| {
            let server = server.clone();
            async move { server.handle(&method, &uri).await }
        })
    }

    /// Serves on `listener` until `shutdown`: then every watch stream ends cleanly
    /// and the call returns once the connections are closed. Sends the bookmark ticks
    /// while it runs.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let ticks = {
            let endpoints = Arc::clone(&self.endpoints);
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(Duration::from_secs(1));
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = interval.tick() => endpoints.iter().for_each(|endpoint| endpoint.tick()),
                    }
                }
            })
        };
        let context = Arc::clone(&self.context);
        let stop = shutdown.clone();
        let watches_end = tokio::spawn(async move {
            stop.cancelled().await;
            context.shutdown.cancel();
        });
        let address = listener.local_addr()?;
        info!(%address, "watch-server serving");
        let router = self.router();
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        ticks.abort();
        watches_end.abort();
        self.context.shutdown.cancel();
        served
    }

    /// Answers one request.
    pub async fn handle(&self, method: &Method, uri: &Uri) -> Response {
        let answer = if method == Method::GET {
            self.route(uri).await
        } else {
            Err(ApiError::from(Status::failure(
                store_core::StatusReason::MethodNotAllowed,
                format!("the server does not allow the method {method}: this watch cache serves reads only"),
            )))
        };
        answer.unwrap_or_else(|error| {
            self.context
                .counters
                .refused
                .fetch_add(1, Ordering::Relaxed);
            debug!(%uri, status = %error.status(), "request refused");
            error.into_response()
        })
    }

    /// Answers a GET: the [`routes`] table says what the path names.
    async fn route(&self, uri: &Uri) -> Answer {
        let segments = routes::segments(uri.path());
        let raw_query = uri.query().unwrap_or_default();
        let endpoints = &self.endpoints[..];
        match Route::of(&segments) {
            Route::Version => Ok(discovery::version(&self.context.config.version)),
            Route::CoreVersions => Ok(discovery::core_versions()),
            Route::Groups => Ok(discovery::groups(endpoints)),
            Route::CoreResources => Ok(discovery::resources(endpoints, GroupVersion::CORE)),
            Route::Group(group) => discovery::group(endpoints, group),
            Route::GroupResources(group_version) if discovery::serves(endpoints, group_version) => {
                Ok(discovery::resources(endpoints, group_version))
            }
            // A group version not served reads as an objects path with nothing
            // after the version: a bad query answers 400, else 404.
            Route::GroupResources(group_version) => {
                self.objects(group_version, &[], raw_query).await
            }
            Route::Objects(group_version, objects) => {
                self.objects(group_version, objects, raw_query).await
            }
            Route::Unknown => Err(ApiError::path_not_found(uri.path())),
        }
    }

    /// Answers a request for the objects of one resource: its query is read first
    /// (400), then its path (404), then the resource answers.
    async fn objects(
        &self,
        group_version: GroupVersion<'_>,
        objects: &[&str],
        raw_query: &str,
    ) -> Answer {
        let mut query = Query::parse(raw_query)?;
        let path = ObjectsPath::parse(objects)?;
        query.watch |= path.watch;
        let Some(endpoint) = self.endpoints.iter().find(|endpoint| {
            endpoint.group_version() == group_version && endpoint.plural() == path.plural
        }) else {
            return Err(Status::not_found(
                "",
                &format!(
                    "the server could not find the requested resource {:?} in {group_version}",
                    path.plural,
                ),
            )
            .into());
        };
        let request = Request {
            namespace: path.namespace.map(str::to_owned),
            name: path.name.map(str::to_owned),
            query,
        };
        endpoint.serve(request, Arc::clone(&self.context)).await
    }
}
