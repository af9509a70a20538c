//! Code generation: the `Keyed` impl (inside `const _: () = { ... };`), and for
//! several `#[key]` fields the visible `<Type>Key` struct next to the type.
//!
//! Every path is fully qualified (`::store_core::...`, `::core::...`,
//! `::std::...`) so that nothing in the user's scope can change what it means.
//! Field accesses taken from a path string are spanned at the string, so rustc's
//! errors about them (a deeper field that does not exist, a type that is no
//! string) point at the attribute.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{
    parse_quote, DeriveInput, GenericParam, Generics, LitStr, Member, Type, TypeParam, WhereClause,
    WherePredicate,
};

use crate::ast::{Field, Input, KeySource, Style};
use crate::attr::{FieldPath, Opt};
use crate::crate_path;
use crate::ctxt::Ctxt;
use crate::fallback;
use crate::generics::ParamNames;
use crate::valid::{self, NAMESPACE_INDEX};

/// The whole derive: parse, check, and generate either the impl or, after any
/// problem, the problems plus a stub impl.
pub(crate) fn derive(node: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let input = Input::from_syn(node, &cx);
    valid::check(&input, &cx);
    let krate = input
        .attrs
        .krate
        .as_ref()
        .and_then(|krate| krate.value.clone());
    let tokens = match input.key_source() {
        Some(source) if !cx.has_errors() => impl_keyed(&input, &source),
        found => {
            if found.is_none() && !cx.has_errors() {
                // `valid` reports every input without a usable key; a safety net.
                cx.error_at(
                    node.ident.span(),
                    format_args!("could not work out the key of `{}`", node.ident),
                );
            }
            fallback::expand(node, cx.into_errors())
        }
    };
    match krate {
        Some(path) => crate_path::rewrite(tokens, &path),
        None => tokens,
    }
}

/// The bounds every `Keyed::Key` meets, for where-clauses.
fn key_bounds() -> TokenStream {
    quote! {
        ::core::clone::Clone
            + ::core::cmp::Eq
            + ::core::hash::Hash
            + ::core::cmp::Ord
            + ::core::fmt::Debug
            + ::core::fmt::Display
            + ::core::marker::Send
            + ::core::marker::Sync
            + 'static
    }
}

/// What the derive generates for the key.
#[derive(Default)]
struct KeyCode {
    /// `type Key = ...`.
    ty: TokenStream,
    /// The body of `fn key(&self)`.
    body: TokenStream,
    /// Items next to the type (the generated key struct).
    items: TokenStream,
    /// Impls inside the `const _` block (the key struct's `Display`).
    support: TokenStream,
    /// Predicates the `Keyed` impl needs.
    bounds: Vec<WherePredicate>,
}

fn impl_keyed(input: &Input, source: &KeySource) -> TokenStream {
    let names = ParamNames::of(&input.node.generics);
    let mut key = match source {
        KeySource::Fields(fields) if fields.len() == 1 => field_key(fields[0], &names),
        KeySource::Fields(fields) => key_struct(input, fields, &names),
        KeySource::ObjectName { namespace, name } => {
            object_name_key(input, *namespace, name, &names)
        }
        KeySource::Path(path) => path_key(input, path, &names),
        KeySource::With { func, ty } => with_key(func, ty, &names),
    };
    let indexes = indexes_fn(input, source, &names, &mut key.bounds);
    let resource_version = resource_version_fn(input, &names, &mut key.bounds);

    let ident = &input.node.ident;
    let mut generics = input.node.generics.clone();
    if !key.bounds.is_empty() {
        generics
            .make_where_clause()
            .predicates
            .extend(key.bounds.iter().cloned());
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let KeyCode {
        ty,
        body,
        items,
        support,
        ..
    } = key;
    quote! {
        #items

        const _: () = {
            #support

            #[automatically_derived]
            impl #impl_generics ::store_core::Keyed for #ident #ty_generics #where_clause {
                type Key = #ty;

                #[inline]
                fn key(&self) -> <Self as ::store_core::Keyed>::Key {
                    #body
                }

                #indexes

                #resource_version
            }
        };
    }
}

