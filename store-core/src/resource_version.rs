//! [`ResourceVersion`]: the opaque version string a source stamps on its state.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// An opaque resource version, as Kubernetes and etcd-backed sources hand them out.
///
/// Compare resource versions only for equality: their order is the source's business
/// (Kubernetes says clients must not parse them). Cheap to clone (shared string).
///
/// ```
/// use store_core::ResourceVersion;
///
/// let rv = ResourceVersion::from("1200");
/// assert_eq!(rv.as_str(), "1200");
/// assert_eq!(rv, ResourceVersion::from(String::from("1200")));
/// assert!(ResourceVersion::from("").is_empty());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceVersion(Arc<str>);

impl ResourceVersion {
    /// The resource version as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the empty resource version ("any version" in a request).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for ResourceVersion {
    fn from(value: &str) -> Self {
        ResourceVersion(Arc::from(value))
    }
}

impl From<String> for ResourceVersion {
    fn from(value: String) -> Self {
        ResourceVersion(Arc::from(value))
    }
}

impl From<&String> for ResourceVersion {
    fn from(value: &String) -> Self {
        ResourceVersion::from(value.as_str())
    }
}

impl From<u64> for ResourceVersion {
    fn from(value: u64) -> Self {
        ResourceVersion::from(value.to_string())
    }
}

impl PartialEq<str> for ResourceVersion {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ResourceVersion {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl AsRef<str> for ResourceVersion {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ResourceVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceVersion({:?})", &*self.0)
    }
}
