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

    /// A store's transformer panicked; the write that ran it did not happen.
    #[error("store transformer panicked on object {key}: {message}")]
    TransformPanicked {
        /// The key of the object it was given (its `Display`).
        key: String,
        /// The panic message.
        message: String,
    },
}
