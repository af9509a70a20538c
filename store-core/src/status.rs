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

/// Defines an open string enum: named variants with fixed wire strings plus
/// `Other(String)`, which keeps any other string verbatim.
///
/// Three wire types of this module ([`StatusReason`], [`CauseType`],
/// [`StatusSummary`]) share this shape; the macro keeps their parsing, printing, serde
/// and equality identical instead of three hand-written copies. Equality and hashing
/// go through the wire string, so `Other("NotFound")` built by hand is equal to
/// `NotFound`: a value is identified by what it puts on the wire.
macro_rules! open_string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $wire:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                $variant,
            )+
            /// A value this crate does not know, kept verbatim so it round-trips
            /// unchanged.
            Other(String),
        }

        impl $name {
            #[doc = concat!("Every named variant of [`", stringify!($name), "`], in declaration order.")]
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire string of this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(other) => other,
                }
            }

            /// The named variant whose wire string is `wire`, if there is one.
            fn lookup(wire: &str) -> Option<Self> {
                match wire {
                    $($wire => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl From<&str> for $name {
            fn from(wire: &str) -> Self {
                Self::lookup(wire).unwrap_or_else(|| Self::Other(wire.to_owned()))
            }
        }

        impl From<String> for $name {
            fn from(wire: String) -> Self {
                Self::lookup(&wire).unwrap_or(Self::Other(wire))
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;

            /// Parses a wire string; never fails (unknown strings become `Other`).
            fn from_str(wire: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(wire))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.as_str() == other.as_str()
            }
        }

        impl Eq for $name {}

        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.as_str().hash(state);
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
                // Borrow when the input allows it; an owned string is moved into
                // `Other` without a copy.
                Cow::<'de, str>::deserialize(deserializer).map(|wire| match wire {
                    Cow::Borrowed(wire) => Self::from(wire),
                    Cow::Owned(wire) => Self::from(wire),
                })
            }
        }
    };
}

open_string_enum! {
    /// Why a request failed: the machine-readable `reason` of a [`Status`], with the
    /// HTTP code each reason goes with ([`StatusReason::http_code`]).
    ///
    /// Every reason Kubernetes defines is a variant; any other string parses to
    /// [`StatusReason::Other`] and is written back unchanged. The empty string is
    /// [`StatusReason::Unknown`] (the server gave no reason), which is also the
    /// default. Values compare by their wire string.
    ///
    /// ```
    /// use store_core::StatusReason;
    ///
    /// let reason: StatusReason = "NotFound".parse().unwrap();
    /// assert_eq!(reason, StatusReason::NotFound);
    /// assert_eq!(reason.http_code(), 404);
    /// assert_eq!(reason.to_string(), "NotFound");
    ///
    /// // A reason from a newer server is kept as it is.
    /// let newer = StatusReason::from("SomethingNew");
    /// assert_eq!(newer, StatusReason::Other("SomethingNew".into()));
    /// assert!(!newer.is_known());
    /// assert_eq!(serde_json::to_string(&newer).unwrap(), r#""SomethingNew""#);
    ///
    /// assert_eq!(StatusReason::Unknown.as_str(), "");
    /// assert_eq!(StatusReason::StorageReadError.as_str(), "StorageReadError");
    /// ```
    pub enum StatusReason {
        /// The server declined to give a reason (`""` on the wire); code 500.
        Unknown = "",
        /// The client must authenticate first; code 401.
        Unauthorized = "Unauthorized",
        /// The client is authenticated but not allowed to do this; code 403.
        Forbidden = "Forbidden",
        /// The resource does not exist; code 404.
        NotFound = "NotFound",
        /// A create found the name taken; code 409.
        AlreadyExists = "AlreadyExists",
        /// A write conflicted with the stored object (usually a stale resource
        /// version); code 409.
        Conflict = "Conflict",
        /// The resource is no longer available and no forwarding address is known;
        /// code 410.
        Gone = "Gone",
        /// The requested content (a resource version) is too old to serve; code 410.
        /// A reflector relists after it.
        Expired = "Expired",
        /// The object failed validation; `details.causes` says which fields; code 422.
        Invalid = "Invalid",
        /// The server could not finish in time and asks the client to retry; code 500.
        ServerTimeout = "ServerTimeout",
        /// The server failed to read from its backing store (wire value
        /// `StorageReadError`); code 500.
        StorageReadError = "StorageReadError",
        /// The request timed out before completing; it may still complete; code 504.
        Timeout = "Timeout",
        /// The client sent too many requests and should retry later; code 429.
        TooManyRequests = "TooManyRequests",
        /// The request was malformed; code 400.
        BadRequest = "BadRequest",
        /// The verb is not supported on this resource; code 405.
        MethodNotAllowed = "MethodNotAllowed",
        /// None of the requested content types can be produced; code 406.
        NotAcceptable = "NotAcceptable",
        /// The request body is too large; code 413.
        RequestEntityTooLarge = "RequestEntityTooLarge",
        /// The request body's content type is not supported; code 415.
        UnsupportedMediaType = "UnsupportedMediaType",
        /// An unexpected server-side error; code 500.
        InternalError = "InternalError",
        /// The server is temporarily unable to serve the request; code 503.
        ServiceUnavailable = "ServiceUnavailable",
    }
}

impl StatusReason {
    /// The HTTP code Kubernetes pairs with this reason.
    ///
    /// [`Unknown`](Self::Unknown) and [`Other`](Self::Other) give 500: the reason says
    /// nothing about the code, so a [`Status`]'s own `code` is the better source.
    ///
    /// ```
    /// use store_core::StatusReason;
    ///
    /// assert_eq!(StatusReason::Expired.http_code(), 410);
    /// assert_eq!(StatusReason::Timeout.http_code(), 504);
    /// assert_eq!(StatusReason::Unknown.http_code(), 500);
    /// ```
    pub fn http_code(&self) -> i32 {
        match self {
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::AlreadyExists | Self::Conflict => 409,
            Self::Gone | Self::Expired => 410,
            Self::Invalid => 422,
            Self::Timeout => 504,
            Self::TooManyRequests => 429,
            Self::BadRequest => 400,
            Self::MethodNotAllowed => 405,
            Self::NotAcceptable => 406,
            Self::RequestEntityTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::ServiceUnavailable => 503,
            Self::ServerTimeout | Self::StorageReadError | Self::InternalError => 500,
            Self::Unknown => 500,
            // A hand-built `Other` holding a known wire string answers like that reason.
            Self::Other(wire) => Self::lookup(wire).map_or(500, |known| known.http_code()),
        }
    }

    /// Whether Kubernetes knows this reason: every named variant except
    /// [`Unknown`](Self::Unknown).
    ///
    /// The predicates of [`Status`] fall back to the HTTP code only when this is
    /// `false`, as `k8s.io/apimachinery` does.
    ///
    /// ```
    /// use store_core::StatusReason;
    ///
    /// assert!(StatusReason::Conflict.is_known());
    /// assert!(!StatusReason::Unknown.is_known());
    /// assert!(!StatusReason::from("Teapot").is_known());
    /// ```
    pub fn is_known(&self) -> bool {
        match self {
            Self::Unknown => false,
            Self::Other(wire) => Self::lookup(wire).is_some_and(|known| known.is_known()),
            _ => true,
        }
    }
}

impl Default for StatusReason {
    /// [`StatusReason::Unknown`], the empty reason.
    fn default() -> Self {
        Self::Unknown
    }
}

open_string_enum! {
    /// Why one part of a request failed: the `reason` of a [`StatusCause`] (Go's
    /// `metav1.CauseType`).
    ///
    /// Kubernetes' cause types are variants; any other string (admission webhooks
    /// invent their own) parses to [`CauseType::Other`] and is written back unchanged.
    /// The empty string is [`CauseType::Unknown`], the default. Values compare by their
    /// wire string.
    ///
    /// ```
    /// use store_core::status::CauseType;
    ///
    /// assert_eq!(CauseType::from("FieldValueRequired"), CauseType::FieldValueRequired);
    /// assert_eq!(CauseType::ResourceVersionTooLarge.as_str(), "ResourceVersionTooLarge");
    /// assert_eq!(CauseType::from("PolicyViolation").as_str(), "PolicyViolation");
    /// ```
    pub enum CauseType {
        /// No cause type given (`""` on the wire).
        Unknown = "",
        /// A referenced value was not found.
        FieldValueNotFound = "FieldValueNotFound",
        /// A required value was empty or missing.
        FieldValueRequired = "FieldValueRequired",
        /// A value that must be unique was repeated.
        FieldValueDuplicate = "FieldValueDuplicate",
        /// A value was malformed or out of range.
        FieldValueInvalid = "FieldValueInvalid",
        /// A value is not one of the supported values.
        FieldValueNotSupported = "FieldValueNotSupported",
        /// A value is not allowed in this context.
        FieldValueForbidden = "FieldValueForbidden",
        /// A value is too long.
        FieldValueTooLong = "FieldValueTooLong",
        /// A list has too many items.
        FieldValueTooMany = "FieldValueTooMany",
        /// An internal error unrelated to the input.
        InternalError = "InternalError",
        /// A value has the wrong type for its field.
        FieldValueTypeInvalid = "FieldValueTypeInvalid",
        /// The server answered without the expected type (maybe a proxy in between).
        UnexpectedServerResponse = "UnexpectedServerResponse",
        /// Server-side apply: another field manager owns the field.
        FieldManagerConflict = "FieldManagerConflict",
        /// The requested resource version is newer than the server has seen
        /// ([`Status::is_too_large_resource_version`]).
        ResourceVersionTooLarge = "ResourceVersionTooLarge",
        /// The namespace is being deleted, so nothing can be created in it.
        NamespaceTerminating = "NamespaceTerminating",
    }
}

