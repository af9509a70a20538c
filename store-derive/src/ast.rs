//! The typed view of the derive input: the struct, its fields and their parsed
//! attributes, keeping references to the original syntax for spans.

use proc_macro2::Span;
use syn::{Data, DeriveInput, Fields, Member, Type};

use crate::attr::{self, FieldAttrs, FieldPath, KeyValue, TypeAttrs};
use crate::ctxt::Ctxt;

/// One `#[derive(Keyed)]` input.
pub(crate) struct Input<'a> {
    /// The original syntax.
    pub(crate) node: &'a DeriveInput,
    /// The `#[keyed(...)]` options.
    pub(crate) attrs: TypeAttrs,
    /// The struct's fields, or what it is instead of a struct.
    pub(crate) body: Body<'a>,
}

/// What the input is.
pub(crate) enum Body<'a> {
    /// A struct (named, tuple or unit) and its fields in declaration order.
    Struct(Style, Vec<Field<'a>>),
    /// An enum: rejected; the span is the `enum` keyword.
    Enum(Span),
    /// A union: rejected; the span is the `union` keyword.
    Union(Span),
}

/// The shape of a struct.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `struct S { a: A }`.
    Named,
    /// `struct S(A);`.
    Tuple,
    /// `struct S;`.
    Unit,
}

/// One field of the struct.
pub(crate) struct Field<'a> {
    /// The original syntax.
    pub(crate) node: &'a syn::Field,
    /// How to reach it: `self.<member>`.
    pub(crate) member: Member,
    /// Its `#[key]` and `#[index]` attributes.
    pub(crate) attrs: FieldAttrs<'a>,
}

/// Where the key comes from, once the input is known to be valid.
pub(crate) enum KeySource<'b> {
    /// `#[key]` fields: one gives its own type, several a generated key struct.
    Fields(Vec<&'b Field<'b>>),
    /// `#[keyed(namespace = "...", name = "...")]` or `#[keyed(name = "...")]`.
    ObjectName {
        /// The namespace field path; `None` for a cluster-scoped type.
        namespace: Option<&'b FieldPath>,
        /// The name field path.
        name: &'b FieldPath,
    },
    /// `#[keyed(key = "a.b.c")]`.
    Path(&'b FieldPath),
    /// `#[keyed(with = "path::to::fn", key = Type)]`.
    With {
        /// The function taking `&Self`.
        func: &'b syn::Path,
        /// The key type.
        ty: &'b Type,
    },
}

impl<'a> Input<'a> {
    /// The typed view of `node`; attribute problems go to `cx`.
    pub(crate) fn from_syn(node: &'a DeriveInput, cx: &Ctxt) -> Self {
        let attrs = attr::type_attrs(&node.attrs, cx);
        let body = match &node.data {
            Data::Struct(data) => {
                let style = match data.fields {
                    Fields::Named(_) => Style::Named,
                    Fields::Unnamed(_) => Style::Tuple,
                    Fields::Unit => Style::Unit,
                };
                let fields = data
                    .fields
                    .iter()
                    .zip(data.fields.members())
                    .map(|(node, member)| Field {
                        node,
                        member,
                        attrs: attr::field_attrs(&node.attrs, cx),
                    })
                    .collect();
                Body::Struct(style, fields)
            }
            Data::Enum(data) => Body::Enum(data.enum_token.span),
            Data::Union(data) => Body::Union(data.union_token.span),
        };
        Input { node, attrs, body }
    }

    /// The struct's fields (none for an enum or a union).
    pub(crate) fn fields(&self) -> &[Field<'a>] {
        match &self.body {
            Body::Struct(_, fields) => fields,
            Body::Enum(_) | Body::Union(_) => &[],
        }
    }

    /// The struct's shape (`Unit` for an enum or a union).
    pub(crate) fn style(&self) -> Style {
        match &self.body {
            Body::Struct(style, _) => *style,
            Body::Enum(_) | Body::Union(_) => Style::Unit,
        }
    }

    /// The field `member` names, if the struct has it.
    pub(crate) fn field(&self, member: &Member) -> Option<&Field<'a>> {
        self.fields().iter().find(|field| field.member == *member)
    }

    /// The `#[key]` fields, in declaration order.
    pub(crate) fn key_fields(&self) -> Vec<&Field<'a>> {
        self.fields()
            .iter()
            .filter(|field| field.attrs.key.is_some())
            .collect()
    }

    /// Where the key comes from; `None` when nothing usable was declared. Meant for
    /// a valid input: conflicting declarations are reported by `valid`, and this
    /// simply takes the first in the order `#[key]`, `name`, `with`, `key`.
    pub(crate) fn key_source(&self) -> Option<KeySource<'_>> {
        let fields = self.key_fields();
        if !fields.is_empty() {
            return Some(KeySource::Fields(fields));
        }
        let attrs = &self.attrs;
        if let Some(name) = attrs.name.as_ref().and_then(|name| name.value.as_ref()) {
            let namespace = attrs.namespace.as_ref().and_then(|ns| ns.value.as_ref());
            return Some(KeySource::ObjectName { namespace, name });
        }
        let key = attrs.key.as_ref().and_then(|key| key.value.as_ref());
        let with = attrs.with.as_ref().and_then(|with| with.value.as_ref());
        match (with, key) {
            (Some(func), Some(KeyValue::Type(ty))) => Some(KeySource::With { func, ty }),
            (None, Some(KeyValue::Path(path))) => Some(KeySource::Path(path)),
            _ => None,
        }
    }
}

impl Field<'_> {
    /// The field's type.
    pub(crate) fn ty(&self) -> &Type {
        &self.node.ty
    }

    /// The default index name: the field's name without `r#`; `None` for a tuple
    /// field.
    pub(crate) fn index_name(&self) -> Option<String> {
        let ident = self.node.ident.as_ref()?.to_string();
        Some(ident.strip_prefix("r#").unwrap_or(&ident).to_owned())
    }
}
