//! Serving lists: one answer, or pages of one snapshot.

use super::*;

impl<T: Keyed + Send + Sync + 'static> MemoryServer<T> {
    /// Serves one list call.
    pub(super) async fn serve_list(
        &self,
        options: ListOptions,
    ) -> Result<ListPage<T>, Box<Status>> {
        let (latency, failure) = self.receive(RecordedRequest::List(options.clone()));
        stall(latency).await;
        if let Some(status) = failure {
            debug!(%status, "memory server: injected list failure");
            return Err(Box::new(status));
        }
        let limit = options.limit.filter(|&limit| limit > 0);
        let answer = match options.continue_token.as_deref() {
            Some(token) if !token.is_empty() => self.list_continue(token, limit),
            _ => self.list_first(&options.resource_version, limit),
        };
        match &answer {
            Ok(list) => debug!(
                resource_version = %list.resource_version,
                items = list.items.len(),
                more = list.continue_token.is_some(),
                "memory server: list"
            ),
            Err(status) => debug!(%status, "memory server: list refused"),
        }
        answer
    }

    /// The first (or only) page of a list at `requested`.
    fn list_first(
        &self,
        requested: &ResourceVersion,
        limit: Option<usize>,
    ) -> Result<ListPage<T>, Box<Status>> {
        let requested = parse_rv(requested)?;
        let mut state = self.shared.state.lock();
        if let Some(requested) = requested.filter(|&requested| requested > state.rv) {
            return Err(too_large(requested, state.rv).into());
        }
        let resource_version = state.rv_string.clone();
        let Some(limit) = limit.filter(|&limit| limit < state.objects.len()) else {
            let items = state.objects.values().cloned().collect();
            return Ok(ListPage {
                items,
                resource_version,
                continue_token: None,
                source_id: None,
            });
        };
        let items: Arc<[Arc<T>]> = state.objects.values().cloned().collect();
        let rv = state.rv;
        let next_page = state.snapshots.keep(rv, Arc::clone(&items), limit);
        drop(state);
        Ok(ListPage {
            items: items[..limit].to_vec(),
            resource_version,
            continue_token: Some(next_page),
            source_id: None,
        })
    }

    /// A later page of a paginated list.
    fn list_continue(&self, token: &str, limit: Option<usize>) -> Result<ListPage<T>, Box<Status>> {
        let mut state = self.shared.state.lock();
        let compacted = state.history.compacted();
        let page = state.snapshots.page(token, limit, compacted)?;
        drop(state);
        Ok(ListPage {
            items: page.items,
            resource_version: format_rv(page.rv),
            continue_token: page.continue_token,
            source_id: None,
        })
    }
}
