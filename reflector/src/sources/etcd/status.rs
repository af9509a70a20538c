//! How etcd's failures become [`Status`]es, so that the
//! [`Reflector`](crate::Reflector) knows what to do next:
//!
//! | etcd says | `Status` | the reflector |
//! | --- | --- | --- |
//! | `required revision has been compacted`; a watch cancelled with a `compact_revision` | Expired (410) | relists from the newest revision |
//! | `required revision is a future revision` | too large resource version (504) | relists from the newest revision |
//! | no connection, `Unavailable` (no leader, request timed out), deadline exceeded | ServiceUnavailable (503) | backs off, watches again |
//! | `ResourceExhausted` (too many requests) | TooManyRequests (429) | backs off, watches again |
//! | `Unauthenticated`, `PermissionDenied` | Unauthorized (401), Forbidden (403) | backs off, relists |
//! | `InvalidArgument`, a bad endpoint URL | BadRequest (400) | backs off, relists |
//! | anything else | InternalError (500) | backs off, relists |

use etcd_client::Error;
use store_core::Status;
use tonic_code::Code;

/// etcd's message for a read or watch below the compaction point.
const COMPACTED: &str = "required revision has been compacted";
/// etcd's message for a read above the current revision.
const FUTURE_REVISION: &str = "required revision is a future revision";
/// What `tonic` (under etcd-client) says when the connection, not etcd, failed: it
/// reports those as `Unknown` or `Internal`, the codes etcd uses for its own
/// failures, so the message is what tells them apart.
const CONNECTION_FAILURES: [&str; 6] = [
    "h2 protocol error",
    "transport error",
    "error trying to connect",
    "connection reset",
    "connection refused",
    "broken pipe",
];

/// The gRPC status codes, as `etcd-client` hands them over (through `tonic`, which
/// this crate does not name: the numbers are gRPC's, fixed by its specification).
mod tonic_code {
    /// A gRPC status code.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Code {
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        OutOfRange,
        Internal,
        Unavailable,
        Unauthenticated,
        Other,
    }

    impl Code {
        pub(super) fn from_i32(code: i32) -> Code {
            match code {
                1 => Code::Cancelled,
                2 => Code::Unknown,
                3 => Code::InvalidArgument,
                4 => Code::DeadlineExceeded,
                7 => Code::PermissionDenied,
                8 => Code::ResourceExhausted,
                9 => Code::FailedPrecondition,
                11 => Code::OutOfRange,
                13 => Code::Internal,
                14 => Code::Unavailable,
                16 => Code::Unauthenticated,
                _ => Code::Other,
            }
        }
    }
}

/// The `Status` for a failed etcd call; `revision` is the revision the call read
/// at, if any (for the "future revision" answer).
pub(crate) fn from_etcd(error: &Error, revision: Option<i64>) -> Status {
    match error {
        Error::GRpcStatus(status) => from_grpc(
            Code::from_i32(status.code() as i32),
            status.message(),
            revision,
        ),
        Error::TransportError(_) | Error::IoError(_) | Error::WatchError(_) => {
            Status::service_unavailable(format!("etcd is unreachable: {error}"))
        }
        Error::InvalidArgs(_)
        | Error::InvalidUri(_)
        | Error::EndpointError(_)
        | Error::InvalidMetadataValue(_) => Status::bad_request(format!("etcd: {error}")),
        _ => Status::internal_error(format!("etcd: {error}")),
    }
}

/// The `Status` for a gRPC failure of etcd's.
fn from_grpc(code: Code, message: &str, revision: Option<i64>) -> Status {
    if message.contains(COMPACTED) {
        return compacted(revision, None);
    }
    if message.contains(FUTURE_REVISION) {
        let requested = revision.map_or_else(|| "?".to_owned(), |rev| rev.to_string());
        return Status::too_large_resource_version(&requested, "?", 1);
    }
    match code {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
            Status::service_unavailable(format!("etcd is unavailable: {message}"))
        }
        Code::ResourceExhausted => Status::too_many_requests(format!("etcd: {message}"), 1),
        Code::Unauthenticated => Status::unauthorized(format!("etcd: {message}")),
        Code::PermissionDenied => Status::forbidden("", "", format!("etcd: {message}")),
        Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => {
            Status::bad_request(format!("etcd: {message}"))
        }
        Code::Unknown | Code::Internal if is_connection_failure(message) => {
            Status::service_unavailable(format!("etcd is unreachable: {message}"))
        }
        Code::Unknown | Code::Internal | Code::Other => {
            Status::internal_error(format!("etcd: {message}"))
        }
    }
}

