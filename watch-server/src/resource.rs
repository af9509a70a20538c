//! [`ServedResource`]: what a type must tell to be served in the Kubernetes wire protocol,
//! and how one object is written on the wire.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;
use store_core::Keyed;

/// A type the watch cache can serve: its API group, version, kind and resource
/// name (as discovery and URLs name them), and the metadata list and watch requests
/// filter on.
///
/// The object is written as its `Serialize` output with `kind`, `apiVersion` and
/// `metadata.resourceVersion` set by the server, so the type need not carry them.
///
/// ```
/// use std::collections::BTreeMap;
/// use serde::Serialize;
/// use store_core::Keyed;
/// use watch_server::ServedResource;
///
/// #[derive(Serialize, Keyed)]
/// #[keyed(name = "metadata.name")]
/// struct Widget { metadata: Meta, size: u32 }
///
/// #[derive(Serialize)]
/// struct Meta { name: String }
///
/// impl ServedResource for Widget {
///     const GROUP: &'static str = "example.com";
///     const VERSION: &'static str = "v1";
///     const KIND: &'static str = "Widget";
///     const PLURAL: &'static str = "widgets";
///     const SINGULAR: &'static str = "widget";
///     const NAMESPACED: bool = false;
///     fn name(&self) -> &str { &self.metadata.name }
///     fn namespace(&self) -> Option<&str> { None }
///     fn labels(&self) -> Option<&BTreeMap<String, String>> { None }
/// }
///
/// assert_eq!(Widget::api_version(), "example.com/v1");
/// let json = watch_server::resource::encode(&Widget { metadata: Meta { name: "w".into() }, size: 3 }, 7)?;
/// assert_eq!(
///     &json[..],
///     br#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","resourceVersion":"7"},"size":3}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait ServedResource: Keyed + Serialize + Send + Sync + 'static {
    /// The API group; `""` for the core group (served under `/api/v1`).
    const GROUP: &'static str;
    /// The API version within the group (`"v1"`).
    const VERSION: &'static str;
    /// The kind (`"ConfigMap"`); lists are `<Kind>List`.
    const KIND: &'static str;
    /// The resource name in URLs (`"configmaps"`).
    const PLURAL: &'static str;
    /// The singular name discovery reports (`"configmap"`).
    const SINGULAR: &'static str;
    /// The short names discovery reports (`["cm"]`).
    const SHORT_NAMES: &'static [&'static str] = &[];
    /// Whether objects live in namespaces.
    const NAMESPACED: bool;

    /// The object's name.
    fn name(&self) -> &str;
    /// The object's namespace; `None` (or empty) for a cluster-scoped object.
    fn namespace(&self) -> Option<&str>;
    /// The object's labels, which label selectors match.
    fn labels(&self) -> Option<&BTreeMap<String, String>>;

    /// `group/version`, or `version` for the core group.
    fn api_version() -> String {
        if Self::GROUP.is_empty() {
            Self::VERSION.to_owned()
        } else {
            format!("{}/{}", Self::GROUP, Self::VERSION)
        }
    }
}

/// Writes `object` as the server sends it: its JSON with `kind`, `apiVersion` and
/// `metadata.resourceVersion` (`resource_version`) set. Fails only when the type's
/// `Serialize` fails or does not produce a JSON object with an object `metadata`.
pub fn encode<T: ServedResource>(
    object: &T,
    resource_version: u64,
) -> Result<Bytes, serde_json::Error> {
    let mut value = serde_json::to_value(object)?;
    let Some(fields) = value.as_object_mut() else {
        return Err(serde::ser::Error::custom(format!(
            "a {} must serialize as a JSON object",
            T::KIND
        )));
    };
    fields.insert("kind".into(), T::KIND.into());
    fields.insert("apiVersion".into(), T::api_version().into());
    let metadata = fields
        .entry("metadata")
        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return Err(serde::ser::Error::custom(format!(
            "the metadata of a {} must serialize as a JSON object",
            T::KIND
        )));
    };
    metadata.insert(
        "resourceVersion".into(),
        resource_version.to_string().into(),
    );
    serde_json::to_vec(&value).map(Bytes::from)
}
