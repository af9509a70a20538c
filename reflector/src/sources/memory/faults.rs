//! Fault injection and the request log: what a test tells the server to do, and
//! what it received.

use super::*;

impl<T: Keyed + Send + Sync + 'static> MemoryServer<T> {
    // --- fault injection (test helpers) ------------------------------------------

    /// Test helper: ends every open watch cleanly, as a dropped connection or an
    /// apiserver restart would; each stream ends after the events already queued
    /// for it.
    pub fn drop_watches(&self) {
        let dropped = self.shared.state.lock().watchers.close_all(None);
        debug!(watches = dropped, "memory server: dropping every watch");
    }

    /// Test helper: every open watch yields `WatchEvent::Error(status)` after the
    /// events already queued for it, then ends.
    pub fn inject_watch_error(&self, status: Status) {
        let ended = self.end_watches(|| Queued::Event(WatchEvent::Error(Box::new(status.clone()))));
        debug!(watches = ended, %status, "memory server: injected a watch error");
    }

    /// Test helper: every open watch yields an `Err` item — an internal-error
    /// [`Status`] saying the source sent a malformed event, as a client reports an
    /// event it cannot decode — after the events already queued for it, then ends.
    pub fn inject_malformed_event(&self) {
        let status =
            Status::internal_error("malformed watch event: the object could not be decoded");
        let ended = self.end_watches(|| Queued::Failure(Box::new(status.clone())));
        debug!(watches = ended, "memory server: injected a malformed event");
    }

    /// Ends every open watch with the item `last` builds, queued after the events
    /// already queued for it; answers how many watches there were.
    fn end_watches(&self, last: impl Fn() -> Queued<T>) -> usize {
        self.shared.state.lock().watchers.close_all(Some(&last))
    }

    /// Test helper: the next `n` list calls answer `Err(status)` (after any
    /// [latency](Self::set_latency)); replaces an earlier injection, `n == 0` clears.
    pub fn fail_next_lists(&self, n: usize, status: Status) {
        self.shared.control.lock().fail_lists = (n > 0).then_some(InjectedFailure {
            remaining: n,
            status,
        });
    }

    /// Test helper: the next `n` watch calls answer `Err(status)` (after any
    /// [latency](Self::set_latency)); replaces an earlier injection, `n == 0` clears.
    pub fn fail_next_watches(&self, n: usize, status: Status) {
        self.shared.control.lock().fail_watches = (n > 0).then_some(InjectedFailure {
            remaining: n,
            status,
        });
    }

    /// Test helper: every list and watch call waits this long (Tokio time) before it
    /// answers, a stalled server; `None` answers at once. Writes are not delayed.
    pub fn set_latency(&self, latency: Option<Duration>) {
        self.shared.control.lock().latency = latency;
    }

    /// Test helper: every open watch that allowed bookmarks receives a
    /// [`WatchEvent::Bookmark`] of the current version now, after its queued events.
    pub fn bookmark_now(&self) {
        let mut state = self.shared.state.lock();
        let rv = state.rv_string.clone();
        state
            .watchers
            .send_bookmark(|| Queued::Event(WatchEvent::Bookmark(rv.clone())));
    }

    // --- observability (test helpers) --------------------------------------------

    /// Test helper: from now on, record every list and watch call this server receives
    /// (for [`requests`](Self::requests)). Off by default, so that a server that runs
    /// for long (the `watch-server` binary's churning source) keeps no log.
    pub fn record_requests(&self) {
        self.shared.control.lock().recording = true;
    }

    /// Test helper: the list and watch calls received since
    /// [`record_requests`](Self::record_requests), in order (the most recent
    /// 100 000), recorded as they arrive, before latency or injected failures.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .control
            .lock()
            .requests
            .iter()
            .cloned()
            .collect()
    }

    /// Test helper: how many watches are open (registered and not yet ended or
    /// dropped by their client).
    pub fn open_watches(&self) -> usize {
        self.shared.state.lock().watchers.len()
    }

    /// Test helper: how many list calls were made (each page counts).
    pub fn list_calls(&self) -> usize {
        self.shared.control.lock().list_calls
    }

    /// Test helper: how many watch calls were made.
    pub fn watch_calls(&self) -> usize {
        self.shared.control.lock().watch_calls
    }

    // --- serving -----------------------------------------------------------------

    /// Records `request` and counts it; answers the latency to wait and the failure
    /// to inject, if any.
    pub(super) fn receive(&self, request: RecordedRequest) -> (Option<Duration>, Option<Status>) {
        let mut control = self.shared.control.lock();
        let failure = match request {
            RecordedRequest::List(_) => {
                control.list_calls += 1;
                InjectedFailure::take(&mut control.fail_lists)
            }
            RecordedRequest::Watch { .. } => {
                control.watch_calls += 1;
                InjectedFailure::take(&mut control.fail_watches)
            }
        };
        if control.recording {
            if control.requests.len() == MAX_RECORDED_REQUESTS {
                control.requests.pop_front();
            }
            control.requests.push_back(request);
        }
        (control.latency, failure)
    }
}