impl Default for CauseType {
    /// [`CauseType::Unknown`], the empty cause type.
    fn default() -> Self {
        Self::Unknown
    }
}

open_string_enum! {
    /// Whether the operation succeeded: the `status` field of a [`Status`]
    /// (`"Success"` or `"Failure"`).
    ///
    /// A missing or empty value is [`StatusSummary::Unknown`] (the default) and is
    /// omitted when written; any other string is kept in [`StatusSummary::Other`].
    ///
    /// ```
    /// use store_core::status::StatusSummary;
    ///
    /// assert_eq!(StatusSummary::from("Failure"), StatusSummary::Failure);
    /// assert_eq!(StatusSummary::Success.to_string(), "Success");
    /// assert_eq!(StatusSummary::from("Partial").as_str(), "Partial");
    /// ```
    pub enum StatusSummary {
        /// No status given (`""` on the wire).
        Unknown = "",
        /// The operation succeeded.
        Success = "Success",
        /// The operation failed; `reason`, `code` and `message` say why.
        Failure = "Failure",
    }
}

impl Default for StatusSummary {
    /// [`StatusSummary::Unknown`], the empty status.
    fn default() -> Self {
        Self::Unknown
    }
}

/// List metadata (`metav1.ListMeta`): the `metadata` of a [`Status`], usually empty.
///
/// String fields are omitted when empty, `remainingItemCount` when `None`; an empty
/// `ListMeta` is written as `{}`.
///
/// ```
/// use store_core::status::ListMeta;
///
/// let meta: ListMeta = serde_json::from_str(r#"{"resourceVersion":"42","continue":"abc"}"#)?;
/// assert_eq!(meta.resource_version, "42");
/// assert_eq!(meta.continue_, "abc");
/// assert_eq!(serde_json::to_string(&ListMeta::default())?, "{}");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    /// Deprecated by Kubernetes and no longer set by servers; kept for round trips.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub self_link: String,
    /// The resource version of the list this metadata belongs to; opaque.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// The token that fetches the next page of a paginated list (`continue` on the
    /// wire); opaque, and it expires with its resource version.
    #[serde(rename = "continue", skip_serializing_if = "String::is_empty")]
    pub continue_: String,
    /// How many items remain after this page, when the server could count them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_item_count: Option<i64>,
}

/// One reason a request failed, often naming the field at fault (`metav1.StatusCause`).
///
/// `reason` is a [`CauseType`]: Kubernetes' cause types are variants, anything else is
/// kept verbatim. Every field is omitted from the wire when empty.
///
/// ```
/// use store_core::status::CauseType;
/// use store_core::StatusCause;
///
/// let cause = StatusCause::new(CauseType::FieldValueRequired, "Required value")
///     .with_field("spec.containers[0].image");
/// assert_eq!(
///     serde_json::to_string(&cause)?,
///     r#"{"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].image"}"#,
/// );
/// assert_eq!(cause.to_string(), "spec.containers[0].image: Required value");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct StatusCause {
    /// The machine-readable kind of cause (Go's `Type`, `reason` on the wire).
    #[serde(skip_serializing_if = "is_empty_wire")]
    pub reason: CauseType,
    /// What went wrong, for humans.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The field at fault, as a JSON path such as `spec.containers[0].image`; empty
    /// when the cause is not about one field.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
}

impl StatusCause {
    /// A cause of the given type with a message and no field.
    pub fn new(reason: impl Into<CauseType>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            message: message.into(),
            field: String::new(),
        }
    }

    /// This cause, naming `field` as the one at fault.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for StatusCause {
    /// `field: message`, or just `message` when no field is named.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// The standard details of a [`Status`] (`metav1.StatusDetails`): which object the
/// answer is about, why, and when to retry.
///
/// Every field is omitted from the wire when empty, zero or `None`; the keys are
/// `name`, `group`, `kind`, `uid`, `causes`, `retryAfterSeconds`.
///
/// ```
/// use store_core::StatusDetails;
///
/// let details: StatusDetails =
///     serde_json::from_str(r#"{"name":"nginx","kind":"pods","retryAfterSeconds":3}"#)?;
/// assert_eq!(details.name, "nginx");
/// assert_eq!(details.kind, "pods");
/// assert_eq!(details.retry_after_seconds, 3);
/// assert!(details.causes.is_empty());
/// assert_eq!(serde_json::to_string(&StatusDetails::default())?, "{}");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    /// The name of the object the status is about, when there is one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The API group of the object's resource (`""` for the core group).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// The resource (`pods`) or kind (`Pod`) the status is about; servers use either.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The UID of the object, when the server knows it (set on successful deletes).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// The individual failures behind the status, in the server's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    /// How long the client should wait before retrying; 0 when the server did not
    /// say. See [`Status::retry_after`].
    #[serde(skip_serializing_if = "is_zero")]
    pub retry_after_seconds: i32,
}

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

// ---------------------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------------------

impl<D: Serialize> Serialize for Status<D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Status", 8)?;
        out.serialize_field("kind", KIND)?;
        out.serialize_field("apiVersion", API_VERSION)?;
        out.serialize_field("metadata", &self.metadata)?;
        if is_empty_wire(&self.status) {
            out.skip_field("status")?;
        } else {
            out.serialize_field("status", &self.status)?;
        }
        if self.message.is_empty() {
            out.skip_field("message")?;
        } else {
            out.serialize_field("message", &self.message)?;
        }
        if is_empty_wire(&self.reason) {
            out.skip_field("reason")?;
        } else {
            out.serialize_field("reason", &self.reason)?;
        }
        match &self.details {
            Some(details) => out.serialize_field("details", details)?,
            None => out.skip_field("details")?,
        }
        if self.code == 0 {
            out.skip_field("code")?;
        } else {
            out.serialize_field("code", &self.code)?;
        }
        out.end()
    }
}

// Reading. serde's derived `Deserialize` for a struct also accepts a JSON array of the
// field values in declaration order, so `"details":["nginx"]` would read as a name;
// Go's `encoding/json` rejects it, and so does this module: every struct is read
// through `deserialize_map` ([`read_object`]), which accepts objects only. The derives
// that do the field work live on the private `…Wire` types below; the `remote` ones
// construct the public type directly, and serde checks at compile time that their
// fields match it.

/// What `Status` reads before its `kind` and `apiVersion` are checked.
#[derive(Deserialize)]
#[serde(rename = "Status", rename_all = "camelCase")]
struct StatusWire<D> {
    #[serde(default, deserialize_with = "null_as_default")]
    kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    api_version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    metadata: ListMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    status: StatusSummary,
    #[serde(default, deserialize_with = "null_as_default")]
    message: String,
    #[serde(default, deserialize_with = "null_as_default")]
    reason: StatusReason,
    // No `#[serde(default)]`: serde already reads a missing `Option` as `None`, and
    // the attribute would make the derive require `D: Default`.
    details: Option<D>,
    #[serde(default, deserialize_with = "null_as_default")]
    code: i32,
}

/// Reads [`ListMeta`]'s fields.
#[derive(Deserialize)]
#[serde(remote = "ListMeta", rename = "ListMeta", rename_all = "camelCase")]
struct ListMetaWire {
    #[serde(default, deserialize_with = "null_as_default")]
    self_link: String,
    #[serde(default, deserialize_with = "null_as_default")]
    resource_version: String,
    #[serde(rename = "continue", default, deserialize_with = "null_as_default")]
    continue_: String,
    #[serde(default)]
    remaining_item_count: Option<i64>,
}

