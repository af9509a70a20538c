//! Which generic parameters of the struct a type (or a bound) mentions.
//!
//! The derive works on tokens, not on resolved types: a type "mentions" a type or
//! const parameter when the parameter's name appears in it as an identifier, and a
//! lifetime parameter when `'name` appears. A path segment that merely shares a
//! parameter's name (`other::T`) also counts; that only ever adds a bound the key
//! type has to meet anyway.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericParam, Generics};

/// The names of a struct's generic parameters.
pub(crate) struct ParamNames {
    /// Type and const parameters.
    values: BTreeSet<String>,
    /// Lifetime parameters, without the `'`.
    lifetimes: BTreeSet<String>,
}

/// What a piece of syntax mentions of the struct's parameters.
#[derive(Default)]
pub(crate) struct Mentions {
    /// Type and const parameters.
    pub(crate) values: BTreeSet<String>,
    /// Lifetime parameters, with the `'`.
    pub(crate) lifetimes: BTreeSet<String>,
}

impl ParamNames {
    /// The parameter names of `generics`.
    pub(crate) fn of(generics: &Generics) -> Self {
        let mut names = ParamNames {
            values: BTreeSet::new(),
            lifetimes: BTreeSet::new(),
        };
        for param in &generics.params {
            match param {
                GenericParam::Type(param) => names.values.insert(param.ident.to_string()),
                GenericParam::Const(param) => names.values.insert(param.ident.to_string()),
                GenericParam::Lifetime(param) => {
                    names.lifetimes.insert(param.lifetime.ident.to_string())
                }
            };
        }
        names
    }

    /// The parameters `syntax` mentions.
    pub(crate) fn mentions(&self, syntax: &(impl ToTokens + ?Sized)) -> Mentions {
        let mut found = Mentions::default();
        self.scan(syntax.to_token_stream(), &mut found);
        found
    }

    /// Whether `syntax` mentions a type or const parameter.
    pub(crate) fn mentions_value_param(&self, syntax: &(impl ToTokens + ?Sized)) -> bool {
        !self.mentions(syntax).values.is_empty()
    }

    /// The first lifetime parameter `syntax` mentions (`'a`), if any.
    pub(crate) fn borrowed_lifetime(&self, syntax: &(impl ToTokens + ?Sized)) -> Option<String> {
        self.mentions(syntax).lifetimes.into_iter().next()
    }

    fn scan(&self, tokens: TokenStream, found: &mut Mentions) {
        let mut after_apostrophe = false;
        for token in tokens {
            let mut apostrophe = false;
            match token {
                TokenTree::Group(group) => self.scan(group.stream(), found),
                TokenTree::Punct(punct) => apostrophe = punct.as_char() == '\'',
                TokenTree::Ident(ident) => {
                    let name = ident.to_string();
                    if after_apostrophe {
                        if self.lifetimes.contains(&name) {
                            found.lifetimes.insert(format!("'{name}"));
                        }
                    } else if self.values.contains(&name) {
                        found.values.insert(name);
                    }
                }
                TokenTree::Literal(_) => {}
            }
            after_apostrophe = apostrophe;
        }
    }
}

impl Mentions {
    /// Whether everything mentioned is among `carried` (type and const parameters)
    /// and no lifetime parameter is mentioned.
    pub(crate) fn only(&self, carried: &BTreeSet<String>) -> bool {
        self.lifetimes.is_empty() && self.values.is_subset(carried)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn finds_type_const_and_lifetime_parameters() {
        let generics: Generics = parse_quote!(<'a, T, const N: usize>);
        let names = ParamNames::of(&generics);
        let ty: syn::Type = parse_quote!(Vec<(&'a str, [T; N])>);
        let found = names.mentions(&ty);
        assert_eq!(found.values, BTreeSet::from(["N".into(), "T".into()]));
        assert_eq!(found.lifetimes, BTreeSet::from(["'a".into()]));
        let plain: syn::Type = parse_quote!(&'static str);
        assert!(!names.mentions_value_param(&plain));
        assert_eq!(names.borrowed_lifetime(&plain), None);
    }

    #[test]
    fn a_lifetime_named_like_a_type_parameter_is_a_lifetime() {
        let generics: Generics = parse_quote!(<T>);
        let names = ParamNames::of(&generics);
        let ty: syn::Type = parse_quote!(&'T u8);
        assert!(!names.mentions_value_param(&ty));
    }
}
