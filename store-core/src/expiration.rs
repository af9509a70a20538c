//! [`ExpirationCache`]: a store whose entries expire (client-go's `ExpirationCache` /
//! `NewTTLStore`), with a pluggable [`ExpirationPolicy`] and [`Clock`].

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use equivalent::Equivalent;
use hashbrown::HashMap;
use parking_lot::{Mutex, RwLock};

use crate::error::Error;
use crate::keyed::Keyed;
use crate::resource_version::ResourceVersion;
use crate::store::{Removed, Store};

/// Where an [`ExpirationCache`] reads the time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock ([`Instant::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to — for tests of expiry (client-go's fake clock).
/// Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use store_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now() - start, Duration::from_secs(90));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Instant>>,
}

impl ManualClock {
    /// A clock standing at the real current instant.
    pub fn new() -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.now.lock() += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock()
    }
}

/// Decides whether a stored object has expired, given the object and its age (the time
/// since it was last written).
///
/// A [`Duration`] is the TTL policy (client-go's `TTLPolicy`): an entry expires once it
/// is older than the TTL, and a zero TTL never expires. A closure `Fn(&T, Duration) ->
/// bool` decides per object (a TTL read from the object, say).
pub trait ExpirationPolicy<T>: Send + Sync + 'static {
    /// Whether `obj`, written `age` ago, has expired.
    fn is_expired(&self, obj: &T, age: Duration) -> bool;
}

impl<T> ExpirationPolicy<T> for Duration {
    fn is_expired(&self, _obj: &T, age: Duration) -> bool {
        !self.is_zero() && age > *self
    }
}

impl<T, F> ExpirationPolicy<T> for F
where
    F: Fn(&T, Duration) -> bool + Send + Sync + 'static,
{
    fn is_expired(&self, obj: &T, age: Duration) -> bool {
        self(obj, age)
    }
}

/// A [`Store`] whose entries expire: client-go's `ExpirationCache` (`NewTTLStore`), for
/// short-lived knowledge — "recently deleted", "seen in the last minute", negative
/// look-up caches.
///
/// Every write stamps the entry with the clock's time; the [`ExpirationPolicy`] (a TTL
/// [`Duration`], or a closure) decides from the object and its age whether it has
/// expired. Expiry is lazy, as client-go's: nothing runs in the background; a read
/// never returns an expired entry (`get`, `contains_key`, `list`, `list_keys` and `len`
/// all skip them) and removes the expired entries it met. An expired key can be added
/// again and is then fresh. A write returns the object it replaced or removed only if
/// that one had not expired (an expired entry was already gone for every reader), and
/// [`replace`](Store::replace) reports only unexpired entries as removed.
/// [`purge_expired`](ExpirationCache::purge_expired) sweeps on demand.
///
/// The clock is pluggable: [`SystemClock`] by default, [`ManualClock`] in tests.
///
/// ```
/// use std::time::Duration;
/// use store_core::{ExpirationCache, Keyed, ManualClock, Store};
///
/// #[derive(Keyed)]
/// struct Seen { #[key] uid: String }
///
/// let clock = ManualClock::new();
/// let recent = ExpirationCache::with_clock(Duration::from_secs(60), clock.clone());
/// recent.add(Seen { uid: "a".into() })?;
/// clock.advance(Duration::from_secs(30));
/// assert!(recent.contains_key("a"));
/// clock.advance(Duration::from_secs(31));
/// assert!(recent.get("a").is_none()); // expired, and now removed
/// recent.add(Seen { uid: "a".into() })?; // added again: fresh
/// assert_eq!(recent.len(), 1);
/// # Ok::<(), store_core::Error>(())
/// ```
pub struct ExpirationCache<T: Keyed, P = Duration, C = SystemClock> {
    shared: Arc<Shared<T, P, C>>,
}

struct Shared<T: Keyed, P, C> {
    entries: RwLock<Entries<T>>,
    policy: P,
    clock: C,
}

struct Entries<T: Keyed> {
    items: HashMap<T::Key, Stamped<T>>,
    resource_version: Option<ResourceVersion>,
}

struct Stamped<T> {
    obj: Arc<T>,
    written: Instant,
}

impl<T: Keyed, P: ExpirationPolicy<T>> ExpirationCache<T, P, SystemClock> {
    /// An empty cache expiring by `policy` on the real clock; `policy` is usually a TTL.
    pub fn new(policy: P) -> Self {
        Self::with_clock(policy, SystemClock)
    }
}

impl<T: Keyed, P: ExpirationPolicy<T>, C: Clock> ExpirationCache<T, P, C> {
    /// An empty cache expiring by `policy`, reading the time from `clock`.
    pub fn with_clock(policy: P, clock: C) -> Self {
        ExpirationCache {
            shared: Arc::new(Shared {
                entries: RwLock::new(Entries {
                    items: HashMap::new(),
                    resource_version: None,
                }),
                policy,
                clock,
            }),
        }
    }

    /// Removes every expired entry now; returns how many it removed.
    pub fn purge_expired(&self) -> usize {
        let now = self.shared.clock.now();
        let mut entries = self.shared.entries.write();
        let before = entries.items.len();
        entries
            .items
            .retain(|_, stamped| !self.shared.expired(stamped, now));
        before - entries.items.len()
    }

