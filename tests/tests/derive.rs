//! Behaviour of `#[derive(Keyed)]`: every accepted form, observed through the
//! `Keyed` trait (the key, its type, its string form, and the indexes).
//!
//! The workspace denies `missing_docs`, which also covers this test crate: the
//! public types below (and the `<Type>Key` structs the derive generates for them)
//! must be documented, so compiling this file checks the generated docs too.

use std::collections::{BTreeMap, BTreeSet};

use store_core::{Keyed, ObjectName, NAMESPACE_INDEX};

/// Every index of `T` by name, with the values `obj` is filed under.
fn index_values<T: Keyed + 'static>(obj: &T) -> Vec<(String, Vec<String>)> {
    T::indexes()
        .iter()
        .map(|def| (def.name().to_owned(), def.values(obj)))
        .collect()
}

fn index_names<T: Keyed + 'static>() -> Vec<String> {
    T::indexes()
        .iter()
        .map(|def| def.name().to_owned())
        .collect()
}

fn pairs(entries: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    entries
        .iter()
        .map(|(name, values)| {
            (
                (*name).to_owned(),
                values.iter().map(|value| (*value).to_owned()).collect(),
            )
        })
        .collect()
}

/// The key's string form, through nothing but the trait.
fn key_string<T: Keyed>(obj: &T) -> String {
    obj.key().to_string()
}

// --- one `#[key]` field -------------------------------------------------------

#[derive(Keyed)]
struct Node {
    #[key]
    id: u64,
    #[allow(dead_code)]
    hostname: String,
}

#[test]
fn one_key_field_is_the_key_with_its_own_type() {
    let node = Node {
        id: 7,
        hostname: "worker-1".into(),
    };
    let key: u64 = node.key();
    assert_eq!(key, 7);
    assert_eq!(key_string(&node), "7");
}

#[test]
fn a_non_object_name_key_without_index_fields_has_no_indexes() {
    assert!(Node::indexes().is_empty());
}

