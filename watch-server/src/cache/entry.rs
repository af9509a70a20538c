//! [`Entry`]: one stored object and its JSON, written out once.

use std::sync::Arc;

use bytes::Bytes;
use serve::Revision;

use super::error::WatchCacheError;

use crate::resource::{encode, ServedResource};

/// One stored object, written out once at its resource version: every list, get
/// and watch that sends it copies these bytes.
pub(crate) struct Entry<T> {
    /// The object.
    pub(crate) object: Arc<T>,
    /// Its JSON as served (with `kind`, `apiVersion`, `metadata.resourceVersion`).
    pub(crate) json: Bytes,
}

impl<T: ServedResource> Entry<T> {
    /// `object` as stored at `rv`; `Unserializable` (with its key) when its type
    /// does not write it out as a JSON object.
    pub(crate) fn encode(object: Arc<T>, rv: Revision) -> Result<Self, WatchCacheError> {
        match encode(&*object, rv.get()) {
            Ok(json) => Ok(Entry { object, json }),
            Err(error) => Err(WatchCacheError::Unserializable {
                key: object.key().to_string(),
                message: error.to_string(),
            }),
        }
    }
}
