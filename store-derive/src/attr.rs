//! Attribute parsing: `#[keyed(...)]` on the type, `#[key]` and `#[index(...)]` on
//! fields.
//!
//! Parsing never stops at the first problem: each option is parsed on its own, a
//! bad one is reported (spanned at its tokens) and skipped, and parsing goes on with
//! the next one. An option that was written but could not be read is still recorded
//! (with no value), so that later checks do not report follow-up problems such as
//! "no key declared" for a misspelt value.

use proc_macro2::{Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, LitStr, Member, Meta, Type};

use crate::ctxt::Ctxt;

/// The options of the `#[keyed(...)]` attributes of the type, merged.
#[derive(Default)]
pub(crate) struct TypeAttrs {
    /// `namespace = "path"`.
    pub(crate) namespace: Option<Opt<FieldPath>>,
    /// `name = "path"`.
    pub(crate) name: Option<Opt<FieldPath>>,
    /// `key = "path"` or `key = Type`.
    pub(crate) key: Option<Opt<KeyValue>>,
    /// `with = "path::to::fn"`.
    pub(crate) with: Option<Opt<syn::Path>>,
    /// `resource_version = "path"`.
    pub(crate) resource_version: Option<Opt<FieldPath>>,
    /// `crate = "path::to::store_core"`: where the generated code finds store-core.
    pub(crate) krate: Option<Opt<syn::Path>>,
    /// Whether a problem was reported while reading the type's attributes: then
    /// "no key declared" would only repeat it.
    pub(crate) unreadable: bool,
}

/// One option as written: its name (for spans) and its value, `None` when the value
/// could not be read (already reported).
pub(crate) struct Opt<T> {
    pub(crate) ident: Ident,
    pub(crate) value: Option<T>,
}

/// The value of `key = ...`: a field path string or, with `with`, a type.
pub(crate) enum KeyValue {
    /// `key = "a.b.c"`.
    Path(FieldPath),
    /// `key = Type`.
    Type(Box<Type>),
}

/// A dot-separated field path from a string literal, like `"metadata.name"`.
pub(crate) struct FieldPath {
    /// The literal, for spans and messages.
    pub(crate) lit: LitStr,
    /// The fields, each spanned at the literal; never empty.
    pub(crate) members: Vec<Member>,
}

impl FieldPath {
    /// The first field, the only one the derive can check.
    pub(crate) fn first(&self) -> &Member {
        // `field_path` builds no `FieldPath` from an empty path.
        &self.members[0]
    }

    /// Whether the path names a field of the struct itself (one segment).
    pub(crate) fn is_direct(&self) -> bool {
        self.members.len() == 1
    }
}

/// The derive's attributes on one field.
#[derive(Default)]
pub(crate) struct FieldAttrs<'a> {
    /// The first `#[key]` attribute.
    pub(crate) key: Option<&'a Attribute>,
    /// Every `#[index]` attribute, in order.
    pub(crate) indexes: Vec<IndexAttr<'a>>,
}

/// One `#[index]` or `#[index(name = "...", with = "...")]` attribute.
pub(crate) struct IndexAttr<'a> {
    /// The attribute, for spans.
    pub(crate) attr: &'a Attribute,
    /// `name = "..."`.
    pub(crate) name: Option<Opt<LitStr>>,
    /// `with = "path::to::fn"`.
    pub(crate) with: Option<Opt<syn::Path>>,
}

/// Reads the `#[keyed(...)]` attributes of the type; reports misplaced `#[key]`
/// and `#[index]` attributes.
pub(crate) fn type_attrs(attrs: &[Attribute], cx: &Ctxt) -> TypeAttrs {
    let mut out = TypeAttrs::default();
    let errors_before = cx.error_count();
    for attr in attrs {
        if attr.path().is_ident("keyed") {
            let Some(entries) = entries(attr, "keyed", cx) else {
                continue;
            };
            for entry in entries {
                keyed_option(&mut out, entry, cx);
            }
        } else if attr.path().is_ident("key") || attr.path().is_ident("index") {
            cx.error_spanned_by(
                attr,
                format_args!(
                    "`#[{}]` belongs on a field; on the type, use `#[keyed(...)]`",
                    path_name(attr)
                ),
            );
        }
    }
    out.unreadable = cx.error_count() > errors_before;
    out
}

