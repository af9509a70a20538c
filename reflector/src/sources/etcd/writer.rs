//! [`EtcdWriter`]: writes typed objects under an [`EtcdSource`](super::EtcdSource)'s
//! prefix, in its layout — for examples, tests and tools.

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use etcd_client::{KvClient, Txn, TxnOp};
use serde::Serialize;
use store_core::{validate_string_key, Keyed, ResourceVersion, Status};

use super::codec::Codec;
use super::source::resource_version;
use super::status::from_etcd;

/// How many operations one transaction of [`EtcdWriter::put_all`] holds: etcd's
/// default `--max-txn-ops`.
const MAX_TXN_OPS: usize = 128;

/// Writes `T`s as JSON under a prefix, where an [`EtcdSource`](super::EtcdSource) of
/// the same prefix reads them: [`put`](Self::put), [`put_all`](Self::put_all),
/// [`delete`](Self::delete), and [`put_raw`](Self::put_raw) for any bytes (a value
/// that is not a `T`, to test what a source does with one).
///
/// Last write wins: there is no compare-and-swap on the previous revision (write
/// through [`EtcdSource::client`](super::EtcdSource::client) for that). Every
/// method answers the revision of its write, the resource version at which a
/// watcher sees it.
///
/// ```no_run
/// use reflector::sources::etcd::{EtcdConfig, EtcdSource};
/// use serde::{Deserialize, Serialize};
/// use store_core::Keyed;
///
/// #[derive(Keyed, Debug, Serialize, Deserialize)]
/// struct Lease { #[key] name: String, holder: String }
///
/// # async fn run() -> Result<(), Box<store_core::Status>> {
/// let source = EtcdSource::<Lease>::connect(EtcdConfig::new(["http://127.0.0.1:2379"], "/leases/")).await?;
/// let writer = source.writer();
/// writer.put(&Lease { name: "a".into(), holder: "x".into() }).await?;
/// writer.put_raw("b", "not json").await?; // skipped (and reported) by the source
/// writer.delete("a").await?;
/// assert!(writer.delete("a").await.unwrap_err().is_not_found());
/// # Ok(())
/// # }
/// ```
pub struct EtcdWriter<T> {
    kv: KvClient,
    codec: Arc<Codec>,
    _object: PhantomData<fn(&T)>,
}

impl<T> Clone for EtcdWriter<T> {
    fn clone(&self) -> Self {
        EtcdWriter {
            kv: self.kv.clone(),
            codec: Arc::clone(&self.codec),
            _object: PhantomData,
        }
    }
}

impl<T> fmt::Debug for EtcdWriter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdWriter")
            .field("prefix", &String::from_utf8_lossy(self.codec.prefix()))
            .finish_non_exhaustive()
    }
}

impl<T: Keyed + Serialize> EtcdWriter<T> {
    pub(crate) fn new(kv: KvClient, codec: Arc<Codec>) -> Self {
        EtcdWriter {
            kv,
            codec,
            _object: PhantomData,
        }
    }

    /// The etcd key of the object whose key is `key`: the prefix followed by the
    /// key's `Display`.
    pub fn etcd_key<Q>(&self, key: &Q) -> String
    where
        T::Key: Borrow<Q>,
        Q: fmt::Display + ?Sized,
    {
        String::from_utf8_lossy(&self.codec.etcd_key(key)).into_owned()
    }

    /// Stores `object` (creating or replacing it); answers the write's revision.
    ///
    /// # Errors
    ///
    /// `BadRequest` for an object whose key is not a valid string key (see
    /// [`validate_string_key`]), `InternalError` for one that does not serialize,
    /// and etcd's failure as a [`Status`] (unreachable: `ServiceUnavailable`).
    pub async fn put(&self, object: &T) -> Result<ResourceVersion, Box<Status>> {
        let (key, value) = self.encode(object)?;
        let response = self
            .kv
            .clone()
            .put(key, value, None)
            .await
            .map_err(|error| from_etcd(&error, None))?;
        revision_of(response.header())
    }

