//! What a `Status` carries besides its reason: [`ListMeta`], [`StatusCause`],
//! [`StatusDetails`].

use super::*;

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
