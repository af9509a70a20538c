//! The object type the store suites run on: a pod-shaped object with a namespace,
//! a name, labels (a multi-valued index) and a node (a single-valued index).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use store_core::{IndexDef, Keyed, ObjectName, NAMESPACE_INDEX};

/// Name of the single-valued index (`Pod::node`).
pub const NODE_INDEX: &str = "node";
/// Name of the multi-valued index (`Pod::labels`).
pub const LABEL_INDEX: &str = "label";

/// A pod-shaped test object. Written without the derive on purpose, so the store
/// suites also cover a hand-written `Keyed` (and its default namespace index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// Namespace (`None`: cluster-scoped).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Node, the single-valued index.
    pub node: Option<String>,
    /// Labels, the multi-valued index.
    pub labels: BTreeSet<String>,
    /// A payload that changes between versions.
    pub version: u64,
}

impl Keyed for Pod {
    type Key = ObjectName;

    fn key(&self) -> ObjectName {
        // a key never fails: built field by field (an empty namespace is cluster-scoped)
        ObjectName {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

impl Pod {
    /// A pod in `namespace` with no node and no labels.
    pub fn new(namespace: &str, name: &str) -> Self {
        Pod {
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
            node: None,
            labels: BTreeSet::new(),
            version: 0,
        }
    }

    /// The same pod on `node`.
    pub fn on(mut self, node: &str) -> Self {
        self.node = Some(node.to_owned());
        self
    }

    /// The same pod with these labels.
    pub fn labelled(mut self, labels: &[&str]) -> Self {
        self.labels = labels.iter().map(|l| (*l).to_owned()).collect();
        self
    }

    /// The same pod at another version.
    pub fn at(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Shared form, as stores take it.
    pub fn arc(self) -> Arc<Self> {
        Arc::new(self)
    }
}

/// The node index definition.
pub fn node_index() -> IndexDef<Pod> {
    IndexDef::from_values(NODE_INDEX, |pod: &Pod| pod.node.clone())
}

/// The label index definition.
pub fn label_index() -> IndexDef<Pod> {
    IndexDef::from_values(LABEL_INDEX, |pod: &Pod| pod.labels.clone())
}

/// An index that panics on pods labelled `boom`, and on pods labelled `fragile`
/// once the returned switch is on (each index has its own switch, so parallel tests
/// do not see each other's).
pub fn fragile_index(name: &'static str) -> (IndexDef<Pod>, Arc<AtomicBool>) {
    let armed = Arc::new(AtomicBool::new(false));
    let switch = Arc::clone(&armed);
    let def = IndexDef::new(name, move |pod: &Pod| {
        if pod.labels.contains("boom")
            || (pod.labels.contains("fragile") && armed.load(Ordering::SeqCst))
        {
            panic!("index function refuses {}", pod.name);
        }
        pod.labels.iter().cloned().collect()
    });
    (def, switch)
}

/// A minimal queue item: a numeric key and a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The key.
    pub key: u32,
    /// The version.
    pub version: u32,
}

impl Keyed for Item {
    type Key = u32;

    fn key(&self) -> u32 {
        self.key
    }
}

/// An item with this key and version.
pub fn item(key: u32, version: u32) -> Item {
    Item { key, version }
}

/// What an index files a pod under, computed straight from the pod.
pub type Projection = fn(&Pod) -> Vec<String>;

/// Every index the suites register (node, label, and the default namespace index),
/// each with its direct computation, to check store answers against.
pub const INDEX_PROJECTIONS: [(&str, Projection); 3] = [
    (NODE_INDEX, |p| p.node.iter().cloned().collect()),
    (LABEL_INDEX, |p| p.labels.iter().cloned().collect()),
    (NAMESPACE_INDEX, |p| p.namespace.iter().cloned().collect()),
];

/// The value → keys map an index must hold for `pods`.
pub fn expected_postings<'a>(
    project: Projection,
    pods: impl IntoIterator<Item = &'a Pod>,
) -> BTreeMap<String, BTreeSet<ObjectName>> {
    let mut expected: BTreeMap<String, BTreeSet<ObjectName>> = BTreeMap::new();
    for pod in pods {
        for value in project(pod) {
            expected.entry(value).or_default().insert(pod.key());
        }
    }
    expected
}
