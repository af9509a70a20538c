//! [`Endpoint`]: one served resource, its type erased so that one server holds the
//! caches of many types — what discovery says of it, and how a request for its
//! objects is answered: a get, a list or a watch.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;
use store_core::Status;

use crate::cache::WatchCache;
use crate::http::context::Context;
use crate::http::query::Query;
use crate::http::response::{Answer, ApiError};
use crate::http::routes::GroupVersion;
use crate::http::{list, watch};
use crate::resource::ServedResource;
use crate::selector::Filter;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One served resource, type-erased.
pub(crate) trait Endpoint: Send + Sync + 'static {
    /// Where it is served.
    fn group_version(&self) -> GroupVersion<'static>;
    /// Its name in URLs (`configmaps`).
    fn plural(&self) -> &'static str;
    /// Its `APIResource` for discovery.
    fn discovery(&self) -> serde_json::Value;
    /// Answers a request for its objects.
    fn serve(&self, request: Request, context: Arc<Context>) -> BoxFuture<'_, Answer>;
    /// Passes the cache's version on to the watches that allowed bookmarks (the
    /// server calls it about every second).
    fn tick(&self);
}

/// What a request for a resource's objects names.
pub(crate) struct Request {
    /// `namespaces/{ns}/…`.
    pub(crate) namespace: Option<String>,
    /// `…/{name}`: one object.
    pub(crate) name: Option<String>,
    /// Its parameters (`watch` set by the legacy `/watch/` prefix too).
    pub(crate) query: Query,
}

impl<T: ServedResource> Endpoint for WatchCache<T> {
    fn group_version(&self) -> GroupVersion<'static> {
        GroupVersion {
            group: T::GROUP,
            version: T::VERSION,
        }
    }

    fn plural(&self) -> &'static str {
        T::PLURAL
    }

    fn discovery(&self) -> serde_json::Value {
        json!({
            "name": T::PLURAL,
            "singularName": T::SINGULAR,
            "namespaced": T::NAMESPACED,
            "kind": T::KIND,
            "verbs": ["get", "list", "watch"],
            "shortNames": T::SHORT_NAMES,
        })
    }

    fn tick(&self) {
        self.tick_bookmarks();
    }

    fn serve(&self, request: Request, context: Arc<Context>) -> BoxFuture<'_, Answer> {
        Box::pin(serve(self, request, context))
    }
}

/// Refuses what cannot be served (a namespace for a cluster-scoped type, a cache
/// that has not synced, a watch of one object by path), then gets, lists or
/// watches.
async fn serve<T: ServedResource>(
    cache: &WatchCache<T>,
    request: Request,
    context: Arc<Context>,
) -> Answer {
    if request.namespace.is_some() && !T::NAMESPACED {
        return Err(ApiError::path_not_found(&format!(
            "namespaces/{{ns}}/{}",
            T::PLURAL
        )));
    }
    if !cache.is_ready() {
        return Err(Status::too_many_requests(
            format!("the watch cache of {} is initializing", T::PLURAL),
            1,
        )
        .into());
    }
    let Request {
        namespace,
        name,
        query,
    } = request;
    let filter = Filter {
        namespace,
        labels: query.labels.clone(),
        fields: query.fields.clone(),
    };
    if let Some(name) = name {
        if query.watch {
            return Err(Status::bad_request(
                "watching one object by path is not supported: use fieldSelector=metadata.name=NAME",
            )
            .into());
        }
        context.counters.lists.fetch_add(1, Ordering::Relaxed);
        return list::get(cache, filter.namespace.as_deref(), &name);
    }
    if query.watch {
        watch::watch(cache, &query, filter, context).await
    } else {
        context.counters.lists.fetch_add(1, Ordering::Relaxed);
        list::list(cache, &query, &filter, &context).await
    }
}
