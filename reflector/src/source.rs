//! The source side: [`ListerWatcher`], what it lists ([`ListPage`]) and what it streams
//! ([`WatchEvent`]).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use store_core::{Keyed, ResourceVersion, Status};

/// Options of one list request (one page, when paginated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// The resource version to list at: `"0"` is "any version, the cache is fine",
    /// `""` is "the most recent version" (a consistent read), anything else is "at
    /// least as fresh as this version".
    pub resource_version: ResourceVersion,
    /// The most objects one page may hold; `None` asks for everything at once.
    pub limit: Option<usize>,
    /// The continue token of the previous page.
    pub continue_token: Option<String>,
}

/// Options of one watch request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// Ask the source to end the watch cleanly after this long (the reflector
    /// picks it at random in its configured range so watches spread out).
    pub timeout: Option<Duration>,
    /// Ask the source for [`WatchEvent::Bookmark`]s.
    pub allow_bookmarks: bool,
    /// The [`ListPage::source_id`] of the list the resource version came from. A source
    /// that can tell it now serves another store instance (an etcd cluster with
    /// another cluster id) must answer [`Status::gone`]: resource versions of two
    /// instances are not comparable, and resuming would skip or invent history.
    pub source_id: Option<String>,
    /// A streaming list (Kubernetes' watch-list, KEP-3157): the source first sends the
    /// current state as [`WatchEvent::Added`] events, then
    /// [`WatchEvent::InitialEventsEnd`] at the state's version, then live events. A
    /// source that cannot answers an error (`BadRequest`), and the reflector falls
    /// back to list+watch. Set by the reflector when
    /// [`ReflectorConfig::streaming_list`](crate::ReflectorConfig::streaming_list) is on.
    pub send_initial_events: bool,
}

/// One page of a list answer.
#[derive(Debug)]
pub struct ListPage<T> {
    /// The objects of this page.
    pub items: Vec<Arc<T>>,
    /// The resource version the list was served at (the same on every page).
    pub resource_version: ResourceVersion,
    /// Set when more pages follow: pass it back in [`ListOptions::continue_token`].
    pub continue_token: Option<String>,
    /// Which instance of the source served this list, where the source can tell
    /// (etcd: its cluster id); `None` when it cannot. The reflector hands it back in
    /// [`WatchOptions::source_id`] and refuses a list whose pages come from two.
    pub source_id: Option<String>,
}

impl<T> Clone for ListPage<T> {
    fn clone(&self) -> Self {
        ListPage {
            items: self.items.clone(),
            resource_version: self.resource_version.clone(),
            continue_token: self.continue_token.clone(),
            source_id: self.source_id.clone(),
        }
    }
}

/// One event of a watch stream.
pub enum WatchEvent<T> {
    /// An object was created.
    Added(Arc<T>, ResourceVersion),
    /// An object was changed.
    Modified(Arc<T>, ResourceVersion),
    /// An object was deleted; this is its final state.
    Deleted(Arc<T>, ResourceVersion),
    /// Nothing changed for us, but the source's state reached this version: watching
    /// again from it is safe.
    Bookmark(ResourceVersion),
    /// The initial events of a streaming list ([`WatchOptions::send_initial_events`])
    /// are all sent: they are the source's state at this version (Kubernetes: the
    /// bookmark annotated `k8s.io/initial-events-end`). Live events follow.
    InitialEventsEnd(ResourceVersion),
    /// The source reports an error; the watch ends after it. (Boxed: a `Status` is
    /// large, and every event of a stream pays for the largest variant.)
    Error(Box<Status>),
}

impl<T> WatchEvent<T> {
    /// The resource version this event brings the watcher to, if any.
    pub fn resource_version(&self) -> Option<&ResourceVersion> {
        match self {
            WatchEvent::Added(_, rv)
            | WatchEvent::Modified(_, rv)
            | WatchEvent::Deleted(_, rv)
            | WatchEvent::Bookmark(rv)
            | WatchEvent::InitialEventsEnd(rv) => Some(rv),
            WatchEvent::Error(_) => None,
        }
    }

    /// The event's type as the Kubernetes wire names it.
    pub fn type_name(&self) -> &'static str {
        match self {
            WatchEvent::Added(..) => "ADDED",
            WatchEvent::Modified(..) => "MODIFIED",
            WatchEvent::Deleted(..) => "DELETED",
            WatchEvent::Bookmark(_) | WatchEvent::InitialEventsEnd(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        }
    }
}

