//! [`KubeSource`] (feature `kube`): the Kubernetes API as a [`ListerWatcher`],
//! through kube-client's `Api<K>`.
//!
//! ```no_run
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use reflector::{KubeSource, Reflector};
//! use store_core::Cache;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The cluster of the kubeconfig (or the in-cluster config), every namespace.
//! let source = KubeSource::<ConfigMap>::try_default().await?;
//! let cache = Cache::new();
//! let reflector = Reflector::new(source, cache.clone());
//! let synced = reflector.handle();
//! tokio::spawn(reflector.run(CancellationToken::new()));
//! synced.wait_until_synced().await?;
//! println!("{} ConfigMaps", store_core::Store::len(&cache));
//! # Ok(())
//! # }
//! ```

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt, TryStreamExt};
use kube::api::{ListParams, WatchParams};
use kube::core::WatchEvent as KubeEvent;
use kube::{Api, Client, Config, Resource};
use serde::de::DeserializeOwned;
use store_core::{Keyed, ResourceVersion, Status};

use http_body_util::BodyExt;
use kube::client::Body;

use self::list_body::{ListBody, ListMeta};
use crate::source::{
    ListOptions, ListPage, ListPart, ListStream, ListerWatcher, WatchEvent, WatchOptions,
    WatchStream,
};

mod json;
mod list_body;

/// The longest watch timeout asked of the API server: kube-apiserver caps requests
/// at about 295 s, and kube-runtime asks for 290.
const MAX_WATCH_TIMEOUT: Duration = Duration::from_secs(290);

/// The annotation of the bookmark that ends a streaming list's initial events.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// A [`ListerWatcher`] over kube-client's [`Api<K>`]: the Kubernetes API (or anything
/// speaking its list/watch protocol, such as this workspace's watch-server) as a
/// source for a [`Reflector`](crate::Reflector) or an [`Informer`](crate::Informer).
///
/// Requests are mapped as client-go's reflector makes them: a list at `"0"` asks for
/// any version and no `limit` (the API server ignores it there); at `""` with the
/// page size; at a version `N` with `resourceVersion=N` (and `limit` only when the
/// reflector paginates it); a continuation page sends only `limit` and `continue`.
/// Watches ask for bookmarks, a timeout (capped at 290 s) and, for a streaming list,
/// `sendInitialEvents=true&resourceVersionMatch=NotOlderThan`; the bookmark annotated
/// `k8s.io/initial-events-end` becomes [`WatchEvent::InitialEventsEnd`].
///
/// Failures become [`Status`] values: the API server's own (`410` at request time or
/// as an in-stream `ERROR` → `Expired`, 429, 504, …) as sent; a connection that fails
/// (refused, reset) → `ServiceUnavailable`, so the reflector backs off and re-watches.
/// An event the client cannot decode is skipped, logged and counted
/// ([`decode_errors`](Self::decode_errors)); the watch goes on.
///
/// kube-client's own retries must be off so that the reflector sees 429 and 504
/// itself (its backoff is the one that applies): [`try_default`](Self::try_default)
/// and [`from_config`](Self::from_config) turn them off; a [`Client`] handed to
/// [`all`](Self::all) or [`new`](Self::new) should be built with
/// `config.default_retry = false`.
pub struct KubeSource<K: Resource> {
    api: Api<K>,
    client: Client,
    drop_managed_fields: bool,
    decode_errors: Arc<AtomicU64>,
}

impl<K: Resource + Clone> Clone for KubeSource<K> {
    fn clone(&self) -> Self {
        KubeSource {
            api: self.api.clone(),
            client: self.client.clone(),
            drop_managed_fields: self.drop_managed_fields,
            decode_errors: Arc::clone(&self.decode_errors),
        }
    }
}

