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
}
