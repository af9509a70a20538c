//! [`WatchCacheError`]: what a [`WatchCache`](super::WatchCache) refuses a write with.

use thiserror::Error;

/// Why a [`WatchCache`](super::WatchCache) refused a change. The reflector that feeds
/// it reports the refusal (as `ReflectorError::Store`) and goes on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WatchCacheError {
    /// A resource version could not be used: it is not a number (a watch cache orders
    /// its events by resource version, as kube-apiserver does), or an event's does not
    /// advance the cache's.
    #[error("resource version {resource_version:?} {reason}")]
    InvalidResourceVersion {
        /// The resource version given.
        resource_version: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// An object could not be written out as JSON (its `Serialize` failed, or it is
    /// not a JSON object); it was not stored.
    #[error("object {key} could not be serialized: {message}")]
    Unserializable {
        /// The object's key (its `Display`).
        key: String,
        /// What the serializer said.
        message: String,
    },

    /// The cache was handed an in-place relist page; it relists atomically only (it
    /// says so to the reflector, which then never sends one).
    #[error("a watch cache relists atomically: it takes no in-place relist pages")]
    InPlaceRelist,
}
