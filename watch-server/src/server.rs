//! [`WatchServer`]: the HTTP surface — discovery, list, get and watch in the
//! Kubernetes wire protocol — over one or more [`WatchCache`]s.

// Errors are the `Status` (~300 bytes) the server answers with, as every source's are.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Response, StatusCode, Uri};
use axum::Router;
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;
use store_core::Status;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::cache::{event_line, put_event_line, Entry, Filter, Message, WatchCache, WatchStart};
use crate::query::{Query, VersionMatch};
use crate::resource::Resource;

/// How a [`WatchServer`] serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The most watches open at once over every resource (default 10 000); past it a
    /// watch answers 429 with `Retry-After: 1`.
    pub max_watchers: usize,
    /// How long a request for a resource version the cache has not reached waits
    /// before it answers 504 `ResourceVersionTooLarge` (default 3 s, as
    /// kube-apiserver).
    pub freshness_wait: Duration,
    /// How often a watch that allowed bookmarks receives one (default 60 s, as
    /// kube-apiserver).
    pub bookmark_interval: Duration,
    /// The watch timeout when the request sets none: drawn in [t, 2t) (default
    /// t = 30 min, kube-apiserver's `--min-request-timeout`).
    pub default_watch_timeout: Duration,
    /// The `gitVersion` `/version` reports.
    pub version: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_watchers: 10_000,
            freshness_wait: Duration::from_secs(3),
            bookmark_interval: Duration::from_secs(60),
            default_watch_timeout: Duration::from_secs(1800),
            version: "v1.34.0-watch-server".to_owned(),
        }
    }
}

/// Counters of a [`WatchServer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Watches open now.
    pub open_watches: usize,
    /// Watches opened since the start.
    pub watches: u64,
    /// List and get requests answered.
    pub lists: u64,
    /// Requests refused with a 4xx or 5xx answer (bad parameters, unknown paths,
    /// over the watch limit, not ready, …).
    pub refused: u64,
}

#[derive(Default)]
struct Counters {
    open_watches: AtomicUsize,
    watches: AtomicU64,
    lists: AtomicU64,
    refused: AtomicU64,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Answer = Result<Response<Body>, Status>;

/// One served resource, type-erased.
trait Endpoint: Send + Sync + 'static {
    fn group(&self) -> &'static str;
    fn version(&self) -> &'static str;
    fn plural(&self) -> &'static str;
    fn discovery(&self) -> serde_json::Value;
    fn serve(&self, request: Request, context: Arc<Context>) -> BoxFuture<'_, Answer>;
    fn tick(&self);
}

/// What a resource request names.
struct Request {
    namespace: Option<String>,
    name: Option<String>,
    query: Query,
}