    /// Stores every object, in transactions of up to 128 puts (etcd's default
    /// `--max-txn-ops`), one after the other; answers the revision of the last one,
    /// or `None` when there was nothing to write. Not atomic as a whole: a failure
    /// leaves the transactions before it written.
    ///
    /// # Errors
    ///
    /// The first failure, as for [`put`](EtcdWriter::put); the objects after it are
    /// not written.
    pub async fn put_all<'a, I>(&self, objects: I) -> Result<Option<ResourceVersion>, Box<Status>>
    where
        I: IntoIterator<Item = &'a T>,
        T: 'a,
    {
        let mut last = None;
        let mut ops = Vec::with_capacity(MAX_TXN_OPS);
        let mut objects = objects.into_iter().peekable();
        while objects.peek().is_some() {
            ops.clear();
            for object in objects.by_ref().take(MAX_TXN_OPS) {
                let (key, value) = self.encode(object)?;
                ops.push(TxnOp::put(key, value, None));
            }
            let txn = Txn::new().and_then(std::mem::take(&mut ops));
            let response = self
                .kv
                .clone()
                .txn(txn)
                .await
                .map_err(|error| from_etcd(&error, None))?;
            last = Some(revision_of(response.header())?);
        }
        Ok(last)
    }

    /// Deletes the object stored under `key`; answers the deletion's revision.
    ///
    /// # Errors
    ///
    /// `NotFound` (404) when nothing is stored under `key`, and etcd's failure as a
    /// [`Status`].
    pub async fn delete<Q>(&self, key: &Q) -> Result<ResourceVersion, Box<Status>>
    where
        T::Key: Borrow<Q>,
        Q: fmt::Display + ?Sized,
    {
        let etcd_key = self.codec.etcd_key(key);
        let response = self
            .kv
            .clone()
            .delete(etcd_key, None)
            .await
            .map_err(|error| from_etcd(&error, None))?;
        if response.deleted() == 0 {
            return Err(Status::not_found(
                &String::from_utf8_lossy(self.codec.prefix()),
                &key.to_string(),
            )
            .into());
        }
        revision_of(response.header())
    }

    /// Stores `value` as it is under the prefix followed by `name`, whether or not
    /// it is the JSON of a `T`; answers the write's revision.
    ///
    /// # Errors
    ///
    /// etcd's failure as a [`Status`].
    pub async fn put_raw(
        &self,
        name: &str,
        value: impl Into<Vec<u8>>,
    ) -> Result<ResourceVersion, Box<Status>> {
        let response = self
            .kv
            .clone()
            .put(self.codec.etcd_key(name), value, None)
            .await
            .map_err(|error| from_etcd(&error, None))?;
        revision_of(response.header())
    }

    /// The etcd key and JSON value of `object`.
    /// Refused with `BadRequest` when the key is not a valid string key (a `/` in an
    /// `ObjectName` part): it would share its etcd key with another object's.
    fn encode(&self, object: &T) -> Result<(Vec<u8>, Vec<u8>), Box<Status>> {
        let key = object.key();
        validate_string_key(&key).map_err(|error| {
            Status::bad_request(format!(
                "{key:?} cannot be stored under a string key: {error}"
            ))
        })?;
        let value = serde_json::to_vec(object).map_err(|error| {
            Status::internal_error(format!("{key} does not serialize as JSON: {error}"))
        })?;
        Ok((self.codec.etcd_key(&key), value))
    }
}

/// The revision a write was committed at.
fn revision_of(
    header: Option<&etcd_client::ResponseHeader>,
) -> Result<ResourceVersion, Box<Status>> {
    header
        .map(|header| resource_version(header.revision()))
        .ok_or_else(|| {
            Box::new(Status::internal_error(
                "etcd answered without a response header",
            ))
        })
}
