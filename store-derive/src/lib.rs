//! `#[derive(Keyed)]` for `store-core`; use it through `store_core::Keyed`, which
//! re-exports it next to the trait. The reference is on [`macro@Keyed`].
//!
//! The stages, as in thiserror's derive: `attr` reads the attributes, `ast` holds
//! the typed view of the input (keeping the original syntax for spans), `valid`
//! checks it, `expand` generates the impl, and `fallback` stands in after a
//! problem. Problems are collected in a `ctxt::Ctxt` and reported all at once;
//! `generics` works out which struct parameters a type mentions.

mod ast;
mod attr;
mod crate_path;
mod ctxt;
mod expand;
mod fallback;
mod generics;
mod valid;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `store_core::Keyed` for a struct: the key type, `key()`, and the
/// `#[index]` fields as ready-made secondary indexes.
///
/// Use it as `store_core::Keyed` (the trait and the derive share the name). The
/// examples run against `store_core` (a dev-dependency of this crate), and every
/// form also has behaviour tests in the workspace's `tests/tests/derive.rs`.
///
/// # Declaring the key
///
/// Exactly one of these forms:
///
/// **One `#[key]` field.** `Key` is the field's type and `key()` clones it. Tuple
/// structs mark the field in place.
///
/// ```
/// # use store_core::Keyed;
/// #[derive(Keyed)]
/// struct Node { #[key] id: u64, hostname: String }     // Key = u64
///
/// #[derive(Keyed)]
/// struct Id(#[key] u64, String);                       // Key = u64
/// # assert_eq!(Node { id: 3, hostname: String::new() }.key(), 3);
/// # assert_eq!(Id(4, String::new()).key(), 4);
/// ```
///
/// **Several `#[key]` fields.** The derive generates a key struct `<Type>Key`
/// next to the type, with the type's visibility, documented, holding those fields
/// (same names, `pub`; positional for a tuple struct) in declaration order. It
/// derives `Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord` (so it orders by
/// the fields in declaration order) and serde's `Serialize`/`Deserialize` (through
/// `store_core`'s serde; the user crate needs no serde dependency), and its
/// `Display` joins the fields' `Display` with `/`.
///
/// ```
/// # use store_core::Keyed;
/// #[derive(Keyed)]
/// pub struct Entry { #[key] pub tenant: String, #[key] pub id: u32, pub body: String }
/// // generated: pub struct EntryKey { pub tenant: String, pub id: u32 }
/// let entry = Entry { tenant: "acme".into(), id: 7, body: String::new() };
/// assert_eq!(entry.key(), EntryKey { tenant: "acme".into(), id: 7 });
/// assert_eq!(entry.key().to_string(), "acme/7");
/// ```
///
/// When key fields use type or const parameters of the struct, the key struct
/// carries exactly those parameters (`VersionedKey<V>`), with the struct's bounds
/// that name nothing else; its serde impls require each generic field type to be
/// (de)serializable.
///
/// **`#[keyed(namespace = "...", name = "...")]` on the type.** `Key` is
/// `store_core::ObjectName`. Each value is a dot-separated path through nested
/// fields (`"metadata.name"`; a tuple field is its index, `"0.name"`). The fields
/// may be any string-like type, an integer, or an `Option` of those: a missing or
/// empty namespace makes a cluster-scoped key (as in client-go), a missing name is
/// the empty name. `name` alone declares a cluster-scoped type.
///
/// ```
/// # use std::collections::BTreeMap;
/// # use store_core::{Keyed, ObjectName};
/// # struct ObjectMeta { namespace: Option<String>, name: Option<String> }
/// #[derive(Keyed)]
/// #[keyed(namespace = "metadata.namespace", name = "metadata.name")]
/// struct ConfigMap { metadata: ObjectMeta, data: BTreeMap<String, String> }
///
/// #[derive(Keyed)]
/// #[keyed(name = "metadata.name")]
/// struct ClusterRole { metadata: ObjectMeta }
/// # let meta = |ns: Option<&str>| ObjectMeta { namespace: ns.map(Into::into), name: Some("x".into()) };
/// # let cm = ConfigMap { metadata: meta(Some("ns")), data: BTreeMap::new() };
/// # assert_eq!(cm.key(), ObjectName::namespaced("ns", "x").unwrap());
/// # assert_eq!(ClusterRole { metadata: meta(Some("ignored")) }.key(), ObjectName::cluster("x").unwrap());
/// ```
///
/// The derive checks the first field of a path against the struct; rustc checks
/// the deeper ones, and its errors point at the path string.
///
/// **`#[keyed(key = "a.b.c")]`.** A one-field path (`key = "id"`) works like
/// `#[key]` on that field: `Key` is the field's type. A nested path reads a field
/// the derive cannot see the type of, so `Key` is `String`, the field's text:
/// a string-like field as is, an integer in decimal, an `Option` of those empty
/// when `None`. For any other nested key, use `with`.
///
/// **`#[keyed(with = "path::to::fn", key = Type)]`.** `Key` is `Type` and `key()`
/// is `path::to::fn(self)`; the function takes `&Self` and returns `Type`. `key` is
/// written as a type here, not as a string.
///
/// # Resource version: `#[keyed(resource_version = "...")]`
///
/// Names the field holding the object's resource version (a `String`, an
/// `Option<String>` or a `store_core::ResourceVersion`, possibly nested:
/// `"metadata.resource_version"`); the derive then implements
/// `Keyed::resource_version`, so an informer can tell an unchanged relisted object
/// from a changed one (only handlers whose resync is due hear about unchanged ones).
/// Combines with every key form. Without it, `resource_version()` is `None` and an
/// informer falls back to comparing the stored and the listed `Arc`s.
///
/// ```
/// use store_core::Keyed;
///
/// #[derive(Keyed)]
/// #[keyed(name = "metadata.name", resource_version = "metadata.resource_version")]
/// struct Node { metadata: Meta }
/// struct Meta { name: String, resource_version: Option<String> }
///
/// let node = Node { metadata: Meta { name: "n1".into(), resource_version: Some("42".into()) } };
/// assert_eq!(node.resource_version(), Some("42"));
/// ```
///
/// # Another path to store-core: `#[keyed(crate = "...")]`
///
/// The generated code names `::store_core`. A crate that reaches store-core through a
/// re-export (every crate above it re-exports it: `reflector::store_core`) and has no
/// `store_core` dependency of its own says where to find it, as serde's
/// `#[serde(crate = "...")]` does:
///
/// ```
/// // stands for `reflector`, which re-exports store-core as `reflector::store_core`
/// mod reexporting { pub use store_core as core; }
/// use reexporting::core::{Keyed, ObjectName};
///
/// #[derive(Keyed)]
/// #[keyed(crate = "reexporting::core", namespace = "namespace", name = "name")]
/// struct Pod { namespace: String, name: String }
///
/// let pod = Pod { namespace: "web".into(), name: "a".into() };
/// assert_eq!(pod.key(), ObjectName::namespaced("web", "a").unwrap());
/// ```
///
/// # Indexes: `#[index]`
///
/// `#[index]` on a field declares a secondary index named after the field (`r#`
/// dropped), whose values are the field's `store_core::IndexValues` (a string: one
/// value; an `Option`: none or one; a list or set: one per element; a map:
/// `key=value` per entry). Options, both allowed together:
///
/// - `name = "..."` names the index (required on a tuple field);
/// - `with = "path::to::fn"`: the values are `path::to::fn(&self.field)`'s
///   `IndexValues`. The function receives the **field**, not the whole object.
///
/// A field may carry several `#[index]` attributes (with distinct names).
///
/// ```
/// # use std::collections::BTreeMap;
/// # use store_core::{Cache, Indexer, Keyed, Store};
/// # struct ObjectMeta { namespace: Option<String>, name: String }
/// # fn domain(email: &String) -> Option<String> { email.split('@').nth(1).map(Into::into) }
/// #[derive(Keyed)]
/// #[keyed(namespace = "metadata.namespace", name = "metadata.name")]
/// struct Pod {
///     metadata: ObjectMeta,
///     #[index] node: Option<String>,                          // "node"
///     #[index(name = "label")] labels: BTreeMap<String, String>, // "label": app=web, ...
///     #[index(with = "domain")] email: String,                // domain(&self.email)
/// }
/// # let pods = Cache::<Pod>::new();
/// # pods.add(Pod {
/// #     metadata: ObjectMeta { namespace: Some("ns".into()), name: "p".into() },
/// #     node: Some("n1".into()),
/// #     labels: BTreeMap::from([("app".into(), "web".into())]),
/// #     email: "ops@example.com".into(),
/// # }).unwrap();
/// # assert_eq!(pods.index_names(), ["email", "label", "namespace", "node"]);
/// # assert_eq!(pods.by_index("label", "app=web").unwrap().len(), 1);
/// # assert_eq!(pods.by_index("email", "example.com").unwrap().len(), 1);
/// ```
///
/// When the type has `#[index]` fields or an `ObjectName` key from
/// `namespace`/`name`, the derive overrides `Keyed::indexes()`: first the
/// namespace index (`store_core::NAMESPACE_INDEX`) for an `ObjectName` key, read
/// straight from the namespace field (a cluster-scoped type has it too and files
/// nothing under it, so that every `ObjectName`-keyed type can be queried by
/// namespace), then the `#[index]` fields in declaration order. With `#[key]`,
/// a one-field `key` path, or `with`, the derive cannot see whether the key type
/// is `ObjectName`: the override checks it at run time and keeps the namespace
/// index then, unless an `#[index]` takes the name `namespace`. Otherwise the
/// trait's default is left in place.
///
/// # Generics
///
/// Type parameters, lifetimes, const parameters and where-clauses are carried
/// onto the impl. When the key type mentions a type or const parameter, the impl
/// requires it to meet `Keyed::Key`'s bounds (`Clone + Eq + Hash + Ord + Debug +
/// Display + Send + Sync + 'static`); an `#[index]` field (without `with`) whose
/// type mentions one requires `IndexValues`; a one-field `namespace`/`name` path to
/// a generic field requires the derive's string conversion. A key may not borrow
/// from a lifetime parameter of the struct (`Key: 'static`): key on an owned
/// field instead.
///
/// # Errors
///
/// Enums and unions are rejected. So are: no key declared, `#[key]` together with
/// key options on the type, `namespace` without `name`, `namespace`/`name`
/// together with `key` or `with`, `with` without `key = Type`, `key = Type`
/// without `with`, unknown and duplicate options, values that are not string
/// literals where one is needed, empty or malformed paths, paths whose first field
/// does not exist, `#[key]` with arguments, unnamed indexes on tuple fields and
/// duplicate index names. Every problem of one input is reported at once, spanned
/// at the offending tokens; the derive then emits a stub impl (`Key = String`) so
/// that no follow-up "`Keyed` is not implemented" errors bury the real ones.
///
/// # Generated code
///
/// The impl (and the key struct's `Display`) sit in `const _: () = { ... };`,
/// marked `#[automatically_derived]`, with fully qualified paths; only the key
/// struct is a visible item.
#[proc_macro_derive(Keyed, attributes(key, keyed, index))]
pub fn derive_keyed(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
