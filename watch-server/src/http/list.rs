//! Lists (`GET …/{resource}`, paginated with `limit` and `continue`) and gets
//! (`GET …/{resource}/{name}`), with kube-apiserver's resource-version rules as far
//! as a cache can honour them.

use axum::http::StatusCode;
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;
use store_core::Status;

use crate::cache::{Listed, WatchCache};
use crate::http::context::Context;
use crate::http::query::{Query, VersionMatch};
use crate::http::response::{self, Answer, ApiError};
use crate::resource::ServedResource;
use crate::selector::Filter;

/// One object by namespace and name: its JSON as stored, or 404.
pub(crate) fn get<T: ServedResource>(
    cache: &WatchCache<T>,
    namespace: Option<&str>,
    name: &str,
) -> Answer {
    match cache.get(namespace, name) {
        Some(entry) => Ok(response::bytes(StatusCode::OK, entry.json.clone())),
        None => Err(Status::not_found(T::PLURAL, name).into()),
    }
}

/// A list: `"0"` is any version (limit ignored); absent is the cache's current
/// version; `N` with `NotOlderThan` (or absent match and no limit) waits until the
/// cache reaches `N` (504 after [`ServerConfig::freshness_wait`]); `N` with `Exact`
/// (or a limit and no match) is served only when the cache is at exactly `N`, else
/// 410. A `continue` token reads the next page of its list's snapshot.
///
/// [`ServerConfig::freshness_wait`]: crate::http::ServerConfig::freshness_wait
pub(crate) async fn list<T: ServedResource>(
    cache: &WatchCache<T>,
    query: &Query,
    filter: &Filter,
    context: &Context,
) -> Answer {
    let listed = if let Some(token) = &query.continue_token {
        cache.list_page(token, query.limit)?
    } else {
        let requested = query.resource_version_number()?;
        let limit = match query.resource_version.as_deref() {
            Some("0") => None,
            _ => query.limit,
        };
        if let Some(rv) = requested {
            let exact = query.version_match == Some(VersionMatch::Exact)
                || (query.version_match.is_none() && query.limit.is_some());
            cache.wait_for(rv, context.config.freshness_wait).await?;
            let listed = cache.list(filter, limit);
            if exact && listed.rv != rv {
                return Err(Status::expired(format!(
                    "too old resource version: {rv} ({}): the watch cache serves exact lists only at its current version",
                    listed.rv
                ))
                .into());
            }
            listed
        } else {
            cache.list(filter, limit)
        }
    };
    Ok(response::bytes(StatusCode::OK, body(&listed)?))
}

/// `{"kind":"<Kind>List","apiVersion":…,"metadata":{…},"items":[…]}`, the items
/// copied as stored (each written out once, when the cache got it).
fn body<T: ServedResource>(listed: &Listed<T>) -> Result<Bytes, ApiError> {
    let mut body = BytesMut::with_capacity(
        128 + listed
            .items
            .iter()
            .map(|entry| entry.json.len() + 1)
            .sum::<usize>(),
    );
    let mut metadata = serde_json::Map::new();
    metadata.insert("resourceVersion".into(), listed.rv.to_string().into());
    if let Some(token) = &listed.continue_token {
        metadata.insert("continue".into(), token.clone().into());
        if listed.remaining > 0 {
            metadata.insert("remainingItemCount".into(), listed.remaining.into());
        }
    }
    let head = json!({
        "kind": format!("{}List", T::KIND),
        "apiVersion": T::api_version(),
        "metadata": metadata,
    });
    let head =
        serde_json::to_vec(&head).map_err(|error| ApiError::from(Status::internal_error(error)))?;
    // `{…head…,"items":[…]}`: the head without its closing brace.
    body.put_slice(&head[..head.len() - 1]);
    body.put_slice(br#","items":["#);
    for (at, entry) in listed.items.iter().enumerate() {
        if at > 0 {
            body.put_u8(b',');
        }
        body.put_slice(&entry.json);
    }
    body.put_slice(b"]}");
    Ok(body.freeze())
}
