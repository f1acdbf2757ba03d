//! Parsing: the `#[hookable(...)]` and `#[sea_orm(...)]` attributes into typed structs.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, Ident, LitStr, Path};

/// A container attribute value with where it was written.
pub(crate) struct At<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// Everything `#[derive(Hookable)]` reads from the struct.
pub(crate) struct Input {
    pub(crate) ident: Ident,
    pub(crate) model: Option<At<String>>,
    pub(crate) table_name: Option<String>,
    pub(crate) owner: Option<At<String>>,
    pub(crate) owner_with: Option<At<Path>>,
    pub(crate) serialize_with: Option<At<Path>>,
    pub(crate) custom_behavior: Option<Span>,
    pub(crate) fields: Vec<Field>,
}

/// One named field.
pub(crate) struct Field {
    pub(crate) ident: Ident,
    pub(crate) primary_key: bool,
    pub(crate) skip: Option<Span>,
}

/// The container keys, for error messages.
pub(crate) const CONTAINER_KEYS: &str = "`model`, `owner`, `owner_with`, `serialize_with`, `custom_behavior`";

/// Parses the input, collecting every mistake into `errors`.
pub(crate) fn parse(input: &DeriveInput, errors: &mut Errors) -> Option<Input> {
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new(input.generics.span(), "`Hookable` models cannot be generic"));
    }
    let named = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Some(named),
            _ => {
                errors.push(syn::Error::new(
                    input.ident.span(),
                    "`Hookable` needs a struct with named fields (a SeaORM `Model`)",
                ));
                None
            }
        },
        _ => {
            errors.push(syn::Error::new(input.ident.span(), "`Hookable` can only be derived for a SeaORM `Model` struct"));
            None
        }
    }?;
    let mut parsed = Input {
        ident: input.ident.clone(),
        model: None,
        table_name: table_name(&input.attrs),
        owner: None,
        owner_with: None,
        serialize_with: None,
        custom_behavior: None,
        fields: Vec::new(),
    };
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("hookable")) {
        container_attr(attr, &mut parsed, errors);
    }
    for field in &named.named {
        let Some(ident) = field.ident.clone() else { continue };
        let mut skip = None;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("hookable")) {
            field_attr(attr, &mut skip, errors);
        }
        parsed.fields.push(Field { primary_key: is_primary_key(&field.attrs), ident, skip });
    }
    Some(parsed)
}

fn container_attr(attr: &Attribute, input: &mut Input, errors: &mut Errors) {
    let result = attr.parse_nested_meta(|meta| {
        let key = meta.path.get_ident().map(Ident::to_string).unwrap_or_default();
        let span = meta.path.span();
        match key.as_str() {
            "model" => set(&mut input.model, string(&meta)?, span, "model", errors),
            "owner" => set(&mut input.owner, string(&meta)?, span, "owner", errors),
            "owner_with" => set(&mut input.owner_with, path(&meta)?, span, "owner_with", errors),
            "serialize_with" => set(&mut input.serialize_with, path(&meta)?, span, "serialize_with", errors),
            "custom_behavior" => {
                flag(&meta, "custom_behavior")?;
                if input.custom_behavior.replace(span).is_some() {
                    errors.push(duplicate(span, "custom_behavior"));
                }
            }
            _ => {
                skip_value(&meta);
                errors.push(meta.error(format!("unknown `hookable` attribute; expected one of {CONTAINER_KEYS}")));
            }
        }
        Ok(())
    });
    if let Err(error) = result {
        errors.push(error);
    }
}

fn field_attr(attr: &Attribute, skip: &mut Option<Span>, errors: &mut Errors) {
    let result = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("skip") {
            flag(&meta, "skip")?;
            if skip.replace(meta.path.span()).is_some() {
                errors.push(duplicate(meta.path.span(), "skip"));
            }
        } else {
            skip_value(&meta);
            errors.push(meta.error("unknown `hookable` field attribute; expected `skip`"));
        }
        Ok(())
    });
    if let Err(error) = result {
        errors.push(error);
    }
}

fn set<T>(slot: &mut Option<At<T>>, value: (T, Span), key_span: Span, key: &str, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(duplicate(key_span, key));
    } else {
        *slot = Some(At { value: value.0, span: value.1 });
    }
}

fn duplicate(span: Span, key: &str) -> syn::Error {
    syn::Error::new(span, format!("duplicate `hookable` attribute `{key}`"))
}

fn string(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<(String, Span)> {
    let expr: syn::Expr = meta.value()?.parse()?;
    match &expr {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(lit), .. }) => Ok((lit.value(), lit.span())),
        other => Err(syn::Error::new(other.span(), format!("expected a string, as in `{} = \"...\"`", name(meta)))),
    }
}

fn path(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<(Path, Span)> {
    let expr: syn::Expr = meta.value()?.parse()?;
    match &expr {
        syn::Expr::Path(p) => Ok((p.path.clone(), p.span())),
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(lit), .. }) => {
            lit.parse::<Path>().map(|p| (p, lit.span()))
        }
        other => Err(syn::Error::new(
            other.span(),
            format!("expected a function path, as in `{} = path::to::function`", name(meta)),
        )),
    }
}

fn flag(meta: &syn::meta::ParseNestedMeta<'_>, key: &str) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let value: syn::Expr = meta.value()?.parse()?;
        return Err(syn::Error::new(value.span(), format!("`{key}` takes no value; write `#[hookable({key})]`")));
    }
    Ok(())
}

fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) {
    if meta.input.peek(syn::Token![=]) {
        let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|_| Ok(()));
    }
}

fn name(meta: &syn::meta::ParseNestedMeta<'_>) -> String {
    meta.path.get_ident().map(Ident::to_string).unwrap_or_default()
}

/// `table_name` from `#[sea_orm(table_name = "...")]`.
fn table_name(attrs: &[Attribute]) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("sea_orm")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table_name") {
                found = Some(meta.value()?.parse::<LitStr>()?.value());
            } else {
                skip_value(&meta);
            }
            Ok(())
        });
    }
    found
}

/// Whether `#[sea_orm(primary_key)]` marks the field.
fn is_primary_key(attrs: &[Attribute]) -> bool {
    let mut found = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("sea_orm")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("primary_key") {
                found = true;
            }
            skip_value(&meta);
            Ok(())
        });
    }
    found
}

/// Every error found, reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds one error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// The combined error, if any.
    pub(crate) fn finish(self) -> Option<syn::Error> {
        self.0
    }
}