/// Reads [`StatusCause`]'s fields.
#[derive(Deserialize)]
#[serde(remote = "StatusCause", rename = "StatusCause")]
struct StatusCauseWire {
    #[serde(default, deserialize_with = "null_as_default")]
    reason: CauseType,
    #[serde(default, deserialize_with = "null_as_default")]
    message: String,
    #[serde(default, deserialize_with = "null_as_default")]
    field: String,
}

/// Reads [`StatusDetails`]' fields.
#[derive(Deserialize)]
#[serde(
    remote = "StatusDetails",
    rename = "StatusDetails",
    rename_all = "camelCase"
)]
struct StatusDetailsWire {
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    group: String,
    #[serde(default, deserialize_with = "null_as_default")]
    kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    causes: Vec<StatusCause>,
    #[serde(default, deserialize_with = "null_as_default")]
    retry_after_seconds: i32,
}

/// A type read from the entries of a JSON object (see [`read_object`]).
trait ReadObject<'de>: Sized {
    /// What the error message says was expected.
    const EXPECTING: &'static str;

    /// Reads the value from the object's entries.
    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error>;
}

impl<'de, D: Deserialize<'de>> ReadObject<'de> for StatusWire<D> {
    const EXPECTING: &'static str = "a Status object";

    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error> {
        Self::deserialize(MapAccessDeserializer::new(entries))
    }
}

impl<'de> ReadObject<'de> for ListMeta {
    const EXPECTING: &'static str = "a ListMeta object";

    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error> {
        ListMetaWire::deserialize(MapAccessDeserializer::new(entries))
    }
}

impl<'de> ReadObject<'de> for StatusCause {
    const EXPECTING: &'static str = "a StatusCause object";

    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error> {
        StatusCauseWire::deserialize(MapAccessDeserializer::new(entries))
    }
}

impl<'de> ReadObject<'de> for StatusDetails {
    const EXPECTING: &'static str = "a StatusDetails object";

    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error> {
        StatusDetailsWire::deserialize(MapAccessDeserializer::new(entries))
    }
}

/// Reads a `T` from a JSON object, and from nothing else.
fn read_object<'de, De: Deserializer<'de>, T: ReadObject<'de>>(
    deserializer: De,
) -> Result<T, De::Error> {
    struct ObjectVisitor<T>(PhantomData<T>);

    impl<'de, T: ReadObject<'de>> de::Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(T::EXPECTING)
        }

        fn visit_map<A: de::MapAccess<'de>>(self, entries: A) -> Result<T, A::Error> {
            T::read(entries)
        }
    }

    deserializer.deserialize_map(ObjectVisitor(PhantomData))
}

impl<'de> Deserialize<'de> for ListMeta {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        read_object(deserializer)
    }
}

impl<'de> Deserialize<'de> for StatusCause {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        read_object(deserializer)
    }
}

impl<'de> Deserialize<'de> for StatusDetails {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        read_object(deserializer)
    }
}

impl<'de, D: Deserialize<'de>> Deserialize<'de> for Status<D> {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        let wire: StatusWire<D> = read_object(deserializer)?;
        if !wire.kind.is_empty() && wire.kind != KIND {
            return Err(de::Error::custom(format_args!(
                "expected kind \"Status\", found {:?}",
                wire.kind
            )));
        }
        if !wire.api_version.is_empty() && !ACCEPTED_API_VERSIONS.contains(&&*wire.api_version) {
            return Err(de::Error::custom(format_args!(
                "expected apiVersion \"v1\" for a Status, found {:?}",
                wire.api_version
            )));
        }
        Ok(Self {
            metadata: wire.metadata,
            status: wire.status,
            message: wire.message,
            reason: wire.reason,
            details: wire.details,
            code: wire.code,
        })
    }
}

