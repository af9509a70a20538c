//! The one error type of this crate's API (the wire-level error is [`Status`](crate::Status)).

use thiserror::Error;

/// What can go wrong in a store, an index or a queue of this crate.
///
/// Messages are lowercase and carry the key, index or input involved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A string key did not parse as an [`ObjectName`](crate::ObjectName).
    #[error("invalid object key {input:?}: {reason}")]
    InvalidObjectName {
        /// The string that was parsed.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A query named an index that is not registered.
    #[error("unknown index {name:?}")]
    UnknownIndex {
        /// The index name asked for.
        name: String,
    },

    /// An index was registered under a name that is already taken.
    #[error("index {name:?} is already registered")]
    DuplicateIndex {
        /// The index name.
        name: String,
    },

    /// An index function panicked; the write that ran it did not happen.
    #[error("index function {index:?} panicked on object {key}: {message}")]
    IndexFunctionPanicked {
        /// The index whose function panicked.
        index: String,
        /// The key of the object it panicked on (its `Display`).
        key: String,
        /// The panic message.
        message: String,
    },

    /// A store was asked to finish an in-place relist it does not take (its
    /// `ReflectorStore` does not support `RelistMode::InPlace`).
    #[error("this store does not take in-place relists")]
    InPlaceRelistUnsupported,

    /// A store's transformer panicked; the write that ran it did not happen.
    #[error("store transformer panicked on object {key}: {message}")]
    TransformPanicked {
        /// The key of the object it was given (its `Display`).
        key: String,
        /// The panic message.
        message: String,
    },

    /// A resource version could not be used where a number is needed (a watch cache
    /// orders its events by resource version, as kube-apiserver does), or did not
    /// advance.
    #[error("resource version {resource_version:?} {reason}")]
    InvalidResourceVersion {
        /// The resource version given.
        resource_version: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// An object could not be written out (its `Serialize` failed); it was not stored.
    #[error("object {key} could not be serialized: {message}")]
    Unserializable {
        /// The object's key (its `Display`).
        key: String,
        /// What the serializer said.
        message: String,
    },
}
