//! placeholder
use proc_macro::TokenStream;
/// placeholder
#[proc_macro_derive(Hookable, attributes(hookable))]
pub fn derive_hookable(_input: TokenStream) -> TokenStream { TokenStream::new() }
