//! What the server answers: JSON bodies, streamed bodies, and [`ApiError`], the one
//! error answer — a `Status` with its code, as kube-apiserver writes it.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use store_core::Status;

/// What a handler returns: the response, or the `Status` it is refused with.
pub(crate) type Answer = Result<Response, ApiError>;

/// A request refused: its `Status` is the body (JSON), its code the HTTP status
/// (500 when the code is not one), and a `Status` that asks the client to retry
/// later adds `Retry-After` in whole seconds (at least 1).
///
/// Boxed, so that an [`Answer`] stays small; any `Status` converts with `?`.
#[derive(Debug)]
pub(crate) struct ApiError(Box<Status>);

impl ApiError {
    /// 404 for a path the server does not serve, naming it.
    pub(crate) fn path_not_found(path: &str) -> Self {
        ApiError::from(Status::not_found("", "").with_message(format!(
            "the server could not find the requested resource (path {path:?})"
        )))
    }

    /// The `Status` answered.
    pub(crate) fn status(&self) -> &Status {
        &self.0
    }
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        ApiError(Box::new(status))
    }
}

impl From<Box<Status>> for ApiError {
    fn from(status: Box<Status>) -> Self {
        ApiError(status)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = u16::try_from(status.code)
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(status).unwrap_or_default();
        let mut response = bytes(code, Bytes::from(body));
        if let Some(retry) = status.retry_after() {
            if let Ok(value) = HeaderValue::from_str(&retry.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// A 200 with `value` as its JSON body.
pub(crate) fn json(value: &serde_json::Value) -> Response {
    bytes(StatusCode::OK, Bytes::from(value.to_string()))
}

/// `code` with `body`, already JSON.
pub(crate) fn bytes(code: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A 200 whose body is streamed (chunked), not cached by proxies.
pub(crate) fn stream(body: Body) -> Response {
    let mut response = bytes(StatusCode::OK, Bytes::new());
    *response.body_mut() = body;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answers_its_status_with_its_code_and_retry_after() {
        let refused = ApiError::from(Status::too_many_requests("busy", 3)).into_response();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "3");
        assert_eq!(refused.headers()[header::CONTENT_TYPE], "application/json");
        let missing = ApiError::path_not_found("/nowhere").into_response();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(missing.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn a_status_code_that_is_no_http_code_answers_500() {
        let mut status = Status::bad_request("odd");
        status.code = 1;
        let response = ApiError::from(status).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
