//! Serving watches: the replay from the history (or a streaming list's state),
//! then live events, timeouts and bookmarks.

use super::*;

impl<T: Keyed + Send + Sync + 'static> MemoryServer<T> {
    /// Serves one watch call.
    pub(super) async fn serve_watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> Result<WatchStream<T>, Box<Status>> {
        let (latency, failure) = self.receive(RecordedRequest::Watch {
            resource_version: resource_version.clone(),
            options: options.clone(),
        });
        stall(latency).await;
        if let Some(status) = failure {
            debug!(%status, "memory server: injected watch failure");
            return Err(Box::new(status));
        }
        let requested = parse_rv(&resource_version)?;
        let mut state = self.shared.state.lock();
        let from = requested.unwrap_or(state.rv);
        if from > state.rv {
            let status = too_large(from, state.rv);
            drop(state);
            debug!(%status, "memory server: watch from the future");
            return Ok(error_stream(Box::new(status)));
        }
        // Reading the history and registering happen under one lock: the replay ends
        // exactly where the live events begin.
        let replay: Result<Vec<WatchEvent<T>>, Box<Status>> = if options.send_initial_events {
            // A streaming list: the state as `Added`, then the end marker, then live.
            let rv = state.rv_string.clone();
            let mut initial: Vec<WatchEvent<T>> = state
                .objects
                .values()
                .map(|obj| WatchEvent::Added(Arc::clone(obj), rv.clone()))
                .collect();
            initial.push(WatchEvent::InitialEventsEnd(rv));
            Ok(initial)
        } else {
            state
                .history
                .since(from)
                .map(|events| events.cloned().collect())
        };
        let replay = match replay {
            Ok(replay) => replay,
            Err(status) => {
                drop(state);
                debug!(%status, "memory server: watch from a compacted version");
                return Ok(error_stream(status));
            }
        };
        let receiver = state.watchers.subscribe(options.allow_bookmarks);
        let start = if from == state.rv || options.send_initial_events {
            state.rv_string.clone()
        } else {
            format_rv(from)
        };
        drop(state);
        debug!(
            from = %start,
            replayed = replay.len(),
            timeout = ?options.timeout,
            bookmarks = options.allow_bookmarks,
            "memory server: watch opened"
        );
        let bookmark_interval = self
            .shared
            .config
            .bookmark_interval
            .filter(|_| options.allow_bookmarks);
        Ok(Box::pin(MemoryWatch {
            replay: replay.into_iter(),
            receiver: Some(receiver),
            deadline: options
                .timeout
                .map(|timeout| Box::pin(tokio::time::sleep(timeout))),
            bookmarks: bookmark_interval.and_then(bookmark_ticker),
            last_rv: start,
        }))
    }
}

/// The stream of one open watch: the replayed history, then the live events the
/// server queues, until the server drops it, an error ends it, or its timeout passes.
struct MemoryWatch<T> {
    /// Changes from the history, delivered first.
    replay: std::vec::IntoIter<WatchEvent<T>>,
    /// Live events; `None` once the stream has ended (dropping it tells the server).
    receiver: Option<mpsc::Receiver<Queued<T>>>,
    /// When the watch's timeout ends it.
    deadline: Option<Pin<Box<Sleep>>>,
    /// When the next periodic bookmark is due.
    bookmarks: Option<Interval>,
    /// The version of the last event delivered: what a bookmark reports.
    last_rv: ResourceVersion,
}

impl<T> MemoryWatch<T> {
    /// Ends the stream: later polls answer `None`, the server sees the watch closed.
    fn finish(&mut self) {
        self.receiver = None;
        self.replay = Vec::new().into_iter();
        self.deadline = None;
        self.bookmarks = None;
    }

    /// Whether the timeout passed, ending the stream if so. Checked before every
    /// item, so a busy watch ends on time too.
    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.deadline.as_mut() else {
            return false;
        };
        if deadline.as_mut().poll(cx).is_pending() {
            return false;
        }
        debug!("memory server: watch timed out");
        self.finish();
        true
    }

    /// Hands out `queued`, noting how far it brings the watch; ends the stream after
    /// an error.
    fn deliver(&mut self, queued: Queued<T>) -> Poll<Option<WatchItem<T>>> {
        let item = match queued {
            Queued::Event(event @ WatchEvent::Error(_)) => {
                self.finish();
                Ok(event)
            }
            Queued::Event(event) => {
                if let Some(rv) = event.resource_version() {
                    self.last_rv.clone_from(rv);
                }
                Ok(event)
            }
            Queued::Failure(status) => {
                self.finish();
                Err(status)
            }
        };
        Poll::Ready(Some(item))
    }
}

impl<T> Stream for MemoryWatch<T> {
    type Item = WatchItem<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.receiver.is_none() || this.timed_out(cx) {
            return Poll::Ready(None);
        }
        if let Some(event) = this.replay.next() {
            return this.deliver(Queued::Event(event));
        }
        let Some(receiver) = this.receiver.as_mut() else {
            return Poll::Ready(None);
        };
        match receiver.poll_recv(cx) {
            Poll::Ready(Some(item)) => return this.deliver(item),
            Poll::Ready(None) => {
                this.finish();
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        // Idle: every queued event was delivered, so `last_rv` is the server's
        // version as far as this watch knows — a bookmark never skips an event.
        if let Some(bookmarks) = this.bookmarks.as_mut() {
            if bookmarks.poll_tick(cx).is_ready() {
                return Poll::Ready(Some(Ok(WatchEvent::Bookmark(this.last_rv.clone()))));
            }
        }
        Poll::Pending
    }
}

/// A periodic bookmark timer whose first tick is one `period` from now; `None` for a
/// zero period or one so long that the clock would overflow.
fn bookmark_ticker(period: Duration) -> Option<Interval> {
    if period.is_zero() {
        return None;
    }
    let start = Instant::now().checked_add(period)?;
    start.checked_add(period)?;
    let mut ticker = tokio::time::interval_at(start, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Some(ticker)
}

/// A watch that yields one `Error(status)` and ends.
fn error_stream<T: Send + Sync + 'static>(status: Box<Status>) -> WatchStream<T> {
    Box::pin(futures::stream::iter([Ok(WatchEvent::Error(status))]))
}