/// What every request shares.
struct Context {
    config: ServerConfig,
    counters: Counters,
    shutdown: CancellationToken,
}

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
            context: Arc::new(Context {
                config,
                counters: Counters::default(),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// Also serves `cache` (under its type's group, version and resource name).
    pub fn serve<T: Resource>(mut self, cache: WatchCache<T>) -> Self {
        Arc::make_mut(&mut self.endpoints).push(Arc::new(cache));
        self
    }

    /// Its counters.
    pub fn stats(&self) -> ServerStats {
        let counters = &self.context.counters;
        ServerStats {
            open_watches: counters.open_watches.load(Ordering::Relaxed),
            watches: counters.watches.load(Ordering::Relaxed),
            lists: counters.lists.load(Ordering::Relaxed),
            refused: counters.refused.load(Ordering::Relaxed),
        }
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
    pub async fn handle(&self, method: &Method, uri: &Uri) -> Response<Body> {
        let answer = if method == Method::GET {
            self.route(uri).await
        } else {
            Err(Status::failure(
                store_core::StatusReason::MethodNotAllowed,
                format!("the server does not allow the method {method}: this watch cache serves reads only"),
            ))
        };
        answer.unwrap_or_else(|status| {
            self.context
                .counters
                .refused
                .fetch_add(1, Ordering::Relaxed);
            debug!(%uri, %status, "request refused");
            status_response(&status)
        })
    }

    async fn route(&self, uri: &Uri) -> Answer {
        let path = uri.path().trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let raw_query = uri.query().unwrap_or_default();
        match segments[..] {
            ["version"] => Ok(json_response(&json!({
                "major": "1",
                "minor": "34",
                "gitVersion": self.context.config.version,
                "platform": "linux/amd64",
            }))),
            ["api"] => Ok(json_response(&json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
            }))),
            ["apis"] => Ok(json_response(&self.group_list())),
            ["api", "v1"] => Ok(json_response(&self.resource_list("", "v1"))),
            ["apis", group] => self.group(group),
            ["apis", group, version] if self.has_group_version(group, version) => {
                Ok(json_response(&self.resource_list(group, version)))
            }
            ["api", "v1", ref rest @ ..] => self.resource("", "v1", rest, raw_query).await,
            ["apis", group, version, ref rest @ ..] => {
                self.resource(group, version, rest, raw_query).await
            }
            _ => Err(not_found_path(uri.path())),
        }
    }

    async fn resource(&self, group: &str, version: &str, rest: &[&str], raw_query: &str) -> Answer {
        let mut query = Query::parse(raw_query)?;
        // The legacy `/watch/` path prefix.
        let rest = match rest {
            ["watch", rest @ ..] => {
                query.watch = true;
                rest
            }
            rest => rest,
        };
        let (namespace, plural, name) = match *rest {
            ["namespaces", namespace, plural] => (Some(namespace), plural, None),
            ["namespaces", namespace, plural, name] => (Some(namespace), plural, Some(name)),
            [plural] => (None, plural, None),
            [plural, name] => (None, plural, Some(name)),
            _ => return Err(not_found_path(&rest.join("/"))),
        };
        let Some(endpoint) = self.endpoints.iter().find(|endpoint| {
            endpoint.group() == group
                && endpoint.version() == version
                && endpoint.plural() == plural
        }) else {
            return Err(Status::not_found(
                "",
                &format!(
                    "the server could not find the requested resource {plural:?} in {}",
                    if group.is_empty() {
                        version.to_owned()
                    } else {
                        format!("{group}/{version}")
                    }
                ),
            ));
        };
        let request = Request {
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
            query,
        };
        endpoint.serve(request, Arc::clone(&self.context)).await
    }

    fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.endpoints
            .iter()
            .any(|endpoint| endpoint.group() == group && endpoint.version() == version)
    }

    fn group_versions(&self) -> BTreeMap<&'static str, Vec<&'static str>> {
        let mut groups: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
        for endpoint in self
            .endpoints
            .iter()
            .filter(|endpoint| !endpoint.group().is_empty())
        {
            let versions = groups.entry(endpoint.group()).or_default();
            if !versions.contains(&endpoint.version()) {
                versions.push(endpoint.version());
            }
        }
        groups
    }

    fn group_json(group: &str, versions: &[&str]) -> serde_json::Value {
        let versions: Vec<serde_json::Value> = versions
            .iter()
            .map(
                |version| json!({"groupVersion": format!("{group}/{version}"), "version": version}),
            )
            .collect();
        json!({
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions.first(),
        })
    }

    fn group_list(&self) -> serde_json::Value {
        let groups: Vec<serde_json::Value> = self
            .group_versions()
            .iter()
            .map(|(group, versions)| Self::group_json(group, versions))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    fn group(&self, group: &str) -> Answer {
        match self.group_versions().get(group) {
            Some(versions) => Ok(json_response(&Self::group_json(group, versions))),
            None => Err(not_found_path(&format!("/apis/{group}"))),
        }
    }

    fn resource_list(&self, group: &str, version: &str) -> serde_json::Value {
        let resources: Vec<serde_json::Value> = self
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.group() == group && endpoint.version() == version)
            .map(|endpoint| endpoint.discovery())
            .collect();
        let group_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        })
    }
}