/// `#[keyed(resource_version = "a.b")]`: `Keyed::resource_version` reads that field
/// through `ResourceVersionField` (a string, an optional string or a
/// `ResourceVersion`).
fn resource_version_fn(
    input: &Input,
    names: &ParamNames,
    bounds: &mut Vec<WherePredicate>,
) -> TokenStream {
    let Some(path) = input
        .attrs
        .resource_version
        .as_ref()
        .and_then(|opt| opt.value.as_ref())
    else {
        return TokenStream::new();
    };
    if let Some(ty) = direct_field_type(input, path) {
        if names.mentions_value_param(ty) {
            bounds.push(parse_quote!(#ty: ::store_core::__private::ResourceVersionField));
        }
    }
    let access = borrow_path(&quote!(self), path);
    let access_mut = borrow_path(&quote!(mut self), path);
    quote! {
        #[inline]
        fn resource_version(&self) -> ::core::option::Option<&str> {
            ::store_core::__private::ResourceVersionField::resource_version_str(#access)
        }

        #[inline]
        fn set_resource_version(&mut self, resource_version: &str) {
            ::store_core::__private::ResourceVersionField::set_resource_version_str(
                #access_mut,
                resource_version,
            )
        }
    }
}

/// One `#[key]` field: its own type, cloned.
fn field_key(field: &Field, names: &ParamNames) -> KeyCode {
    let ty = field.ty();
    let member = &field.member;
    KeyCode {
        ty: ty.to_token_stream(),
        body: quote!(::core::clone::Clone::clone(&self.#member)),
        bounds: key_bound_if_generic(ty, names),
        ..KeyCode::default()
    }
}

fn key_bound_if_generic(ty: &Type, names: &ParamNames) -> Vec<WherePredicate> {
    if names.mentions_value_param(ty) {
        let bounds = key_bounds();
        vec![parse_quote!(#ty: #bounds)]
    } else {
        Vec::new()
    }
}

/// `#[keyed(namespace = "...", name = "...")]`: an `ObjectName` through
/// `KeyString`, so any string-like or optional field works.
fn object_name_key(
    input: &Input,
    namespace: Option<&FieldPath>,
    name: &FieldPath,
    names: &ParamNames,
) -> KeyCode {
    let self_ = quote!(self);
    let name_access = borrow_path(&self_, name);
    let body = match namespace {
        Some(namespace) => {
            let namespace_access = borrow_path(&self_, namespace);
            quote!(::store_core::__private::object_name(#namespace_access, #name_access))
        }
        None => quote!(::store_core::__private::cluster_name(#name_access)),
    };
    let mut bounds = Vec::new();
    for path in namespace.into_iter().chain([name]) {
        if let Some(ty) = direct_field_type(input, path) {
            if names.mentions_value_param(ty) {
                bounds.push(parse_quote!(#ty: ::store_core::__private::KeyString));
            }
        }
    }
    KeyCode {
        ty: quote!(::store_core::ObjectName),
        body,
        bounds,
        ..KeyCode::default()
    }
}

/// `#[keyed(key = "a.b.c")]`: one segment is a `#[key]` field; a nested path is
/// read as text through `KeyString` (the derive cannot see the nested type).
fn path_key(input: &Input, path: &FieldPath, names: &ParamNames) -> KeyCode {
    let value = borrow_path(&quote!(self), path);
    match direct_field_type(input, path) {
        Some(ty) => KeyCode {
            ty: ty.to_token_stream(),
            body: quote!(::core::clone::Clone::clone(#value)),
            bounds: key_bound_if_generic(ty, names),
            ..KeyCode::default()
        },
        None => KeyCode {
            ty: quote!(::std::string::String),
            body: quote!(::store_core::__private::KeyString::key_string(#value)),
            ..KeyCode::default()
        },
    }
}

/// `#[keyed(with = "path::to::fn", key = Type)]`.
fn with_key(func: &syn::Path, ty: &Type, names: &ParamNames) -> KeyCode {
    KeyCode {
        ty: ty.to_token_stream(),
        // Spanned at the `with` string: a function of the wrong signature is
        // reported there.
        body: quote_spanned!(func.span()=> #func(self)),
        bounds: key_bound_if_generic(ty, names),
        ..KeyCode::default()
    }
}

/// The type of the field a one-segment path names.
fn direct_field_type<'b>(input: &'b Input, path: &FieldPath) -> Option<&'b Type> {
    if path.is_direct() {
        input.field(path.first()).map(Field::ty)
    } else {
        None
    }
}

/// `&base.a.b.c`, spanned at the path's string literal (rustc's errors about the
/// access, or about the accessed field's type, point there).
fn borrow_path(base: &TokenStream, path: &FieldPath) -> TokenStream {
    let span = Span::mixed_site().located_at(path.lit.span());
    let members = path.members.iter().map(|member| match member {
        Member::Named(ident) => {
            let mut ident = ident.clone();
            ident.set_span(span);
            Member::Named(ident)
        }
        Member::Unnamed(index) => Member::Unnamed(syn::Index {
            index: index.index,
            span,
        }),
    });
    quote_spanned!(span=> &#base #(.#members)*)
}

/// Several `#[key]` fields: a `<Type>Key` struct with those fields.
fn key_struct(input: &Input, fields: &[&Field], names: &ParamNames) -> KeyCode {
    let node = &input.node;
    let ident = &node.ident;
    let vis = &node.vis;
    let key_ident = format_ident!("{}Key", ident, span = ident.span());

    let carried: BTreeSet<String> = fields
        .iter()
        .flat_map(|field| names.mentions(field.ty()).values)
        .collect();
    let generics = carried_generics(&node.generics, &carried, names);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let generic_fields: Vec<&Type> = fields
        .iter()
        .map(|field| field.ty())
        .filter(|ty| names.mentions_value_param(ty))
        .collect();

    let listed = fields
        .iter()
        .map(|field| format!("`{}`", valid::member_text(&field.member)))
        .collect::<Vec<_>>()
        .join(", ");
    let struct_doc = format!(
        "The key of [`{ident}`]: its fields {listed}, in declaration order.\n\n\
         Generated by `#[derive(Keyed)]`. `Display` joins the fields' `Display` with `/`; \
         ordering compares the fields in declaration order."
    );
    let types = fields.iter().map(|field| field.ty());
    let docs = fields.iter().map(|field| {
        format!(
            "The `{}` field of [`{ident}`].",
            valid::member_text(&field.member)
        )
    });
    let serde_bound = serde_bound(&generic_fields);
    let derives = quote! {
        #[derive(
            ::core::clone::Clone,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
            ::core::cmp::PartialOrd,
            ::core::cmp::Ord,
            ::store_core::__private::serde::Serialize,
            ::store_core::__private::serde::Deserialize
        )]
        #[serde(crate = "::store_core::__private::serde")]
        #serde_bound
    };

    let key_members: Vec<Member> = match input.style() {
        Style::Named => fields.iter().map(|field| field.member.clone()).collect(),
        Style::Tuple | Style::Unit => (0..fields.len()).map(Member::from).collect(),
    };
    let self_members = fields.iter().map(|field| &field.member);
    let (items, body) = match input.style() {
        Style::Named => (
            quote! {
                #[doc = #struct_doc]
                #derives
                #vis struct #key_ident #impl_generics #where_clause {
                    #(#[doc = #docs] pub #key_members: #types,)*
                }
            },
            quote! {
                #key_ident {
                    #(#key_members: ::core::clone::Clone::clone(&self.#self_members),)*
                }
            },
        ),
        Style::Tuple | Style::Unit => (
            quote! {
                #[doc = #struct_doc]
                #derives
                #vis struct #key_ident #impl_generics (
                    #(#[doc = #docs] pub #types,)*
                ) #where_clause;
            },
            quote! {
                #key_ident(#(::core::clone::Clone::clone(&self.#self_members),)*)
            },
        ),
    };

    let mut display_generics = generics.clone();
    if !generic_fields.is_empty() {
        display_generics.make_where_clause().predicates.extend(
            generic_fields
                .iter()
                .map(|ty| -> WherePredicate { parse_quote!(#ty: ::core::fmt::Display) }),
        );
    }
    let (_, _, display_where) = display_generics.split_for_impl();
    let format = vec!["{}"; fields.len()].join("/");
    let support = quote! {
        #[automatically_derived]
        impl #impl_generics ::core::fmt::Display for #key_ident #ty_generics #display_where {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::write!(f, #format, #(self.#key_members),*)
            }
        }
    };

    // Each generic field meets the key bounds; the key struct's derived impls and
    // its `Display` then give it every bound `Keyed::Key` asks for, and `key()` can
    // clone the fields.
    let key_ty = quote!(#key_ident #ty_generics);
    let bounds = generic_fields
        .iter()
        .flat_map(|ty| key_bound_if_generic(ty, names))
        .collect();
    KeyCode {
        ty: key_ty,
        body,
        items,
        support,
        bounds,
    }
}

/// The generics the key struct needs: the type and const parameters its fields
/// mention (no lifetimes: `valid` rejects borrowed key fields), without defaults,
/// and the bounds on them that name nothing else.
fn carried_generics(
    generics: &Generics,
    carried: &BTreeSet<String>,
    names: &ParamNames,
) -> Generics {
    let mut out = Generics::default();
    let mut predicates: Vec<WherePredicate> = Vec::new();
    for param in &generics.params {
        match param {
            GenericParam::Type(param) if carried.contains(&param.ident.to_string()) => {
                let ident = &param.ident;
                out.params
                    .push(GenericParam::Type(TypeParam::from(ident.clone())));
                predicates.extend(
                    param
                        .bounds
                        .iter()
                        .filter(|bound| names.mentions(bound).only(carried))
                        .map(|bound| -> WherePredicate { parse_quote!(#ident: #bound) }),
                );
            }
            GenericParam::Const(param) if carried.contains(&param.ident.to_string()) => {
                let mut param = param.clone();
                param.attrs.clear();
                param.default = None;
                out.params.push(GenericParam::Const(param));
            }
            _ => {}
        }
    }
    if let Some(where_clause) = &generics.where_clause {
        predicates.extend(
            where_clause
                .predicates
                .iter()
                .filter_map(|predicate| match predicate {
                    WherePredicate::Type(predicate)
                        if names.mentions_value_param(&predicate.bounded_ty)
                            && names.mentions(predicate).only(carried) =>
                    {
                        Some(WherePredicate::Type(predicate.clone()))
                    }
                    _ => None,
                }),
        );
    }
    if !out.params.is_empty() {
        out.lt_token = Some(Default::default());
        out.gt_token = Some(Default::default());
    }
    if !predicates.is_empty() {
        out.where_clause = Some(WhereClause {
            where_token: Default::default(),
            predicates: predicates.into_iter().collect(),
        });
    }
    out
}

/// `#[serde(bound(...))]` for a generic key struct: each generic field type must
/// be (de)serializable. Explicit because serde infers bounds for type parameters
/// only, and a const-generic array field needs one too.
fn serde_bound(generic_fields: &[&Type]) -> TokenStream {
    if generic_fields.is_empty() {
        return TokenStream::new();
    }
    let serialize = generic_fields
        .iter()
        .map(|ty| {
            format!(
                "{}: ::store_core::__private::serde::Serialize",
                ty.to_token_stream()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let deserialize = generic_fields
        .iter()
        .map(|ty| {
            format!(
                "{}: ::store_core::__private::serde::Deserialize<'de>",
                ty.to_token_stream()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    quote!(#[serde(bound(serialize = #serialize, deserialize = #deserialize))])
}

/// `fn indexes()` when the type declares `#[index]` fields or has an `ObjectName`
/// key from `namespace`/`name`; nothing (the trait default) otherwise.
fn indexes_fn(
    input: &Input,
    source: &KeySource,
    names: &ParamNames,
    bounds: &mut Vec<WherePredicate>,
) -> TokenStream {
    let mut defs = Vec::new();
    let mut user_names = BTreeSet::new();
    for field in input.fields() {
        for index in &field.attrs.indexes {
            let name = match &index.name {
                Some(Opt {
                    value: Some(lit), ..
                }) => lit.clone(),
                _ => {
                    // `valid` guarantees a named field here.
                    let span = field
                        .node
                        .ident
                        .as_ref()
                        .map_or_else(Span::call_site, |ident| ident.span());
                    LitStr::new(&field.index_name().unwrap_or_default(), span)
                }
            };
            user_names.insert(name.value());
            // Spanned at the field's type: a type without `IndexValues` (or one the
            // `with` function does not take) is reported there.
            let ty = field.ty();
            let member = &field.member;
            let field_ref = quote_spanned!(ty.span()=> &obj.#member);
            let values = match index.with.as_ref().and_then(|with| with.value.as_ref()) {
                Some(func) => quote!(::store_core::IndexValues::index_values(&#func(#field_ref))),
                None => {
                    if names.mentions_value_param(ty) {
                        bounds.push(parse_quote!(#ty: ::store_core::IndexValues));
                    }
                    quote!(::store_core::IndexValues::index_values(#field_ref))
                }
            };
            defs.push(quote!(::store_core::IndexDef::new(#name, |obj: &Self| #values)));
        }
    }

    let body = match source {
        KeySource::ObjectName { namespace, .. } => {
            let namespace_index = match namespace {
                Some(path) => {
                    let value = borrow_path(&quote!(obj), path);
                    quote! {
                        ::store_core::IndexDef::new(::store_core::NAMESPACE_INDEX, |obj: &Self| {
                            ::store_core::__private::namespace_values(#value)
                        })
                        .depends_only_on_key()
                    }
                }
                None => quote! {
                    ::store_core::IndexDef::new(::store_core::NAMESPACE_INDEX, |_: &Self| {
                        ::std::vec::Vec::new()
                    })
                    .depends_only_on_key()
                },
            };
            quote!(::std::vec![#namespace_index, #(#defs),*])
        }
        _ if defs.is_empty() => return TokenStream::new(),
        // Never an `ObjectName`: a generated struct or a `String`.
        KeySource::Fields(fields) if fields.len() > 1 => quote!(::std::vec![#(#defs),*]),
        KeySource::Path(path) if !path.is_direct() => quote!(::std::vec![#(#defs),*]),
        // An index with the namespace index's name replaces it.
        _ if user_names.contains(NAMESPACE_INDEX) => quote!(::std::vec![#(#defs),*]),
        // A key type the derive cannot see may be `ObjectName`: keep the namespace
        // index the trait default would have given.
        _ => quote! {
            let mut indexes = ::std::vec![#(#defs),*];
            if ::core::any::TypeId::of::<<Self as ::store_core::Keyed>::Key>()
                == ::core::any::TypeId::of::<::store_core::ObjectName>()
            {
                indexes.insert(0, ::store_core::__private::namespace_index_from_key::<Self>());
            }
            indexes
        },
    };
    quote! {
        fn indexes() -> ::std::vec::Vec<::store_core::IndexDef<Self>>
        where
            Self: ::core::marker::Sized + 'static,
        {
            #body
        }
    }
}
