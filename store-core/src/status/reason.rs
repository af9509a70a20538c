//! The open string enums of a `Status`: [`StatusReason`], [`CauseType`],
//! [`StatusSummary`].

use super::*;

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