impl Status {
    /// Parses a `Status` from JSON text.
    ///
    /// Malformed JSON, a field of the wrong type, or a `kind`/`apiVersion` that is
    /// not a Status's is an `Err`. For typed details use
    /// `serde_json::from_str::<Status<MyDetails>>`.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::from_json(r#"{"status":"Failure","reason":"Expired","code":410}"#)?;
    /// assert!(status.is_expired());
    ///
    /// assert!(Status::from_json(r#"{"code":"410"}"#).is_err());
    /// assert!(Status::from_json(r#"{"kind":"Pod","apiVersion":"v1"}"#).is_err());
    /// assert!(Status::from_json("").is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Parses a `Status` from JSON bytes, as read off the network; see
    /// [`Status::from_json`].
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::from_slice(br#"{"status":"Success"}"#)?;
    /// assert!(status.is_success());
    /// assert!(Status::from_slice(b"\xff\xfe").is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_slice(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

// ---------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------

/// Constructors shaped like `k8s.io/apimachinery/pkg/api/errors`' `New…` functions:
/// the same reason, code, message wording and details.
///
/// Arguments named `resource` take a resource (`pods`) or a group-qualified resource
/// (`deployments.apps`); the part after the first `.` goes to `details.group`, as
/// Kubernetes' `schema.ParseGroupResource` reads it. Names are quoted in messages the
/// way Go's `%q` quotes them.
impl Status {
    /// A successful outcome (`"status":"Success"`), code 0 and nothing else set, like
    /// the answer to a delete; add details with [`Status::with_details`].
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let ok = Status::success();
    /// assert!(ok.is_success());
    /// assert_eq!(ok.to_string(), "Success");
    /// assert_eq!(
    ///     serde_json::to_string(&ok).unwrap(),
    ///     r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}"#,
    /// );
    /// ```
    pub fn success() -> Self {
        Self {
            status: StatusSummary::Success,
            ..Self::default()
        }
    }

    /// A failure with the given reason and message, coded with
    /// [`StatusReason::http_code`] and without details.
    ///
    /// ```
    /// use store_core::{Status, StatusReason};
    ///
    /// let status = Status::failure(StatusReason::MethodNotAllowed, "watch is not supported");
    /// assert!(status.is_method_not_allowed());
    /// assert_eq!(status.code, 405);
    /// assert_eq!(status.to_string(), "MethodNotAllowed (405): watch is not supported");
    /// ```
    pub fn failure(reason: impl Into<StatusReason>, message: impl Into<String>) -> Self {
        let reason = reason.into();
        Self {
            status: StatusSummary::Failure,
            message: message.into(),
            code: reason.http_code(),
            reason,
            ..Self::default()
        }
    }

    /// A failure with no reason and the given code, as a client builds it for an HTTP
    /// error whose body is not a `Status`; the predicates then go by the code alone.
    ///
    /// ```
    /// use store_core::{Status, StatusReason};
    ///
    /// let status = Status::from_code(404, "404 page not found");
    /// assert_eq!(status.reason, StatusReason::Unknown);
    /// assert!(status.is_not_found());
    /// assert_eq!(status.to_string(), "Failure (404): 404 page not found");
    /// ```
    pub fn from_code(code: i32, message: impl Into<String>) -> Self {
        Self::failure(StatusReason::Unknown, message).with_code(code)
    }

    /// `resource "name" not found` (404, `NotFound`), naming the object in `details`.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::not_found("deployments.apps", "web");
    /// assert!(status.is_not_found());
    /// assert_eq!(status.message, r#"deployments.apps "web" not found"#);
    /// let details = status.details.unwrap();
    /// assert_eq!((details.group.as_str(), details.kind.as_str()), ("apps", "deployments"));
    /// ```
    pub fn not_found(resource: &str, name: &str) -> Self {
        Self::failure(
            StatusReason::NotFound,
            format!("{resource} {name:?} not found"),
        )
        .with_details(object_details(resource, name))
    }

    /// `resource "name" already exists` (409, `AlreadyExists`), naming the object in
    /// `details`.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::already_exists("configmaps", "app-config");
    /// assert!(status.is_already_exists());
    /// assert!(!status.is_conflict());
    /// assert_eq!(status.code, 409);
    /// ```
    pub fn already_exists(resource: &str, name: &str) -> Self {
        Self::failure(
            StatusReason::AlreadyExists,
            format!("{resource} {name:?} already exists"),
        )
        .with_details(object_details(resource, name))
    }

    /// `Operation cannot be fulfilled on resource "name": why` (409, `Conflict`),
    /// naming the object in `details`.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::conflict("configmaps", "app", "the object has been modified");
    /// assert!(status.is_conflict());
    /// assert_eq!(
    ///     status.message,
    ///     r#"Operation cannot be fulfilled on configmaps "app": the object has been modified"#,
    /// );
    /// ```
    pub fn conflict(resource: &str, name: &str, why: impl fmt::Display) -> Self {
        Self::failure(
            StatusReason::Conflict,
            format!("Operation cannot be fulfilled on {resource} {name:?}: {why}"),
        )
        .with_details(object_details(resource, name))
    }

    /// The resource is no longer available (410, `Gone`); Kubernetes prefers
    /// [`Status::expired`] for too-old resource versions.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::gone("the resource is gone");
    /// assert!(status.is_gone());
    /// assert!(!status.is_expired());
    /// assert!(status.is_expired_or_gone());
    /// ```
    pub fn gone(message: impl Into<String>) -> Self {
        Self::failure(StatusReason::Gone, message)
    }

    /// The requested content has expired (410, `Expired`), usually
    /// `too old resource version: requested (oldest)`; a reflector relists after it.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::expired("too old resource version: 1000 (2400)");
    /// assert!(status.is_expired());
    /// assert!(!status.is_gone());
    /// assert_eq!(status.code, 410);
    /// assert!(status.details.is_none());
    /// ```
    pub fn expired(message: impl Into<String>) -> Self {
        Self::failure(StatusReason::Expired, message)
    }

    /// `kind "name" is invalid: [causes]` (422, `Invalid`), with the causes in
    /// `details`.
    ///
    /// `kind` is a kind (`Pod`), optionally group-qualified (`Deployment.apps`). The
    /// message lists the causes as `field: message`, bracketed when there are several,
    /// like Go's aggregate error.
    ///
    /// ```
    /// use store_core::status::CauseType;
    /// use store_core::{Status, StatusCause};
    ///
    /// let status = Status::invalid(
    ///     "Pod",
    ///     "nginx",
    ///     [StatusCause::new(CauseType::FieldValueRequired, "Required value")
    ///         .with_field("spec.containers")],
    /// );
    /// assert!(status.is_invalid());
    /// assert_eq!(status.message, r#"Pod "nginx" is invalid: spec.containers: Required value"#);
    /// assert_eq!(status.details.unwrap().causes.len(), 1);
    /// ```
    pub fn invalid(kind: &str, name: &str, causes: impl IntoIterator<Item = StatusCause>) -> Self {
        let causes: Vec<StatusCause> = causes.into_iter().collect();
        let message = match causes.as_slice() {
            [] => format!("{kind} {name:?} is invalid"),
            [only] => format!("{kind} {name:?} is invalid: {only}"),
            many => {
                let listed: Vec<String> = many.iter().map(ToString::to_string).collect();
                format!("{kind} {name:?} is invalid: [{}]", listed.join(", "))
            }
        };
        Self::failure(StatusReason::Invalid, message).with_details(StatusDetails {
            causes,
            ..object_details(kind, name)
        })
    }

    /// The client must slow down (429, `TooManyRequests`), retrying after
    /// `retry_after_seconds` (0: the server does not say).
    ///
    /// ```
    /// use std::time::Duration;
    /// use store_core::Status;
    ///
    /// let status = Status::too_many_requests("Too many requests, please try again later.", 1);
    /// assert!(status.is_too_many_requests());
    /// assert_eq!(status.retry_after(), Some(Duration::from_secs(1)));
    /// ```
    pub fn too_many_requests(message: impl Into<String>, retry_after_seconds: i32) -> Self {
        Self::failure(StatusReason::TooManyRequests, message).with_details(StatusDetails {
            retry_after_seconds,
            ..StatusDetails::default()
        })
    }

    /// `Internal error occurred: error` (500, `InternalError`), with the error's text
    /// as the one cause.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::internal_error("disk full");
    /// assert!(status.is_internal_error());
    /// assert_eq!(status.message, "Internal error occurred: disk full");
    /// assert_eq!(status.details.unwrap().causes[0].message, "disk full");
    /// ```
    pub fn internal_error(error: impl fmt::Display) -> Self {
        let error = error.to_string();
        Self::failure(
            StatusReason::InternalError,
            format!("Internal error occurred: {error}"),
        )
        .with_cause(StatusCause {
            message: error,
            ..StatusCause::default()
        })
    }

    /// `Timeout: message` (504, `Timeout`): the request did not finish in time but may
    /// still complete; retry after `retry_after_seconds` (0: not said).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::timeout("request did not complete within 60s", 5);
    /// assert!(status.is_timeout());
    /// assert_eq!(status.message, "Timeout: request did not complete within 60s");
    /// assert_eq!(status.code, 504);
    /// ```
    pub fn timeout(message: impl fmt::Display, retry_after_seconds: i32) -> Self {
        Self::failure(StatusReason::Timeout, format!("Timeout: {message}")).with_details(
            StatusDetails {
                retry_after_seconds,
                ..StatusDetails::default()
            },
        )
    }

    /// The server could not finish `operation` on `resource` in time and asks for a
    /// retry (500, `ServerTimeout`); `details.name` holds the operation, as in
    /// Kubernetes.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::server_timeout("pods", "list", 2);
    /// assert!(status.is_server_timeout());
    /// assert!(!status.is_internal_error());
    /// assert_eq!(
    ///     status.message,
    ///     "The list operation against pods could not be completed at this time, please try again.",
    /// );
    /// ```
    pub fn server_timeout(resource: &str, operation: &str, retry_after_seconds: i32) -> Self {
        Self::failure(
            StatusReason::ServerTimeout,
            format!(
                "The {operation} operation against {resource} could not be completed at this time, please try again."
            ),
        )
        .with_details(StatusDetails {
            retry_after_seconds,
            ..object_details(resource, operation)
        })
    }

    /// The answer to a read at a resource version newer than the server has seen:
    /// a [`Status::timeout`] carrying the `ResourceVersionTooLarge` cause, as the
    /// apiserver's watch cache sends it. A reflector relists from `""` after it.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::too_large_resource_version("1200", "1100", 1);
    /// assert!(status.is_too_large_resource_version());
    /// assert!(status.is_timeout());
    /// assert_eq!(status.message, "Timeout: Too large resource version: 1200, current: 1100");
    /// ```
    pub fn too_large_resource_version(
        requested: &str,
        current: &str,
        retry_after_seconds: i32,
    ) -> Self {
        Self::timeout(
            format_args!("{TOO_LARGE_RESOURCE_VERSION_MESSAGE}: {requested}, current: {current}"),
            retry_after_seconds,
        )
        .with_cause(StatusCause::new(
            CauseType::ResourceVersionTooLarge,
            TOO_LARGE_RESOURCE_VERSION_MESSAGE,
        ))
    }

    /// The server is temporarily unable to serve (503, `ServiceUnavailable`).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::service_unavailable("storage is initializing");
    /// assert!(status.is_service_unavailable());
    /// assert_eq!(status.code, 503);
    /// ```
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::failure(StatusReason::ServiceUnavailable, message)
    }

    /// The request is malformed (400, `BadRequest`).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::bad_request("invalid label selector");
    /// assert!(status.is_bad_request());
    /// assert_eq!(status.to_string(), "BadRequest (400): invalid label selector");
    /// ```
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::failure(StatusReason::BadRequest, message)
    }

    /// `resource "name" is forbidden: why` (403, `Forbidden`); with an empty `name`,
    /// `resource is forbidden: why`; with an empty `resource` too, `forbidden: why`.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::forbidden("pods", "", r#"User "bob" cannot list resource "pods""#);
    /// assert!(status.is_forbidden());
    /// assert_eq!(status.message, r#"pods is forbidden: User "bob" cannot list resource "pods""#);
    /// ```
    pub fn forbidden(resource: &str, name: &str, why: impl fmt::Display) -> Self {
        let message = if resource.is_empty() {
            format!("forbidden: {why}")
        } else if name.is_empty() {
            format!("{resource} is forbidden: {why}")
        } else {
            format!("{resource} {name:?} is forbidden: {why}")
        };
        Self::failure(StatusReason::Forbidden, message).with_details(object_details(resource, name))
    }

    /// The client must authenticate (401, `Unauthorized`); an empty message becomes
    /// `not authorized`.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::unauthorized("");
    /// assert!(status.is_unauthorized());
    /// assert_eq!(status.message, "not authorized");
    /// ```
    pub fn unauthorized(message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.is_empty() {
            message.push_str("not authorized");
        }
        Self::failure(StatusReason::Unauthorized, message)
    }

    /// This status with `cause` appended to `details.causes` (details are created when
    /// there are none).
    ///
    /// ```
    /// use store_core::status::CauseType;
    /// use store_core::{Status, StatusCause};
    ///
    /// let status = Status::bad_request("bad selector")
    ///     .with_cause(StatusCause::new(CauseType::FieldValueInvalid, "unknown operator"));
    /// assert!(status.has_cause(&CauseType::FieldValueInvalid));
    /// ```
    #[must_use]
    pub fn with_cause(mut self, cause: StatusCause) -> Self {
        self.details
            .get_or_insert_with(StatusDetails::default)
            .causes
            .push(cause);
        self
    }

