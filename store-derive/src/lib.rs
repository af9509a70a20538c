//! Placeholder derive (being written).
use proc_macro::TokenStream;
/// Placeholder.
#[proc_macro_derive(Keyed, attributes(key, keyed, index))]
pub fn derive_keyed(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