impl<T> Clone for WatchEvent<T> {
    fn clone(&self) -> Self {
        match self {
            WatchEvent::Added(obj, rv) => WatchEvent::Added(Arc::clone(obj), rv.clone()),
            WatchEvent::Modified(obj, rv) => WatchEvent::Modified(Arc::clone(obj), rv.clone()),
            WatchEvent::Deleted(obj, rv) => WatchEvent::Deleted(Arc::clone(obj), rv.clone()),
            WatchEvent::Bookmark(rv) => WatchEvent::Bookmark(rv.clone()),
            WatchEvent::InitialEventsEnd(rv) => WatchEvent::InitialEventsEnd(rv.clone()),
            WatchEvent::Error(status) => WatchEvent::Error(status.clone()),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for WatchEvent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchEvent::Added(obj, rv)
            | WatchEvent::Modified(obj, rv)
            | WatchEvent::Deleted(obj, rv) => f
                .debug_tuple(self.type_name())
                .field(obj)
                .field(rv)
                .finish(),
            WatchEvent::Bookmark(rv) => f.debug_tuple("BOOKMARK").field(rv).finish(),
            WatchEvent::InitialEventsEnd(rv) => {
                f.debug_tuple("INITIAL_EVENTS_END").field(rv).finish()
            }
            WatchEvent::Error(status) => f.debug_tuple("ERROR").field(status).finish(),
        }
    }
}

/// A part of a list answer as it streams in ([`ListerWatcher::list_stream`]).
#[derive(Debug)]
pub enum ListPart<T> {
    /// Objects decoded so far, in list order; more parts follow.
    Items(Vec<Arc<T>>),
    /// The last part: its objects, and the list's resource version, continue token and
    /// source as a whole [`ListPage`] carries them.
    Last(ListPage<T>),
}

/// A list answer as it streams in: [`ListPart::Items`] as objects are decoded, then
/// one [`ListPart::Last`]; or an error, which ends it.
pub type ListStream<'a, T> = BoxStream<'a, Result<ListPart<T>, Box<Status>>>;

/// A watch: a stream of events, or of errors that end it. A stream that simply ends
/// is a clean close (for instance the requested timeout passed).
pub type WatchStream<T> = BoxStream<'static, Result<WatchEvent<T>, Box<Status>>>;

/// A source of objects that can be listed and watched: the Kubernetes API, etcd, or
/// the embedded [`MemoryServer`](crate::MemoryServer).
///
/// Errors are [`Status`] values, as Kubernetes sends them (boxed: a `Status` is ~300
/// bytes, and errors are the cold path); a source that is not a Kubernetes server maps
/// its failures onto them (a refused connection is
/// [`Status::service_unavailable`], a compacted version is [`Status::expired`], …) so
/// the [`Reflector`](crate::Reflector) can tell what to do.
pub trait ListerWatcher<T: Keyed>: Send + Sync + 'static {
    /// Lists one page.
    ///
    /// # Errors
    ///
    /// The source's failure as a [`Status`]: `Expired` (410) for a continue token or
    /// a version the source no longer has, `ServiceUnavailable` when it cannot be
    /// reached, and so on (see the trait's docs).
    fn list(
        &self,
        options: ListOptions,
    ) -> impl Future<Output = Result<ListPage<T>, Box<Status>>> + Send;

    /// Lists one page as it streams in: objects in parts as they are decoded, so that
    /// the reflector writes (or gathers) them while the rest of the answer arrives, and
    /// the answer is never held whole. The reflector lists through this.
    ///
    /// The default hands out [`list`](ListerWatcher::list)'s page as one
    /// [`ListPart::Last`]; a source that reads a body off the network (`KubeSource`)
    /// decodes it as it arrives instead. Errors are [`list`](ListerWatcher::list)'s,
    /// and a stream that fails part-way fails the list: the reflector applies nothing
    /// of an atomic relist, and the next list completes an in-place one.
    fn list_stream(&self, options: ListOptions) -> ListStream<'_, T> {
        futures::StreamExt::boxed(futures::stream::once(async move {
            self.list(options).await.map(ListPart::Last)
        }))
    }

    /// Starts a watch of every change after `resource_version`.
    ///
    /// # Errors
    ///
    /// The source's failure to start the watch, as a [`Status`]. A source may
    /// instead report it (`Expired` for a version it no longer has, as Kubernetes
    /// does) as the stream's [`WatchEvent::Error`]; failures after the start always
    /// come that way.
    fn watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> impl Future<Output = Result<WatchStream<T>, Box<Status>>> + Send;
}

impl<T: Keyed, L: ListerWatcher<T>> ListerWatcher<T> for Arc<L> {
    fn list(
        &self,
        options: ListOptions,
    ) -> impl Future<Output = Result<ListPage<T>, Box<Status>>> + Send {
        (**self).list(options)
    }

    fn list_stream(&self, options: ListOptions) -> ListStream<'_, T> {
        (**self).list_stream(options)
    }

    fn watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> impl Future<Output = Result<WatchStream<T>, Box<Status>>> + Send {
        (**self).watch(resource_version, options)
    }
}
