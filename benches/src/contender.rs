//! [`Contender`]: one benchmarked store, driven the way its own users drive it, so
//! that one generic benchmark runs against every store.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::{self, store::Writer, ObjectRef as KubeRef};
use kube::runtime::watcher::Event;
use parking_lot::Mutex;
use store_core::{Cache, Indexer, ObjectNameRef, ShardedCache, Store, NAMESPACE_INDEX};

use crate::{ClientGoStore, Cm};

/// A store under benchmark: how it is filled, read and written on its users' usual
/// path.
///
/// Writes take an [`Input`](Contender::Input) made off the clock from a `ConfigMap`
/// (what a watch event hands over) and give back a [`Leftover`](Contender::Leftover)
/// that is dropped off the clock: what the caller still owns afterwards (kube's
/// `apply_watcher_event` borrows the event, so the event is kube's leftover). What a
/// store frees itself — the object an update replaced — is freed on the clock.
///
/// ```
/// use store_bench::{config_map, Cm, Contender, KubeStore, ObjectSpec};
/// use store_core::Cache;
///
/// fn roundtrip<C: Contender>() -> usize {
///     let spec = ObjectSpec::default();
///     let store = C::filled((0..10).map(|i| config_map(i, &spec)));
///     drop(store.upsert(C::input(config_map(10, &spec))));
///     assert!(store.get("ns-010", "cm-0000010").is_some());
///     drop(store.delete(C::delete_input(config_map(10, &spec))));
///     store.list().len()
/// }
/// assert_eq!(roundtrip::<Cache<Cm>>(), 10);
/// assert_eq!(roundtrip::<KubeStore>(), 10);
/// ```
pub trait Contender: Sync + Sized {
    /// The name in benchmark ids and tables.
    const NAME: &'static str;
    /// What the store hands out (in an `Arc`).
    type Object: Send + Sync;
    /// A written object as the store's caller holds it.
    type Input: Send;
    /// What a write leaves to its caller.
    type Leftover: Send;
    /// A relist as the store's caller holds it.
    type Relist;

    /// A store after an initial list of `objects`.
    fn filled(objects: impl Iterator<Item = ConfigMap>) -> Self;
    /// Wraps an object for a write (off the clock).
    fn input(obj: ConfigMap) -> Self::Input;
    /// Wraps the last state of a deleted object for [`delete`](Contender::delete)
    /// (off the clock).
    fn delete_input(obj: ConfigMap) -> Self::Input {
        Self::input(obj)
    }
    /// Wraps a list for [`replace`](Contender::replace) (off the clock).
    fn relist(objects: Vec<ConfigMap>) -> Self::Relist;

    /// The object under `namespace/name`, looked up from the two strings a request
    /// path has.
    fn get(&self, namespace: &str, name: &str) -> Option<Arc<Self::Object>>;
    /// Inserts or replaces an object; the replaced one is freed here.
    fn upsert(&self, input: Self::Input) -> Self::Leftover;
    /// Inserts or replaces an object and hands the replaced one back, to be freed
    /// off the clock: the store's own share of an update, without the cost of freeing
    /// a cold ~3 KB object. kube frees it inside `apply_watcher_event`, so kube's
    /// figure here is its `upsert`'s.
    fn upsert_keep_old(&self, input: Self::Input) -> (Self::Leftover, Option<Arc<Self::Object>>);
    /// Removes the object a delete event carries; the stored one is freed here.
    fn delete(&self, input: Self::Input) -> Self::Leftover;
    /// Makes the store hold exactly the relisted objects; the old ones are freed here.
    fn replace(&self, relist: Self::Relist) -> Self::Relist;
    /// Every object.
    fn list(&self) -> Vec<Arc<Self::Object>>;
    /// The objects of one namespace.
    fn by_namespace(&self, namespace: &str) -> Vec<Arc<Self::Object>>;
}

fn parts(obj: &ConfigMap) -> ObjectNameRef<'_> {
    ObjectNameRef::new(
        obj.metadata.namespace.as_deref(),
        obj.metadata.name.as_deref().unwrap_or_default(),
    )
}

