//! Expansion: the `Hookable` impl, the `ActiveModel`'s `HookableActiveModel` impl (the fields an
//! update sets), the label's registration and the `ActiveModelBehavior` impl; on
//! errors, the errors beside a stub that keeps the compiler from reporting anything else.
//!
//! Generated code names the library only through `<root>::__private`, where the root is
//! `#[hookable(crate = "...")]` or `::rest_hooks`, so that the public API can change shape without
//! breaking it.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, ExprPath, Ident};

use crate::parse::{self, Errors, Field, Input, Parsed};
use crate::validate::{self, upper_camel};

/// The label of the stub emitted beside errors.
const STUB_LABEL: &str = "invalid.Invalid";

/// The whole derive: parse, validate, then the impls or the errors and a stub.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    // SeaORM 2's `#[sea_orm::model]` forwards the derives of `Model` to a generated `ModelEx`.
    if input.ident == "ModelEx" {
        return TokenStream::new();
    }
    let mut errors = Errors::default();
    let Parsed { root, input: parsed } = parse::parse(input, &mut errors);
    if let Some(parsed) = &parsed {
        validate::validate(parsed, &mut errors);
    }
    // The module every path of the generated code starts with.
    let private = quote!(#root::__private);
    match (errors.into_error(), parsed) {
        (None, Some(parsed)) => expand(&parsed, &private),
        (error, parsed) => fallback(input, parsed.as_ref(), &private, error),
    }
}

/// `tokens` with every token at `span`, so that an error about an expression naming them points at
/// one place.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// The impls of a valid input.
fn expand(input: &Input, private: &TokenStream) -> TokenStream {
    let label = label(input);
    let hookable = HookableImpl {
        private,
        ident: &input.ident,
        label: label.clone(),
        owned: input.attrs.owner.is_some() || input.attrs.owner_with.is_some(),
        custom_serializer: input.attrs.serialize_with.is_some() || input.attrs.serialize_with_db.is_some(),
        hook_data: hook_data(input, private),
        hook_data_with_db: input.attrs.serialize_with_db.as_ref().map(|path| serialize_with_db_call(path, private)),
        hook_owner: hook_owner(input, private),
        previous_values: input.attrs.previous_values.is_some(),
        field_value: input.attrs.previous_values.is_some().then(|| field_value_by_name(input, private)),
        key: key(input, private),
    };
    let behavior = input.attrs.custom_behavior.is_none().then(|| behavior(&input.ident, private));
    let active = active_model(input, private);
    let reported = input.fields.iter().filter(|field| field.reported()).map(Field::name);
    let skipped = input.fields.iter().filter(|field| field.skip.is_some()).map(Field::name);
    let actions = input.attrs.actions.iter().map(|action| &action.value);
    quote! {
        #hookable

        #active

        #private::inventory::submit! {
            #private::ModelRegistration::new(#label, &[#(#reported),*], &[#(#skipped),*], &[#(#actions),*])
        }

        #behavior
    }
}

