//! [`Fanout`]: the open watches of a server, each with a bounded buffer; a watcher
//! whose buffer is full is dropped (its stream ends, the client watches again) and
//! counted, so a slow reader never holds up a writer or the other watchers.

use std::fmt;

use tokio::sync::mpsc;
use tracing::debug;

/// The open watches of a server: one bounded channel each.
///
/// [`send`](Fanout::send) offers a message to every watcher without waiting; a
/// watcher whose buffer is full is dropped — its receiver yields what was buffered,
/// then ends — and counted in [`slow_dropped`](Fanout::slow_dropped). One slot of
/// every channel is kept free for a final message ([`close_all`](Fanout::close_all)),
/// so an injected error or a shutdown notice always fits.
///
/// ```
/// use serve::Fanout;
///
/// let mut fanout = Fanout::new(2);
/// let mut fast = fanout.subscribe(false);
/// let mut slow = fanout.subscribe(true);
/// for n in 0..2 {
///     fanout.send(|| n);
///     assert_eq!(fast.try_recv(), Ok(n));
/// }
/// fanout.send(|| 2); // `slow` never read: its buffer of 2 is full
/// assert_eq!(fanout.slow_dropped(), 1);
/// assert_eq!(fanout.len(), 1);
/// assert_eq!((slow.try_recv(), slow.try_recv()), (Ok(0), Ok(1)));
/// assert!(slow.try_recv().is_err()); // then it ends
/// ```
pub struct Fanout<M> {
    /// The open watchers.
    subscribers: Vec<Subscriber<M>>,
    /// How many messages one watcher may hold.
    buffer: usize,
    /// How many watchers were dropped for falling behind.
    slow_dropped: u64,
}

/// One watcher of a [`Fanout`].
struct Subscriber<M> {
    /// Where its messages go.
    sender: mpsc::Sender<M>,
    /// Whether it asked for bookmarks.
    bookmarks: bool,
}

impl<M> Fanout<M> {
    /// No watchers yet; each will hold up to `buffer` messages (with none, a watcher
    /// is dropped at its first message).
    pub fn new(buffer: usize) -> Self {
        Fanout {
            subscribers: Vec::new(),
            // Tokio's channels hold at most `Semaphore::MAX_PERMITS`; one slot is
            // reserved for a final message.
            buffer: buffer.min(tokio::sync::Semaphore::MAX_PERMITS - 1),
            slow_dropped: 0,
        }
    }

    /// Registers a watcher (`bookmarks`: whether [`send_bookmark`](Self::send_bookmark)
    /// reaches it) and answers its receiver. Watchers that went away are forgotten.
    pub fn subscribe(&mut self, bookmarks: bool) -> mpsc::Receiver<M> {
        let (sender, receiver) = mpsc::channel(self.buffer + 1);
        self.subscribers
            .retain(|subscriber| !subscriber.sender.is_closed());
        self.subscribers.push(Subscriber { sender, bookmarks });
        receiver
    }

    /// Offers the message `make` builds to every watcher; answers how many were
    /// dropped for falling behind.
    pub fn send(&mut self, make: impl Fn() -> M) -> usize {
        self.offer(|_| true, make)
    }

    /// Offers the message `make` builds to every watcher that asked for bookmarks;
    /// answers how many were dropped for falling behind.
    pub fn send_bookmark(&mut self, make: impl Fn() -> M) -> usize {
        self.offer(|subscriber| subscriber.bookmarks, make)
    }

    fn offer(&mut self, to: impl Fn(&Subscriber<M>) -> bool, make: impl Fn() -> M) -> usize {
        let mut slow = 0;
        self.subscribers.retain(|subscriber| {
            if !to(subscriber) {
                return !subscriber.sender.is_closed();
            }
            if subscriber.sender.capacity() > 1 {
                return subscriber.sender.try_send(make()).is_ok();
            }
            if !subscriber.sender.is_closed() {
                slow += 1;
            }
            false
        });
        if slow > 0 {
            self.slow_dropped += slow as u64;
            debug!(
                slow,
                buffered = self.buffer,
                "dropping watchers that fell behind"
            );
        }
        slow
    }

    /// Ends every watch: each receiver yields what was buffered, then `last()` if
    /// given, then ends. Answers how many watches there were.
    pub fn close_all(&mut self, last: Option<&dyn Fn() -> M>) -> usize {
        let subscribers = std::mem::take(&mut self.subscribers);
        if let Some(last) = last {
            for subscriber in &subscribers {
                // The slot `offer` keeps free makes this succeed unless the watch is
                // already gone.
                let _ = subscriber.sender.try_send(last());
            }
        }
        subscribers.len()
    }

    /// How many watches are open (registered and not yet gone).
    pub fn len(&self) -> usize {
        self.subscribers
            .iter()
            .filter(|subscriber| !subscriber.sender.is_closed())
            .count()
    }

    /// Whether no watch is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many watchers were dropped, since the start, for falling behind.
    pub fn slow_dropped(&self) -> u64 {
        self.slow_dropped
    }

    /// How many messages one watcher may hold.
    pub fn buffer(&self) -> usize {
        self.buffer
    }
}

impl<M> fmt::Debug for Fanout<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fanout")
            .field("watchers", &self.subscribers.len())
            .field("buffer", &self.buffer)
            .field("slow_dropped", &self.slow_dropped)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_closes_with_a_final_message_even_when_full() {
        let mut fanout = Fanout::new(1);
        let mut receiver = fanout.subscribe(true);
        fanout.send(|| 1);
        assert_eq!(fanout.close_all(Some(&|| 99)), 1);
        assert_eq!(receiver.try_recv(), Ok(1));
        assert_eq!(receiver.try_recv(), Ok(99));
        assert!(receiver.try_recv().is_err());
        assert_eq!(fanout.slow_dropped(), 0);
    }

    #[test]
    fn bookmarks_reach_only_the_watchers_that_asked() {
        let mut fanout = Fanout::new(4);
        let mut plain = fanout.subscribe(false);
        let mut wants = fanout.subscribe(true);
        fanout.send_bookmark(|| "bookmark");
        assert!(plain.try_recv().is_err());
        assert_eq!(wants.try_recv(), Ok("bookmark"));
        drop(plain);
        assert_eq!(fanout.len(), 1);
    }
}
