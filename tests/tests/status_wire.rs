//! Wire compatibility of `store_core::Status` with what kube-apiserver sends: the
//! recorded samples in `fixtures/status/` and the `ERROR` event of
//! `fixtures/watch/configmaps.jsonl` parse, and write back byte for byte.

use std::time::Duration;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store_core::status::{CauseType, ListMeta, StatusSummary};
use store_core::{Status, StatusCause, StatusDetails, StatusReason};

/// Every Status sample, by file name.
const FIXTURES: &[(&str, &str)] = &[
    (
        "already-exists.json",
        include_str!("../fixtures/status/already-exists.json"),
    ),
    (
        "conflict.json",
        include_str!("../fixtures/status/conflict.json"),
    ),
    (
        "expired.json",
        include_str!("../fixtures/status/expired.json"),
    ),
    (
        "forbidden.json",
        include_str!("../fixtures/status/forbidden.json"),
    ),
    (
        "not-found.json",
        include_str!("../fixtures/status/not-found.json"),
    ),
    (
        "success-delete.json",
        include_str!("../fixtures/status/success-delete.json"),
    ),
    (
        "too-many-requests.json",
        include_str!("../fixtures/status/too-many-requests.json"),
    ),
];

const WATCH_STREAM: &str = include_str!("../fixtures/watch/configmaps.jsonl");

/// The fixture called `name`, parsed.
fn fixture(name: &str) -> Status {
    let (_, text) = FIXTURES
        .iter()
        .find(|(file, _)| *file == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    Status::from_json(text).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// Every key path of a JSON value (`details.causes[0].message`), to name what differs
/// when two values do not match.
fn key_paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{prefix}.{key}");
                out.push(path.clone());
                key_paths(child, &path, out);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                key_paths(item, &format!("{prefix}[{index}]"), out);
            }
        }
        _ => {}
    }
}

fn sorted_key_paths(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    key_paths(value, "", &mut out);
    out.sort();
    out
}

#[test]
fn every_fixture_round_trips_to_the_same_json() {
    for (name, text) in FIXTURES {
        let input: Value = serde_json::from_str(text).unwrap();
        let parsed = Status::from_json(text).unwrap_or_else(|err| panic!("{name}: {err}"));

        let written = serde_json::to_value(&parsed).unwrap();
        assert_eq!(
            sorted_key_paths(&written),
            sorted_key_paths(&input),
            "{name}: keys differ"
        );
        assert_eq!(written, input, "{name}: values differ");

        // Same key order too: the text is identical to what the apiserver sent.
        assert_eq!(
            serde_json::to_string(&parsed).unwrap(),
            text.trim_end(),
            "{name}: text differs"
        );

        let reparsed: Status = serde_json::from_value(written).unwrap();
        assert_eq!(
            reparsed, parsed,
            "{name}: parse-write-parse changed the value"
        );
    }
}

#[test]
fn every_fixture_round_trips_with_untyped_details() {
    // Details as raw JSON keep everything, whatever the reason put there.
    for (name, text) in FIXTURES {
        let parsed: Status<Value> = serde_json::from_str(text).unwrap();
        let input: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), input, "{name}");
    }
}

#[test]
fn not_found_fixture_is_what_the_constructor_builds() {
    let status = fixture("not-found.json");
    assert!(status.is_not_found());
    assert_eq!(status.code, 404);
    assert_eq!(status.status, StatusSummary::Failure);
    assert_eq!(
        status.to_string(),
        r#"NotFound (404): pods "nginx" not found"#
    );
    assert_eq!(status, Status::not_found("pods", "nginx"));
}

#[test]
fn already_exists_fixture_is_what_the_constructor_builds() {
    let status = fixture("already-exists.json");
    assert!(status.is_already_exists());
    assert!(!status.is_conflict());
    assert_eq!(status, Status::already_exists("configmaps", "app-config"));
}

