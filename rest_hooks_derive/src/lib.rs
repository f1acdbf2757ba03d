//! The `#[derive(Hookable)]` macro of `rest_hooks`. Use it through the `rest_hooks` crate, which
//! documents it; generated code names the library only through `::rest_hooks::__private`, or
//! `<path>::__private` with `#[hookable(crate = "path")]`.
//!
//! Three steps, one file each: `parse` reads the struct and its attributes into typed structs,
//! `validate` checks them as a whole, `expand` writes the impls. Every mistake is reported in
//! one compile, spanned at the mistake, beside a stub impl so that no other error follows from it.

mod expand;
mod parse;
mod validate;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `rest_hooks::Hookable` and, unless `#[hookable(custom_behavior)]`, the entity's
/// `ActiveModelBehavior`. The attribute reference is on the re-export, `rest_hooks::Hookable`
/// (the derive), in the `rest_hooks` docs.
#[proc_macro_derive(Hookable, attributes(hookable))]
pub fn derive_hookable(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