impl<K: Resource> std::fmt::Debug for KubeSource<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSource")
            .field("drop_managed_fields", &self.drop_managed_fields)
            .field("decode_errors", &self.decode_errors.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<K> KubeSource<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
{
    /// A source over `api` (all namespaces, or the one the `Api` was made for).
    pub fn new(api: Api<K>) -> Self {
        KubeSource {
            client: api.clone().into_client(),
            api,
            drop_managed_fields: false,
            decode_errors: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Decodes every object without its `metadata.managedFields`: their bytes are
    /// skipped as they stream in, never decoded or allocated (as client-go users do with
    /// a transform, kube-rs users with `.modify()`, and the Java client by default).
    /// Server-side apply records two or more entries per object, often a third of its
    /// size; few controllers read them. Default `false`.
    #[must_use]
    pub fn drop_managed_fields(mut self, drop: bool) -> Self {
        self.drop_managed_fields = drop;
        self
    }

    /// Every namespace of the cluster `client` talks to.
    pub fn all(client: Client) -> Self {
        Self::new(Api::all(client))
    }

    /// The cluster `config` describes, every namespace, with kube-client's retries
    /// turned off.
    ///
    /// # Errors
    ///
    /// `BadRequest` when no client can be built from `config` (an `https` URL
    /// without a TLS feature, for one).
    pub fn from_config(mut config: Config) -> Result<Self, Box<Status>> {
        config.default_retry = false;
        let client = Client::try_from(config).map_err(|error| {
            Status::bad_request(format!("cannot build a Kubernetes client: {error}"))
        })?;
        Ok(Self::all(client))
    }

    /// The cluster of the local kubeconfig (`$KUBECONFIG`, `~/.kube/config`) or, in a
    /// pod, the in-cluster config; every namespace; kube-client's retries off.
    ///
    /// # Errors
    ///
    /// `BadRequest` when no configuration is found, or no client can be built from
    /// it (as [`from_config`](KubeSource::from_config)).
    pub async fn try_default() -> Result<Self, Box<Status>> {
        let config = Config::infer().await.map_err(|error| {
            Status::bad_request(format!("no Kubernetes configuration found: {error}"))
        })?;
        Self::from_config(config)
    }

    /// How many listed objects and events could not be decoded (and were skipped)
    /// since the start.
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors.load(Ordering::Relaxed)
    }

    /// The `Api` it reads through.
    pub fn api(&self) -> &Api<K> {
        &self.api
    }
}

/// Maps a kube-client failure onto a [`Status`].
pub fn status_of(error: kube::Error) -> Status {
    match error {
        kube::Error::Api(status) => Status::from(*status),
        error @ (kube::Error::HyperError(_)
        | kube::Error::Service(_)
        | kube::Error::ReadEvents(_)) => {
            Status::service_unavailable(format!("the Kubernetes API is unreachable: {error}"))
        }
        kube::Error::SerdeError(error) => Status::internal_error(format!(
            "the Kubernetes API sent something that does not decode: {error}"
        )),
        kube::Error::BuildRequest(error) => {
            Status::bad_request(format!("invalid request: {error}"))
        }
        other => Status::internal_error(other),
    }
}

fn resource_version_of<K: Resource>(object: &K) -> ResourceVersion {
    ResourceVersion::from(
        object
            .meta()
            .resource_version
            .as_deref()
            .unwrap_or_default(),
    )
}

fn list_params(options: &ListOptions) -> ListParams {
    let mut params = ListParams::default();
    let limit = options
        .limit
        .map(|limit| u32::try_from(limit).unwrap_or(u32::MAX));
    if let Some(token) = options
        .continue_token
        .as_deref()
        .filter(|token| !token.is_empty())
    {
        params = params.continue_token(token);
        if let Some(limit) = limit {
            params = params.limit(limit);
        }
        return params;
    }
    match options.resource_version.as_str() {
        // "any version": no limit (kube-client would drop the version with one, and
        // the API server ignores limit at "0" anyway)
        "0" => params.match_any(),
        "" => match limit {
            Some(limit) => params.limit(limit),
            None => params,
        },
        version => {
            params = params.at(version);
            match limit {
                Some(limit) => params.limit(limit),
                None => params,
            }
        }
    }
}

impl<K> ListerWatcher<K> for KubeSource<K>
where
    K: Resource + Keyed + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
{
    async fn list(&self, options: ListOptions) -> Result<ListPage<K>, Box<Status>> {
        let mut parts = self.list_stream(options);
        let mut items = Vec::new();
        while let Some(part) = parts.next().await {
            match part? {
                ListPart::Items(more) => items.extend(more),
                ListPart::Last(mut page) => {
                    items.append(&mut page.items);
                    page.items = items;
                    return Ok(page);
                }
            }
        }
        Err(Box::new(Status::internal_error(
            "the list answer ended without its last part",
        )))
    }

    /// The list answer's body is read as it arrives and each item decoded as soon as
    /// its last byte is in (without `managedFields` when
    /// [`drop_managed_fields`](KubeSource::drop_managed_fields) is set), handed out
    /// 500 at a time, or as many as are decoded when the next bytes are not there yet:
    /// the body is never held whole, and the reflector writes (or
    /// gathers) objects while the rest is on the wire. An item that does not decode is
    /// skipped and counted ([`decode_errors`](KubeSource::decode_errors)); a body that is
    /// not a list, or ends early, fails the list (`InternalError`); a connection that
    /// fails mid-body, `ServiceUnavailable`.
    fn list_stream(&self, options: ListOptions) -> ListStream<'_, K> {
        let start = ListRead::Start {
            client: self.client.clone(),
            request: self.list_request(&options),
            drop_managed_fields: self.drop_managed_fields,
            decode_errors: Arc::clone(&self.decode_errors),
        };
        futures::stream::unfold(start, ListRead::next).boxed()
    }

    async fn watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> Result<WatchStream<K>, Box<Status>> {
        let timeout = options
            .timeout
            .map(|timeout| timeout.min(MAX_WATCH_TIMEOUT).as_secs().max(1))
            .and_then(|seconds| u32::try_from(seconds).ok());
        let params = WatchParams {
            timeout,
            bookmarks: options.allow_bookmarks || options.send_initial_events,
            send_initial_events: options.send_initial_events,
            ..WatchParams::default()
        };
        let stream = self
            .api
            .watch(&params, resource_version.as_str())
            .await
            .map_err(status_of)?;
        let decode_errors = Arc::clone(&self.decode_errors);
        let events = stream.filter_map(move |item| {
            let event = match item {
                Ok(event) => Some(Ok(convert(event))),
                Err(kube::Error::SerdeError(error)) => {
                    decode_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "kube source: an event that does not decode was skipped");
                    None
                }
                Err(error) => Some(Err(Box::new(status_of(error)))),
            };
            std::future::ready(event)
        });
        Ok(events.into_stream().boxed())
    }
}