/// Reads the `#[key]` and `#[index]` attributes of a field; reports a misplaced
/// `#[keyed]`.
pub(crate) fn field_attrs<'a>(attrs: &'a [Attribute], cx: &Ctxt) -> FieldAttrs<'a> {
    let mut out = FieldAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("key") {
            key_attr(&mut out, attr, cx);
        } else if attr.path().is_ident("index") {
            out.indexes.push(index_attr(attr, cx));
        } else if attr.path().is_ident("keyed") {
            cx.error_spanned_by(
                attr,
                "`#[keyed(...)]` belongs on the type; on a field, use `#[key]` or `#[index]`",
            );
        }
    }
    out
}

fn key_attr<'a>(out: &mut FieldAttrs<'a>, attr: &'a Attribute, cx: &Ctxt) {
    match &attr.meta {
        Meta::Path(_) => {}
        Meta::List(list) => cx.error_spanned_by(
            &list.tokens,
            "`#[key]` takes no arguments; key options go on the type: `#[keyed(...)]`",
        ),
        Meta::NameValue(meta) => cx.error_spanned_by(
            &meta.value,
            "`#[key]` takes no value; key options go on the type: `#[keyed(...)]`",
        ),
    }
    if out.key.is_some() {
        cx.error_spanned_by(attr, "duplicate `#[key]` attribute on this field");
    } else {
        out.key = Some(attr);
    }
}

fn index_attr<'a>(attr: &'a Attribute, cx: &Ctxt) -> IndexAttr<'a> {
    let mut out = IndexAttr {
        attr,
        name: None,
        with: None,
    };
    if let Meta::Path(_) = attr.meta {
        return out;
    }
    let Some(entries) = entries(attr, "index", cx) else {
        // An unreadable `#[index = ...]` still stands for "this index has a name".
        out.name = Some(Opt {
            ident: Ident::new("name", Span::call_site()),
            value: None,
        });
        return out;
    };
    for entry in entries {
        let written = match entry.name.to_string().as_str() {
            "name" => out.name.is_some(),
            "with" => out.with.is_some(),
            _ => {
                cx.error_at(
                    entry.name.span(),
                    format_args!(
                        "unknown index attribute `{}`, expected `name` or `with`",
                        entry.name
                    ),
                );
                continue;
            }
        };
        if written {
            duplicate(&entry, "index", cx);
            continue;
        }
        if entry.name == "name" {
            let value = entry
                .value(cx, "name = \"by_owner\"")
                .and_then(|tokens| index_name(tokens, cx));
            out.name = Some(Opt {
                ident: entry.name,
                value,
            });
        } else {
            out.with = Some(with_option(entry, cx));
        }
    }
    out
}

/// The options of `#[keyed(...)]`, in the order an error message lists them.
const KEYED_OPTIONS: &str = "`namespace`, `name`, `key`, `with`, `resource_version` or `crate`";