    /// This status with `details.retryAfterSeconds` set (details are created when
    /// there are none).
    ///
    /// ```
    /// use std::time::Duration;
    /// use store_core::Status;
    ///
    /// let status = Status::service_unavailable("busy").with_retry_after_seconds(7);
    /// assert_eq!(status.retry_after(), Some(Duration::from_secs(7)));
    /// ```
    #[must_use]
    pub fn with_retry_after_seconds(mut self, seconds: i32) -> Self {
        self.details
            .get_or_insert_with(StatusDetails::default)
            .retry_after_seconds = seconds;
        self
    }

    /// How long the server asks the client to wait before retrying: the positive
    /// `details.retryAfterSeconds`, or `None` when it is absent, zero or negative.
    ///
    /// ```
    /// use std::time::Duration;
    /// use store_core::Status;
    ///
    /// assert_eq!(Status::timeout("slow", 3).retry_after(), Some(Duration::from_secs(3)));
    /// assert_eq!(Status::timeout("slow", 0).retry_after(), None);
    /// assert_eq!(Status::expired("old").retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        let seconds = self.details.as_ref()?.retry_after_seconds;
        u64::try_from(seconds)
            .ok()
            .filter(|&seconds| seconds > 0)
            .map(Duration::from_secs)
    }

    /// The causes in `details`, empty when there are no details.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert_eq!(Status::internal_error("boom").causes().len(), 1);
    /// assert!(Status::expired("old").causes().is_empty());
    /// ```
    pub fn causes(&self) -> &[StatusCause] {
        self.details
            .as_ref()
            .map_or(&[][..], |details| details.causes.as_slice())
    }

    /// Whether `details.causes` holds a cause of type `reason` (Go's
    /// `HasStatusCause`).
    ///
    /// ```
    /// use store_core::status::CauseType;
    /// use store_core::Status;
    ///
    /// let status = Status::too_large_resource_version("9", "5", 1);
    /// assert!(status.has_cause(&CauseType::ResourceVersionTooLarge));
    /// assert!(!status.has_cause(&CauseType::FieldValueInvalid));
    /// ```
    pub fn has_cause(&self, reason: &CauseType) -> bool {
        self.causes().iter().any(|cause| cause.reason == *reason)
    }

    /// Whether the server refused a read because the requested resource version is
    /// newer than any it has seen, as client-go's reflector decides it.
    ///
    /// True when a cause has type `ResourceVersionTooLarge`. Older servers (before
    /// Kubernetes 1.18.6) did not set that cause, so a [timeout](Status::is_timeout)
    /// whose cause message is, or whose message contains, `Too large resource version`
    /// counts too.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::too_large_resource_version("9", "5", 1).is_too_large_resource_version());
    /// // A Kubernetes 1.16 server: only the message says it.
    /// assert!(Status::timeout("Too large resource version: 9, current: 5", 1)
    ///     .is_too_large_resource_version());
    /// assert!(!Status::timeout("request took too long", 1).is_too_large_resource_version());
    /// ```
    pub fn is_too_large_resource_version(&self) -> bool {
        if self.has_cause(&CauseType::ResourceVersionTooLarge) {
            return true;
        }
        self.is_timeout()
            && (self
                .causes()
                .iter()
                .any(|cause| cause.message == TOO_LARGE_RESOURCE_VERSION_MESSAGE)
                || self.message.contains(TOO_LARGE_RESOURCE_VERSION_MESSAGE))
    }
}

/// `details` naming one object of a (possibly group-qualified) resource or kind.
fn object_details(resource: &str, name: &str) -> StatusDetails {
    let (kind, group) = resource.split_once('.').unwrap_or((resource, ""));
    StatusDetails {
        name: name.to_owned(),
        group: group.to_owned(),
        kind: kind.to_owned(),
        ..StatusDetails::default()
    }
}

// ---------------------------------------------------------------------------------------
// Predicates and builders for any details type
// ---------------------------------------------------------------------------------------

impl<D> Status<D> {
    /// Whether the reason is `reason`, or the reason is not a known one and the code
    /// is `code`: apimachinery's rule for most `Is…` functions.
    fn reason_or_unknown_with_code(&self, reason: StatusReason, code: i32) -> bool {
        self.reason == reason || (!self.reason.is_known() && self.code == code)
    }

