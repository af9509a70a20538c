//! The path grammar of the paths served: a request's path → a [`Route`].
//!
//! The table, tried top to bottom (a path's trailing `/` is ignored):
//!
//! | path                                  | route                          |
//! |---------------------------------------|--------------------------------|
//! | `/version`                            | [`Route::Version`]             |
//! | `/api`                                | [`Route::CoreVersions`]        |
//! | `/apis`                               | [`Route::Groups`]              |
//! | `/api/v1`                             | [`Route::CoreResources`]       |
//! | `/apis/{group}`                       | [`Route::Group`]               |
//! | `/apis/{group}/{version}`             | [`Route::GroupResources`]      |
//! | `/api/v1/{objects…}`                  | [`Route::Objects`]             |
//! | `/apis/{group}/{version}/{objects…}`  | [`Route::Objects`]             |
//! | anything else                         | [`Route::Unknown`] (404)       |
//!
//! and within `{objects…}` ([`ObjectsPath`]), after an optional legacy `watch/`:
//! `{plural}`, `{plural}/{name}`, `namespaces/{ns}/{plural}`,
//! `namespaces/{ns}/{plural}/{name}`.
//!
//! Why not axum's router: the apiserver's grammar is not one axum can state —
//! trailing slashes are ignored, segments are matched undecoded, `/apis/{group}/{version}`
//! of a group version that is not served is read as an objects path with nothing
//! after it, and the legacy `/watch/` prefix and `?watch=True` both mean a watch.
//! The grammar is plain slice patterns instead, one row per path.

use std::fmt;

use crate::http::response::ApiError;

/// An API group and version; the core group is `""` (served under `/api/v1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupVersion<'a> {
    pub(crate) group: &'a str,
    pub(crate) version: &'a str,
}

impl fmt::Display for GroupVersion<'_> {
    /// `group/version`, or `version` for the core group (an `apiVersion`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.version)
        } else {
            write!(f, "{}/{}", self.group, self.version)
        }
    }
}

impl GroupVersion<'static> {
    /// `v1` of the core group.
    pub(crate) const CORE: GroupVersion<'static> = GroupVersion {
        group: "",
        version: "v1",
    };
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// `/version`: the server's version.
    Version,
    /// `/api`: the core group's versions.
    CoreVersions,
    /// `/apis`: every group served.
    Groups,
    /// `/api/v1`: the core resources (an empty list when none is served).
    CoreResources,
    /// `/apis/{group}`: one group's versions.
    Group(&'a str),
    /// `/apis/{group}/{version}`: one group version's resources, when served.
    GroupResources(GroupVersion<'a>),
    /// `/api/v1/…`, `/apis/{group}/{version}/…`: objects of one resource (the
    /// segments after the version, to be read as an [`ObjectsPath`]).
    Objects(GroupVersion<'a>, &'a [&'a str]),
    /// Nothing served.
    Unknown,
}

/// The segments of `path`, its leading `/` and trailing `/`s dropped (`/api/v1/` →
/// `["api", "v1"]`). Segments are not percent-decoded.
pub(crate) fn segments(path: &str) -> Vec<&str> {
    path.trim_end_matches('/').split('/').skip(1).collect()
}

impl<'a> Route<'a> {
    /// The route of a path's [`segments`].
    pub(crate) fn of(segments: &'a [&'a str]) -> Self {
        match *segments {
            ["version"] => Route::Version,
            ["api"] => Route::CoreVersions,
            ["apis"] => Route::Groups,
            ["api", "v1"] => Route::CoreResources,
            ["apis", group] => Route::Group(group),
            ["apis", group, version] => Route::GroupResources(GroupVersion { group, version }),
            ["api", "v1", ref objects @ ..] => Route::Objects(GroupVersion::CORE, objects),
            ["apis", group, version, ref objects @ ..] => {
                Route::Objects(GroupVersion { group, version }, objects)
            }
            _ => Route::Unknown,
        }
    }
}

/// The objects a resource path names: `[watch/][namespaces/{ns}/]{plural}[/{name}]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObjectsPath<'a> {
    /// The legacy `/watch/` prefix: a watch, whatever the query says.
    pub(crate) watch: bool,
    /// `namespaces/{ns}/…`.
    pub(crate) namespace: Option<&'a str>,
    /// The resource name in URLs (`configmaps`).
    pub(crate) plural: &'a str,
    /// One object (`…/{plural}/{name}`).
    pub(crate) name: Option<&'a str>,
}

impl<'a> ObjectsPath<'a> {
    /// Reads the segments after the group version; any other shape is a 404 that
    /// names them (without the `watch/` prefix).
    pub(crate) fn parse(objects: &[&'a str]) -> Result<Self, ApiError> {
        let (watch, objects) = match objects {
            ["watch", objects @ ..] => (true, objects),
            objects => (false, objects),
        };
        let (namespace, plural, name) = match *objects {
            ["namespaces", namespace, plural] => (Some(namespace), plural, None),
            ["namespaces", namespace, plural, name] => (Some(namespace), plural, Some(name)),
            [plural] => (None, plural, None),
            [plural, name] => (None, plural, Some(name)),
            _ => return Err(ApiError::path_not_found(&objects.join("/"))),
        };
        Ok(ObjectsPath {
            watch,
            namespace,
            plural,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_of_the_table_has_its_route() {
        let core = GroupVersion::CORE;
        let apps = GroupVersion {
            group: "apps",
            version: "v1",
        };
        for (path, expected) in [
            ("/version", Route::Version),
            ("/api", Route::CoreVersions),
            ("/api/", Route::CoreVersions),
            ("/apis", Route::Groups),
            ("/api/v1", Route::CoreResources),
            ("/apis/apps", Route::Group("apps")),
            ("/apis/apps/v1", Route::GroupResources(apps)),
            ("/api/v1/configmaps", Route::Objects(core, &["configmaps"])),
            (
                "/apis/apps/v1/watch/deployments",
                Route::Objects(apps, &["watch", "deployments"]),
            ),
            ("/", Route::Unknown),
            ("/api/v2", Route::Unknown),
            ("/healthz", Route::Unknown),
        ] {
            assert_eq!(Route::of(&segments(path)), expected, "{path}");
        }
    }

    #[test]
    fn a_group_version_reads_as_an_api_version() {
        assert_eq!(GroupVersion::CORE.to_string(), "v1");
        let apps = GroupVersion {
            group: "apps",
            version: "v1",
        };
        assert_eq!(apps.to_string(), "apps/v1");
    }

    #[test]
    fn objects_paths_take_namespaces_names_and_the_legacy_watch_prefix() {
        let parse = |objects: &[&'static str]| ObjectsPath::parse(objects).ok();
        assert_eq!(
            parse(&["watch", "namespaces", "a", "configmaps"]),
            Some(ObjectsPath {
                watch: true,
                namespace: Some("a"),
                plural: "configmaps",
                name: None,
            })
        );
        assert_eq!(
            parse(&["configmaps", "x"]).map(|path| (path.watch, path.namespace, path.name)),
            Some((false, None, Some("x")))
        );
        let too_deep = ObjectsPath::parse(&["watch", "namespaces", "a", "configmaps", "x", "y"]);
        let status = too_deep.unwrap_err().status().clone();
        assert!(status.is_not_found());
        assert!(
            status.message.contains(r#""namespaces/a/configmaps/x/y""#),
            "{}",
            status.message
        );
        assert!(ObjectsPath::parse(&[]).is_err());
    }
}