macro_rules! store_core_contender {
    ($store:ident) => {
        /// Written through `Store`: `update` with an owned object, `delete` by an
        /// `ObjectNameRef` borrowed from the event's object, `replace` from `Arc`s made on
        /// the clock, `by_namespace` through the namespace index.
        impl Contender for $store<Cm> {
            const NAME: &'static str = stringify!($store);
            type Object = Cm;
            type Input = Cm;
            type Leftover = Option<Cm>;
            type Relist = Vec<Cm>;

            fn filled(objects: impl Iterator<Item = ConfigMap>) -> Self {
                let store = $store::new();
                // The namespace index function cannot panic.
                let _ = Store::replace(&store, objects.map(|obj| Arc::new(Cm(obj))), "1");
                store
            }

            fn input(obj: ConfigMap) -> Cm {
                Cm(obj)
            }

            fn relist(objects: Vec<ConfigMap>) -> Vec<Cm> {
                objects.into_iter().map(Cm).collect()
            }

            fn get(&self, namespace: &str, name: &str) -> Option<Arc<Cm>> {
                Store::get(self, &ObjectNameRef::namespaced(namespace, name))
            }

            fn upsert(&self, input: Cm) -> Option<Cm> {
                // The namespace index function cannot panic.
                let _ = self.update(input);
                None
            }

            fn upsert_keep_old(&self, input: Cm) -> (Option<Cm>, Option<Arc<Cm>>) {
                (None, self.update(input).ok().flatten())
            }

            fn delete(&self, input: Cm) -> Option<Cm> {
                drop(Store::delete(self, &parts(&input.0)));
                Some(input)
            }

            fn replace(&self, relist: Vec<Cm>) -> Vec<Cm> {
                let _ = Store::replace(self, relist.into_iter().map(Arc::new), "2");
                Vec::new()
            }

            fn list(&self) -> Vec<Arc<Cm>> {
                Store::list(self)
            }

            fn by_namespace(&self, namespace: &str) -> Vec<Arc<Cm>> {
                self.by_index(NAMESPACE_INDEX, namespace)
                    .unwrap_or_default()
            }
        }
    };
}

store_core_contender!(Cache);
store_core_contender!(ShardedCache);

/// client-go's map: the string key is built on every call; `by_namespace` scans.
impl Contender for ClientGoStore {
    const NAME: &'static str = "client-go";
    type Object = ConfigMap;
    type Input = ConfigMap;
    type Leftover = Option<ConfigMap>;
    type Relist = Vec<ConfigMap>;

    fn filled(objects: impl Iterator<Item = ConfigMap>) -> Self {
        let store = ClientGoStore::default();
        ClientGoStore::replace(&store, objects);
        store
    }

    fn input(obj: ConfigMap) -> ConfigMap {
        obj
    }

    fn relist(objects: Vec<ConfigMap>) -> Vec<ConfigMap> {
        objects
    }

    fn get(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        ClientGoStore::get(self, namespace, name)
    }

    fn upsert(&self, input: ConfigMap) -> Option<ConfigMap> {
        drop(self.update(input));
        None
    }

    fn upsert_keep_old(&self, input: ConfigMap) -> (Option<ConfigMap>, Option<Arc<ConfigMap>>) {
        (None, self.update(input))
    }

    fn delete(&self, input: ConfigMap) -> Option<ConfigMap> {
        let namespace = input.metadata.namespace.as_deref().unwrap_or_default();
        let name = input.metadata.name.as_deref().unwrap_or_default();
        drop(ClientGoStore::delete(self, namespace, name));
        Some(input)
    }

    fn replace(&self, relist: Vec<ConfigMap>) -> Vec<ConfigMap> {
        ClientGoStore::replace(self, relist);
        Vec::new()
    }

    fn list(&self) -> Vec<Arc<ConfigMap>> {
        ClientGoStore::list(self)
    }

    fn by_namespace(&self, namespace: &str) -> Vec<Arc<ConfigMap>> {
        ClientGoStore::by_namespace(self, namespace)
    }
}