/// Objects per [`ListPart::Items`] of a streamed list.
const LIST_PART: usize = 500;

/// The most bytes of an error answer read for its `Status`.
const ERROR_BODY_LIMIT: usize = 1 << 20;

impl<K> KubeSource<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
{
    /// The list request as kube-client's `Api::list` (or, for `PartialObjectMeta<K>`,
    /// `Api::list_metadata`) makes it.
    fn list_request(&self, options: &ListOptions) -> Result<http::Request<Vec<u8>>, Box<Status>> {
        let request = kube::core::Request::new(self.api.resource_url());
        let params = list_params(options);
        let built = if K::metadata_api() {
            request.list_metadata(&params)
        } else {
            request.list(&params)
        };
        let mut built =
            built.map_err(|error| Status::bad_request(format!("invalid list request: {error}")))?;
        built.extensions_mut().insert("list");
        Ok(built)
    }
}

/// Where a streamed list is: the request to send, the body being read, or done.
enum ListRead<K> {
    Start {
        client: Client,
        request: Result<http::Request<Vec<u8>>, Box<Status>>,
        drop_managed_fields: bool,
        decode_errors: Arc<AtomicU64>,
    },
    Reading {
        body: http_body_util::BodyDataStream<Body>,
        list: ListBody<K>,
        counted: u64,
        decode_errors: Arc<AtomicU64>,
    },
    Done,
}

impl<K: DeserializeOwned + Send + Sync + 'static> ListRead<K> {
    /// The next part of the list, and where the list is then.
    async fn next(self) -> Option<(Result<ListPart<K>, Box<Status>>, Self)> {
        let mut state = self;
        loop {
            state = match state {
                ListRead::Done => return None,
                ListRead::Start {
                    client,
                    request,
                    drop_managed_fields,
                    decode_errors,
                } => match open(&client, request).await {
                    Ok(body) => ListRead::Reading {
                        body: body.into_data_stream(),
                        list: ListBody::new(drop_managed_fields),
                        counted: 0,
                        decode_errors,
                    },
                    Err(status) => return Some((Err(status), ListRead::Done)),
                },
                ListRead::Reading {
                    mut body,
                    mut list,
                    mut counted,
                    decode_errors,
                } => {
                    // A full part goes at once; so does a partial one when the next bytes
                    // are not here yet, rather than waiting on a slow (or stalled) body.
                    let mut next = None;
                    if list.ready() < LIST_PART {
                        next = body.next().now_or_never();
                    }
                    if next.is_none() && list.ready() > 0 {
                        let part = ListPart::Items(list.take_items());
                        let reading = ListRead::Reading {
                            body,
                            list,
                            counted,
                            decode_errors,
                        };
                        return Some((Ok(part), reading));
                    }
                    let next = match next {
                        Some(next) => next,
                        None => body.next().await,
                    };
                    let fed = match next {
                        Some(Ok(bytes)) => list.feed(&bytes),
                        Some(Err(error)) => Err(Box::new(status_of(error))),
                        None => {
                            let last = list
                                .finish()
                                .and_then(|meta| last_page(meta, list.take_items()));
                            return Some((last.map(ListPart::Last), ListRead::Done));
                        }
                    };
                    let errors = list.decode_errors();
                    decode_errors.fetch_add(errors - counted, Ordering::Relaxed);
                    counted = errors;
                    if let Err(status) = fed {
                        return Some((Err(status), ListRead::Done));
                    }
                    ListRead::Reading {
                        body,
                        list,
                        counted,
                        decode_errors,
                    }
                }
            };
        }
    }
}