impl<T: Resource> Endpoint for WatchCache<T> {
    fn group(&self) -> &'static str {
        T::GROUP
    }

    fn version(&self) -> &'static str {
        T::VERSION
    }

    fn plural(&self) -> &'static str {
        T::PLURAL
    }

    fn discovery(&self) -> serde_json::Value {
        json!({
            "name": T::PLURAL,
            "singularName": T::SINGULAR,
            "namespaced": T::NAMESPACED,
            "kind": T::KIND,
            "verbs": ["get", "list", "watch"],
            "shortNames": T::SHORT_NAMES,
        })
    }

    fn tick(&self) {
        self.tick_bookmarks();
    }

    fn serve(&self, request: Request, context: Arc<Context>) -> BoxFuture<'_, Answer> {
        Box::pin(async move {
            if request.namespace.is_some() && !T::NAMESPACED {
                return Err(not_found_path(&format!("namespaces/{{ns}}/{}", T::PLURAL)));
            }
            if !self.is_ready() {
                return Err(Status::too_many_requests(
                    format!("the watch cache of {} is initializing", T::PLURAL),
                    1,
                ));
            }
            let filter = Filter {
                namespace: request.namespace,
                labels: request.query.labels.clone(),
                fields: request.query.fields.clone(),
            };
            if let Some(name) = request.name {
                if request.query.watch {
                    return Err(Status::bad_request(
                        "watching one object by path is not supported: use fieldSelector=metadata.name=NAME",
                    ));
                }
                context.counters.lists.fetch_add(1, Ordering::Relaxed);
                return match self.get(filter.namespace.as_deref(), &name) {
                    Some(entry) => Ok(bytes_response(StatusCode::OK, entry.json.clone())),
                    None => Err(Status::not_found(T::PLURAL, &name)),
                };
            }
            if request.query.watch {
                self.watch(&request.query, filter, context).await
            } else {
                context.counters.lists.fetch_add(1, Ordering::Relaxed);
                self.list_answer(&request.query, &filter, &context).await
            }
        })
    }
}