fn keyed_option(out: &mut TypeAttrs, entry: Entry, cx: &Ctxt) {
    let name = entry.name.to_string();
    let written = match name.as_str() {
        "namespace" => out.namespace.is_some(),
        "name" => out.name.is_some(),
        "key" => out.key.is_some(),
        "with" => out.with.is_some(),
        "resource_version" => out.resource_version.is_some(),
        "crate" => out.krate.is_some(),
        _ => {
            cx.error_at(
                entry.name.span(),
                format_args!("unknown keyed attribute `{name}`, expected {KEYED_OPTIONS}"),
            );
            return;
        }
    };
    if written {
        duplicate(&entry, "keyed", cx);
        return;
    }
    match name.as_str() {
        "namespace" => {
            out.namespace = Some(path_option(entry, "namespace = \"metadata.namespace\"", cx))
        }
        "name" => out.name = Some(path_option(entry, "name = \"metadata.name\"", cx)),
        "resource_version" => {
            let example = "resource_version = \"metadata.resource_version\"";
            out.resource_version = Some(path_option(entry, example, cx));
        }
        "key" => {
            let value = entry
                .value(cx, "key = \"field.path\"` or `key = Type")
                .and_then(|tokens| key_value(tokens, cx));
            out.key = Some(Opt {
                ident: entry.name,
                value,
            });
        }
        "crate" => {
            let example = "crate = \"reflector::store_core\"";
            let value = entry
                .value(cx, example)
                .and_then(|tokens| rust_path(tokens, example, "a crate path", cx));
            out.krate = Some(Opt {
                ident: entry.name,
                value,
            });
        }
        _ => out.with = Some(with_option(entry, cx)),
    }
}

/// `with = "path::to::fn"`, on the type or on an index.
fn with_option(entry: Entry, cx: &Ctxt) -> Opt<syn::Path> {
    let example = "with = \"path::to::fn\"";
    let value = entry
        .value(cx, example)
        .and_then(|tokens| rust_path(tokens, example, "a function path", cx));
    Opt {
        ident: entry.name,
        value,
    }
}

fn duplicate(entry: &Entry, attribute: &str, cx: &Ctxt) {
    cx.error_at(
        entry.name.span(),
        format_args!("duplicate {attribute} attribute `{}`", entry.name),
    );
}

/// `key = "a.b"` (a path) or `key = Type`.
fn key_value(tokens: TokenStream, cx: &Ctxt) -> Option<KeyValue> {
    if let Ok(lit) = syn::parse2::<LitStr>(tokens.clone()) {
        return field_path(lit.into_token_stream(), "key = \"spec.id\"", cx).map(KeyValue::Path);
    }
    match syn::parse2::<Type>(tokens.clone()) {
        Ok(ty) => Some(KeyValue::Type(Box::new(ty))),
        Err(_) => {
            cx.error_spanned_by(
                tokens,
                "expected a field path string like `key = \"spec.id\"`, or a type like `key = u64` (with `with`)",
            );
            None
        }
    }
}

fn string_literal(tokens: TokenStream, example: &str, cx: &Ctxt) -> Option<LitStr> {
    match syn::parse2::<LitStr>(tokens.clone()) {
        Ok(lit) => Some(lit),
        Err(_) => {
            cx.error_spanned_by(
                tokens,
                format_args!("expected a string literal: `{example}`"),
            );
            None
        }
    }
}

fn index_name(tokens: TokenStream, cx: &Ctxt) -> Option<LitStr> {
    let lit = string_literal(tokens, "name = \"by_owner\"", cx)?;
    if lit.value().is_empty() {
        cx.error_spanned_by(&lit, "an index name cannot be empty");
        return None;
    }
    Some(lit)
}

/// A Rust path in a string literal: `with = "path::to::fn"`, `crate = "a::b"`.
fn rust_path(tokens: TokenStream, example: &str, what: &str, cx: &Ctxt) -> Option<syn::Path> {
    let lit = string_literal(tokens, example, cx)?;
    match lit.parse::<syn::Path>() {
        Ok(path) => Some(path),
        Err(_) => {
            cx.error_spanned_by(
                &lit,
                format_args!("`{}` is not {what}: expected `{example}`", lit.value()),
            );
            None
        }
    }
}

/// A dot-separated field path: `"metadata.name"`, `"0.name"`.
/// An option whose value is a field path, such as `name = "metadata.name"`.
fn path_option(entry: Entry, example: &str, cx: &Ctxt) -> Opt<FieldPath> {
    let value = entry
        .value(cx, example)
        .and_then(|tokens| field_path(tokens, example, cx));
    Opt {
        ident: entry.name,
        value,
    }
}

