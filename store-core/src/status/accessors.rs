//! Predicates, builders and accessors of `Status<D>` for any details type, and its
//! `Display`.

use super::*;

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
pub(super) struct Summary<'a> {
    status: &'a StatusSummary,
    reason: &'a StatusReason,
    code: i32,
    message: &'a str,
}

impl<'a> Summary<'a> {
    pub(super) fn new(
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
