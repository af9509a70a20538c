//! Semantic checks on the typed view: what the attributes say must make one key
//! and a set of distinct indexes. Every problem is reported (not just the first),
//! each once, spanned at the tokens that cause it.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span};
use quote::ToTokens;
use syn::Member;

use crate::ast::{Body, Input};
use crate::attr::{KeyValue, Opt};
use crate::ctxt::Ctxt;
use crate::generics::ParamNames;

/// The name of the namespace index, `store_core::NAMESPACE_INDEX`.
pub(crate) const NAMESPACE_INDEX: &str = "namespace";

/// Reports every problem of `input` to `cx`.
pub(crate) fn check(input: &Input, cx: &Ctxt) {
    match input.body {
        Body::Enum(keyword) => return not_a_struct(keyword, "an enum", cx),
        Body::Union(keyword) => return not_a_struct(keyword, "a union", cx),
        Body::Struct(..) => {}
    }
    check_key_declaration(input, cx);
    check_field_paths(input, cx);
    check_key_types_own_their_data(input, cx);
    check_indexes(input, cx);
}

fn not_a_struct(keyword: Span, what: &str, cx: &Ctxt) {
    cx.error_at(
        keyword,
        format_args!(
            "`#[derive(Keyed)]` supports structs only, not {what}: implement `Keyed` by hand"
        ),
    );
}

/// Exactly one way of declaring the key, complete.
fn check_key_declaration(input: &Input, cx: &Ctxt) {
    let attrs = &input.attrs;
    let key_fields = input.key_fields();
    let options: Vec<&Ident> = [
        attrs.namespace.as_ref().map(|opt| &opt.ident),
        attrs.name.as_ref().map(|opt| &opt.ident),
        attrs.key.as_ref().map(|opt| &opt.ident),
        attrs.with.as_ref().map(|opt| &opt.ident),
    ]
    .into_iter()
    .flatten()
    .collect();

    if let (Some(field), Some(option)) = (key_fields.first(), options.first()) {
        if let Some(attr) = field.attrs.key {
            cx.error_spanned_by(
                attr,
                format_args!(
                    "`#[key]` cannot be combined with `#[keyed({option} = ...)]`: declare the key one way"
                ),
            );
        }
    }

    let object_name = attrs.name.is_some() || attrs.namespace.is_some();
    // After a problem in the type's attributes (a misspelt `nmae`, say), a missing
    // option may be the misspelt one: reporting it too would repeat the problem.
    let complete = !attrs.unreadable;
    if let (Some(namespace), None, true) = (&attrs.namespace, &attrs.name, complete) {
        cx.error_at(
            namespace.ident.span(),
            "`namespace` needs `name`: add `name = \"metadata.name\"`",
        );
    }
    if object_name {
        let given = if attrs.name.is_some() {
            "name"
        } else {
            "namespace"
        };
        let conflicting = [
            attrs.with.as_ref().map(|opt| &opt.ident),
            attrs.key.as_ref().map(|opt| &opt.ident),
        ];
        for option in conflicting.into_iter().flatten() {
            cx.error_at(
                option.span(),
                format_args!(
                    "`{option}` cannot be combined with `{given}`: `namespace` and `name` already give an `ObjectName` key"
                ),
            );
        }
        return;
    }

    match (&attrs.with, &attrs.key) {
        (Some(with), None) if complete => cx.error_at(
            with.ident.span(),
            "`with` needs the key type: add `key = Type`",
        ),
        (Some(_), Some(Opt { value: Some(KeyValue::Path(path)), .. })) => cx.error_spanned_by(
            &path.lit,
            "with `with`, `key` is the key type, not a field path: write `key = Type` without quotes",
        ),
        (None, Some(Opt { value: Some(KeyValue::Type(ty)), .. })) => cx.error_spanned_by(
            ty,
            "`key = Type` needs `with = \"path::to::fn\"` to compute the key; to read the key from a field, write `key = \"field.path\"`",
        ),
        _ => {}
    }

    if key_fields.is_empty() && options.is_empty() && complete {
        let ident = &input.node.ident;
        cx.error_at(
            ident.span(),
            format_args!(
                "no key declared for `{ident}`: mark a field `#[key]`, or add \
                 `#[keyed(namespace = \"metadata.namespace\", name = \"metadata.name\")]`, \
                 `#[keyed(key = \"field.path\")]` or `#[keyed(with = \"path::to::fn\", key = Type)]`"
            ),
        );
    }
}

