//! [`ReflectorError`]: what a reflector reports to its error hook.

use store_core::{ResourceVersion, Status};
use thiserror::Error;

use crate::store::StoreError;

/// A failure a [`Reflector`](crate::Reflector) met and recovered from (by backing off,
/// re-watching or relisting). Reported to the error hook and through `tracing`; the
/// reflector itself never stops on an error, only on shutdown.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum ReflectorError {
    /// A list request failed.
    #[error("list at resource version \"{resource_version}\" failed")]
    List {
        /// The resource version listed at.
        resource_version: ResourceVersion,
        /// The source's answer.
        #[source]
        status: Box<Status>,
    },
    /// A watch could not be started.
    #[error("watch from resource version \"{resource_version}\" failed")]
    Watch {
        /// The resource version watched from.
        resource_version: ResourceVersion,
        /// The source's answer.
        #[source]
        status: Box<Status>,
    },
    /// An open watch ended with an error (an `ERROR` event or a malformed one).
    #[error("watch from resource version \"{resource_version}\" ended with an error")]
    WatchEnded {
        /// The last resource version synced before the error.
        resource_version: ResourceVersion,
        /// The error the watch carried.
        #[source]
        status: Box<Status>,
    },
    /// A watch closed at once without a single event: counted as an error, since a
    /// healthy source keeps a watch open (client-go's "very short watch").
    #[error("very short watch from resource version \"{resource_version}\": closed at once with no events")]
    VeryShortWatch {
        /// The resource version watched from.
        resource_version: ResourceVersion,
    },
    /// A streaming list has not sent the end of its initial events
    /// (`k8s.io/initial-events-end`) for this long; the reflector keeps waiting
    /// (client-go logs the same), reported every 10 s so a server that never sends it
    /// is noticed rather than waited on silently.
    #[error("streaming list from resource version \"{resource_version}\": no end of the initial events after {waited:?} ({received} received)")]
    StreamingListStalled {
        /// The resource version the streaming list started from.
        resource_version: ResourceVersion,
        /// How long it has waited.
        waited: std::time::Duration,
        /// How many initial events arrived meanwhile.
        received: usize,
    },
    /// An informer's event handler panicked; the informer went on with the next
    /// notification.
    #[error("event handler panicked: {message}")]
    HandlerPanicked {
        /// The panic message.
        message: String,
    },
    /// An informer's transform panicked on an object; that object was skipped (see
    /// [`InformerBuilder::with_transform`](crate::InformerBuilder::with_transform)) and the
    /// informer went on.
    #[error("transform panicked on object {key}: {message}")]
    TransformPanicked {
        /// The key of the object (its `Display`).
        key: String,
        /// The panic message.
        message: String,
    },
    /// The store refused a change (an index function or a transformer panicked, or
    /// the store's own error).
    #[error("store update failed")]
    Store(#[from] StoreError),
}

/// An error and every error it was caused by (its `source()` chain), written as one
/// line, `outer: inner: innermost`: what the reflector and the informer log, since an
/// error's own message leaves out its source (the `Status` a list failed with, say).
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

/// What [`wait_until_synced`](crate::ReflectorHandle::wait_until_synced) and the
/// informer's waits answer when what they wait for can no longer happen: the
/// reflector or informer stopped (shut down, or was dropped) before its first sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("stopped before its first sync")]
pub struct StoppedBeforeSync;

/// What [`Informer::add_handler`](crate::Informer::add_handler) answers once the
/// informer has stopped: no event would ever reach the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the informer has stopped: no event would reach this handler")]
pub struct InformerStopped;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_show_the_resource_version_itself() {
        let error = ReflectorError::List {
            resource_version: ResourceVersion::from("0"),
            status: Box::new(Status::internal_error("boom")),
        };
        let message = error.to_string();
        assert!(message.contains(r#"resource version "0""#), "{message}");
        assert!(!message.contains("ResourceVersion("), "{message}");
        let chained = Chain(&error).to_string();
        assert!(
            chained.ends_with("boom"),
            "the status is in the chain: {chained}"
        );
        let empty = ReflectorError::VeryShortWatch {
            resource_version: ResourceVersion::from(""),
        };
        assert!(empty.to_string().contains(r#"resource version """#));
    }
}
