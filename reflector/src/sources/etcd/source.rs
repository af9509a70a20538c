//! [`EtcdSource`]: lists and watches the typed objects of one etcd key prefix.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, GetOptions, KvClient, WatchClient, WatchOptions as EtcdWatchOptions, WatchResponse,
};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serve::Revision;
use store_core::{Keyed, ResourceVersion, Status};

use super::codec::{Codec, ContinueToken, DecodeError};
use super::config::EtcdConfig;
use super::status::{self, from_etcd};
use super::watch::EventStream;
use super::writer::EtcdWriter;
use crate::source::{ListOptions, ListPage, ListerWatcher, WatchOptions, WatchStream};

/// A [`ListerWatcher`] over the objects stored as JSON under one key prefix of an
/// etcd cluster; see the [module documentation](super) for the layout.
///
/// A cheap handle: clones share the connection, the decode-error count and the
/// hook. Every list and watch is one etcd request; nothing is cached here (the
/// [`Reflector`](crate::Reflector) or [`Informer`](crate::Informer) it feeds is the
/// cache).
///
/// What it guarantees, as a [`ListerWatcher`]:
///
/// - **list** at resource version `""` or `"0"` reads the newest revision (a
///   linearizable read); at a revision `N` it reads the newest revision too and
///   answers [`Status::too_large_resource_version`] if that is older than `N`
///   (Kubernetes' "not older than"); a non-numeric version is `BadRequest`. With a
///   `limit`, pages hold at most that many keys, and the continue token makes the
///   next page read the *same* revision from just after the last key, so the pages
///   together are one snapshot; once etcd compacts that revision, the next page is
///   Expired (410). The list's resource version is that revision, on every page.
///   A page may hold fewer objects than keys: values that do not decode are skipped.
/// - **watch** from revision `N` delivers every change after `N` (from revision
///   `N + 1`, etcd's own history), in revision order, each event carrying its
///   `mod_revision` as resource version: a put of a new key is
///   [`Added`](crate::WatchEvent::Added), of an existing key
///   [`Modified`](crate::WatchEvent::Modified), a delete is
///   [`Deleted`](crate::WatchEvent::Deleted) with the last value (etcd's `prev_kv`).
///   `""` and `"0"` watch from now. With bookmarks allowed, etcd's progress
///   notifications arrive as [`Bookmark`](crate::WatchEvent::Bookmark)s of the
///   revision etcd has reached (their period is the server's
///   `--experimental-watch-progress-notify-interval`, 10 min by default). If `N`
///   has been compacted the stream carries one `Error` event, Expired (410), and
///   ends; if `N` is newer than etcd's revision, the call fails with a
///   too-large-resource-version status. The stream ends cleanly after
///   [`WatchOptions::timeout`] — at a revision boundary, never inside the events of
///   one transaction — and an `Err` item (etcd unreachable: ServiceUnavailable)
///   ends it too. Dropping the stream cancels the watch in etcd.
/// - **a replaced cluster** (restored from a backup, or recreated empty) is not
///   resumed: every list carries etcd's cluster id as its
///   [`source_id`](crate::ListPage::source_id), and a watch whose
///   [`WatchOptions::source_id`] names another cluster than the one answering fails
///   with Gone (410), so the reflector relists instead of resuming from a revision the
///   new cluster never issued. etcd derives the cluster id from its members' names,
///   peer URLs and `--initial-cluster-token`: a cluster recreated with the very same
///   ones gets the same id and cannot be told apart — give each cluster its own token,
///   as etcd advises.
/// - a value that does not decode as `T`, whose object's key is not the one its
///   etcd key names, or whose key is not a valid string key (a `/` in an
///   `ObjectName` part, see [`store_core::validate_string_key`]), is skipped, counted in [`decode_errors`](Self::decode_errors)
///   and reported to the [`on_decode_error`](Self::on_decode_error) hook and through
///   `tracing::warn!`. The store then keeps the last value of that key that did
///   decode, if any. A deletion whose last value does not decode ends the watch with
///   Gone (410), so the reflector relists and drops whatever it held for that key.
///
/// ```no_run
/// use reflector::sources::etcd::{EtcdConfig, EtcdSource};
/// use reflector::{ListOptions, ListerWatcher};
/// use serde::{Deserialize, Serialize};
/// use store_core::Keyed;
///
/// #[derive(Keyed, Debug, Serialize, Deserialize)]
/// struct Lease { #[key] name: String, holder: String }
///
/// # async fn run() -> Result<(), Box<store_core::Status>> {
/// let source = EtcdSource::<Lease>::connect(EtcdConfig::new(
///     ["http://127.0.0.1:2379"],
///     "/leases/",
/// ))
/// .await?
/// .on_decode_error(|error| eprintln!("{error}"));
///
/// source.writer().put(&Lease { name: "a".into(), holder: "x".into() }).await?;
/// let list = source.list(ListOptions::default()).await?; // one page: everything
/// assert!(list.items.iter().any(|lease| lease.name == "a"));
/// println!("{} leases at revision {}", list.items.len(), list.resource_version);
/// assert_eq!(source.decode_errors(), 0);
/// # Ok(())
/// # }
/// ```
pub struct EtcdSource<T> {
    shared: Arc<Shared>,
    _object: PhantomData<fn() -> T>,
}

