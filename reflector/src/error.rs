//! [`ReflectorError`]: what a reflector reports to its error hook.

use store_core::{ResourceVersion, Status};
use thiserror::Error;

/// A failure a [`Reflector`](crate::Reflector) met and recovered from (by backing off,
/// re-watching or relisting). Reported to the error hook and through `tracing`; the
/// reflector itself never stops on an error, only on shutdown.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum ReflectorError {
    /// A list request failed.
    #[error("list at resource version {resource_version:?} failed: {status}")]
    List {
        /// The resource version listed at.
        resource_version: ResourceVersion,
        /// The source's answer.
        status: Status,
    },
    /// A watch could not be started.
    #[error("watch from resource version {resource_version:?} failed: {status}")]
    Watch {
        /// The resource version watched from.
        resource_version: ResourceVersion,
        /// The source's answer.
        status: Status,
    },
    /// An open watch ended with an error (an `ERROR` event or a malformed one).
    #[error("watch from resource version {resource_version:?} ended with an error: {status}")]
    WatchEnded {
        /// The last resource version synced before the error.
        resource_version: ResourceVersion,
        /// The error the watch carried.
        status: Status,
    },
    /// A watch closed at once without a single event: counted as an error, since a
    /// healthy source keeps a watch open (client-go's "very short watch").
    #[error("very short watch from resource version {resource_version:?}: closed at once with no events")]
    VeryShortWatch {
        /// The resource version watched from.
        resource_version: ResourceVersion,
    },
    /// An informer's event handler panicked; the informer went on with the next
    /// notification.
    #[error("event handler panicked: {message}")]
    HandlerPanicked {
        /// The panic message.
        message: String,
    },
    /// The store refused a change (an index function panicked).
    #[error("store update failed: {0}")]
    Store(#[from] store_core::Error),
}
