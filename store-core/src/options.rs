//! [`StoreOptions`]: how a [`Cache`](crate::Cache) or [`ShardedCache`](crate::ShardedCache)
//! is set up — its indexes and a transformer (client-go's `WithTransformer`).

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::error::Error;
use crate::index::{register_defaults, IndexDef, Indexer};
use crate::keyed::Keyed;
use crate::panic::panic_message;

type TransformFn<T> = dyn Fn(Arc<T>) -> Arc<T> + Send + Sync;

/// What a store is built with: its indexes and an optional transformer.
///
/// The transformer (client-go's `cache.WithTransformer`) rewrites every object on its
/// way in — to strip `managedFields`, drop fields the program never reads, or intern
/// strings — so the cache holds only what is needed. It runs exactly once per written
/// object (`add`, `update`, each listed object of `replace`, each upsert of
/// `apply_batch`), outside the store's locks, and never on a delete: a delete takes a
/// key, and what it returns is the stored (already transformed) object.
///
/// The key is taken from the transformed object; a transformer should leave it as it
/// is. A transformer that panics fails that write with [`Error::TransformPanicked`]
/// and the store is left as it was (for `replace`: the whole list is refused).
///
/// ```
/// use std::sync::Arc;
/// use store_core::{Cache, Keyed, Store, StoreOptions};
///
/// #[derive(Keyed, Clone)]
/// struct Pod { #[key] name: String, annotations: Vec<String> }
///
/// let options = StoreOptions::new().with_transform(|pod: Arc<Pod>| {
///     let mut pod = Arc::unwrap_or_clone(pod); // no copy when the caller let go of it
///     pod.annotations.clear();
///     Arc::new(pod)
/// });
/// let cache = Cache::with_options(options)?;
/// cache.add(Pod { name: "a".into(), annotations: vec!["big".into()] })?;
/// assert!(cache.get("a").unwrap().annotations.is_empty());
/// # Ok::<(), store_core::Error>(())
/// ```
pub struct StoreOptions<T: Keyed> {
    indexes: Option<Vec<IndexDef<T>>>,
    transform: Option<Transform<T>>,
}

impl<T: Keyed + 'static> StoreOptions<T> {
    /// The defaults: the type's own indexes ([`Keyed::indexes`]) and no transformer.
    pub fn new() -> Self {
        StoreOptions {
            indexes: None,
            transform: None,
        }
    }

    /// Exactly these indexes instead of the type's defaults (an empty list: none).
    #[must_use]
    pub fn with_indexes(mut self, defs: impl IntoIterator<Item = IndexDef<T>>) -> Self {
        self.indexes = Some(defs.into_iter().collect());
        self
    }

    /// Rewrites every written object before it is stored (see the type's docs).
    #[must_use]
    pub fn with_transform<F>(mut self, transform: F) -> Self
    where
        F: Fn(Arc<T>) -> Arc<T> + Send + Sync + 'static,
    {
        self.transform = Some(Transform(Arc::new(transform)));
        self
    }

    /// Builds an empty store with the transformer (`bare`) and registers the indexes
    /// on it. Explicit indexes report a clash of names; the type's defaults log it.
    pub(crate) fn build<S: Indexer<T>>(
        self,
        bare: impl FnOnce(Option<Transform<T>>) -> S,
    ) -> Result<S, Error> {
        let store = bare(self.transform);
        match self.indexes {
            None => register_defaults(&store, T::indexes()),
            Some(defs) => {
                for def in defs {
                    store.add_index(def)?;
                }
            }
        }
        Ok(store)
    }
}

impl<T: Keyed + 'static> Default for StoreOptions<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> fmt::Debug for StoreOptions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field(
                "indexes",
                &self
                    .indexes
                    .as_ref()
                    .map(|defs| defs.iter().map(IndexDef::name).collect::<Vec<_>>()),
            )
            .field("transform", &self.transform.is_some())
            .finish()
    }
}

/// A store's transformer, shared by every handle on the store.
pub(crate) struct Transform<T>(Arc<TransformFn<T>>);

impl<T> Clone for Transform<T> {
    fn clone(&self) -> Self {
        Transform(Arc::clone(&self.0))
    }
}

impl<T: Keyed> Transform<T> {
    /// Runs the transformer on one object; a panic becomes [`Error::TransformPanicked`].
    pub(crate) fn apply(&self, obj: Arc<T>) -> Result<Arc<T>, Error> {
        let key = obj.key();
        catch_unwind(AssertUnwindSafe(|| (self.0)(obj))).map_err(|payload| {
            let message = panic_message(payload.as_ref());
            tracing::error!(%key, %message, "store transformer panicked");
            Error::TransformPanicked {
                key: key.to_string(),
                message,
            }
        })
    }
}

/// Runs an optional transformer on one object.
pub(crate) fn transformed<T: Keyed>(
    transform: &Option<Transform<T>>,
    obj: Arc<T>,
) -> Result<Arc<T>, Error> {
    match transform {
        Some(transform) => transform.apply(obj),
        None => Ok(obj),
    }
}