/// The largest answer (a list page, a watch response) the source accepts: etcd's Go
/// client's default (`MaxCallRecvMsgSize`), where gRPC's own is 4 MiB — less than
/// one page of 500 Kubernetes objects of 10 KiB, or one unpaginated list of a busy
/// prefix.
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// What the clones of one source share.
struct Shared {
    /// The etcd client (itself a cheap handle to one balanced channel).
    client: Client,
    /// Its KV client, accepting answers up to [`MAX_RESPONSE_BYTES`].
    kv: KvClient,
    /// Its watch client, accepting answers up to [`MAX_RESPONSE_BYTES`].
    watch: WatchClient,
    /// The layout of the prefix, the decode-error count and hook.
    codec: Arc<Codec>,
    /// The prefix, as given.
    prefix: String,
    /// The time limit of a request's answer (list page, watch creation).
    request_timeout: Option<Duration>,
}

impl<T> Clone for EtcdSource<T> {
    fn clone(&self) -> Self {
        EtcdSource {
            shared: Arc::clone(&self.shared),
            _object: PhantomData,
        }
    }
}

impl<T> fmt::Debug for EtcdSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdSource")
            .field("prefix", &self.shared.prefix)
            .field("decode_errors", &self.shared.codec.decode_errors())
            .finish_non_exhaustive()
    }
}

