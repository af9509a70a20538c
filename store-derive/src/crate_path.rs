//! `#[keyed(crate = "...")]`: the generated code written against another path to
//! store-core.
//!
//! Every stage writes `::store_core::...` (STYLE: fully qualified paths). A user who
//! reaches store-core through a re-export (`reflector::store_core`) has no
//! `store_core` crate of their own, so after generation each `::store_core` is
//! replaced by the path they gave — including inside the one string that names it
//! (serde's `#[serde(crate = "...")]` on a generated key struct). One rewrite at the
//! end keeps every stage simple and the default output unchanged.

use proc_macro2::{Group, Literal, TokenStream, TokenTree};
use quote::ToTokens;

/// `tokens` with `::store_core` replaced by `path` everywhere.
pub(crate) fn rewrite(tokens: TokenStream, path: &syn::Path) -> TokenStream {
    let replacement = path.to_token_stream();
    let text = replacement.to_string().replace(' ', "");
    rewrite_stream(tokens, &replacement, &text)
}

fn rewrite_stream(tokens: TokenStream, replacement: &TokenStream, text: &str) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < trees.len() {
        if let [TokenTree::Punct(first), TokenTree::Punct(second), TokenTree::Ident(ident), ..] =
            &trees[i..]
        {
            if first.as_char() == ':' && second.as_char() == ':' && ident == "store_core" {
                out.extend(replacement.clone());
                i += 3;
                continue;
            }
        }
        out.extend(std::iter::once(match &trees[i] {
            TokenTree::Group(group) => {
                let inner = rewrite_stream(group.stream(), replacement, text);
                let mut rewritten = Group::new(group.delimiter(), inner);
                rewritten.set_span(group.span());
                TokenTree::Group(rewritten)
            }
            TokenTree::Literal(literal) => rewrite_literal(literal, text),
            other => other.clone(),
        }));
        i += 1;
    }
    out
}

/// A string literal naming `::store_core::...` (serde's `crate = "..."`).
fn rewrite_literal(literal: &Literal, text: &str) -> TokenTree {
    let written = literal.to_string();
    match written.strip_prefix("\"::store_core") {
        Some(rest) => {
            let value = format!("{text}{}", rest.trim_end_matches('"'));
            let mut rewritten = Literal::string(&value);
            rewritten.set_span(literal.span());
            TokenTree::Literal(rewritten)
        }
        None => TokenTree::Literal(literal.clone()),
    }
}
