//! Expansion: the `Hookable` impl, the label registration and the `ActiveModelBehavior` impl.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::parse::Input;
use crate::validate::upper_camel;

/// The label expression: the attribute, or the crate name and the table name.
fn label(input: &Input) -> TokenStream {
    match (&input.model, &input.table_name) {
        (Some(model), _) => {
            let value = &model.value;
            quote!(#value)
        }
        (None, Some(table)) => {
            let model = upper_camel(table);
            quote!(::core::concat!(::core::env!("CARGO_CRATE_NAME"), ".", #model))
        }
        (None, None) => quote!("invalid.Invalid"),
    }
}

fn hook_data(input: &Input) -> TokenStream {
    if let Some(path) = &input.serialize_with {
        let path = &path.value;
        return quote_spanned!(input.serialize_with.as_ref().map_or(proc_macro2::Span::call_site(), |p| p.span)=> #path(self));
    }
    let private = quote!(::rest_hooks::__private);
    let value = |ident: &syn::Ident| quote_spanned!(ident.span()=> #private::field_value(&self.#ident));
    let keys: Vec<_> = input.fields.iter().filter(|f| f.primary_key).map(|f| value(&f.ident)).collect();
    let pk = match keys.as_slice() {
        [single] => single.clone(),
        many => quote!(#private::serde_json::Value::Array(::std::vec![#(#many),*])),
    };
    let inserts = input.fields.iter().filter(|f| !f.primary_key && f.skip.is_none()).map(|f| {
        let name = f.ident.to_string();
        let value = value(&f.ident);
        quote!(fields.insert(::std::string::String::from(#name), #value);)
    });
    quote! {
        let mut fields = #private::serde_json::Map::new();
        #(#inserts)*
        #private::default_data(<Self as ::rest_hooks::Hookable>::MODEL, #pk, fields)
    }
}

fn hook_owner(input: &Input) -> TokenStream {
    match (&input.owner, &input.owner_with) {
        (_, Some(with)) => {
            let path = &with.value;
            quote_spanned!(with.span=> #path(self, db))
        }
        (Some(owner), None) => {
            let field = syn::Ident::new(&owner.value, owner.span);
            quote!(async move {
                let _ = db;
                ::core::result::Result::Ok(::rest_hooks::IntoOwner::to_owner(&self.#field))
            })
        }
        (None, None) => quote!(async move {
            let _ = db;
            ::core::result::Result::Ok(::core::option::Option::None)
        }),
    }
}

/// The `Hookable` impl and the label registration.
pub(crate) fn hookable(input: &Input) -> TokenStream {
    let ident = &input.ident;
    let label = label(input);
    let owned = input.owner.is_some() || input.owner_with.is_some();
    let custom = input.serialize_with.is_some();
    let data = hook_data(input);
    let owner = hook_owner(input);
    let orm = quote!(::rest_hooks::__private::sea_orm);
    quote! {
        impl ::rest_hooks::Hookable for #ident {
            const MODEL: &'static str = #label;
            const OWNED: bool = #owned;
            const CUSTOM_SERIALIZER: bool = #custom;

            fn hook_data(&self) -> ::rest_hooks::__private::serde_json::Value {
                #data
            }

            fn hook_owner<'a, C: #orm::ConnectionTrait>(
                &'a self,
                db: &'a C,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<::core::option::Option<::rest_hooks::Owner>, #orm::DbErr>,
            > + ::core::marker::Send + 'a {
                #owner
            }
        }

        ::rest_hooks::__private::inventory::submit! {
            ::rest_hooks::__private::ModelRegistration::new(#label)
        }
    }
}

/// The generated `ActiveModelBehavior`: record on save and delete.
pub(crate) fn behavior(input: &Input) -> TokenStream {
    if input.custom_behavior.is_some() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let orm = quote!(::rest_hooks::__private::sea_orm);
    quote! {
        #[::rest_hooks::__private::async_trait]
        impl #orm::ActiveModelBehavior for ActiveModel {
            async fn after_save<C>(model: #ident, db: &C, insert: bool) -> ::core::result::Result<#ident, #orm::DbErr>
            where
                C: #orm::ConnectionTrait,
            {
                ::rest_hooks::record_save(&model, db, insert).await?;
                ::core::result::Result::Ok(model)
            }

            async fn before_delete<C>(self, db: &C) -> ::core::result::Result<Self, #orm::DbErr>
            where
                C: #orm::ConnectionTrait,
            {
                ::rest_hooks::prepare_delete(self, db).await
            }

            async fn after_delete<C>(self, db: &C) -> ::core::result::Result<Self, #orm::DbErr>
            where
                C: #orm::ConnectionTrait,
            {
                ::rest_hooks::record_delete(&self, db).await?;
                ::core::result::Result::Ok(self)
            }
        }
    }
}

/// What is emitted beside the errors: impls that satisfy the compiler so that only the errors show.
pub(crate) fn stub(input: &DeriveStub) -> TokenStream {
    let ident = &input.ident;
    let orm = quote!(::rest_hooks::__private::sea_orm);
    let behavior = (!input.custom_behavior).then(|| quote!(impl #orm::ActiveModelBehavior for ActiveModel {}));
    quote! {
        impl ::rest_hooks::Hookable for #ident {
            const MODEL: &'static str = "invalid.Invalid";
            const OWNED: bool = false;
            const CUSTOM_SERIALIZER: bool = false;

            fn hook_data(&self) -> ::rest_hooks::__private::serde_json::Value {
                ::rest_hooks::__private::serde_json::Value::Null
            }

            fn hook_owner<'a, C: #orm::ConnectionTrait>(
                &'a self,
                _db: &'a C,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<::core::option::Option<::rest_hooks::Owner>, #orm::DbErr>,
            > + ::core::marker::Send + 'a {
                async { ::core::result::Result::Ok(::core::option::Option::None) }
            }
        }

        #behavior
    }
}

/// Enough of the input to emit a stub.
pub(crate) struct DeriveStub {
    pub(crate) ident: syn::Ident,
    pub(crate) custom_behavior: bool,
}