/// Whether `message` is the client's report of a broken or refused connection.
fn is_connection_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    CONNECTION_FAILURES
        .iter()
        .any(|failure| message.contains(failure))
}

/// Expired (410): `revision` is below etcd's compaction point `compacted` (when
/// known).
pub(crate) fn compacted(revision: Option<i64>, compacted: Option<i64>) -> Status {
    let requested = revision.map_or_else(|| "?".to_owned(), |rev| rev.to_string());
    match compacted {
        Some(compacted) => Status::expired(format!(
            "too old resource version: {requested} ({compacted}): etcd has compacted its history"
        )),
        None => Status::expired(format!(
            "too old resource version: {requested}: etcd has compacted its history"
        )),
    }
}

/// The `Status` for a watch etcd cancelled for `reason` (not a compaction).
pub(crate) fn watch_cancelled(reason: &str) -> Status {
    if reason.contains("no leader") || reason.is_empty() {
        Status::service_unavailable(format!("etcd cancelled the watch: {reason}"))
    } else {
        from_grpc(
            Code::Other,
            &format!("etcd cancelled the watch: {reason}"),
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacted_reads_are_expired() {
        let status = from_grpc(
            Code::OutOfRange,
            "etcdserver: mvcc: required revision has been compacted",
            Some(5),
        );
        assert!(status.is_expired(), "{status}");
        assert!(status.message.contains('5'), "{status}");
    }

    #[test]
    fn future_revisions_are_too_large() {
        let status = from_grpc(
            Code::OutOfRange,
            "etcdserver: mvcc: required revision is a future revision",
            Some(900),
        );
        assert!(status.is_too_large_resource_version(), "{status}");
    }

    #[test]
    fn unavailable_and_deadlines_are_service_unavailable() {
        for code in [14, 4, 1] {
            let status = from_grpc(Code::from_i32(code), "etcdserver: no leader", None);
            assert!(status.is_service_unavailable(), "{code}: {status}");
        }
    }

    #[test]
    fn broken_connections_are_service_unavailable() {
        for message in [
            "h2 protocol error: error reading a body from connection",
            "transport error",
            "error trying to connect: tcp connect error: Connection refused (os error 111)",
        ] {
            for code in [2, 13] {
                let status = from_grpc(Code::from_i32(code), message, None);
                assert!(
                    status.is_service_unavailable(),
                    "{code} {message}: {status}"
                );
            }
        }
        let status = from_grpc(Code::from_i32(13), "etcdserver: corrupt cluster", None);
        assert!(status.is_internal_error(), "{status}");
    }

    #[test]
    fn throttling_and_auth_keep_their_meaning() {
        assert!(
            from_grpc(Code::from_i32(8), "etcdserver: too many requests", None)
                .is_too_many_requests()
        );
        assert!(from_grpc(Code::from_i32(16), "invalid auth token", None).is_unauthorized());
        assert!(from_grpc(Code::from_i32(7), "permission denied", None).is_forbidden());
        assert!(from_grpc(Code::from_i32(3), "key is not provided", None).is_bad_request());
        assert!(from_grpc(Code::from_i32(13), "boom", None).is_internal_error());
    }

    #[test]
    fn client_side_failures_are_unavailable_or_bad_requests() {
        let io = Error::IoError(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(from_etcd(&io, None).is_service_unavailable());
        let args = Error::InvalidArgs("empty endpoints".into());
        assert!(from_etcd(&args, None).is_bad_request());
    }

    #[test]
    fn watch_cancellations_without_compaction() {
        assert!(watch_cancelled("etcdserver: no leader").is_service_unavailable());
        assert!(watch_cancelled("").is_service_unavailable());
        assert!(watch_cancelled("permission denied").is_internal_error());
    }
}