fn field_path(tokens: TokenStream, example: &str, cx: &Ctxt) -> Option<FieldPath> {
    let lit = string_literal(tokens, example, cx)?;
    let text = lit.value();
    if text.is_empty() {
        cx.error_spanned_by(
            &lit,
            "empty field path: expected dot-separated fields like `metadata.name`",
        );
        return None;
    }
    let mut members = Vec::new();
    for segment in text.split('.') {
        match path_segment(segment, lit.span()) {
            Some(member) => members.push(member),
            None if segment.is_empty() => {
                cx.error_spanned_by(
                    &lit,
                    format_args!(
                        "empty field name in `{text}`: a field path is dot-separated field names or tuple indexes, like `metadata.name` or `0.name`"
                    ),
                );
                return None;
            }
            None => {
                cx.error_spanned_by(
                    &lit,
                    format_args!(
                        "`{segment}` is not a field name: a field path is dot-separated field names or tuple indexes, like `metadata.name` or `0.name`"
                    ),
                );
                return None;
            }
        }
    }
    Some(FieldPath { lit, members })
}

/// One segment of a field path as a field, spanned at the literal so that rustc's
/// errors on it (a deeper field that does not exist) point at the attribute.
fn path_segment(segment: &str, span: Span) -> Option<Member> {
    if segment.is_empty() || segment.trim() != segment {
        return None;
    }
    match syn::parse_str::<Member>(segment).ok()? {
        Member::Named(mut ident) => {
            ident.set_span(span);
            Some(Member::Named(ident))
        }
        Member::Unnamed(index) if index.index.to_string() == segment => {
            Some(Member::Unnamed(syn::Index {
                index: index.index,
                span,
            }))
        }
        // `01` or `1u8`: not how a tuple field is written.
        Member::Unnamed(_) => None,
    }
}