impl<T> EtcdSource<T>
where
    T: Keyed + DeserializeOwned + Send + Sync + 'static,
{
    /// A source for `config.prefix` of the cluster at `config.endpoints`.
    ///
    /// Connections are made lazily, by the first request: an etcd that is down now
    /// is not an error here (the reflector backs off until it answers) — unless
    /// `config.user` is set, which authenticates at once.
    ///
    /// # Errors
    ///
    /// `BadRequest` for an endpoint that is not a URL (or an `https://` one without
    /// the `etcd-tls` feature); the mapped etcd failure when authentication fails.
    pub async fn connect(config: EtcdConfig) -> Result<Self, Box<Status>> {
        let client = Client::connect(&config.endpoints, Some(config.connect_options()))
            .await
            .map_err(|error| from_etcd(&error, None))?;
        Ok(Self::build(client, config.prefix, config.request_timeout))
    }

    /// A source for `prefix` over a client you built (for options [`EtcdConfig`]
    /// does not cover). Watch creation then waits as long as the client's own
    /// request timeout allows.
    pub fn from_client(client: Client, prefix: impl Into<String>) -> Self {
        Self::build(client, prefix.into(), None)
    }

    fn build(client: Client, prefix: String, request_timeout: Option<Duration>) -> Self {
        EtcdSource {
            shared: Arc::new(Shared {
                kv: client
                    .kv_client()
                    .max_decoding_message_size(MAX_RESPONSE_BYTES),
                watch: client
                    .watch_client()
                    .max_decoding_message_size(MAX_RESPONSE_BYTES),
                client,
                codec: Arc::new(Codec::new(&prefix)),
                prefix,
                request_timeout,
            }),
            _object: PhantomData,
        }
    }

    /// Calls `hook` with every value this source skips (from any of its clones and
    /// watches), replacing the previous hook. It runs on the task that polls the
    /// list or the watch: keep it short.
    pub fn on_decode_error(self, hook: impl Fn(&DecodeError) + Send + Sync + 'static) -> Self {
        self.shared.codec.set_hook(Arc::new(hook));
        self
    }

    /// How many values were skipped because they do not decode as `T` (or name
    /// another key), over the lifetime of this source and its clones. A value seen
    /// again (relisted) counts again.
    pub fn decode_errors(&self) -> u64 {
        self.shared.codec.decode_errors()
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The etcd client, for anything this source does not do (a clone is cheap
    /// and shares the connection).
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// A typed writer for the same prefix, sharing the connection.
    pub fn writer(&self) -> EtcdWriter<T>
    where
        T: Serialize,
    {
        EtcdWriter::new(self.shared.kv.clone(), Arc::clone(&self.shared.codec))
    }

    /// How many keys the prefix holds (decodable or not) and etcd's current
    /// revision: one count-only range.
    ///
    /// # Errors
    ///
    /// etcd's failure as a [`Status`] (unreachable, or no answer within the
    /// request timeout: `ServiceUnavailable`).
    pub async fn count(&self) -> Result<(u64, ResourceVersion), Box<Status>> {
        let codec = &self.shared.codec;
        let options = GetOptions::new()
            .with_range(codec.range_end())
            .with_count_only();
        let mut kv = self.shared.kv.clone();
        let response = self
            .bounded(kv.get(codec.range_start(), Some(options)))
            .await?
            .map_err(|error| from_etcd(&error, None))?;
        let revision = header_revision(response.header())?;
        Ok((
            u64::try_from(response.count()).unwrap_or(0),
            resource_version(revision),
        ))
    }

    /// One page of the list; see the type's documentation.
    async fn list_page(&self, options: ListOptions) -> Result<ListPage<T>, Box<Status>> {
        let codec = &self.shared.codec;
        let (start, revision, at_least) =
            match options.continue_token.as_deref().filter(|t| !t.is_empty()) {
                Some(token) => {
                    let token = ContinueToken::decode(token)?;
                    if !token.last_key.starts_with(codec.prefix()) {
                        return Err(Status::bad_request(
                            "the continue token is for another prefix",
                        )
                        .into());
                    }
                    (token.next_key(), token.revision, None)
                }
                None => (
                    codec.range_start(),
                    0,
                    parse_revision(&options.resource_version)?,
                ),
            };
        let limit = options
            .limit
            .map_or(0, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
        let get = GetOptions::new()
            .with_range(codec.range_end())
            .with_revision(revision)
            .with_limit(limit);
        let read_at = (revision > 0).then_some(revision);
        let mut kv = self.shared.kv.clone();
        let mut response = self
            .bounded(kv.get(start, Some(get)))
            .await?
            .map_err(|error| from_etcd(&error, read_at))?;
        let served = match read_at {
            Some(revision) => revision,
            None => header_revision(response.header())?,
        };
        if let Some(at_least) = at_least.filter(|&at_least| at_least > served) {
            return Err(Status::too_large_resource_version(
                &at_least.to_string(),
                &served.to_string(),
                1,
            )
            .into());
        }
        let kvs = response.take_kvs();
        let continue_token = match kvs.last() {
            Some(last) if response.more() => Some(
                ContinueToken {
                    revision: served,
                    last_key: last.key().to_vec(),
                }
                .encode(),
            ),
            _ => None,
        };
        let items = kvs
            .iter()
            .filter_map(|kv| match codec.decode::<T>(kv.key(), kv.value()) {
                Ok(mut object) => {
                    // Each object carries the revision it was written at (its
                    // `mod_revision`), as kube-apiserver's storage stamps it.
                    object.set_resource_version(resource_version(kv.mod_revision()).as_str());
                    Some(Arc::new(object))
                }
                Err(failure) => {
                    codec.report(kv.key(), kv.mod_revision(), failure);
                    None
                }
            })
            .collect();
        Ok(ListPage {
            items,
            resource_version: resource_version(served),
            continue_token,
            source_id: response
                .header()
                .map(|header| cluster_id(header.cluster_id())),
        })
    }

    /// Opens a watch; see the type's documentation.
    async fn open_watch(
        &self,
        from: ResourceVersion,
        options: WatchOptions,
    ) -> Result<WatchStream<T>, Box<Status>> {
        let codec = &self.shared.codec;
        let after = parse_revision(&from)?;
        let mut etcd_options = EtcdWatchOptions::new()
            .with_range(codec.range_end())
            .with_prev_key();
        if options.allow_bookmarks {
            etcd_options = etcd_options.with_progress_notify();
        }
        if let Some(after) = after {
            // `parse_revision` keeps `after` below `i64::MAX`.
            etcd_options = etcd_options.with_start_revision(after + 1);
        }
        let mut client = self.shared.watch.clone();
        let key = codec.range_start();
        // etcd answers a watch creation with a `created` response: waiting for it
        // means that a watch this returns is registered (no write after this call
        // returns is missed) and that an unreachable etcd fails the call, not the
        // first poll of the stream.
        let opened = self
            .bounded(async move {
                let mut stream = client.watch(key, Some(etcd_options)).await?;
                let first = stream.message().await?;
                Ok::<_, etcd_client::Error>((stream, first))
            })
            .await?;
        let (stream, first) = opened.map_err(|error| from_etcd(&error, after))?;
        let first = first.ok_or_else(|| {
            Status::service_unavailable("etcd closed the watch before it was created")
        })?;
        check_created(&first, after)?;
        if let (Some(expected), Some(header)) = (&options.source_id, first.header()) {
            let serving = cluster_id(header.cluster_id());
            if *expected != serving {
                return Err(Status::gone(format!(
                    "etcd cluster {serving} is not cluster {expected}, where resource version \
                     {from} was read: its revisions are another history; relist"
                ))
                .into());
            }
        }
        let mut events = EventStream::new(
            stream,
            Arc::clone(codec),
            after,
            options.allow_bookmarks,
            options.timeout,
        );
        if !first.created() {
            events.translate(first);
        }
        Ok(events.boxed())
    }

    /// `future`, failing with ServiceUnavailable after the request timeout.
    async fn bounded<F: Future>(&self, future: F) -> Result<F::Output, Box<Status>> {
        match self.shared.request_timeout {
            None => Ok(future.await),
            Some(limit) => tokio::time::timeout(limit, future).await.map_err(|_| {
                Box::new(Status::service_unavailable(format!(
                    "etcd did not answer within {limit:?}"
                )))
            }),
        }
    }
}

impl<T> ListerWatcher<T> for EtcdSource<T>
where
    T: Keyed + DeserializeOwned + Send + Sync + 'static,
{
    fn list(
        &self,
        options: ListOptions,
    ) -> impl Future<Output = Result<ListPage<T>, Box<Status>>> + Send {
        self.list_page(options)
    }

    fn watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> impl Future<Output = Result<WatchStream<T>, Box<Status>>> + Send {
        self.open_watch(resource_version, options)
    }
}

/// The first answer to a watch creation: refused, cancelled at once, or started
/// from a revision etcd has not reached.
fn check_created(first: &WatchResponse, after: Option<i64>) -> Result<(), Box<Status>> {
    if first.canceled() {
        return Err(if first.compact_revision() > 0 {
            status::compacted(after, Some(first.compact_revision())).into()
        } else {
            status::watch_cancelled(first.cancel_reason()).into()
        });
    }
    let current = first.header().map(|header| header.revision());
    match (after, current) {
        (Some(after), Some(current)) if first.created() && after > current => Err(
            Status::too_large_resource_version(&after.to_string(), &current.to_string(), 1).into(),
        ),
        _ => Ok(()),
    }
}

/// The revision a resource version names: `None` for `""` and `"0"` (the newest);
/// `BadRequest` for anything but a decimal number below `i64::MAX`.
pub(crate) fn parse_revision(
    resource_version: &ResourceVersion,
) -> Result<Option<i64>, Box<Status>> {
    let text = resource_version.as_str();
    match Revision::requested(text) {
        Ok(None) => Ok(None),
        Ok(Some(revision)) => match i64::try_from(revision.get()) {
            Ok(revision) if revision > 0 && revision < i64::MAX => Ok(Some(revision)),
            _ => Err(Status::bad_request(format!(
                "invalid resource version {text:?}: etcd revisions are positive integers"
            ))
            .into()),
        },
        Err(error) => Err(Status::bad_request(format!(
            "{error} (etcd revisions are positive integers)"
        ))
        .into()),
    }
}

/// The resource version of an etcd revision (positive: etcd's revisions start at 1).
pub(crate) fn resource_version(revision: i64) -> ResourceVersion {
    Revision::new(u64::try_from(revision).unwrap_or(0)).resource_version()
}

/// The revision a response was served at.
fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<i64, Box<Status>> {
    header.map(|header| header.revision()).ok_or_else(|| {
        Box::new(Status::internal_error(
            "etcd answered without a response header",
        ))
    })
}

/// The etcd cluster id as a [`ListPage::source_id`](crate::ListPage::source_id): etcd's own hex form.
fn cluster_id(id: u64) -> String {
    format!("{id:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_versions_are_positive_revisions() {
        assert_eq!(parse_revision(&"".into()).unwrap(), None);
        assert_eq!(parse_revision(&"0".into()).unwrap(), None);
        assert_eq!(parse_revision(&"17".into()).unwrap(), Some(17));
        for bad in [
            "-3",
            "+3",
            "x",
            "1.5",
            "9223372036854775807",
            "99999999999999999999",
        ] {
            assert!(
                parse_revision(&bad.into()).unwrap_err().is_bad_request(),
                "{bad}"
            );
        }
    }
}
