//! Discovery, enough for kubectl: `/version`, `/api`, `/apis`, `/apis/{group}`,
//! `/api/v1` and `/apis/{group}/{version}`, built from the resources served.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::Response;
use serde_json::json;

use crate::http::endpoint::Endpoint;
use crate::http::response::{self, Answer, ApiError};
use crate::http::routes::GroupVersion;

/// `/version`: Kubernetes 1.34, with `git_version` as `gitVersion`.
pub(crate) fn version(git_version: &str) -> Response {
    response::json(&json!({
        "major": "1",
        "minor": "34",
        "gitVersion": git_version,
        "platform": "linux/amd64",
    }))
}

/// `/api`: the core group has `v1`.
pub(crate) fn core_versions() -> Response {
    response::json(&json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }))
}

/// `/apis`: every named group served, with its versions.
pub(crate) fn groups(endpoints: &[Arc<dyn Endpoint>]) -> Response {
    let groups: Vec<serde_json::Value> = group_versions(endpoints)
        .iter()
        .map(|(group, versions)| group_json(group, versions))
        .collect();
    response::json(&json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

/// `/apis/{group}`: one group, 404 when not served.
pub(crate) fn group(endpoints: &[Arc<dyn Endpoint>], group: &str) -> Answer {
    match group_versions(endpoints).get(group) {
        Some(versions) => Ok(response::json(&group_json(group, versions))),
        None => Err(ApiError::path_not_found(&format!("/apis/{group}"))),
    }
}

/// Whether any resource is served under `group_version`.
pub(crate) fn serves(endpoints: &[Arc<dyn Endpoint>], group_version: GroupVersion<'_>) -> bool {
    endpoints
        .iter()
        .any(|endpoint| endpoint.group_version() == group_version)
}

/// `/api/v1`, `/apis/{group}/{version}`: the resources of one group version (none
/// is an empty list).
pub(crate) fn resources(
    endpoints: &[Arc<dyn Endpoint>],
    group_version: GroupVersion<'_>,
) -> Response {
    let resources: Vec<serde_json::Value> = endpoints
        .iter()
        .filter(|endpoint| endpoint.group_version() == group_version)
        .map(|endpoint| endpoint.discovery())
        .collect();
    response::json(&json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version.to_string(),
        "resources": resources,
    }))
}

/// The named groups served and their versions, in the order first served.
fn group_versions(endpoints: &[Arc<dyn Endpoint>]) -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut groups: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    for endpoint in endpoints {
        let GroupVersion { group, version } = endpoint.group_version();
        if group.is_empty() {
            continue;
        }
        let versions = groups.entry(group).or_default();
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    groups
}

/// An `APIGroup`; its preferred version is the first.
fn group_json(group: &str, versions: &[&str]) -> serde_json::Value {
    let versions: Vec<serde_json::Value> = versions
        .iter()
        .map(|version| json!({"groupVersion": format!("{group}/{version}"), "version": version}))
        .collect();
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first(),
    })
}
