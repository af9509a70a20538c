//! The query parameters of list and watch requests, parsed and validated as
//! kube-apiserver does (`metav1.ListOptions` and its validation).

use std::time::Duration;

use serve::Revision;
use store_core::Status;

use crate::selector::{FieldSelector, LabelSelector};

/// `resourceVersionMatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionMatch {
    /// `NotOlderThan`: at least as fresh as the resource version.
    NotOlderThan,
    /// `Exact`: exactly at the resource version.
    Exact,
}

/// The parameters of one list or watch request.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// `watch`.
    pub watch: bool,
    /// `resourceVersion` (`None` when absent or empty).
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub version_match: Option<VersionMatch>,
    /// `limit` (positive; zero or negative means none, as in Kubernetes).
    pub limit: Option<usize>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// `sendInitialEvents` (`None` when absent).
    pub send_initial_events: Option<bool>,
}

impl Query {
    /// Parses a raw query string (without the `?`; a leading `&`, as kube-client
    /// sends, is fine). Unknown parameters are ignored, as kube-apiserver ignores
    /// them; malformed values and combinations it forbids answer `BadRequest`.
    pub fn parse(raw: &str) -> Result<Query, Box<Status>> {
        let mut query = Query::default();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            match &*name {
                "watch" => query.watch = parse_bool(&name, &value)?,
                "resourceVersion" => {
                    query.resource_version = (!value.is_empty()).then(|| value.into_owned());
                }
                "resourceVersionMatch" => {
                    query.version_match = match &*value {
                        "" => None,
                        "NotOlderThan" => Some(VersionMatch::NotOlderThan),
                        "Exact" => Some(VersionMatch::Exact),
                        other => {
                            return Err(Status::bad_request(format!(
                                "resourceVersionMatch: unsupported value {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                            )).into())
                        }
                    }
                }
                "limit" => {
                    let limit: i64 = value.parse().map_err(|_| {
                        Status::bad_request(format!("limit: invalid value {value:?}: not an integer"))
                    })?;
                    query.limit = usize::try_from(limit).ok().filter(|&limit| limit > 0);
                }
                "continue" => query.continue_token = (!value.is_empty()).then(|| value.into_owned()),
                "labelSelector" => query.labels = value.parse().map_err(Status::bad_request)?,
                "fieldSelector" => query.fields = value.parse().map_err(Status::bad_request)?,
                "allowWatchBookmarks" => query.bookmarks = parse_bool(&name, &value)?,
                "timeoutSeconds" => {
                    let seconds: i64 = value.parse().map_err(|_| {
                        Status::bad_request(format!(
                            "timeoutSeconds: invalid value {value:?}: not an integer"
                        ))
                    })?;
                    query.timeout = u64::try_from(seconds)
                        .ok()
                        .filter(|&seconds| seconds > 0)
                        .map(Duration::from_secs);
                }
                "sendInitialEvents" => query.send_initial_events = Some(parse_bool(&name, &value)?),
                _ => {}
            }
        }
        query.validate()?;
        Ok(query)
    }

    /// kube-apiserver's `ValidateListOptions`: a watch is checked by the watch
    /// rules only (a streaming list may leave `resourceVersion` empty).
    fn validate(&self) -> Result<(), Box<Status>> {
        if self.watch {
            return self.validate_watch();
        }
        if self.send_initial_events.is_some() {
            return Err(Status::bad_request("sendInitialEvents is forbidden for list").into());
        }
        if let Some(version_match) = self.version_match {
            if self.resource_version.is_none() {
                return Err(Status::bad_request(
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )
                .into());
            }
            if self.continue_token.is_some() {
                return Err(Status::bad_request(
                    "resourceVersionMatch is forbidden when continue is provided",
                )
                .into());
            }
            if version_match == VersionMatch::Exact && self.resource_version.as_deref() == Some("0")
            {
                return Err(Status::bad_request(
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                )
                .into());
            }
        }
        Ok(())
    }

    fn validate_watch(&self) -> Result<(), Box<Status>> {
        match (self.send_initial_events, self.version_match) {
            (Some(true), Some(VersionMatch::NotOlderThan)) if !self.bookmarks => {
                Err(Status::bad_request(
                    "sendInitialEvents requires setting allowWatchBookmarks to true",
                )
                .into())
            }
            (Some(_), Some(VersionMatch::NotOlderThan)) | (None, None) => Ok(()),
            (Some(true), _) => Err(Status::bad_request(
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )
            .into()),
            (Some(false), None) => Ok(()),
            (None, Some(_)) => Err(Status::bad_request(
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            )
            .into()),
            (Some(false), Some(VersionMatch::Exact)) => Err(Status::bad_request(
                "resourceVersionMatch for watch must be NotOlderThan",
            )
            .into()),
        }
    }

    /// The requested resource version as a number: `None` for absent and `"0"`,
    /// `BadRequest` for anything but a decimal `u64` (an empty value included).
    pub fn resource_version_number(&self) -> Result<Option<u64>, Box<Status>> {
        match self.resource_version.as_deref() {
            None | Some("0") => Ok(None),
            Some(text) => Ok(Some(Revision::parse(text)?.get())),
        }
    }
}

/// A boolean as Go's `strconv.ParseBool` reads it (the Python client sends `True`);
/// an empty value is `false`.
fn parse_bool(name: &str, value: &str) -> Result<bool, Box<Status>> {
    match value {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        other => Err(Status::bad_request(format!(
            "{name}: invalid value {other:?}: not a boolean"
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_as_the_apiserver_reads_them() {
        let query = Query::parse("&watch=True&resourceVersion=10&timeoutSeconds=5&allowWatchBookmarks=1&labelSelector=app%3Dweb&unknown=x").unwrap();
        assert!(query.watch && query.bookmarks);
        assert_eq!(query.resource_version.as_deref(), Some("10"));
        assert_eq!(query.timeout, Some(Duration::from_secs(5)));
        assert!(!query.labels.is_empty());
        let query = Query::parse("limit=500").unwrap();
        assert_eq!((query.watch, query.limit), (false, Some(500)));
        assert_eq!(Query::parse("limit=-1").unwrap().limit, None);
        assert_eq!(
            Query::parse("limit=99999999999999").unwrap().limit,
            Some(99_999_999_999_999)
        );
        let stream = Query::parse(
            "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        )
        .unwrap();
        assert_eq!(stream.send_initial_events, Some(true));
    }

    #[test]
    fn forbidden_combinations_and_bad_values_are_bad_requests() {
        for raw in [
            "watch=maybe",
            "limit=ten",
            "timeoutSeconds=soon",
            "resourceVersionMatch=Newest&resourceVersion=1",
            "resourceVersionMatch=NotOlderThan",
            "resourceVersionMatch=Exact&resourceVersion=0",
            "resourceVersionMatch=Exact&resourceVersion=5&continue=x",
            "sendInitialEvents=true",
            "watch=true&sendInitialEvents=true&allowWatchBookmarks=true",
            "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
            "watch=true&resourceVersionMatch=NotOlderThan&resourceVersion=1",
            "labelSelector=a%20in%20(b",
            "fieldSelector=spec.x%3D1",
        ] {
            let status = Query::parse(raw).unwrap_err();
            assert!(status.is_bad_request(), "{raw}: {status}");
        }
        let query = Query::parse("resourceVersion=abc").unwrap();
        assert!(query
            .resource_version_number()
            .unwrap_err()
            .is_bad_request());
    }
}