#[derive(Keyed)]
struct Id(#[key] u64, #[allow(dead_code)] String);

#[test]
fn tuple_struct_key_field_is_read_by_position() {
    let key: u64 = Id(42, "answer".into()).key();
    assert_eq!(key, 42);
}

#[derive(Keyed)]
struct Pod {
    #[key]
    name: ObjectName,
}

#[test]
fn object_name_key_field_keeps_the_namespace_index() {
    let pod = Pod {
        name: ObjectName::namespaced("default", "web-0").unwrap(),
    };
    assert_eq!(
        pod.key(),
        ObjectName::namespaced("default", "web-0").unwrap()
    );
    assert_eq!(
        index_values(&pod),
        pairs(&[(NAMESPACE_INDEX, &["default"])])
    );
}

#[derive(Keyed)]
struct ScheduledPod {
    #[key]
    name: ObjectName,
    #[index]
    node: String,
}

#[test]
fn index_fields_next_to_an_object_name_key_field_keep_the_namespace_index() {
    let pod = ScheduledPod {
        name: ObjectName::namespaced("default", "web-0").unwrap(),
        node: "worker-1".into(),
    };
    assert_eq!(
        index_values(&pod),
        pairs(&[(NAMESPACE_INDEX, &["default"]), ("node", &["worker-1"])])
    );
}

// --- several `#[key]` fields: the generated key struct --------------------------

/// A tenant's entry; its key is the tenant and the id.
#[derive(Keyed)]
pub struct Entry {
    /// The tenant.
    #[key]
    pub tenant: String,
    /// Not part of the key.
    pub payload: String,
    /// The id within the tenant.
    #[key]
    pub id: u32,
}

fn entry(tenant: &str, id: u32) -> Entry {
    Entry {
        tenant: tenant.into(),
        payload: String::new(),
        id,
    }
}

#[test]
fn several_key_fields_make_a_key_struct_in_declaration_order() {
    let key: EntryKey = entry("acme", 7).key();
    assert_eq!(
        key,
        EntryKey {
            tenant: "acme".into(),
            id: 7
        }
    );
    assert_eq!(format!("{key:?}"), r#"EntryKey { tenant: "acme", id: 7 }"#);
}

#[test]
fn key_struct_display_joins_fields_with_slash() {
    assert_eq!(key_string(&entry("acme", 7)), "acme/7");
}

#[test]
fn key_struct_orders_by_fields_in_declaration_order() {
    let keys: BTreeSet<EntryKey> = [entry("b", 1), entry("a", 2), entry("a", 1)]
        .iter()
        .map(Keyed::key)
        .collect();
    let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["a/1", "a/2", "b/1"]);
}

#[test]
fn key_struct_round_trips_through_serde() {
    let key = entry("acme", 7).key();
    let json = serde_json::to_string(&key).unwrap();
    assert_eq!(json, r#"{"tenant":"acme","id":7}"#);
    assert_eq!(serde_json::from_str::<EntryKey>(&json).unwrap(), key);
}

/// A cell of a grid, keyed by row and column.
#[derive(Keyed)]
pub struct Cell(#[key] pub u8, pub String, #[key] pub u8);

#[test]
fn tuple_struct_key_struct_has_positional_fields() {
    let key: CellKey = Cell(1, "x".into(), 2).key();
    assert_eq!(key, CellKey(1, 2));
    assert_eq!(key.to_string(), "1/2");
    assert_eq!(serde_json::to_string(&key).unwrap(), "[1,2]");
}

/// A versioned record: the version type is generic.
#[derive(Keyed)]
pub struct Versioned<V, D>
where
    D: Default,
{
    /// The record id.
    #[key]
    pub id: String,
    /// The version.
    #[key]
    pub version: V,
    /// Not part of the key (and so not a parameter of the key struct).
    pub data: D,
}

#[test]
fn generic_key_struct_carries_the_parameters_its_fields_use() {
    let record = Versioned {
        id: "a".into(),
        version: 3u32,
        data: vec![1u8],
    };
    let key: VersionedKey<u32> = record.key();
    assert_eq!(key.to_string(), "a/3");
    let json = serde_json::to_string(&key).unwrap();
    assert_eq!(
        serde_json::from_str::<VersionedKey<u32>>(&json).unwrap(),
        key
    );
}

// --- `namespace` and `name`: an `ObjectName` key -------------------------------

#[derive(Keyed)]
#[keyed(namespace = "metadata.namespace", name = "metadata.name")]
struct ConfigMap {
    metadata: ObjectMeta,
    #[allow(dead_code)]
    data: BTreeMap<String, String>,
}

struct ObjectMeta {
    namespace: Option<String>,
    name: String,
}

fn config_map(namespace: Option<&str>, name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            namespace: namespace.map(Into::into),
            name: name.into(),
        },
        data: BTreeMap::new(),
    }
}

#[test]
fn namespace_and_name_paths_make_an_object_name_key() {
    let key: ObjectName = config_map(Some("default"), "app").key();
    assert_eq!(key, ObjectName::namespaced("default", "app").unwrap());
    assert_eq!(key.to_string(), "default/app");
}

#[test]
fn missing_or_empty_namespace_makes_a_cluster_scoped_key() {
    assert_eq!(
        config_map(None, "app").key(),
        ObjectName::cluster("app").unwrap()
    );
    assert_eq!(
        config_map(Some(""), "app").key(),
        ObjectName::cluster("app").unwrap()
    );
}

#[test]
fn object_name_key_has_a_namespace_index_read_from_the_namespace_field() {
    assert_eq!(index_names::<ConfigMap>(), [NAMESPACE_INDEX]);
    assert_eq!(
        index_values(&config_map(Some("default"), "app")),
        pairs(&[(NAMESPACE_INDEX, &["default"])])
    );
    assert_eq!(
        index_values(&config_map(None, "app")),
        pairs(&[(NAMESPACE_INDEX, &[])])
    );
}

/// k8s-openapi's `ObjectMeta`: both parts optional.
#[derive(Default)]
struct OpenApiMeta {
    name: Option<String>,
    namespace: Option<String>,
}

#[derive(Keyed)]
#[keyed(namespace = "metadata.namespace", name = "metadata.name")]
struct Secret {
    metadata: OpenApiMeta,
}

#[test]
fn optional_name_field_gives_an_empty_name_when_missing() {
    let named = Secret {
        metadata: OpenApiMeta {
            name: Some("token".into()),
            namespace: Some("kube-system".into()),
        },
    };
    assert_eq!(
        named.key(),
        ObjectName::namespaced("kube-system", "token").unwrap()
    );
    let unnamed = Secret {
        metadata: OpenApiMeta::default(),
    };
    assert_eq!(
        unnamed.key(),
        ObjectName {
            namespace: None,
            name: String::new()
        }
    );
}

#[derive(Keyed)]
#[keyed(name = "metadata.name")]
struct ClusterRole {
    metadata: OpenApiMeta,
}

#[test]
fn name_alone_makes_a_cluster_scoped_key() {
    let role = ClusterRole {
        metadata: OpenApiMeta {
            name: Some("admin".into()),
            // Ignored: the type is cluster-scoped.
            namespace: Some("default".into()),
        },
    };
    assert_eq!(role.key(), ObjectName::cluster("admin").unwrap());
}

#[test]
fn cluster_scoped_type_has_a_namespace_index_that_files_nothing() {
    let role = ClusterRole {
        metadata: OpenApiMeta {
            name: Some("admin".into()),
            namespace: None,
        },
    };
    assert_eq!(index_values(&role), pairs(&[(NAMESPACE_INDEX, &[])]));
}

#[derive(Keyed)]
#[keyed(namespace = "0.namespace", name = "0.name")]
struct Wrapped(ObjectMeta);

#[test]
fn paths_may_start_with_a_tuple_index() {
    let wrapped = Wrapped(ObjectMeta {
        namespace: Some("ns".into()),
        name: "n".into(),
    });
    assert_eq!(wrapped.key(), ObjectName::namespaced("ns", "n").unwrap());
}

#[derive(Keyed)]
#[keyed(namespace = "tenant", name = "name")]
struct Flat {
    tenant: &'static str,
    name: String,
    #[index(name = "tier")]
    level: u8,
}

#[test]
fn direct_fields_of_any_string_like_type_make_an_object_name() {
    let flat = Flat {
        tenant: "acme",
        name: "db".into(),
        level: 2,
    };
    assert_eq!(flat.key(), ObjectName::namespaced("acme", "db").unwrap());
    assert_eq!(
        index_values(&flat),
        pairs(&[(NAMESPACE_INDEX, &["acme"]), ("tier", &["2"])])
    );
}

mod api {
    pub struct Meta {
        pub(crate) namespace: Option<String>,
        pub(crate) name: String,
    }

    pub fn meta(namespace: &str, name: &str) -> Meta {
        Meta {
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }
}

#[derive(Keyed)]
#[keyed(namespace = "meta.namespace", name = "meta.name")]
struct Ingress {
    meta: api::Meta,
}

#[test]
fn paths_reach_crate_visible_fields_of_types_in_other_modules() {
    let ingress = Ingress {
        meta: api::meta("web", "front"),
    };
    assert_eq!(
        ingress.key(),
        ObjectName::namespaced("web", "front").unwrap()
    );
}

// --- `key = "path"` -------------------------------------------------------------

struct Spec {
    id: u64,
    owner: Option<String>,
}

#[derive(Keyed)]
#[keyed(key = "spec.id")]
struct Job {
    spec: Spec,
}

#[test]
fn nested_key_path_gives_a_string_key() {
    let key: String = Job {
        spec: Spec { id: 9, owner: None },
    }
    .key();
    assert_eq!(key, "9");
}

#[derive(Keyed)]
#[keyed(key = "spec.owner")]
struct Claim {
    spec: Spec,
}

#[test]
fn nested_optional_key_path_gives_an_empty_string_when_missing() {
    let claim = |owner: Option<&str>| Claim {
        spec: Spec {
            id: 0,
            owner: owner.map(Into::into),
        },
    };
    assert_eq!(claim(Some("alice")).key(), "alice");
    assert_eq!(claim(None).key(), "");
}

#[derive(Keyed)]
#[keyed(key = "serial")]
struct Disk {
    serial: u128,
}

#[test]
fn one_segment_key_path_keeps_the_field_type() {
    let key: u128 = Disk { serial: 5 }.key();
    assert_eq!(key, 5);
}

macro_rules! keyed_by {
    ($ty:ident, $path:literal, $key:ty) => {
        #[derive(Keyed)]
        #[keyed(key = $path)]
        struct $ty {
            id: $key,
        }
    };
}

keyed_by!(FromMacro, "id", u32);

#[test]
fn attributes_written_by_a_macro_rules_macro_work() {
    let key: u32 = FromMacro { id: 8 }.key();
    assert_eq!(key, 8);
}

// --- `with` and `key = Type` ------------------------------------------------------

mod keys {
    pub fn lowercase_email(user: &super::User) -> String {
        user.email.to_lowercase()
    }
}

#[derive(Keyed)]
#[keyed(with = "keys::lowercase_email", key = String)]
struct User {
    email: String,
}

#[test]
fn with_function_computes_the_key() {
    let user = User {
        email: "Alice@Example.com".into(),
    };
    assert_eq!(user.key(), "alice@example.com");
}

fn service_name(svc: &Service) -> ObjectName {
    ObjectName::namespaced(svc.0, svc.1).unwrap()
}

#[derive(Keyed)]
#[keyed(with = "service_name", key = ObjectName)]
struct Service(&'static str, &'static str, #[index(name = "port")] u16);

#[test]
fn with_function_giving_an_object_name_keeps_the_namespace_index() {
    let svc = Service("default", "api", 443);
    assert_eq!(svc.key(), ObjectName::namespaced("default", "api").unwrap());
    assert_eq!(
        index_values(&svc),
        pairs(&[(NAMESPACE_INDEX, &["default"]), ("port", &["443"])])
    );
}

// --- generics ---------------------------------------------------------------------

#[derive(Keyed)]
struct Tagged<T, const N: usize>
where
    T: Clone,
{
    #[key]
    id: T,
    #[index]
    tags: Vec<T>,
    #[allow(dead_code)]
    buffer: [u8; N],
}

#[test]
fn generic_struct_is_keyed_for_every_key_like_parameter() {
    let tagged = Tagged {
        id: 1u32,
        tags: vec![2, 3],
        buffer: [0; 4],
    };
    let key: u32 = tagged.key();
    assert_eq!(key, 1);
    assert_eq!(index_values(&tagged), pairs(&[("tags", &["2", "3"])]));
    assert_eq!(Tagged::<String, 0>::indexes().len(), 1);
}

#[derive(Keyed)]
#[keyed(name = "name")]
struct Named<N> {
    name: N,
}

#[test]
fn generic_name_field_works_for_any_key_string() {
    assert_eq!(Named { name: "a" }.key(), ObjectName::cluster("a").unwrap());
    assert_eq!(
        Named {
            name: Some(String::from("b"))
        }
        .key(),
        ObjectName::cluster("b").unwrap()
    );
}

#[derive(Keyed)]
struct Borrowed<'a> {
    #[key]
    id: u64,
    #[index]
    text: &'a str,
}

#[test]
fn struct_with_a_lifetime_is_keyed_by_an_owned_field() {
    let text = String::from("hello");
    let borrowed = Borrowed { id: 3, text: &text };
    assert_eq!(borrowed.key(), 3);
    let forever = Borrowed {
        id: 4,
        text: "static",
    };
    assert_eq!(index_values(&forever), pairs(&[("text", &["static"])]));
}

// --- `#[index]` ----------------------------------------------------------------------

fn domain(email: &str) -> Option<&str> {
    email.split_once('@').map(|(_, domain)| domain)
}

mod index_fns {
    pub fn first_two(values: &[String]) -> Vec<String> {
        values.iter().take(2).cloned().collect()
    }
}

#[derive(Keyed)]
#[keyed(namespace = "namespace", name = "name")]
struct Deployment {
    namespace: String,
    name: String,
    #[index]
    owner: String,
    #[index]
    node: Option<String>,
    #[index(name = "label")]
    labels: BTreeMap<String, String>,
    #[index]
    #[index(name = "first_finalizers", with = "index_fns::first_two")]
    finalizers: Vec<String>,
    #[index(with = "domain")]
    email: String,
    #[index]
    r#type: u8,
}

fn deployment() -> Deployment {
    Deployment {
        namespace: "prod".into(),
        name: "web".into(),
        owner: "team-a".into(),
        node: None,
        labels: BTreeMap::from([
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "front".to_string()),
        ]),
        finalizers: vec!["a".into(), "b".into(), "c".into()],
        email: "ops@example.com".into(),
        r#type: 1,
    }
}

#[test]
fn index_fields_give_indexes_in_declaration_order_after_the_namespace_index() {
    assert_eq!(
        index_names::<Deployment>(),
        [
            NAMESPACE_INDEX,
            "owner",
            "node",
            "label",
            "finalizers",
            "first_finalizers",
            "email",
            "type"
        ]
    );
}

#[test]
fn index_values_follow_the_field_type() {
    let values: BTreeMap<String, Vec<String>> = index_values(&deployment()).into_iter().collect();
    let get = |name: &str| values[name].clone();
    assert_eq!(get(NAMESPACE_INDEX), ["prod"]);
    assert_eq!(get("owner"), ["team-a"]);
    assert!(get("node").is_empty(), "a missing option files nothing");
    assert_eq!(get("label"), ["app=web", "tier=front"]);
    assert_eq!(get("finalizers"), ["a", "b", "c"]);
    assert_eq!(get("type"), ["1"]);
}

#[test]
fn index_with_function_receives_the_field() {
    let values: BTreeMap<String, Vec<String>> = index_values(&deployment()).into_iter().collect();
    assert_eq!(values["first_finalizers"], ["a", "b"]);
    assert_eq!(values["email"], ["example.com"]);
}

#[derive(Keyed)]
struct Lease(#[key] String, #[index(name = "holder")] Option<String>);

#[test]
fn tuple_field_index_uses_its_given_name() {
    let lease = Lease("l".into(), Some("node-1".into()));
    assert_eq!(index_values(&lease), pairs(&[("holder", &["node-1"])]));
}

// --- `#[keyed(resource_version = "...")]` ---

#[derive(Keyed)]
#[keyed(
    namespace = "meta.namespace",
    name = "meta.name",
    resource_version = "meta.resource_version"
)]
struct WithVersion {
    meta: WithVersionMeta,
}

