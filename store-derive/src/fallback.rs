//! What the derive emits after a problem: the errors, plus a stub `Keyed` impl so
//! that code using the type does not add "`Keyed` is not implemented" errors on
//! top of the real ones.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

/// The errors as `compile_error!`s and a stub impl with the input's generics.
pub(crate) fn expand(node: &DeriveInput, errors: Vec<syn::Error>) -> TokenStream {
    let errors = errors.iter().map(syn::Error::to_compile_error);
    let ident = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();
    quote! {
        #(#errors)*

        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::store_core::Keyed for #ident #ty_generics #where_clause {
                type Key = ::std::string::String;

                fn key(&self) -> <Self as ::store_core::Keyed>::Key {
                    ::std::string::String::new()
                }
            }
        };
    }
}