impl<T: Resource> WatchCache<T> {
    /// A list, with kube-apiserver's resource-version rules as far as a cache can
    /// honour them: `"0"` is any version (limit ignored); absent is the cache's
    /// current version; `N` with `NotOlderThan` (or absent match and no limit) waits
    /// until the cache reaches `N`; `N` with `Exact` (or a limit and no match) is
    /// served only when the cache is at exactly `N`, else 410.
    async fn list_answer(&self, query: &Query, filter: &Filter, context: &Context) -> Answer {
        let listed = if let Some(token) = &query.continue_token {
            self.list_page(token, query.limit)?
        } else {
            let requested = query.resource_version_number()?;
            let limit = match query.resource_version.as_deref() {
                Some("0") => None,
                _ => query.limit,
            };
            if let Some(rv) = requested {
                let exact = query.version_match == Some(VersionMatch::Exact)
                    || (query.version_match.is_none() && query.limit.is_some());
                self.wait_for(rv, context.config.freshness_wait).await?;
                let listed = self.list(filter, limit);
                if exact && listed.rv != rv {
                    return Err(Status::expired(format!(
                        "too old resource version: {rv} ({}): the watch cache serves exact lists only at its current version",
                        listed.rv
                    )));
                }
                listed
            } else {
                self.list(filter, limit)
            }
        };
        let mut body = BytesMut::with_capacity(
            128 + listed
                .items
                .iter()
                .map(|entry| entry.json.len() + 1)
                .sum::<usize>(),
        );
        let mut metadata = serde_json::Map::new();
        metadata.insert("resourceVersion".into(), listed.rv.to_string().into());
        if let Some(token) = &listed.continue_token {
            metadata.insert("continue".into(), token.clone().into());
            if listed.remaining > 0 {
                metadata.insert("remainingItemCount".into(), listed.remaining.into());
            }
        }
        let head = json!({
            "kind": format!("{}List", T::KIND),
            "apiVersion": T::api_version(),
            "metadata": metadata,
        });
        let head = serde_json::to_vec(&head).map_err(Status::internal_error)?;
        // `{…head…,"items":[…]}`: the head without its closing brace.
        body.put_slice(&head[..head.len() - 1]);
        body.put_slice(br#","items":["#);
        for (at, entry) in listed.items.iter().enumerate() {
            if at > 0 {
                body.put_u8(b',');
            }
            body.put_slice(&entry.json);
        }
        body.put_slice(b"]}");
        Ok(bytes_response(StatusCode::OK, body.freeze()))
    }

    async fn watch(&self, query: &Query, filter: Filter, context: Arc<Context>) -> Answer {
        // Counted from here, so concurrent requests cannot all slip under the limit.
        let slot = OpenWatch::take(Arc::clone(&context));
        if slot.open_before >= context.config.max_watchers {
            return Err(Status::too_many_requests(
                format!(
                    "too many watches open ({}, the limit is {})",
                    slot.open_before, context.config.max_watchers
                ),
                1,
            ));
        }
        let requested = query.resource_version_number()?;
        let start = match (query.resource_version.as_deref(), query.send_initial_events) {
            (_, Some(true)) => WatchStart::State { end_bookmark: true },
            (Some("0"), Some(false)) => WatchStart::After(self.resource_version()),
            (None | Some("0"), _) => WatchStart::State {
                end_bookmark: false,
            },
            (Some(_), _) => WatchStart::After(requested.unwrap_or_default()),
        };
        let timeout = query.timeout.unwrap_or_else(|| {
            let base = context.config.default_watch_timeout;
            base + base.mul_f64(fastrand::f64())
        });
        // Errors after the request is accepted are sent in the stream, as
        // kube-apiserver does: 200, one ERROR event, end.
        let mut ready = Ok(());
        if let Some(rv) = requested {
            ready = self.wait_for(rv, context.config.freshness_wait).await;
        }
        let opened = ready.and_then(|()| self.open(start, &filter, query.bookmarks));
        let opened = match opened {
            Ok(opened) => opened,
            Err(status) => {
                debug!(%status, "watch answered with an error event");
                return Ok(stream_response(Body::from(error_line(&status))));
            }
        };
        context.counters.watches.fetch_add(1, Ordering::Relaxed);
        debug!(
            resource = T::PLURAL,
            ?start,
            replay = opened.replay.len(),
            state = opened.state.len(),
            "watch opened"
        );
        let mut pending = VecDeque::new();
        let last_rv = match start {
            WatchStart::After(rv) => {
                pending.extend(opened.replay.into_iter().map(Pending::Event));
                rv
            }
            WatchStart::State { end_bookmark } => {
                pending.extend(opened.state.into_iter().map(Pending::State));
                if end_bookmark {
                    pending.push_back(Pending::EndBookmark(opened.rv));
                }
                opened.rv
            }
        };
        let now = Instant::now();
        let watch = Watch {
            pending,
            receiver: opened.receiver,
            filter,
            bookmarks: query.bookmarks,
            bookmark_interval: context.config.bookmark_interval,
            last_bookmark: now,
            last_rv,
            deadline: now + timeout,
            shutdown: context.shutdown.clone(),
            type_meta: TypeMeta::of::<T>(),
            done: false,
            _slot: slot,
        };
        let body = futures::stream::unfold(watch, |mut watch| async move {
            let chunk = watch.next_chunk().await?;
            Some((Ok::<_, Infallible>(chunk), watch))
        });
        Ok(stream_response(Body::from_stream(body)))
    }
}

/// One open watch, counted in [`ServerStats::open_watches`] until dropped.
struct OpenWatch {
    context: Arc<Context>,
    open_before: usize,
}

impl OpenWatch {
    fn take(context: Arc<Context>) -> Self {
        let open_before = context
            .counters
            .open_watches
            .fetch_add(1, Ordering::Relaxed);
        OpenWatch {
            context,
            open_before,
        }
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.context
            .counters
            .open_watches
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a watch sends before its live events.
enum Pending<T> {
    /// An event of the window (a resumed watch).
    Event(Arc<crate::cache::Event<T>>),
    /// A current object, as `ADDED`.
    State(Arc<Entry<T>>),
    /// The `k8s.io/initial-events-end` bookmark at this version.
    EndBookmark(u64),
}

/// `kind` and `apiVersion`, which every bookmark carries (kube-rs needs them).
struct TypeMeta {
    kind: &'static str,
    api_version: String,
}

impl TypeMeta {
    fn of<T: Resource>() -> Self {
        TypeMeta {
            kind: T::KIND,
            api_version: T::api_version(),
        }
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object =
            json!({"kind": self.kind, "apiVersion": self.api_version, "metadata": metadata});
        event_line("BOOKMARK", object.to_string().as_bytes())
    }
}

/// The most bytes one chunk of a watch gathers before it is sent.
const CHUNK: usize = 64 * 1024;

/// The state of one watch stream.
struct Watch<T: Resource> {
    pending: VecDeque<Pending<T>>,
    receiver: tokio::sync::mpsc::Receiver<Message<T>>,
    filter: Filter,
    bookmarks: bool,
    bookmark_interval: Duration,
    last_bookmark: Instant,
    /// The version of the last event sent (what a resumed watch starts from).
    last_rv: u64,
    deadline: Instant,
    shutdown: CancellationToken,
    type_meta: TypeMeta,
    done: bool,
    _slot: OpenWatch,
}

impl<T: Resource> Watch<T> {
    /// The next chunk of the body: every line ready now (up to [`CHUNK`] bytes), or
    /// `None` once the stream ends — at its timeout, at shutdown, when the cache
    /// closes it (it fell behind, or relisted).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut chunk = BytesMut::new();
        while chunk.len() < CHUNK {
            let Some(next) = self.pending.pop_front() else {
                break;
            };
            match next {
                Pending::Event(event) => self.put_event(&event, &mut chunk),
                Pending::State(entry) => put_event_line(&mut chunk, "ADDED", &entry.json),
                Pending::EndBookmark(rv) => {
                    chunk.put_slice(&self.type_meta.bookmark(rv, true));
                    self.last_bookmark = Instant::now();
                }
            }
        }
        if !chunk.is_empty() {
            return Some(chunk.freeze());
        }
        loop {
            let message = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => None,
                _ = tokio::time::sleep_until(self.deadline) => None,
                message = self.receiver.recv() => message,
            };
            let Some(message) = message else {
                self.done = true;
                return None;
            };
            self.take(message, &mut chunk);
            while chunk.len() < CHUNK {
                match self.receiver.try_recv() {
                    Ok(message) => self.take(message, &mut chunk),
                    Err(_) => break,
                }
            }
            if !chunk.is_empty() {
                return Some(chunk.freeze());
            }
        }
    }

