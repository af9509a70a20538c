//! The etcd layout of typed objects: the key of an object, its JSON value, the range
//! of a prefix, and list continue tokens; [`DecodeError`] for values that are not a
//! `T`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use store_core::{validate_string_key, Keyed, Status};
use thiserror::Error;

/// A value under the prefix that could not be turned into a `T`: skipped by the
/// source, reported to its hook and counted.
#[derive(Debug, Error)]
#[error("skipped the value of {key:?} at revision {revision}: {failure}")]
pub struct DecodeError {
    /// The etcd key (lossy UTF-8).
    pub key: String,
    /// The revision the value was written at (its `mod_revision`).
    pub revision: i64,
    /// What is wrong with it.
    #[source]
    pub failure: DecodeFailure,
}

/// Why a value under the prefix is not a `T`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DecodeFailure {
    /// The value is not the JSON of a `T`.
    #[error("the value does not decode: {0}")]
    Json(#[from] serde_json::Error),
    /// The value decodes, but its object's key is not the one its etcd key names:
    /// storing it would put it under another key than etcd has it.
    #[error("the object's key is {object_key:?}, the etcd key names {named:?}")]
    KeyMismatch {
        /// The decoded object's key (`Display`).
        object_key: String,
        /// What the etcd key holds after the prefix (lossy UTF-8).
        named: String,
    },
    /// The object's key cannot be written as a string key and read back (a `/` in
    /// an `ObjectName`'s namespace or name, or an empty name): another object's key
    /// would print the same, and the two would share one etcd key.
    #[error("the object's key {object_key:?} is not a valid string key: {error}")]
    InvalidKey {
        /// The decoded object's key (`Display`).
        object_key: String,
        /// Why it is not valid.
        #[source]
        error: store_core::Error,
    },
    /// A deletion came without the deleted value, or with one that does not decode:
    /// there is no object to hand the store. The watch ends so that the reflector
    /// relists.
    #[error("the deleted value is missing or does not decode")]
    DeletedValueUnknown,
}

/// The decode-error hook.
pub(crate) type DecodeHook = Arc<dyn Fn(&DecodeError) + Send + Sync>;

/// Turns the values of one prefix into objects; shared by every clone of a source
/// and every watch it opened.
pub(crate) struct Codec {
    /// The prefix, as bytes.
    prefix: Vec<u8>,
    /// The end of the prefix's range (exclusive), as etcd reads it.
    range_end: Vec<u8>,
    /// How many values were skipped.
    decode_errors: AtomicU64,
    /// Called with every skipped value; cold.
    hook: RwLock<Option<DecodeHook>>,
}

impl Codec {
    pub(crate) fn new(prefix: &str) -> Self {
        Codec {
            prefix: prefix.as_bytes().to_vec(),
            range_end: prefix_range_end(prefix.as_bytes()),
            decode_errors: AtomicU64::new(0),
            hook: RwLock::new(None),
        }
    }

    /// The prefix.
    pub(crate) fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The first key of the prefix's range: the prefix itself, or `\0` for the whole
    /// key space (etcd refuses an empty key).
    pub(crate) fn range_start(&self) -> Vec<u8> {
        if self.prefix.is_empty() {
            vec![0]
        } else {
            self.prefix.clone()
        }
    }

    /// The end of the prefix's range (exclusive).
    pub(crate) fn range_end(&self) -> &[u8] {
        &self.range_end
    }

    /// The etcd key of the object whose key displays as `key`.
    pub(crate) fn etcd_key(&self, key: &(impl fmt::Display + ?Sized)) -> Vec<u8> {
        let mut etcd_key = self.prefix.clone();
        etcd_key.extend_from_slice(key.to_string().as_bytes());
        etcd_key
    }

    pub(crate) fn set_hook(&self, hook: DecodeHook) {
        *self.hook.write() = Some(hook);
    }

    pub(crate) fn decode_errors(&self) -> u64 {
        self.decode_errors.load(Ordering::Relaxed)
    }

    /// The object `value` holds under `key`, checked against the key; `Err` tells
    /// why it is not one (not yet reported).
    pub(crate) fn decode<T>(&self, key: &[u8], value: &[u8]) -> Result<T, DecodeFailure>
    where
        T: Keyed + DeserializeOwned,
    {
        let object: T = serde_json::from_slice(value)?;
        let named = key.strip_prefix(self.prefix.as_slice()).unwrap_or(key);
        let object_key = object.key();
        if let Err(error) = validate_string_key(&object_key) {
            return Err(DecodeFailure::InvalidKey {
                object_key: object_key.to_string(),
                error,
            });
        }
        let object_key = object_key.to_string();
        if object_key.as_bytes() != named {
            return Err(DecodeFailure::KeyMismatch {
                object_key,
                named: String::from_utf8_lossy(named).into_owned(),
            });
        }
        Ok(object)
    }

    /// Counts a skipped value and reports it to the hook and through `tracing`.
    pub(crate) fn report(&self, key: &[u8], revision: i64, failure: DecodeFailure) {
        self.decode_errors.fetch_add(1, Ordering::Relaxed);
        let error = DecodeError {
            key: String::from_utf8_lossy(key).into_owned(),
            revision,
            failure,
        };
        tracing::warn!(key = %error.key, revision, error = %error.failure, "skipped an etcd value");
        // Cloned out so that the hook runs without the lock (it may set a hook).
        let hook = self.hook.read().clone();
        if let Some(hook) = hook {
            hook(&error);
        }
    }
}

