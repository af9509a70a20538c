//! `Status` constructors: one per reason, as kube-apiserver words them.

use super::*;

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
