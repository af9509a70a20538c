// Unit tests of `Status`.

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
    let json = r#"{"selfLink":"/x","resourceVersion":"7","continue":"tok","remainingItemCount":0}"#;
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
