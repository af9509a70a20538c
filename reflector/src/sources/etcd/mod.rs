//! [`EtcdSource`]: a [`ListerWatcher`](crate::ListerWatcher) over the JSON values of
//! one key prefix of a real etcd cluster (feature `etcd`).
//!
//! The layout is kube-apiserver's: the object whose [`Keyed`](store_core::Keyed)
//! key displays as `web/a` lives under the etcd key `<prefix>web/a`, and its value is
//! the object's JSON (serde). etcd's revision is the resource version:
//!
//! - **list** is a range over the prefix at one revision, paginated: the first page
//!   reads the newest revision, later pages read that same revision from just after
//!   the previous page's last key, so the pages are one consistent snapshot.
//! - **watch** from resource version `R` starts at revision `R + 1`; etcd's progress
//!   notifications become [`WatchEvent::Bookmark`](crate::WatchEvent::Bookmark)s.
//! - a compacted revision — a watch etcd cancels with a `compact_revision`, or a
//!   page read at a compacted revision — is [`Status::expired`](store_core::Status::expired)
//!   (410), so the [`Reflector`](crate::Reflector) relists; an unreachable etcd is
//!   [`Status::service_unavailable`](store_core::Status::service_unavailable), so it
//!   backs off and watches again.
//! - a value that does not decode as `T` is skipped: reported to the
//!   [`on_decode_error`](EtcdSource::on_decode_error) hook and through `tracing`
//!   (key, revision, serde error) and counted in
//!   [`decode_errors`](EtcdSource::decode_errors); everything else keeps flowing.
//!
//! [`EtcdWriter`] writes typed objects (and, for tests, raw bytes) under the same
//! layout.
//!
//! ```no_run
//! use reflector::sources::etcd::{EtcdConfig, EtcdSource};
//! use reflector::Informer;
//! use serde::{Deserialize, Serialize};
//! use store_core::{Keyed, Store};
//! use tokio_util::sync::CancellationToken;
//!
//! #[derive(Keyed, Debug, Serialize, Deserialize)]
//! #[keyed(namespace = "namespace", name = "name")]
//! struct ConfigMap { namespace: String, name: String, data: String }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = EtcdConfig::new(["http://127.0.0.1:2379"], "/registry/configmaps/");
//! let source = EtcdSource::<ConfigMap>::connect(config).await?;
//! source.writer().put(&ConfigMap { namespace: "web".into(), name: "a".into(), data: "x".into() }).await?;
//!
//! let shutdown = CancellationToken::new();
//! let (informer, running) = Informer::builder(source).start(shutdown.clone());
//! informer.wait_until_synced().await?;
//! println!("{} config maps", informer.store().len());
//! shutdown.cancel();
//! let _ = running.await;
//! # Ok(())
//! # }
//! ```
//!
//! ## Map
//!
//! - [`config`]: [`EtcdConfig`] (endpoints, credentials, TLS, timeouts).
//! - [`source`]: [`EtcdSource`], the lister-watcher; `watch` (private) turns etcd's
//!   watch responses into watch events.
//! - [`codec`]: keys, values and continue tokens; [`DecodeError`].
//! - `status` (private): how etcd's failures become [`Status`](store_core::Status)es
//!   — compacted is Expired, unreachable is ServiceUnavailable, and so on.
//! - [`writer`]: [`EtcdWriter`], typed writes in the same layout.

pub mod codec;
pub mod config;
pub mod source;
mod status;
mod watch;
pub mod writer;

pub use codec::{DecodeError, DecodeFailure};
pub use config::EtcdConfig;
#[cfg(feature = "etcd-tls")]
pub use config::EtcdTls;
/// The `etcd-client` crate this source is built on, for
/// [`EtcdSource::from_client`] and [`EtcdSource::client`].
pub use etcd_client;
pub use source::EtcdSource;
pub use writer::EtcdWriter;