fn path_name(attr: &Attribute) -> String {
    attr.path()
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// One `name`, `name = value` entry of an attribute's list.
struct Entry {
    name: Ident,
    value: EntryValue,
}

enum EntryValue {
    /// `name` alone.
    Missing,
    /// Something other than `= value` followed the name (already reported).
    Malformed,
    /// The tokens after `=`.
    Tokens(TokenStream),
}

impl Entry {
    /// The value tokens; reports a missing value with an example of the option.
    fn value(&self, cx: &Ctxt, example: &str) -> Option<TokenStream> {
        match &self.value {
            EntryValue::Tokens(tokens) => Some(tokens.clone()),
            EntryValue::Malformed => None,
            EntryValue::Missing => {
                cx.error_at(
                    self.name.span(),
                    format_args!("expected a value: `{example}`"),
                );
                None
            }
        }
    }
}

/// Splits `#[attr(a = x, b = y)]` into entries; `None` (reported) when the
/// attribute has no parenthesised list.
fn entries(attr: &Attribute, attribute: &str, cx: &Ctxt) -> Option<Vec<Entry>> {
    let list = match &attr.meta {
        Meta::List(list) if matches!(list.delimiter, syn::MacroDelimiter::Paren(_)) => list,
        _ => {
            let usage = if attribute == "index" {
                "`#[index]` or `#[index(name = \"...\", with = \"path::to::fn\")]`"
            } else {
                "`#[keyed(option = \"...\", ...)]`"
            };
            cx.error_spanned_by(attr, format_args!("expected {usage}"));
            return None;
        }
    };
    let mut out = Vec::new();
    for chunk in split_at_commas(list.tokens.clone()) {
        if let Some(entry) = entry(chunk, attribute, cx) {
            out.push(entry);
        }
    }
    Some(out)
}

fn entry(chunk: Vec<TokenTree>, attribute: &str, cx: &Ctxt) -> Option<Entry> {
    let mut tokens = chunk.into_iter();
    let name = match tokens.next()? {
        TokenTree::Ident(ident) => ident,
        other => {
            let rest: TokenStream = std::iter::once(other).chain(tokens).collect();
            cx.error_spanned_by(
                rest,
                format_args!("expected a {attribute} attribute like `name = \"...\"`"),
            );
            return None;
        }
    };
    let rest: Vec<TokenTree> = tokens.collect();
    let value = match rest.split_first() {
        None => EntryValue::Missing,
        Some((TokenTree::Punct(eq), value)) if eq.as_char() == '=' && !is_joint(eq) => {
            if value.is_empty() {
                cx.error_at(eq.span(), format_args!("expected a value after `{name} =`"));
                EntryValue::Malformed
            } else {
                EntryValue::Tokens(value.iter().cloned().collect())
            }
        }
        Some(_) => {
            let rest: TokenStream = rest.into_iter().collect();
            cx.error_spanned_by(rest, format_args!("expected `=` after `{name}`"));
            EntryValue::Malformed
        }
    };
    Some(Entry { name, value })
}

fn is_joint(punct: &Punct) -> bool {
    punct.spacing() == Spacing::Joint
}

/// Splits tokens at the commas that separate options. A comma inside `<...>` (a
/// type like `HashMap<K, V>`) or inside a group does not split.
fn split_at_commas(tokens: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut chunks = vec![Vec::new()];
    let mut angle_depth = 0usize;
    let mut previous_dash = false;
    for token in tokens {
        let mut is_dash = false;
        if let TokenTree::Punct(punct) = &token {
            match punct.as_char() {
                ',' if angle_depth == 0 => {
                    chunks.push(Vec::new());
                    previous_dash = false;
                    continue;
                }
                '<' => angle_depth += 1,
                // `->` in a fn type is no closing angle bracket.
                '>' if !previous_dash => angle_depth = angle_depth.saturating_sub(1),
                '-' => is_dash = is_joint(punct),
                _ => {}
            }
        }
        previous_dash = is_dash;
        if let Some(chunk) = chunks.last_mut() {
            chunk.push(token);
        }
    }
    chunks.retain(|chunk| !chunk.is_empty());
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn path_of(text: &str) -> Option<Vec<String>> {
        let cx = Ctxt::new();
        let lit = LitStr::new(text, Span::call_site());
        let path = field_path(lit.into_token_stream(), "name = \"a\"", &cx);
        let _ = cx.into_errors();
        path.map(|path| {
            path.members
                .iter()
                .map(|member| member.to_token_stream().to_string())
                .collect()
        })
    }

    #[test]
    fn field_paths_split_at_dots() {
        assert_eq!(
            path_of("metadata.name"),
            Some(vec!["metadata".into(), "name".into()])
        );
        assert_eq!(path_of("0.name"), Some(vec!["0".into(), "name".into()]));
        assert_eq!(path_of("r#type"), Some(vec!["r#type".into()]));
    }

    #[test]
    fn malformed_field_paths_are_rejected() {
        for bad in [
            "", ".", "a..b", "a.", " a", "a-b", "01", "1u8", "a::b", "type",
        ] {
            assert_eq!(path_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn commas_inside_generic_arguments_do_not_split() {
        let chunks =
            split_at_commas(quote!(with = "f", key = HashMap<String, u32>, x = fn(u8) -> u8,));
        assert_eq!(chunks.len(), 3);
    }

    #[test]
    fn every_problem_of_one_attribute_is_reported() {
        let cx = Ctxt::new();
        let attr: Attribute = syn::parse_quote!(#[keyed(nmae = "a", name = 1, name = "b", with)]);
        let attrs = type_attrs(&[attr], &cx);
        assert!(attrs.name.is_some_and(|name| name.value.is_none()));
        assert_eq!(cx.into_errors().len(), 4);
    }
}