    /// Whether the operation succeeded (`"status":"Success"`).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::success().is_success());
    /// assert!(!Status::gone("bye").is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        self.status == StatusSummary::Success
    }

    /// The object does not exist: reason `NotFound`, or an unknown reason with code
    /// 404.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::not_found("pods", "web").is_not_found());
    /// assert!(Status::from_code(404, "").is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::NotFound, 404)
    }

    /// A create found the name taken: reason `AlreadyExists` only (409 is shared with
    /// `Conflict`, so the code alone does not say it).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::already_exists("pods", "web").is_already_exists());
    /// assert!(!Status::from_code(409, "").is_already_exists());
    /// ```
    pub fn is_already_exists(&self) -> bool {
        self.reason == StatusReason::AlreadyExists
    }

    /// A write conflicted: reason `Conflict`, or an unknown reason with code 409.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::conflict("pods", "web", "stale").is_conflict());
    /// assert!(Status::from_code(409, "").is_conflict());
    /// ```
    pub fn is_conflict(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::Conflict, 409)
    }

    /// The resource is gone: reason `Gone`, or an unknown reason with code 410. An
    /// `Expired` status is not gone (see [`Status::is_expired_or_gone`]).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::gone("bye").is_gone());
    /// assert!(Status::from_code(410, "").is_gone());
    /// assert!(!Status::expired("too old").is_gone());
    /// ```
    pub fn is_gone(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::Gone, 410)
    }

    /// The requested content expired (a too-old resource version): reason `Expired`
    /// only, as Kubernetes' `IsResourceExpired`; a bare 410 is [gone](Status::is_gone).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::expired("too old resource version: 1 (5)").is_expired());
    /// assert!(!Status::from_code(410, "").is_expired());
    /// ```
    pub fn is_expired(&self) -> bool {
        self.reason == StatusReason::Expired
    }

    /// Expired or gone: the answer after which client-go's reflector relists from
    /// scratch.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::expired("old").is_expired_or_gone());
    /// assert!(Status::from_code(410, "").is_expired_or_gone());
    /// assert!(!Status::not_found("pods", "web").is_expired_or_gone());
    /// ```
    pub fn is_expired_or_gone(&self) -> bool {
        self.is_expired() || self.is_gone()
    }

    /// The object failed validation: reason `Invalid`, or an unknown reason with code
    /// 422.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::invalid("Pod", "web", []).is_invalid());
    /// assert!(Status::from_code(422, "").is_invalid());
    /// ```
    pub fn is_invalid(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::Invalid, 422)
    }

    /// The client is being throttled: reason `TooManyRequests`, or code 429 whatever
    /// the reason (Kubernetes' check predates the unknown-reason rule and kept it).
    ///
    /// ```
    /// use store_core::{Status, StatusReason};
    ///
    /// assert!(Status::too_many_requests("slow down", 1).is_too_many_requests());
    /// assert!(Status::failure(StatusReason::Forbidden, "quota").with_code(429).is_too_many_requests());
    /// ```
    pub fn is_too_many_requests(&self) -> bool {
        self.reason == StatusReason::TooManyRequests || self.code == 429
    }

    /// The client must authenticate: reason `Unauthorized`, or an unknown reason with
    /// code 401.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::unauthorized("token expired").is_unauthorized());
    /// assert!(Status::from_code(401, "").is_unauthorized());
    /// ```
    pub fn is_unauthorized(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::Unauthorized, 401)
    }

    /// The request is not allowed: reason `Forbidden`, or an unknown reason with code
    /// 403.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::forbidden("pods", "", "no").is_forbidden());
    /// assert!(Status::from_code(403, "").is_forbidden());
    /// ```
    pub fn is_forbidden(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::Forbidden, 403)
    }

    /// The request is malformed: reason `BadRequest`, or an unknown reason with code
    /// 400.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::bad_request("bad").is_bad_request());
    /// assert!(Status::from_code(400, "").is_bad_request());
    /// ```
    pub fn is_bad_request(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::BadRequest, 400)
    }

    /// An internal server error: reason `InternalError`, or an unknown reason with
    /// code 500.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::internal_error("boom").is_internal_error());
    /// assert!(Status::from_code(500, "").is_internal_error());
    /// assert!(!Status::server_timeout("pods", "list", 1).is_internal_error());
    /// ```
    pub fn is_internal_error(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::InternalError, 500)
    }

    /// The server asks for a retry after a timeout of its own: reason `ServerTimeout`
    /// only (its code, 500, says nothing by itself).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::server_timeout("pods", "list", 1).is_server_timeout());
    /// assert!(!Status::from_code(500, "").is_server_timeout());
    /// ```
    pub fn is_server_timeout(&self) -> bool {
        self.reason == StatusReason::ServerTimeout
    }

    /// The request timed out: reason `Timeout`, or an unknown reason with code 504.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::timeout("slow", 0).is_timeout());
    /// assert!(Status::from_code(504, "").is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::Timeout, 504)
    }

    /// The server is unavailable: reason `ServiceUnavailable`, or an unknown reason
    /// with code 503.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// assert!(Status::service_unavailable("starting").is_service_unavailable());
    /// assert!(Status::from_code(503, "").is_service_unavailable());
    /// ```
    pub fn is_service_unavailable(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::ServiceUnavailable, 503)
    }

    /// The verb is not supported: reason `MethodNotAllowed`, or an unknown reason
    /// with code 405.
    ///
    /// ```
    /// use store_core::{Status, StatusReason};
    ///
    /// assert!(Status::failure(StatusReason::MethodNotAllowed, "no").is_method_not_allowed());
    /// assert!(Status::from_code(405, "").is_method_not_allowed());
    /// ```
    pub fn is_method_not_allowed(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::MethodNotAllowed, 405)
    }

    /// No acceptable content type: reason `NotAcceptable`, or an unknown reason with
    /// code 406.
    ///
    /// ```
    /// use store_core::{Status, StatusReason};
    ///
    /// assert!(Status::failure(StatusReason::NotAcceptable, "no").is_not_acceptable());
    /// assert!(Status::from_code(406, "").is_not_acceptable());
    /// ```
    pub fn is_not_acceptable(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::NotAcceptable, 406)
    }

    /// The request body is too large: reason `RequestEntityTooLarge`, or code 413
    /// whatever the reason (as Kubernetes checks it).
    ///
    /// ```
    /// use store_core::{Status, StatusReason};
    ///
    /// assert!(Status::failure(StatusReason::RequestEntityTooLarge, "3 MiB")
    ///     .is_request_entity_too_large());
    /// assert!(Status::from_code(413, "").is_request_entity_too_large());
    /// ```
    pub fn is_request_entity_too_large(&self) -> bool {
        self.reason == StatusReason::RequestEntityTooLarge || self.code == 413
    }

    /// The body's content type is not supported: reason `UnsupportedMediaType`, or an
    /// unknown reason with code 415.
    ///
    /// ```
    /// use store_core::{Status, StatusReason};
    ///
    /// assert!(Status::failure(StatusReason::UnsupportedMediaType, "text/plain")
    ///     .is_unsupported_media_type());
    /// assert!(Status::from_code(415, "").is_unsupported_media_type());
    /// ```
    pub fn is_unsupported_media_type(&self) -> bool {
        self.reason_or_unknown_with_code(StatusReason::UnsupportedMediaType, 415)
    }

    /// This status with `details` replaced, possibly by another type.
    ///
    /// ```
    /// use store_core::{Status, StatusDetails};
    ///
    /// let deleted = Status::success().with_details(StatusDetails {
    ///     name: "nginx".into(),
    ///     kind: "pods".into(),
    ///     ..StatusDetails::default()
    /// });
    /// assert_eq!(deleted.details.unwrap().name, "nginx");
    ///
    /// // Any serde type can be the details.
    /// let typed: Status<Vec<u32>> = Status::bad_request("bad ids").with_details(vec![7, 9]);
    /// assert_eq!(typed.details, Some(vec![7, 9]));
    /// ```
    #[must_use]
    pub fn with_details<E>(self, details: E) -> Status<E> {
        self.map_details(|_| Some(details))
    }

    /// This status with its details turned into another type by `f`, which gets the
    /// whole `Option` (so it can also add or drop the details).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let names: Status<String> = Status::not_found("pods", "web")
    ///     .map_details(|details| details.map(|details| details.name));
    /// assert_eq!(names.details.as_deref(), Some("web"));
    /// ```
    #[must_use]
    pub fn map_details<E>(self, f: impl FnOnce(Option<D>) -> Option<E>) -> Status<E> {
        Status {
            metadata: self.metadata,
            status: self.status,
            message: self.message,
            reason: self.reason,
            details: f(self.details),
            code: self.code,
        }
    }

    /// This status with `message` replaced.
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::gone("a").with_message("b");
    /// assert_eq!(status.message, "b");
    /// ```
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// This status with `code` replaced (the reason stays as it is).
    ///
    /// ```
    /// use store_core::Status;
    ///
    /// let status = Status::success().with_code(200);
    /// assert_eq!(status.code, 200);
    /// ```
    #[must_use]
    pub fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }
}

// ---------------------------------------------------------------------------------------
// Display
// ---------------------------------------------------------------------------------------

/// How a [`Status`] prints: `Reason (code): message`, e.g.
/// `NotFound (404): pods "nginx" not found`.
///
/// Without a reason the status summary (`Failure`, `Success`) heads the line, and
/// `Unknown` without either; ` (code)` is left out when the code is 0 and `: message`
/// when the message is empty.
struct Summary<'a> {
    status: &'a StatusSummary,
    reason: &'a StatusReason,
    code: i32,
    message: &'a str,
}