#[test]
fn conflict_fixture_is_what_the_constructor_builds() {
    let status = fixture("conflict.json");
    assert!(status.is_conflict());
    assert!(!status.is_already_exists());
    assert_eq!(
        status,
        Status::conflict(
            "configmaps",
            "app-config",
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    );
}

#[test]
fn expired_fixture_is_expired_not_gone() {
    let status = fixture("expired.json");
    assert!(status.is_expired());
    assert!(!status.is_gone());
    assert!(status.is_expired_or_gone());
    assert_eq!(status.code, 410);
    assert_eq!(
        status,
        Status::expired("too old resource version: 1000 (2400)")
    );
}

#[test]
fn forbidden_fixture_is_what_the_constructor_builds() {
    let status = fixture("forbidden.json");
    assert!(status.is_forbidden());
    assert_eq!(
        status,
        Status::forbidden(
            "pods",
            "",
            r#"User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "kube-system""#,
        )
    );
}

#[test]
fn success_delete_fixture_carries_the_deleted_object() {
    let status = fixture("success-delete.json");
    assert!(status.is_success());
    assert_eq!(status.code, 0);
    assert_eq!(status.reason, StatusReason::Unknown);
    assert_eq!(status.to_string(), "Success");
    let expected = Status::success().with_details(StatusDetails {
        name: "nginx".into(),
        kind: "pods".into(),
        uid: "6c8a1f0e-3a2b-4c5d-9e8f-0a1b2c3d4e5f".into(),
        ..StatusDetails::default()
    });
    assert_eq!(status, expected);
}

#[test]
fn too_many_requests_fixture_gives_retry_after_and_cause() {
    let status = fixture("too-many-requests.json");
    assert!(status.is_too_many_requests());
    assert_eq!(status.retry_after(), Some(Duration::from_secs(1)));
    let expected = Status::too_many_requests("Too many requests, please try again later.", 1)
        .with_cause(StatusCause::new(
            CauseType::Unknown,
            "the server has received too many requests and has asked us to try again later",
        ));
    assert_eq!(status, expected);
}

#[test]
fn watch_error_event_carries_an_expired_status() {
    let mut errors = WATCH_STREAM.lines().filter_map(|line| {
        let event: Value = serde_json::from_str(line).unwrap();
        (event["type"] == "ERROR").then(|| event["object"].clone())
    });
    let object = errors.next().expect("the stream has an ERROR event");
    assert!(errors.next().is_none(), "one ERROR event expected");

    let status: Status = serde_json::from_value(object.clone()).unwrap();
    assert!(status.is_expired());
    assert!(status.is_expired_or_gone());
    assert_eq!(status.code, 410);
    assert_eq!(status.message, "too old resource version: 1260 (1900)");
    assert_eq!(serde_json::to_value(&status).unwrap(), object);
}

#[test]
fn other_watch_events_are_not_statuses() {
    // Objects of another kind are rejected, not read as an empty Status.
    for line in WATCH_STREAM.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        if event["type"] != "ERROR" && event["object"].get("kind").is_some() {
            assert!(serde_json::from_value::<Status>(event["object"].clone()).is_err());
        }
    }
}

/// Details of a user's own shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuotaDetails {
    quota_name: String,
    used: u64,
    limits: Vec<String>,
}

#[test]
fn typed_details_round_trip() {
    let status =
        Status::failure(StatusReason::Forbidden, "exceeded quota").with_details(QuotaDetails {
            quota_name: "compute".into(),
            used: 12,
            limits: vec!["cpu".into(), "memory".into()],
        });
    let json = serde_json::to_string(&status).unwrap();
    assert_eq!(
        json,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"exceeded quota","reason":"Forbidden","details":{"quotaName":"compute","used":12,"limits":["cpu","memory"]},"code":403}"#
    );
    let parsed: Status<QuotaDetails> = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, status);
    assert!(parsed.is_forbidden());
}

#[test]
fn typed_details_of_the_wrong_shape_are_an_error() {
    let text = FIXTURES[0].1;
    assert!(serde_json::from_str::<Status<QuotaDetails>>(text).is_err());
    // Without details, any details type parses.
    let expired: Status<QuotaDetails> = serde_json::from_str(fixture_text("expired.json")).unwrap();
    assert!(expired.is_expired());
    assert_eq!(expired.details, None);
}

fn fixture_text(name: &str) -> &'static str {
    FIXTURES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let bad = [
        "",
        "   ",
        "not json",
        "null",
        "42",
        r#""Status""#,
        "[]",
        r#"{"kind":"Status""#,
        r#"{"code":"404"}"#,
        r#"{"code":404.5}"#,
        r#"{"code":99999999999}"#,
        r#"{"reason":404}"#,
        r#"{"status":true}"#,
        r#"{"message":["a"]}"#,
        r#"{"metadata":"x"}"#,
        r#"{"metadata":{"remainingItemCount":"3"}}"#,
        r#"{"details":[]}"#,
        r#"{"details":{"retryAfterSeconds":"1"}}"#,
        r#"{"details":{"causes":{}}}"#,
        r#"{"details":{"causes":[{"reason":1}]}}"#,
        r#"{"kind":"ConfigMap","apiVersion":"v1"}"#,
        r#"{"kind":"Status","apiVersion":"v2"}"#,
        r#"{"code":404,"code":410}"#,
        // Arrays where objects belong (serde's derive alone would read them as
        // field values in order).
        r#"["Status","v1"]"#,
        r#"{"metadata":[]}"#,
        r#"{"metadata":["/x","7"]}"#,
        r#"{"details":["nginx"]}"#,
        r#"{"details":{"causes":[["FieldValueInvalid"]]}}"#,
        r#"{"code":404} trailing"#,
    ];
    for text in bad {
        assert!(Status::from_json(text).is_err(), "{text:?} parsed");
        assert!(
            Status::from_slice(text.as_bytes()).is_err(),
            "{text:?} parsed"
        );
    }
    assert!(Status::from_slice(b"{\"message\":\"\xff\"}").is_err());
}

#[test]
fn every_truncation_of_a_fixture_is_an_error() {
    for (name, text) in FIXTURES {
        let text = text.trim_end();
        for end in (0..text.len()).filter(|&end| text.is_char_boundary(end)) {
            assert!(
                Status::from_json(&text[..end]).is_err(),
                "{name} cut at {end} parsed"
            );
        }
    }
}