/// Sends a request; its body when the answer is a success, else the answer's
/// `Status` (as kube-client reads it: the JSON `Status`, or the code and text).
async fn open(
    client: &Client,
    request: Result<http::Request<Vec<u8>>, Box<Status>>,
) -> Result<Body, Box<Status>> {
    let response = client
        .send(request?.map(Body::from))
        .await
        .map_err(status_of)?;
    let code = response.status();
    if !(code.is_client_error() || code.is_server_error()) {
        return Ok(response.into_body());
    }
    let body = http_body_util::Limited::new(response.into_body(), ERROR_BODY_LIMIT);
    let text = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    Err(Box::new(Status::from_slice(&text).unwrap_or_else(|_| {
        Status::from_code(
            i32::from(code.as_u16()),
            String::from_utf8_lossy(&text).trim().to_owned(),
        )
    })))
}

/// The last part of a list: its remaining items and its metadata, which must carry
/// the version the list was served at.
fn last_page<K>(meta: ListMeta, items: Vec<Arc<K>>) -> Result<ListPage<K>, Box<Status>> {
    let resource_version = meta.resource_version.unwrap_or_default();
    if resource_version.is_empty() {
        return Err(Status::internal_error(
            "the list answer has no resource version: nothing could be watched from it",
        )
        .into());
    }
    Ok(ListPage {
        items,
        resource_version: ResourceVersion::from(resource_version.as_str()),
        continue_token: meta.continue_token.filter(|token| !token.is_empty()),
        source_id: None,
    })
}

fn convert<K: Resource>(event: KubeEvent<K>) -> WatchEvent<K> {
    match event {
        KubeEvent::Added(object) => {
            let rv = resource_version_of(&object);
            WatchEvent::Added(Arc::new(object), rv)
        }
        KubeEvent::Modified(object) => {
            let rv = resource_version_of(&object);
            WatchEvent::Modified(Arc::new(object), rv)
        }
        KubeEvent::Deleted(object) => {
            let rv = resource_version_of(&object);
            WatchEvent::Deleted(Arc::new(object), rv)
        }
        KubeEvent::Bookmark(bookmark) => {
            let rv = ResourceVersion::from(bookmark.metadata.resource_version.as_str());
            let end = bookmark
                .metadata
                .annotations
                .get(INITIAL_EVENTS_END)
                .is_some_and(|value| value == "true");
            if end {
                WatchEvent::InitialEventsEnd(rv)
            } else {
                WatchEvent::Bookmark(rv)
            }
        }
        KubeEvent::Error(status) => WatchEvent::Error(Box::new(Status::from(*status))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(rv: &str, limit: Option<usize>, token: Option<&str>) -> ListOptions {
        ListOptions {
            resource_version: ResourceVersion::from(rv),
            limit,
            continue_token: token.map(Into::into),
        }
    }

    #[test]
    fn list_options_map_as_client_go_sends_them() {
        let any = list_params(&options("0", Some(500), None));
        assert_eq!(
            (any.resource_version.as_deref(), any.limit),
            (Some("0"), None)
        );
        let latest = list_params(&options("", Some(500), None));
        assert_eq!(
            (latest.resource_version.as_deref(), latest.limit),
            (None, Some(500))
        );
        let exact = list_params(&options("42", None, None));
        assert_eq!(
            (exact.resource_version.as_deref(), exact.limit),
            (Some("42"), None)
        );
        let page = list_params(&options("42", Some(500), Some("token")));
        assert_eq!(page.continue_token.as_deref(), Some("token"));
        assert_eq!((page.resource_version, page.limit), (None, Some(500)));
    }

    #[test]
    fn failures_map_onto_statuses_the_reflector_acts_on() {
        let expired = kube::core::Status::failure("too old resource version: 1 (5)", "Expired")
            .with_code(410);
        assert!(status_of(kube::Error::Api(Box::new(expired))).is_expired());
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(status_of(kube::Error::ReadEvents(refused)).is_service_unavailable());
        let garbage = serde_json::from_str::<u8>("x").unwrap_err();
        assert!(status_of(kube::Error::SerdeError(garbage)).is_internal_error());
    }
}