/// kube-runtime's reflector store: the reader `Store` and its `Writer`.
///
/// Reads build kube's `ObjectRef` from the strings per call
/// (`ObjectRef::new(name).within(namespace)`: two `String` allocations). Writes are
/// `apply_watcher_event` with `Apply`, `Delete`, and `Init`/`InitApply`…/`InitDone`
/// for a relist; the event is borrowed, so kube clones the object inside. The
/// `Writer` needs `&mut`: it sits in an uncontended `parking_lot::Mutex` here
/// (a lock and an unlock, ~20 ns, on each write) so that two threads can share it.
/// kube has no index: `by_namespace` filters `Store::state()`.
pub struct KubeStore {
    reader: reflector::Store<ConfigMap>,
    writer: Mutex<Writer<ConfigMap>>,
}

impl KubeStore {
    /// kube's own look-up with a key built ahead of time.
    ///
    /// ```
    /// use store_bench::{config_map, Contender, KubeStore, ObjectSpec};
    ///
    /// let store = KubeStore::filled(std::iter::once(config_map(0, &ObjectSpec::default())));
    /// let key = KubeStore::key("ns-000", "cm-0000000");
    /// assert!(store.get_prebuilt(&key).is_some());
    /// ```
    pub fn get_prebuilt(&self, key: &KubeRef<ConfigMap>) -> Option<Arc<ConfigMap>> {
        self.reader.get(key)
    }

    /// kube's key for `namespace/name`, as a request path builds it.
    pub fn key(namespace: &str, name: &str) -> KubeRef<ConfigMap> {
        KubeRef::new(name).within(namespace)
    }
}

impl Contender for KubeStore {
    const NAME: &'static str = "kube";
    type Object = ConfigMap;
    type Input = Event<ConfigMap>;
    type Leftover = Event<ConfigMap>;
    type Relist = Vec<Event<ConfigMap>>;

    fn filled(objects: impl Iterator<Item = ConfigMap>) -> Self {
        let (reader, mut writer) = reflector::store();
        writer.apply_watcher_event(&Event::Init);
        for obj in objects {
            writer.apply_watcher_event(&Event::InitApply(obj));
        }
        writer.apply_watcher_event(&Event::InitDone);
        KubeStore {
            reader,
            writer: Mutex::new(writer),
        }
    }

    fn input(obj: ConfigMap) -> Event<ConfigMap> {
        Event::Apply(obj)
    }

    fn delete_input(obj: ConfigMap) -> Event<ConfigMap> {
        Event::Delete(obj)
    }

    fn relist(objects: Vec<ConfigMap>) -> Vec<Event<ConfigMap>> {
        objects.into_iter().map(Event::InitApply).collect()
    }

    fn get(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        self.reader.get(&Self::key(namespace, name))
    }

    fn upsert(&self, input: Event<ConfigMap>) -> Event<ConfigMap> {
        self.writer.lock().apply_watcher_event(&input);
        input
    }

    fn upsert_keep_old(
        &self,
        input: Event<ConfigMap>,
    ) -> (Event<ConfigMap>, Option<Arc<ConfigMap>>) {
        (self.upsert(input), None)
    }

    fn delete(&self, input: Event<ConfigMap>) -> Event<ConfigMap> {
        self.writer.lock().apply_watcher_event(&input);
        input
    }

    fn replace(&self, relist: Vec<Event<ConfigMap>>) -> Vec<Event<ConfigMap>> {
        let mut writer = self.writer.lock();
        writer.apply_watcher_event(&Event::Init);
        for event in &relist {
            writer.apply_watcher_event(event);
        }
        writer.apply_watcher_event(&Event::InitDone);
        relist
    }

    fn list(&self) -> Vec<Arc<ConfigMap>> {
        self.reader.state()
    }

    fn by_namespace(&self, namespace: &str) -> Vec<Arc<ConfigMap>> {
        self.reader
            .state()
            .into_iter()
            .filter(|obj| obj.metadata.namespace.as_deref() == Some(namespace))
            .collect()
    }
}