/// The body of `__field_value`: the value of each reported field, by serialized name.
fn field_value_by_name(input: &Input, private: &TokenStream) -> TokenStream {
    let arms = input.fields.iter().filter(|field| field.reported()).map(|field| {
        let name = field.name();
        let value = field_value(field, private);
        quote!(#name => ::core::option::Option::Some(#value),)
    });
    quote! {
        match name {
            #(#arms)*
            _ => ::core::option::Option::None,
        }
    }
}

/// The body of the model's `__key`: its key fields' values as text.
fn key(input: &Input, private: &TokenStream) -> TokenStream {
    let keys = input.fields.iter().filter(|field| field.primary_key).map(|field| field_value(field, private));
    quote!(#private::key_text(::std::vec![#(#keys),*]))
}

/// `impl HookableActiveModel for ActiveModel`: the fields an update sets, and the key.
fn active_model(input: &Input, private: &TokenStream) -> TokenStream {
    let orm = quote!(#private::sea_orm);
    let set = input.fields.iter().filter(|field| field.reported()).map(|field| {
        let ident = &field.ident;
        let name = field.name();
        quote! {
            if #orm::ActiveValue::is_set(&self.#ident) {
                fields.push(#name);
            }
        }
    });
    let keys = input.fields.iter().filter(|field| field.primary_key).map(|field| {
        let ident = &field.ident;
        quote!(#private::field_value(#orm::ActiveValue::try_as_ref(&self.#ident)?))
    });
    quote! {
        #[automatically_derived]
        impl #private::HookableActiveModel for ActiveModel {
            fn __set_fields(&self) -> ::std::vec::Vec<&'static str> {
                let mut fields = ::std::vec::Vec::new();
                #(#set)*
                fields
            }

            fn __key(&self) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(#private::key_text(::std::vec![#(#keys),*]))
            }
        }
    }
}

/// The errors, and stub impls so that they are the only errors: `Hookable` unless the input is
/// generic, and an empty `ActiveModelBehavior` for an input shaped like a `Model` unless it says
/// (`custom_behavior`, even with a wrong value) that it has its own.
fn fallback(
    input: &DeriveInput,
    parsed: Option<&Input>,
    private: &TokenStream,
    error: Option<syn::Error>,
) -> TokenStream {
    let error = error.map(|error| error.to_compile_error());
    let hookable = input.generics.params.is_empty().then(|| HookableImpl {
        private,
        ident: &input.ident,
        label: STUB_LABEL.to_token_stream(),
        owned: false,
        custom_serializer: false,
        hook_data: quote!(#private::serde_json::Value::Null),
        hook_data_with_db: None,
        hook_owner: no_owner(),
        previous_values: false,
        field_value: None,
        key: quote!(::std::string::String::new()),
    });
    let behavior = parsed.filter(|parsed| parsed.attrs.custom_behavior.is_none()).map(|_| {
        quote! {
            #[automatically_derived]
            impl #private::sea_orm::ActiveModelBehavior for ActiveModel {}
        }
    });
    quote!(#error #hookable #behavior)
}

/// The `MODEL` label: the one given, or `<crate>.<UpperCamelCase table name>`.
fn label(input: &Input) -> TokenStream {
    match (&input.attrs.model, &input.table_name) {
        (Some(model), _) => model.value.to_token_stream(),
        (None, Some(table)) => {
            let model = upper_camel(&table.value);
            quote!(::core::concat!(::core::env!("CARGO_CRATE_NAME"), ".", #model))
        }
        (None, None) => STUB_LABEL.to_token_stream(),
    }
}

/// The body of `hook_data`: the user's serializer, or Django's shape (also with `serialize_with_db`,
/// whose serializer is `hook_data_with_db`).
fn hook_data(input: &Input, private: &TokenStream) -> TokenStream {
    if let Some(serialize_with) = &input.attrs.serialize_with {
        // Through a fn pointer, so that a wrong signature is reported at the path as a type mismatch.
        let span = serialize_with.span();
        let private = respan(private, span);
        return quote_spanned! {span=>
            let serialize_with: fn(&Self) -> #private::serde_json::Value = #serialize_with;
            serialize_with(self)
        };
    }
    let pk = primary_key(input, private);
    let fields = input.fields.iter().filter(|field| !field.primary_key && field.skip.is_none()).map(|field| {
        let name = field.name();
        let value = field_value(field, private);
        quote!((::std::string::String::from(#name), #value))
    });
    quote! {
        let fields = <#private::serde_json::Map<::std::string::String, #private::serde_json::Value>
            as ::core::iter::FromIterator<_>>::from_iter([#(#fields),*]);
        #private::default_data(<Self as #private::Hookable>::MODEL, #pk, fields)
    }
}

/// The `pk` value: the key field's, or an array of the key fields' for a composite key.
fn primary_key(input: &Input, private: &TokenStream) -> TokenStream {
    let keys: Vec<TokenStream> =
        input.fields.iter().filter(|field| field.primary_key).map(|field| field_value(field, private)).collect();
    match keys.as_slice() {
        [key] => key.clone(),
        keys => quote!(#private::serde_json::Value::Array(::std::vec![#(#keys),*])),
    }
}

/// One field's JSON value, spanned at its type so that a type that is not `Serialize` is reported
/// there.
fn field_value(field: &Field, private: &TokenStream) -> TokenStream {
    let span = field.ty.span();
    let ident = respanned(&field.ident, span);
    let private = respan(private, span);
    quote_spanned!(span=> #private::field_value(&self.#ident))
}

/// `ident` moved to `span`, so that an error about an expression naming it points at one place.
fn respanned(ident: &Ident, span: Span) -> Ident {
    let mut ident = ident.clone();
    ident.set_span(span);
    ident
}

/// The body of `hook_owner`: the owner field's value, the user's async fn, or no owner.
fn hook_owner(input: &Input, private: &TokenStream) -> TokenStream {
    if let Some(owner_with) = &input.attrs.owner_with {
        return owner_with_call(owner_with, private);
    }
    let Some(owner) = &input.attrs.owner else { return no_owner() };
    let Some(field) = input.field(&owner.value) else { return no_owner() };
    let ident = respanned(&field.ident, owner.span);
    let private = respan(private, owner.span);
    let to_owner = quote_spanned!(owner.span=> #private::IntoOwner::to_owner(&self.#ident));
    quote! {
        async move {
            let _ = db;
            ::core::result::Result::Ok(#to_owner)
        }
    }
}

/// The body of `hook_owner` with `owner_with = path`.
fn owner_with_call(path: &ExprPath, private: &TokenStream) -> TokenStream {
    let output = quote!(::core::result::Result<::core::option::Option<#private::Owner>, #private::sea_orm::DbErr>);
    async_fn_call(path, "__rest_hooks_owner_with", &output)
}

/// The body of `hook_data_with_db` with `serialize_with_db = path`.
fn serialize_with_db_call(path: &ExprPath, private: &TokenStream) -> TokenStream {
    let output = quote!(::core::result::Result<#private::serde_json::Value, #private::sea_orm::DbErr>);
    async_fn_call(path, "__rest_hooks_serialize_with_db", &output)
}

/// A call of the user's async fn at `path` with `self` and `db`, through a helper named `helper`
/// whose bounds state the expected signature (a future of `output`), so that a wrong one is
/// reported at the path.
fn async_fn_call(path: &ExprPath, helper: &str, output: &TokenStream) -> TokenStream {
    let called = Ident::new(helper, path.span());
    let call = quote_spanned!(path.span()=> #called(#path, self, db));
    let helper = Ident::new(helper, Span::call_site());
    quote! {
        fn #helper<'a, M: ?::core::marker::Sized, C, F>(
            user_fn: impl ::core::ops::FnOnce(&'a M, &'a C) -> F,
            model: &'a M,
            db: &'a C,
        ) -> F
        where
            F: ::core::future::Future<Output = #output> + ::core::marker::Send + 'a,
        {
            user_fn(model, db)
        }
        #call
    }
}

/// The body of `hook_owner` for a model without an owner.
fn no_owner() -> TokenStream {
    quote! {
        async move {
            let _ = db;
            ::core::result::Result::Ok(::core::option::Option::None)
        }
    }
}

/// `impl Hookable`, from its parts.
struct HookableImpl<'a> {
    /// `<root>::__private`.
    private: &'a TokenStream,
    /// The `Model` struct.
    ident: &'a Ident,
    /// `MODEL`.
    label: TokenStream,
    /// `OWNED`.
    owned: bool,
    /// `CUSTOM_SERIALIZER`.
    custom_serializer: bool,
    /// The body of `hook_data`.
    hook_data: TokenStream,
    /// The body of `hook_data_with_db`, a future borrowing `self` and `db`; `None` keeps the
    /// trait's default, which returns `hook_data`.
    hook_data_with_db: Option<TokenStream>,
    /// The body of `hook_owner`, a future borrowing `self` and `db`.
    hook_owner: TokenStream,
    /// `PREVIOUS_VALUES`.
    previous_values: bool,
    /// The body of `__field_value`, a match on `name`; `None` keeps the trait's default (no value).
    field_value: Option<TokenStream>,
    /// The body of `__key`.
    key: TokenStream,
}

impl ToTokens for HookableImpl<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let Self {
            private,
            ident,
            label,
            owned,
            custom_serializer,
            hook_data,
            hook_data_with_db,
            hook_owner,
            previous_values,
            field_value,
            key,
        } = self;
        let field_value = field_value.as_ref().map(|body| {
            quote! {
                fn __field_value(&self, name: &str) -> ::core::option::Option<#private::serde_json::Value> {
                    #body
                }
            }
        });
        let orm = quote!(#private::sea_orm);
        let hook_data_with_db = hook_data_with_db.as_ref().map(|body| {
            quote! {
                fn hook_data_with_db<'a, C: #orm::ConnectionTrait>(
                    &'a self,
                    db: &'a C,
                ) -> impl ::core::future::Future<
                    Output = ::core::result::Result<#private::serde_json::Value, #orm::DbErr>,
                > + ::core::marker::Send + 'a {
                    #body
                }
            }
        });
        tokens.extend(quote! {
            #[automatically_derived]
            impl #private::Hookable for #ident {
                const MODEL: &'static str = #label;
                const OWNED: bool = #owned;
                const CUSTOM_SERIALIZER: bool = #custom_serializer;
                const PREVIOUS_VALUES: bool = #previous_values;

                fn hook_data(&self) -> #private::serde_json::Value {
                    #hook_data
                }

                #hook_data_with_db

                fn hook_owner<'a, C: #orm::ConnectionTrait>(
                    &'a self,
                    db: &'a C,
                ) -> impl ::core::future::Future<
                    Output = ::core::result::Result<::core::option::Option<#private::Owner>, #orm::DbErr>,
                > + ::core::marker::Send + 'a {
                    #hook_owner
                }

                #field_value

                fn __key(&self) -> ::std::string::String {
                    #key
                }
            }
        });
    }
}

/// The `ActiveModelBehavior` that records saves and deletes.
fn behavior(model: &Ident, private: &TokenStream) -> TokenStream {
    let orm = quote!(#private::sea_orm);
    let result = quote!(::core::result::Result);
    quote! {
        #[automatically_derived]
        #[#private::async_trait]
        impl #orm::ActiveModelBehavior for ActiveModel {
            async fn before_save<C>(self, db: &C, insert: bool) -> #result<Self, #orm::DbErr>
            where
                C: #orm::ConnectionTrait,
            {
                #private::prepare_save(self, db, insert).await
            }

            async fn after_save<C>(model: #model, db: &C, insert: bool) -> #result<#model, #orm::DbErr>
            where
                C: #orm::ConnectionTrait,
            {
                #private::record_save(&model, db, insert).await?;
                #result::Ok(model)
            }

            async fn before_delete<C>(self, db: &C) -> #result<Self, #orm::DbErr>
            where
                C: #orm::ConnectionTrait,
            {
                #private::prepare_delete(self, db).await
            }

            async fn after_delete<C>(self, db: &C) -> #result<Self, #orm::DbErr>
            where
                C: #orm::ConnectionTrait,
            {
                #private::record_delete(&self, db).await?;
                #result::Ok(self)
            }
        }
    }
}