impl<'a> Summary<'a> {
    fn new(
        status: &'a StatusSummary,
        reason: &'a StatusReason,
        code: &i32,
        message: &'a str,
    ) -> Self {
        Self {
            status,
            reason,
            code: *code,
            message,
        }
    }
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = [self.reason.as_str(), self.status.as_str()]
            .into_iter()
            .find(|head| !head.is_empty())
            .unwrap_or("Unknown");
        f.write_str(head)?;
        if self.code != 0 {
            write!(f, " ({})", self.code)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Serde support
// ---------------------------------------------------------------------------------------

/// Reads `null` as the default value, as Go's `encoding/json` leaves a field untouched
/// on `null`; servers in other languages send `null` for empty fields.
fn null_as_default<'de, De, T>(deserializer: De) -> Result<T, De::Error>
where
    De: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// `skip_serializing_if` for the open string enums: omitted when the wire string is
/// empty, as Go's `omitempty` omits an empty string.
fn is_empty_wire<T: AsRef<str>>(value: &T) -> bool {
    value.as_ref().is_empty()
}

/// `skip_serializing_if` for numbers: omitted when 0, as Go's `omitempty`.
fn is_zero(value: &i32) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every named reason with its wire string and HTTP code, written out independently
    /// of the enum so a typo on either side fails.
    const REASON_TABLE: &[(StatusReason, &str, i32)] = &[
        (StatusReason::Unknown, "", 500),
        (StatusReason::Unauthorized, "Unauthorized", 401),
        (StatusReason::Forbidden, "Forbidden", 403),
        (StatusReason::NotFound, "NotFound", 404),
        (StatusReason::AlreadyExists, "AlreadyExists", 409),
        (StatusReason::Conflict, "Conflict", 409),
        (StatusReason::Gone, "Gone", 410),
        (StatusReason::Expired, "Expired", 410),
        (StatusReason::Invalid, "Invalid", 422),
        (StatusReason::ServerTimeout, "ServerTimeout", 500),
        (StatusReason::StorageReadError, "StorageReadError", 500),
        (StatusReason::Timeout, "Timeout", 504),
        (StatusReason::TooManyRequests, "TooManyRequests", 429),
        (StatusReason::BadRequest, "BadRequest", 400),
        (StatusReason::MethodNotAllowed, "MethodNotAllowed", 405),
        (StatusReason::NotAcceptable, "NotAcceptable", 406),
        (
            StatusReason::RequestEntityTooLarge,
            "RequestEntityTooLarge",
            413,
        ),
        (
            StatusReason::UnsupportedMediaType,
            "UnsupportedMediaType",
            415,
        ),
        (StatusReason::InternalError, "InternalError", 500),
        (StatusReason::ServiceUnavailable, "ServiceUnavailable", 503),
    ];

    #[test]
    fn reason_table_covers_every_named_reason() {
        assert_eq!(REASON_TABLE.len(), StatusReason::KNOWN.len());
        for known in StatusReason::KNOWN {
            assert!(
                REASON_TABLE.iter().any(|(reason, ..)| reason == known),
                "{known:?} missing from the table"
            );
        }
    }

    #[test]
    fn every_reason_round_trips_its_wire_string_and_has_its_code() {
        for (reason, wire, code) in REASON_TABLE {
            assert_eq!(reason.as_str(), *wire);
            assert_eq!(reason.to_string(), *wire);
            assert_eq!(reason.http_code(), *code, "{reason:?}");
            let parsed = StatusReason::from(*wire);
            assert_eq!(parsed, *reason);
            assert!(
                !matches!(parsed, StatusReason::Other(_)),
                "{wire:?} parsed to Other"
            );
            assert_eq!(wire.parse::<StatusReason>(), Ok(reason.clone()));
            let json = serde_json::to_string(reason).unwrap();
            assert_eq!(json, format!("{wire:?}"));
            assert_eq!(
                serde_json::from_str::<StatusReason>(&json).unwrap(),
                *reason
            );
        }
    }

    #[test]
    fn storage_read_error_uses_its_wire_name() {
        assert_eq!(StatusReason::StorageReadError.as_str(), "StorageReadError");
        assert_eq!(
            StatusReason::from("StorageReadError"),
            StatusReason::StorageReadError
        );
    }

    #[test]
    fn unknown_reason_string_is_kept_verbatim() {
        let reason = StatusReason::from("QuotaExceeded");
        assert_eq!(reason, StatusReason::Other("QuotaExceeded".to_owned()));
        assert_eq!(reason.as_str(), "QuotaExceeded");
        assert_eq!(reason.http_code(), 500);
        assert!(!reason.is_known());
        let json = serde_json::to_string(&reason).unwrap();
        assert_eq!(json, r#""QuotaExceeded""#);
        assert_eq!(serde_json::from_str::<StatusReason>(&json).unwrap(), reason);
    }

    #[test]
    fn hand_built_other_with_known_string_equals_the_named_variant() {
        let other = StatusReason::Other("NotFound".to_owned());
        assert_eq!(other, StatusReason::NotFound);
        assert!(other.is_known());
        assert_eq!(other.http_code(), 404);
        let status = status_with(other, 0);
        assert!(status.is_not_found());
    }

    #[test]
    fn reason_matching_is_case_sensitive() {
        assert_eq!(
            StatusReason::from("notfound"),
            StatusReason::Other("notfound".to_owned())
        );
    }

    #[test]
    fn every_known_reason_except_unknown_is_known() {
        for reason in StatusReason::KNOWN {
            assert_eq!(reason.is_known(), *reason != StatusReason::Unknown);
        }
    }

    #[test]
    fn cause_types_and_summaries_round_trip() {
        for cause in CauseType::KNOWN {
            assert_eq!(CauseType::from(cause.as_str()), *cause);
        }
        for summary in StatusSummary::KNOWN {
            assert_eq!(StatusSummary::from(summary.as_str()), *summary);
        }
        assert_eq!(
            CauseType::from("Custom"),
            CauseType::Other("Custom".to_owned())
        );
        assert_eq!(
            StatusSummary::from("Partial"),
            StatusSummary::Other("Partial".to_owned())
        );
    }

    #[test]
    fn non_string_reason_is_an_error() {
        assert!(serde_json::from_str::<StatusReason>("404").is_err());
        assert!(serde_json::from_str::<CauseType>("[]").is_err());
    }

    /// A status with the given reason and code and nothing else.
    fn status_with(reason: StatusReason, code: i32) -> Status {
        Status {
            reason,
            code,
            ..Status::default()
        }
    }

    /// Every predicate by name, to check each against every reason and code.
    #[allow(clippy::type_complexity)]
    const PREDICATES: &[(&str, fn(&Status) -> bool)] = &[
        ("not_found", Status::is_not_found),
        ("already_exists", Status::is_already_exists),
        ("conflict", Status::is_conflict),
        ("gone", Status::is_gone),
        ("expired", Status::is_expired),
        ("invalid", Status::is_invalid),
        ("too_many_requests", Status::is_too_many_requests),
        ("unauthorized", Status::is_unauthorized),
        ("forbidden", Status::is_forbidden),
        ("bad_request", Status::is_bad_request),
        ("internal_error", Status::is_internal_error),
        ("server_timeout", Status::is_server_timeout),
        ("timeout", Status::is_timeout),
        ("service_unavailable", Status::is_service_unavailable),
        ("method_not_allowed", Status::is_method_not_allowed),
        ("not_acceptable", Status::is_not_acceptable),
        (
            "request_entity_too_large",
            Status::is_request_entity_too_large,
        ),
        ("unsupported_media_type", Status::is_unsupported_media_type),
    ];

    /// The reason each predicate is named after.
    fn predicate_reason(name: &str) -> StatusReason {
        let camel: String = name
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect();
        StatusReason::from(camel)
    }

    #[test]
    fn each_predicate_matches_exactly_its_own_reason() {
        for (name, predicate) in PREDICATES {
            let own = predicate_reason(name);
            assert!(own.is_known(), "{name} maps to {own:?}");
            for reason in StatusReason::KNOWN
                .iter()
                .filter(|reason| reason.is_known())
            {
                // Code 0: only the reason can decide.
                assert_eq!(
                    predicate(&status_with(reason.clone(), 0)),
                    *reason == own,
                    "is_{name} with reason {reason:?}"
                );
            }
        }
    }

    #[test]
    fn known_reason_is_not_overridden_by_the_code() {
        // A known reason with another reason's code: the reason wins.
        assert!(!status_with(StatusReason::Forbidden, 404).is_not_found());
        assert!(!status_with(StatusReason::NotFound, 409).is_conflict());
        assert!(!status_with(StatusReason::Expired, 410).is_gone());
        assert!(!status_with(StatusReason::StorageReadError, 500).is_internal_error());
    }

    #[test]
    fn unknown_reason_falls_back_to_the_code() {
        let by_code: &[(&str, i32)] = &[
            ("not_found", 404),
            ("conflict", 409),
            ("gone", 410),
            ("invalid", 422),
            ("too_many_requests", 429),
            ("unauthorized", 401),
            ("forbidden", 403),
            ("bad_request", 400),
            ("internal_error", 500),
            ("timeout", 504),
            ("service_unavailable", 503),
            ("method_not_allowed", 405),
            ("not_acceptable", 406),
            ("request_entity_too_large", 413),
            ("unsupported_media_type", 415),
        ];
        for unknown in [StatusReason::Unknown, StatusReason::from("Teapot")] {
            for (name, predicate) in PREDICATES {
                let expected = by_code.iter().find(|(n, _)| n == name).map(|(_, c)| *c);
                for code in [
                    0, 400, 401, 403, 404, 405, 406, 409, 410, 413, 415, 422, 429, 500, 503, 504,
                ] {
                    assert_eq!(
                        predicate(&status_with(unknown.clone(), code)),
                        expected == Some(code),
                        "is_{name} with reason {unknown:?} and code {code}"
                    );
                }
            }
        }
    }

    #[test]
    fn shared_codes_are_not_inferred_where_kubernetes_does_not() {
        let bare_410 = status_with(StatusReason::Unknown, 410);
        assert!(bare_410.is_gone());
        assert!(!bare_410.is_expired());
        let bare_409 = status_with(StatusReason::Unknown, 409);
        assert!(bare_409.is_conflict());
        assert!(!bare_409.is_already_exists());
        let bare_500 = status_with(StatusReason::Unknown, 500);
        assert!(bare_500.is_internal_error());
        assert!(!bare_500.is_server_timeout());
    }

    #[test]
    fn throttling_and_too_large_match_their_code_whatever_the_reason() {
        assert!(status_with(StatusReason::Forbidden, 429).is_too_many_requests());
        assert!(status_with(StatusReason::BadRequest, 413).is_request_entity_too_large());
    }

    #[test]
    fn constructors_set_reason_code_and_failure() {
        let cases: Vec<(Status, StatusReason)> = vec![
            (Status::not_found("pods", "a"), StatusReason::NotFound),
            (
                Status::already_exists("pods", "a"),
                StatusReason::AlreadyExists,
            ),
            (Status::conflict("pods", "a", "x"), StatusReason::Conflict),
            (Status::gone("x"), StatusReason::Gone),
            (Status::expired("x"), StatusReason::Expired),
            (Status::invalid("Pod", "a", []), StatusReason::Invalid),
            (
                Status::too_many_requests("x", 1),
                StatusReason::TooManyRequests,
            ),
            (Status::internal_error("x"), StatusReason::InternalError),
            (Status::timeout("x", 1), StatusReason::Timeout),
            (
                Status::server_timeout("pods", "get", 1),
                StatusReason::ServerTimeout,
            ),
            (
                Status::service_unavailable("x"),
                StatusReason::ServiceUnavailable,
            ),
            (Status::bad_request("x"), StatusReason::BadRequest),
            (Status::forbidden("pods", "a", "x"), StatusReason::Forbidden),
            (Status::unauthorized("x"), StatusReason::Unauthorized),
            (
                Status::too_large_resource_version("2", "1", 1),
                StatusReason::Timeout,
            ),
        ];
        for (status, reason) in cases {
            assert_eq!(status.status, StatusSummary::Failure, "{status:?}");
            assert_eq!(status.code, reason.http_code(), "{status:?}");
            assert_eq!(status.reason, reason);
            assert!(!status.is_success());
            assert!(!status.message.is_empty());
        }
    }

    #[test]
    fn not_found_matches_the_apiserver_wire_shape() {
        let json = serde_json::to_string(&Status::not_found("pods", "nginx")).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"nginx\" not found","reason":"NotFound","details":{"name":"nginx","kind":"pods"},"code":404}"#
        );
    }

