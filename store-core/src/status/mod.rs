//! [`Status`]: the typed, wire-compatible Kubernetes error (`metav1.Status`).
//!
//! A Kubernetes API server answers every failed request, and the `ERROR` event of a
//! watch, with a `Status` object:
//!
//! ```json
//! {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
//!  "message":"pods \"nginx\" not found","reason":"NotFound",
//!  "details":{"name":"nginx","kind":"pods"},"code":404}
//! ```
//!
//! [`Status`] reads and writes exactly that shape: serialising a parsed `Status` gives
//! back the same JSON keys in the same order (`kind`, `apiVersion`, `metadata`,
//! `status`, `message`, `reason`, `details`, `code`), with empty fields omitted the way
//! the Go types' `omitempty` omits them. It is a [`std::error::Error`], so sources and
//! servers in this workspace return it as their wire-level error.
//!
//! The machine-readable parts are open enums: [`StatusReason`] (why it failed, with the
//! HTTP code of each reason), [`StatusSummary`] (`Success`/`Failure`) and
//! [`CauseType`] (why one field failed). Each knows every value Kubernetes defines and
//! keeps any other string verbatim in an `Other` variant, so a newer server's values
//! round-trip unchanged instead of failing to parse.
//!
//! The predicates ([`Status::is_not_found`], [`Status::is_expired`], …) follow
//! `k8s.io/apimachinery/pkg/api/errors`: the reason matches, or the reason is not one
//! Kubernetes knows and the code matches. Reasons that share a code with another
//! reason (`AlreadyExists`/`Conflict` 409, `Gone`/`Expired` 410, `ServerTimeout` 500)
//! are not inferred from the code where Kubernetes does not infer them.
//!
//! `details` is generic: `Status<D = StatusDetails>`. Servers may attach any details
//! object to a reason; give `Status` your own serde type to read it typed.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

/// The `kind` every `Status` carries on the wire.
const KIND: &str = "Status";
/// The `apiVersion` this crate writes.
const API_VERSION: &str = "v1";
/// The `apiVersion` values accepted when reading (the core group and `meta.k8s.io`).
const ACCEPTED_API_VERSIONS: [&str; 2] = ["v1", "meta.k8s.io/v1"];
/// The text Kubernetes servers before 1.18.6 put in a "too large resource version"
/// answer instead of the `ResourceVersionTooLarge` cause.
const TOO_LARGE_RESOURCE_VERSION_MESSAGE: &str = "Too large resource version";

mod accessors;
mod constructors;
mod details;
mod reason;
#[cfg(test)]
mod tests;
mod wire;

pub use details::{ListMeta, StatusCause, StatusDetails};
pub use reason::{CauseType, StatusReason, StatusSummary};

use accessors::Summary;
use wire::{is_empty_wire, is_zero};

/// A Kubernetes `Status`: the outcome of an operation that returns no object, and the
/// error every API request and watch can answer with.
///
/// Wire-compatible with `metav1.Status`. Writing always puts `"kind":"Status"` and
/// `"apiVersion":"v1"` first, then `metadata` (as `{}` when empty), then `status`,
/// `message`, `reason`, `details` and `code`, each omitted when empty (`code` when 0,
/// `details` when `None`). Reading tolerates a missing `kind`, `apiVersion` or
/// `metadata`, `null` for any field, and unknown fields; it rejects a `kind` other than
/// `Status` and an `apiVersion` other than `v1`/`meta.k8s.io/v1`, so another object is
/// never mistaken for an empty `Status`, and, like Go's `encoding/json`, an array where
/// an object belongs. Malformed input is an `Err`, never a panic.
///
/// `D` is the type of `details`: [`StatusDetails`] by default, or any serde type when
/// a reason carries details of another shape.
///
/// ```
/// use std::time::Duration;
/// use store_core::{Status, StatusReason};
///
/// let status = Status::from_json(
///     r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
///         "message":"pods \"nginx\" not found","reason":"NotFound",
///         "details":{"name":"nginx","kind":"pods"},"code":404}"#,
/// )?;
/// assert!(status.is_not_found());
/// assert_eq!(status.reason, StatusReason::NotFound);
/// assert_eq!(status.to_string(), r#"NotFound (404): pods "nginx" not found"#);
/// assert_eq!(status, Status::not_found("pods", "nginx"));
///
/// let throttled = Status::too_many_requests("slow down", 2);
/// assert!(throttled.is_too_many_requests());
/// assert_eq!(throttled.retry_after(), Some(Duration::from_secs(2)));
///
/// // A `Status` is an error.
/// let err: Box<dyn std::error::Error> = Box::new(Status::expired("too old resource version: 1 (5)"));
/// assert_eq!(err.to_string(), "Expired (410): too old resource version: 1 (5)");
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// Typed details:
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use store_core::Status;
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct QuotaDetails {
///     quota: String,
///     used: u64,
/// }
///
/// let status: Status<QuotaDetails> = serde_json::from_str(
///     r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden",
///         "details":{"quota":"compute","used":12},"code":403}"#,
/// )?;
/// assert!(status.is_forbidden());
/// assert_eq!(status.details, Some(QuotaDetails { quota: "compute".into(), used: 12 }));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", Summary::new(.status, .reason, .code, .message))]
pub struct Status<D = StatusDetails> {
    /// List metadata; empty on errors.
    pub metadata: ListMeta,
    /// `Success` or `Failure`.
    pub status: StatusSummary,
    /// What happened, for humans; the server's words, not meant to be parsed.
    pub message: String,
    /// Why it failed, for machines; [`StatusReason::Unknown`] when the server did not
    /// say.
    pub reason: StatusReason,
    /// Extended data about the reason; its shape depends on the reason.
    pub details: Option<D>,
    /// The HTTP code suggested for this status; 0 when not set.
    pub code: i32,
}

impl<D> Default for Status<D> {
    /// An empty status: no outcome, no reason, no details, code 0.
    fn default() -> Self {
        Self {
            metadata: ListMeta::default(),
            status: StatusSummary::default(),
            message: String::new(),
            reason: StatusReason::default(),
            details: None,
            code: 0,
        }
    }
}