fn wire_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[A-Za-z]{1,20}",
        any::<String>(),
        prop::sample::select(
            StatusReason::KNOWN
                .iter()
                .map(|reason| reason.as_str().to_owned())
                .collect::<Vec<_>>()
        ),
    ]
}

fn list_meta() -> impl Strategy<Value = ListMeta> {
    (
        wire_string(),
        wire_string(),
        wire_string(),
        any::<Option<i64>>(),
    )
        .prop_map(
            |(self_link, resource_version, continue_, remaining_item_count)| ListMeta {
                self_link,
                resource_version,
                continue_,
                remaining_item_count,
            },
        )
}

fn cause() -> impl Strategy<Value = StatusCause> {
    (wire_string(), wire_string(), wire_string()).prop_map(|(reason, message, field)| StatusCause {
        reason: CauseType::from(reason),
        message,
        field,
    })
}

fn details() -> impl Strategy<Value = StatusDetails> {
    (
        wire_string(),
        wire_string(),
        wire_string(),
        wire_string(),
        prop::collection::vec(cause(), 0..4),
        any::<i32>(),
    )
        .prop_map(
            |(name, group, kind, uid, causes, retry_after_seconds)| StatusDetails {
                name,
                group,
                kind,
                uid,
                causes,
                retry_after_seconds,
            },
        )
}

/// Any status, field by field.
fn any_status() -> impl Strategy<Value = Status> {
    (
        list_meta(),
        prop_oneof![
            Just("Success".to_owned()),
            Just("Failure".to_owned()),
            wire_string()
        ],
        wire_string(),
        wire_string(),
        prop::option::of(details()),
        any::<i32>(),
    )
        .prop_map(
            |(metadata, status, message, reason, details, code)| Status {
                metadata,
                status: StatusSummary::from(status),
                message,
                reason: StatusReason::from(reason),
                details,
                code,
            },
        )
}

/// Any status a constructor builds.
fn constructed_status() -> impl Strategy<Value = Status> {
    let text = wire_string;
    prop_oneof![
        Just(Status::success()),
        (text(), text()).prop_map(|(reason, message)| Status::failure(reason, message)),
        (text(), text()).prop_map(|(resource, name)| Status::not_found(&resource, &name)),
        (text(), text()).prop_map(|(resource, name)| Status::already_exists(&resource, &name)),
        (text(), text(), text())
            .prop_map(|(resource, name, why)| Status::conflict(&resource, &name, why)),
        text().prop_map(Status::gone),
        text().prop_map(Status::expired),
        (text(), text(), prop::collection::vec(cause(), 0..4))
            .prop_map(|(kind, name, causes)| Status::invalid(&kind, &name, causes)),
        (text(), any::<i32>())
            .prop_map(|(message, retry)| Status::too_many_requests(message, retry)),
        text().prop_map(Status::internal_error),
        (text(), any::<i32>()).prop_map(|(message, retry)| Status::timeout(message, retry)),
        (text(), text(), any::<i32>()).prop_map(|(resource, operation, retry)| {
            Status::server_timeout(&resource, &operation, retry)
        }),
        (text(), text(), any::<i32>()).prop_map(|(requested, current, retry)| {
            Status::too_large_resource_version(&requested, &current, retry)
        }),
        text().prop_map(Status::service_unavailable),
        text().prop_map(Status::bad_request),
        (text(), text(), text())
            .prop_map(|(resource, name, why)| Status::forbidden(&resource, &name, why)),
        text().prop_map(Status::unauthorized),
        (any::<i32>(), text()).prop_map(|(code, message)| Status::from_code(code, message)),
    ]
}

proptest! {
    #[test]
    fn any_reason_string_round_trips_unchanged(wire in wire_string()) {
        let reason = StatusReason::from(wire.as_str());
        prop_assert_eq!(reason.as_str(), wire.as_str());
        prop_assert_eq!(reason.to_string(), wire.clone());
        let json = serde_json::to_string(&reason).unwrap();
        prop_assert_eq!(json.clone(), serde_json::to_string(&wire).unwrap());
        let back: StatusReason = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.as_str(), wire.as_str());
        prop_assert_eq!(back, reason);
    }

    #[test]
    fn any_status_round_trips(status in any_status()) {
        let json = serde_json::to_string(&status).unwrap();
        let back = Status::from_json(&json).unwrap();
        prop_assert_eq!(&back, &status);
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    #[test]
    fn any_constructed_status_round_trips(status in constructed_status()) {
        let json = serde_json::to_string(&status).unwrap();
        let back = Status::from_json(&json).unwrap();
        prop_assert_eq!(back, status);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Status::from_json(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Status::from_slice(&bytes);
    }

    #[test]
    fn fixture_with_one_byte_changed_never_panics(
        index in 0usize..FIXTURES.len(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = FIXTURES[index].1.as_bytes().to_vec();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        let _ = Status::from_slice(&bytes);
    }
}