    #[test]
    fn group_qualified_resource_fills_details_group() {
        let details = Status::already_exists("deployments.apps", "web")
            .details
            .unwrap();
        assert_eq!(details.kind, "deployments");
        assert_eq!(details.group, "apps");
        assert_eq!(details.name, "web");
    }

    #[test]
    fn names_are_quoted_like_go() {
        let status = Status::not_found("configmaps", "we\"ird");
        assert_eq!(status.message, r#"configmaps "we\"ird" not found"#);
    }

    #[test]
    fn invalid_lists_several_causes_in_brackets() {
        let status = Status::invalid(
            "Deployment.apps",
            "web",
            [
                StatusCause::new(CauseType::FieldValueRequired, "Required value")
                    .with_field("spec.selector"),
                StatusCause::new(CauseType::FieldValueInvalid, "must be positive")
                    .with_field("spec.replicas"),
            ],
        );
        assert_eq!(
            status.message,
            r#"Deployment.apps "web" is invalid: [spec.selector: Required value, spec.replicas: must be positive]"#
        );
        let details = status.details.unwrap();
        assert_eq!(
            (details.kind.as_str(), details.group.as_str()),
            ("Deployment", "apps")
        );
        assert_eq!(details.causes.len(), 2);
    }

    #[test]
    fn forbidden_message_depends_on_what_is_named() {
        assert_eq!(Status::forbidden("", "", "nope").message, "forbidden: nope");
        assert_eq!(
            Status::forbidden("pods", "", "nope").message,
            "pods is forbidden: nope"
        );
        assert_eq!(
            Status::forbidden("pods", "web", "nope").message,
            r#"pods "web" is forbidden: nope"#
        );
        assert!(Status::forbidden("", "", "nope").details.unwrap() == StatusDetails::default());
    }

    #[test]
    fn retry_after_is_only_positive_seconds() {
        assert_eq!(
            Status::too_many_requests("x", 4).retry_after(),
            Some(Duration::from_secs(4))
        );
        assert_eq!(Status::too_many_requests("x", 0).retry_after(), None);
        assert_eq!(Status::too_many_requests("x", -3).retry_after(), None);
        assert_eq!(Status::gone("x").retry_after(), None);
    }

    #[test]
    fn too_large_resource_version_needs_cause_or_timeout_with_message() {
        assert!(Status::too_large_resource_version("10", "5", 1).is_too_large_resource_version());
        // The cause alone is enough, whatever the reason.
        assert!(Status::internal_error("x")
            .with_cause(StatusCause::new(CauseType::ResourceVersionTooLarge, ""))
            .is_too_large_resource_version());
        // Kubernetes 1.17.0-1.18.5: untyped cause with the message, on a timeout.
        assert!(Status::timeout("x", 1)
            .with_cause(StatusCause::new(
                CauseType::Unknown,
                "Too large resource version"
            ))
            .is_too_large_resource_version());
        // The message fallback applies to timeouts only.
        assert!(
            !Status::bad_request("Too large resource version: 10, current: 5")
                .is_too_large_resource_version()
        );
        assert!(status_with(StatusReason::Unknown, 504)
            .with_message("Too large resource version: 10, current: 5")
            .is_too_large_resource_version());
        assert!(!Status::timeout("x", 1).is_too_large_resource_version());
    }

    #[test]
    fn display_shows_reason_code_and_message() {
        assert_eq!(
            Status::not_found("pods", "nginx").to_string(),
            r#"NotFound (404): pods "nginx" not found"#
        );
        assert_eq!(Status::success().to_string(), "Success");
        assert_eq!(status_with(StatusReason::Unknown, 0).to_string(), "Unknown");
        assert_eq!(
            status_with(StatusReason::Unknown, 503)
                .with_message("down")
                .to_string(),
            "Unknown (503): down"
        );
        let failure: Status = Status {
            status: StatusSummary::Failure,
            code: 502,
            ..Status::default()
        };
        assert_eq!(failure.to_string(), "Failure (502)");
        assert_eq!(
            status_with(StatusReason::from("Teapot"), 418).to_string(),
            "Teapot (418)"
        );
    }

    #[test]
    fn status_is_a_std_error() {
        fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
        assert_error::<Status>();
        assert_error::<Status<String>>();
        let boxed: Box<dyn std::error::Error> = Box::new(Status::gone("bye"));
        assert!(boxed.source().is_none());
    }

    #[test]
    fn empty_status_serialises_kind_api_version_and_metadata_only() {
        assert_eq!(
            serde_json::to_string(&Status::<StatusDetails>::default()).unwrap(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{}}"#
        );
    }

    #[test]
    fn missing_kind_api_version_and_metadata_are_tolerated() {
        let status = Status::from_json(r#"{"reason":"Expired","code":410}"#).unwrap();
        assert!(status.is_expired());
        assert_eq!(status.metadata, ListMeta::default());
        assert_eq!(
            Status::from_json("{}").unwrap(),
            status_with(StatusReason::Unknown, 0)
        );
    }

    #[test]
    fn nulls_read_as_empty() {
        let status = Status::from_json(
            r#"{"kind":null,"apiVersion":null,"metadata":null,"status":null,"message":null,
                "reason":null,"details":{"name":null,"causes":null,"retryAfterSeconds":null},"code":null}"#,
        )
        .unwrap();
        assert_eq!(
            status,
            Status::<()>::default().with_details(StatusDetails::default())
        );
        let no_details = Status::from_json(r#"{"details":null}"#).unwrap();
        assert_eq!(no_details.details, None);
    }

    #[test]
    fn meta_k8s_io_api_version_is_accepted() {
        assert!(Status::from_json(r#"{"kind":"Status","apiVersion":"meta.k8s.io/v1"}"#).is_ok());
    }

    #[test]
    fn other_kinds_and_api_versions_are_rejected() {
        let err = Status::from_json(r#"{"kind":"Pod","apiVersion":"v1"}"#).unwrap_err();
        assert!(
            err.to_string().contains("expected kind \"Status\""),
            "{err}"
        );
        let err = Status::from_json(r#"{"kind":"Status","apiVersion":"apps/v1"}"#).unwrap_err();
        assert!(err.to_string().contains("apiVersion"), "{err}");
    }

    #[test]
    fn arrays_are_not_read_as_objects() {
        assert!(serde_json::from_str::<StatusDetails>(r#"["nginx"]"#).is_err());
        assert!(serde_json::from_str::<StatusCause>(r#"["FieldValueInvalid"]"#).is_err());
        assert!(serde_json::from_str::<ListMeta>("[]").is_err());
        assert!(Status::from_json(r#"["Status","v1"]"#).is_err());
        // Typed details are read by their own type, which may well be an array.
        let typed: Status<Vec<u8>> = serde_json::from_str(r#"{"details":[1,2]}"#).unwrap();
        assert_eq!(typed.details, Some(vec![1, 2]));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let status =
            Status::from_json(r#"{"status":"Failure","reason":"Gone","code":410,"extra":[1,2]}"#)
                .unwrap();
        assert!(status.is_gone());
    }

    #[test]
    fn unknown_status_summary_is_kept() {
        let status = Status::from_json(r#"{"status":"Partial"}"#).unwrap();
        assert_eq!(status.status, StatusSummary::Other("Partial".to_owned()));
        assert!(!status.is_success());
        assert!(serde_json::to_string(&status)
            .unwrap()
            .contains(r#""status":"Partial""#));
    }

    #[test]
    fn list_meta_round_trips_every_field() {
        let json =
            r#"{"selfLink":"/x","resourceVersion":"7","continue":"tok","remainingItemCount":0}"#;
        let meta: ListMeta = serde_json::from_str(json).unwrap();
        assert_eq!(meta.remaining_item_count, Some(0));
        assert_eq!(serde_json::to_string(&meta).unwrap(), json);
    }

    #[test]
    fn map_details_changes_the_details_type() {
        let status: Status<u8> = Status::gone("x").map_details(|_| Some(3));
        assert_eq!(status.details, Some(3));
        assert!(status.is_gone());
    }
}