    /// The unexpired entries, mapped by `f`, under the read lock; expired entries met on
    /// the way are purged afterwards.
    fn read_all<R>(&self, mut f: impl FnMut(&T::Key, &Arc<T>) -> R) -> Vec<R> {
        let now = self.shared.clock.now();
        let mut expired = false;
        let out = {
            let entries = self.shared.entries.read();
            let mut out = Vec::with_capacity(entries.items.len());
            for (key, stamped) in &entries.items {
                if self.shared.expired(stamped, now) {
                    expired = true;
                } else {
                    out.push(f(key, &stamped.obj));
                }
            }
            out
        };
        if expired {
            self.purge_expired();
        }
        out
    }

    /// The unexpired object under `key`; an expired one is removed.
    fn lookup<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        let now = self.shared.clock.now();
        {
            let entries = self.shared.entries.read();
            let stamped = entries.items.get(key)?;
            if !self.shared.expired(stamped, now) {
                return Some(Arc::clone(&stamped.obj));
            }
        }
        let mut entries = self.shared.entries.write();
        // Written again since the read lock was released? Then it stays.
        if entries
            .items
            .get(key)
            .is_some_and(|stamped| self.shared.expired(stamped, now))
        {
            entries.items.remove(key);
        }
        None
    }
}

impl<T: Keyed, P: ExpirationPolicy<T>, C> Shared<T, P, C> {
    fn expired(&self, stamped: &Stamped<T>, now: Instant) -> bool {
        self.policy
            .is_expired(&stamped.obj, now.saturating_duration_since(stamped.written))
    }

    /// What a reader would have seen of a replaced or removed entry.
    fn visible(&self, stamped: Option<Stamped<T>>, now: Instant) -> Option<Arc<T>> {
        stamped
            .filter(|stamped| !self.expired(stamped, now))
            .map(|stamped| stamped.obj)
    }
}

impl<T: Keyed, P, C> Clone for ExpirationCache<T, P, C> {
    fn clone(&self) -> Self {
        ExpirationCache {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Keyed, P, C> fmt::Debug for ExpirationCache<T, P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.shared.entries.read();
        f.debug_struct("ExpirationCache")
            .field("entries", &entries.items.len())
            .field("resource_version", &entries.resource_version)
            .finish_non_exhaustive()
    }
}

impl<T, P, C> Store<T> for ExpirationCache<T, P, C>
where
    T: Keyed + Send + Sync,
    P: ExpirationPolicy<T>,
    C: Clock,
{
    fn add(&self, obj: impl Into<Arc<T>>) -> Result<Option<Arc<T>>, Error> {
        let obj = obj.into();
        let key = obj.key();
        let now = self.shared.clock.now();
        let old = self
            .shared
            .entries
            .write()
            .items
            .insert(key, Stamped { obj, written: now });
        Ok(self.shared.visible(old, now))
    }

    fn delete<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        let now = self.shared.clock.now();
        let old = self.shared.entries.write().items.remove(key);
        self.shared.visible(old, now)
    }

    fn get<Q>(&self, key: &Q) -> Option<Arc<T>>
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.lookup(key)
    }

    fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
    {
        self.lookup(key).is_some()
    }

    fn list(&self) -> Vec<Arc<T>> {
        self.read_all(|_, obj| Arc::clone(obj))
    }

    fn list_keys(&self) -> Vec<T::Key> {
        self.read_all(|key, _| key.clone())
    }

    fn len(&self) -> usize {
        self.read_all(|_, _| ()).len()
    }

    fn replace<I>(
        &self,
        items: I,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error>
    where
        I: IntoIterator<Item = Arc<T>>,
    {
        let now = self.shared.clock.now();
        let items = items.into_iter();
        let mut fresh: HashMap<T::Key, Stamped<T>> = HashMap::with_capacity(items.size_hint().0);
        for obj in items {
            fresh.insert(obj.key(), Stamped { obj, written: now });
        }
        let mut entries = self.shared.entries.write();
        entries.resource_version = Some(resource_version.into());
        let mut old = std::mem::replace(&mut entries.items, fresh);
        old.retain(|key, stamped| {
            !entries.items.contains_key(key) && !self.shared.expired(stamped, now)
        });
        drop(entries);
        Ok(old
            .into_iter()
            .map(|(key, stamped)| (key, stamped.obj))
            .collect())
    }

    fn last_sync_resource_version(&self) -> Option<ResourceVersion> {
        self.shared.entries.read().resource_version.clone()
    }

    /// Removes the unseen keys (reporting the unexpired ones) and records the version;
    /// the listed entries keep the stamps their page's writes gave them.
    fn retain_listed(
        &self,
        seen: &std::collections::HashSet<T::Key>,
        resource_version: impl Into<ResourceVersion>,
    ) -> Result<Removed<T>, Error> {
        let now = self.shared.clock.now();
        let mut entries = self.shared.entries.write();
        entries.resource_version = Some(resource_version.into());
        let gone: Vec<T::Key> = entries
            .items
            .keys()
            .filter(|key| !seen.contains(*key))
            .cloned()
            .collect();
        let mut removed = Vec::new();
        for key in gone {
            if let Some(stamped) = entries.items.remove(&key) {
                if !self.shared.expired(&stamped, now) {
                    removed.push((key, stamped.obj));
                }
            }
        }
        Ok(removed)
    }
}