/// The end (exclusive) of the range of keys starting with `prefix`, etcd's
/// `GetPrefixRangeEnd`: the prefix with its last byte below `0xff` incremented and
/// the bytes after it dropped; `\0` ("to the end of the key space") when there is no
/// such byte (an empty prefix, or one of only `0xff`s).
pub(crate) fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    match prefix.iter().rposition(|&byte| byte < 0xff) {
        Some(last) => {
            let mut end = prefix[..=last].to_vec();
            end[last] += 1;
            end
        }
        None => vec![0],
    }
}

/// Where the next page of a paginated list starts: the revision the first page was
/// read at and the last key it returned. Written as `<revision>/<hex of the key>`,
/// which the caller treats as opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContinueToken {
    /// The revision every page is read at.
    pub(crate) revision: i64,
    /// The last key handed out; the next page starts just after it.
    pub(crate) last_key: Vec<u8>,
}

impl ContinueToken {
    pub(crate) fn encode(&self) -> String {
        use fmt::Write;
        let mut token = String::with_capacity(24 + 2 * self.last_key.len());
        let _ = write!(token, "{}/", self.revision);
        for byte in &self.last_key {
            // Writing to a `String` cannot fail.
            let _ = write!(token, "{byte:02x}");
        }
        token
    }

    /// Parses a token this module wrote; `BadRequest` for anything else.
    pub(crate) fn decode(token: &str) -> Result<Self, Box<Status>> {
        let invalid = || Status::bad_request(format!("invalid continue token {token:?}"));
        let (revision, key) = token.split_once('/').ok_or_else(invalid)?;
        let revision: i64 = revision.parse().map_err(|_| invalid())?;
        if revision <= 0 || key.len() % 2 != 0 || !key.is_ascii() {
            return Err(invalid().into());
        }
        let last_key = (0..key.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&key[at..at + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| invalid())?;
        Ok(ContinueToken { revision, last_key })
    }

    /// The first key of the next page: the smallest key after `last_key`.
    pub(crate) fn next_key(&self) -> Vec<u8> {
        let mut key = self.last_key.clone();
        key.push(0);
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Lease {
        name: String,
    }

    impl Keyed for Lease {
        type Key = String;
        fn key(&self) -> String {
            self.name.clone()
        }
    }

    #[test]
    fn prefix_range_end_increments_the_last_byte_below_ff() {
        assert_eq!(prefix_range_end(b"/registry/pods/"), b"/registry/pods0");
        assert_eq!(prefix_range_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_range_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_range_end(b""), b"\0");
    }

    #[test]
    fn continue_token_round_trips_any_key() {
        for key in [&b""[..], b"/p/web/a", b"\0\xff\x7f/"] {
            let token = ContinueToken {
                revision: 42,
                last_key: key.to_vec(),
            };
            assert_eq!(ContinueToken::decode(&token.encode()).unwrap(), token);
        }
    }

    #[test]
    fn foreign_continue_tokens_are_bad_requests() {
        for token in ["", "42", "x/00", "0/00", "-1/00", "42/0", "42/zz", "42/é0"] {
            let status = ContinueToken::decode(token).unwrap_err();
            assert!(status.is_bad_request(), "{token:?}: {status}");
        }
    }

    #[test]
    fn next_page_starts_just_after_the_last_key() {
        let token = ContinueToken {
            revision: 7,
            last_key: b"/p/a".to_vec(),
        };
        assert_eq!(token.next_key(), b"/p/a\0");
    }

    #[test]
    fn decode_checks_the_key_against_the_etcd_key() {
        let codec = Codec::new("/leases/");
        let lease: Lease = codec.decode(b"/leases/a", br#"{"name":"a"}"#).unwrap();
        assert_eq!(lease.name, "a");
        assert!(matches!(
            codec.decode::<Lease>(b"/leases/b", br#"{"name":"a"}"#),
            Err(DecodeFailure::KeyMismatch { .. })
        ));
        assert!(matches!(
            codec.decode::<Lease>(b"/leases/a", b"not json"),
            Err(DecodeFailure::Json(_))
        ));
    }

    #[test]
    fn report_counts_and_calls_the_hook() {
        let codec = Codec::new("/leases/");
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        codec.set_hook(Arc::new(move |error: &DecodeError| {
            sink.lock().push((error.key.clone(), error.revision));
        }));
        let failure = codec.decode::<Lease>(b"/leases/a", b"{").unwrap_err();
        codec.report(b"/leases/a", 9, failure);
        assert_eq!(codec.decode_errors(), 1);
        assert_eq!(*seen.lock(), [("/leases/a".to_owned(), 9)]);
    }

    #[test]
    fn empty_prefix_ranges_over_the_whole_key_space() {
        let codec = Codec::new("");
        assert_eq!(codec.range_start(), b"\0");
        assert_eq!(codec.range_end(), b"\0");
        assert_eq!(codec.etcd_key("a"), b"a");
    }
}