    /// Adds the line `event` is for this watcher, if it sees it; either way the
    /// watch has now reached the event's version.
    fn put_event(&mut self, event: &crate::cache::Event<T>, chunk: &mut BytesMut) {
        if let Some(line) = event.render(&self.filter) {
            chunk.put_slice(&line);
        }
        self.last_rv = event.rv();
    }

    fn take(&mut self, message: Message<T>, chunk: &mut BytesMut) {
        match message {
            Message::Event(event) => self.put_event(&event, chunk),
            Message::Bookmark(rv) => {
                let due = self.last_bookmark.elapsed() >= self.bookmark_interval
                    || self.deadline.saturating_duration_since(Instant::now())
                        < Duration::from_secs(2);
                if self.bookmarks && due && rv >= self.last_rv {
                    chunk.put_slice(&self.type_meta.bookmark(rv, false));
                    self.last_bookmark = Instant::now();
                    self.last_rv = rv;
                }
            }
        }
    }
}

/// A watch that is answered with one ERROR event.
fn error_line(status: &Status) -> Bytes {
    match serde_json::to_vec(status) {
        Ok(json) => event_line("ERROR", &json),
        Err(error) => {
            warn!(%error, "a Status could not be written");
            Bytes::new()
        }
    }
}

fn not_found_path(path: &str) -> Status {
    Status::not_found("", "").with_message(format!(
        "the server could not find the requested resource (path {path:?})"
    ))
}

fn status_response(status: &Status) -> Response<Body> {
    let code = u16::try_from(status.code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(status).unwrap_or_default();
    let mut response = bytes_response(code, Bytes::from(body));
    if let Some(retry) = status.retry_after() {
        if let Ok(value) = HeaderValue::from_str(&retry.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

fn json_response(value: &serde_json::Value) -> Response<Body> {
    bytes_response(StatusCode::OK, Bytes::from(value.to_string()))
}

fn bytes_response(code: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A 200 whose body is streamed (chunked).
fn stream_response(body: Body) -> Response<Body> {
    let mut response = bytes_response(StatusCode::OK, Bytes::new());
    *response.body_mut() = body;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}
