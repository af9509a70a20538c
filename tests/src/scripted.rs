//! A scripted [`ListerWatcher`]: answers come from queues the test fills, and every
//! request is recorded, so reflector state-machine tests can check exactly what was
//! asked and when.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use parking_lot::Mutex;
use reflector::{ListOptions, ListPage, ListerWatcher, WatchEvent, WatchOptions, WatchStream};
use store_core::{Keyed, ResourceVersion, Status};
use tokio::time::Instant;

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A list page: resource version, limit, continue token.
    List(String, Option<usize>, Option<String>),
    /// A watch from this resource version.
    Watch(String),
}

/// How a scripted watch ends once its events are out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// The stream ends (a clean close).
    Close,
    /// The stream stays open, silent, until the reflector drops it.
    Hang,
    /// The stream stays open, silent, this long, then ends cleanly.
    CloseAfter(std::time::Duration),
}

/// One scripted watch answer.
pub enum WatchAnswer<T> {
    /// `watch` itself fails.
    Fail(Box<Status>),
    /// A stream with these items, then `Then`.
    Stream(Vec<Result<WatchEvent<T>, Box<Status>>>, Then),
}

impl<T> WatchAnswer<T> {
    /// `watch` itself fails with `status`.
    pub fn fail(status: Status) -> Self {
        WatchAnswer::Fail(Box::new(status))
    }
}

/// The scripted source. When a queue runs dry, lists answer the last list again
/// and watches hang silently.
pub struct Scripted<T> {
    lists: Mutex<VecDeque<Result<ListPage<T>, Box<Status>>>>,
    watches: Mutex<VecDeque<WatchAnswer<T>>>,
    calls: Mutex<Vec<(Instant, Call)>>,
    last_list: Mutex<Option<ListPage<T>>>,
}

impl<T> Default for Scripted<T> {
    fn default() -> Self {
        Scripted {
            lists: Mutex::new(VecDeque::new()),
            watches: Mutex::new(VecDeque::new()),
            calls: Mutex::new(Vec::new()),
            last_list: Mutex::new(None),
        }
    }
}

impl<T: Keyed + Send + Sync + 'static> Scripted<T> {
    /// An empty script.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Queues a list answer with these items at `rv` (one page).
    pub fn list_ok(&self, items: Vec<T>, rv: &str) {
        self.list_page(items, rv, None);
    }

    /// Queues one list page with a continue token.
    pub fn list_page(&self, items: Vec<T>, rv: &str, continue_token: Option<&str>) {
        self.lists.lock().push_back(Ok(ListPage {
            items: items.into_iter().map(Arc::new).collect(),
            resource_version: ResourceVersion::from(rv),
            continue_token: continue_token.map(str::to_owned),
            source_id: None,
        }));
    }

    /// Queues a failing list answer.
    pub fn list_err(&self, status: Status) {
        self.lists.lock().push_back(Err(Box::new(status)));
    }

    /// Queues a watch answer.
    pub fn watch(&self, answer: WatchAnswer<T>) {
        self.watches.lock().push_back(answer);
    }

    /// Every request so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .iter()
            .map(|(_, call)| call.clone())
            .collect()
    }

    /// Every request so far with the (tokio) instant it came in.
    pub fn timed_calls(&self) -> Vec<(Instant, Call)> {
        self.calls.lock().clone()
    }

    fn record(&self, call: Call) {
        self.calls.lock().push((Instant::now(), call));
    }
}

impl<T: Keyed + Send + Sync + 'static> ListerWatcher<T> for Scripted<T> {
    async fn list(&self, options: ListOptions) -> Result<ListPage<T>, Box<Status>> {
        self.record(Call::List(
            options.resource_version.to_string(),
            options.limit,
            options.continue_token.clone(),
        ));
        let next = self.lists.lock().pop_front();
        match next {
            Some(Ok(list)) => {
                *self.last_list.lock() = Some(list.clone());
                Ok(list)
            }
            Some(Err(status)) => Err(status),
            None => self
                .last_list
                .lock()
                .clone()
                .map(|mut list| {
                    list.continue_token = None;
                    list
                })
                .ok_or_else(|| Box::new(Status::internal_error("script has no list answer"))),
        }
    }

    async fn watch(
        &self,
        resource_version: ResourceVersion,
        _options: WatchOptions,
    ) -> Result<WatchStream<T>, Box<Status>> {
        self.record(Call::Watch(resource_version.to_string()));
        let next = self.watches.lock().pop_front();
        match next {
            Some(WatchAnswer::Fail(status)) => Err(status),
            Some(WatchAnswer::Stream(items, Then::Close)) => Ok(stream::iter(items).boxed()),
            Some(WatchAnswer::Stream(items, Then::Hang)) => {
                Ok(stream::iter(items).chain(stream::pending()).boxed())
            }
            Some(WatchAnswer::Stream(items, Then::CloseAfter(after))) => {
                let quiet_end =
                    stream::once(tokio::time::sleep(after)).filter_map(|()| async { None });
                Ok(stream::iter(items).chain(quiet_end).boxed())
            }
            None => Ok(stream::pending().boxed()),
        }
    }
}