struct WithVersionMeta {
    namespace: String,
    name: String,
    resource_version: Option<String>,
}

#[derive(Keyed)]
#[keyed(resource_version = "rv")]
struct Counted<R> {
    #[key]
    id: u32,
    rv: R,
}

#[test]
fn resource_version_attribute_reads_the_named_field() {
    let mut obj = WithVersion {
        meta: WithVersionMeta {
            namespace: "ns".into(),
            name: "a".into(),
            resource_version: Some("17".into()),
        },
    };
    assert_eq!(obj.resource_version(), Some("17"));
    obj.meta.resource_version = None;
    assert_eq!(obj.resource_version(), None);
    assert_eq!(key_string(&obj), "ns/a");

    let plain = Counted {
        id: 1,
        rv: String::from("3"),
    };
    assert_eq!(plain.resource_version(), Some("3"));
    let typed = Counted {
        id: 2,
        rv: store_core::ResourceVersion::from("9"),
    };
    assert_eq!(typed.resource_version(), Some("9"));
}

#[test]
fn without_the_attribute_a_derived_type_has_no_resource_version() {
    #[derive(Keyed)]
    struct Plain {
        #[key]
        id: u32,
    }
    assert_eq!(Plain { id: 1 }.resource_version(), None);
}

/// `#[keyed(crate = "...")]`: a crate that reaches store-core only through
/// `reflector::store_core` derives with that path — including the generated key
/// struct, whose serde derive names store-core's serde in a string.
mod through_a_reexport {
    use reflector::store_core::{Keyed, ObjectName, NAMESPACE_INDEX};

    #[derive(Keyed)]
    #[keyed(crate = "reflector::store_core", namespace = "ns", name = "name")]
    struct Pod {
        ns: String,
        name: String,
        #[index]
        node: String,
    }

    #[derive(Keyed)]
    #[keyed(crate = "::reflector::store_core")]
    struct Pair {
        #[key]
        shard: u16,
        #[key]
        slot: String,
    }

    #[test]
    fn a_reexported_store_core_derives_keys_indexes_and_key_structs() {
        let pod = Pod {
            ns: "web".into(),
            name: "a".into(),
            node: "n1".into(),
        };
        assert_eq!(pod.key(), ObjectName::namespaced("web", "a").unwrap());
        let indexes = Pod::indexes();
        let names: Vec<&str> = indexes.iter().map(|def| def.name()).collect();
        assert_eq!(names, [NAMESPACE_INDEX, "node"]);

        let pair = Pair {
            shard: 3,
            slot: "x".into(),
        };
        assert_eq!(pair.key().to_string(), "3/x");
        let json = serde_json::to_string(&pair.key()).unwrap();
        let back: PairKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pair.key());
    }
}