/// The first field of every path names a field of the struct. Deeper fields are
/// rustc's to check: the generated access is spanned at the literal.
fn check_field_paths(input: &Input, cx: &Ctxt) {
    let attrs = &input.attrs;
    let key_path = match &attrs.key {
        Some(Opt {
            value: Some(KeyValue::Path(path)),
            ..
        }) => Some(path),
        _ => None,
    };
    let paths = [&attrs.namespace, &attrs.name, &attrs.resource_version]
        .into_iter()
        .filter_map(|opt| opt.as_ref()?.value.as_ref())
        .chain(key_path);
    for path in paths {
        if input.field(path.first()).is_none() {
            cx.error_spanned_by(
                &path.lit,
                format_args!(
                    "`{}` names no field of `{}`",
                    member_text(path.first()),
                    input.node.ident
                ),
            );
        }
    }
}

/// `Keyed::Key: 'static`: a key type that borrows from a lifetime parameter of the
/// struct can never be one.
fn check_key_types_own_their_data(input: &Input, cx: &Ctxt) {
    let names = ParamNames::of(&input.node.generics);
    let mut key_types: Vec<&dyn ToTokens> = Vec::new();
    for field in input.key_fields() {
        key_types.push(field.ty());
    }
    match &input.attrs.key {
        Some(Opt {
            value: Some(KeyValue::Path(path)),
            ..
        }) if path.is_direct() => {
            if let Some(field) = input.field(path.first()) {
                key_types.push(field.ty());
            }
        }
        Some(Opt {
            value: Some(KeyValue::Type(ty)),
            ..
        }) => key_types.push(ty),
        _ => {}
    }
    for ty in key_types {
        if let Some(lifetime) = names.borrowed_lifetime(ty) {
            cx.error_spanned_by(
                ty,
                format_args!(
                    "a key must own its data (`Keyed::Key: 'static`) but this type borrows for `{lifetime}`: \
                     key on an owned field, or use `#[keyed(with = \"path::to::fn\", key = OwnedType)]`"
                ),
            );
        }
    }
}

/// Index names are given (tuple fields have no name to default to) and distinct,
/// the namespace index of an `ObjectName` key included.
fn check_indexes(input: &Input, cx: &Ctxt) {
    let object_name_key = input.key_fields().is_empty() && input.attrs.name.is_some();
    let mut taken = BTreeSet::new();
    for field in input.fields() {
        for index in &field.attrs.indexes {
            let (name, tokens) = match &index.name {
                Some(Opt {
                    value: Some(lit), ..
                }) => (lit.value(), lit.to_token_stream()),
                // Written but unreadable: already reported.
                Some(Opt { value: None, .. }) => continue,
                None => match field.index_name() {
                    Some(name) => (name, index.attr.to_token_stream()),
                    None => {
                        cx.error_spanned_by(
                            index.attr,
                            "`#[index]` on a tuple field needs a name: `#[index(name = \"...\")]`",
                        );
                        continue;
                    }
                },
            };
            if object_name_key && name == NAMESPACE_INDEX {
                cx.error_spanned_by(
                    tokens,
                    "index name `namespace` is taken by the namespace index of this `ObjectName` key; choose another name",
                );
            } else if !taken.insert(name.clone()) {
                cx.error_spanned_by(tokens, format_args!("duplicate index name `{name}`"));
            }
        }
    }
}

/// A path segment as the user wrote it.
pub(crate) fn member_text(member: &Member) -> String {
    match member {
        Member::Named(ident) => ident.to_string(),
        Member::Unnamed(index) => index.index.to_string(),
    }
}
