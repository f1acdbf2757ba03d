//! The `#[derive(Hookable)]` macro of `rest_hooks`. Use it through the `rest_hooks` crate, which
//! documents it; generated code names only `::rest_hooks` paths.
//!
//! Three steps, one file each: [`parse`] reads the attributes into typed structs, [`validate`]
//! checks them as a whole, [`expand`] writes the impls. Every mistake is reported in one compile,
//! spanned at the mistake, beside a stub impl so that no other error follows from it.

mod expand;
mod parse;
mod validate;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `rest_hooks::Hookable` and the entity's `ActiveModelBehavior`. See the `rest_hooks`
/// crate for the attributes.
#[proc_macro_derive(Hookable, attributes(hookable))]
pub fn derive_hookable(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input).into()
}

fn derive(input: &DeriveInput) -> proc_macro2::TokenStream {
    // SeaORM 2's `#[sea_orm::model]` forwards derives to a generated `ModelEx`: nothing to do there.
    if input.ident == "ModelEx" {
        return proc_macro2::TokenStream::new();
    }
    let mut errors = parse::Errors::default();
    let parsed = parse::parse(input, &mut errors);
    if let Some(parsed) = &parsed {
        validate::validate(parsed, &mut errors);
    }
    match (errors.finish(), parsed) {
        (None, Some(parsed)) => {
            let hookable = expand::hookable(&parsed);
            let behavior = expand::behavior(&parsed);
            quote::quote!(#hookable #behavior)
        }
        (error, parsed) => {
            let error = error.map(|e| e.to_compile_error());
            let stub = expand::DeriveStub {
                ident: input.ident.clone(),
                custom_behavior: parsed.is_some_and(|p| p.custom_behavior.is_some()),
            };
            let stub = matches!(input.data, syn::Data::Struct(_)).then(|| expand::stub(&stub));
            quote::quote!(#error #stub)
        }
    }
}
