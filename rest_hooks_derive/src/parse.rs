//! Parsing: the struct, its `#[hookable(...)]` attributes and the two facts read from SeaORM's own
//! attributes (the table name and the primary key), into typed structs.
//!
//! A mistake in one key is recorded and parsing goes on with the next, so that a single compile
//! reports every mistake; only a syntax error ends the attribute it is in.

use proc_macro2::{Span, TokenTree};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DataStruct, DeriveInput, Error, Expr, ExprLit, ExprPath, Fields, Ident, Lit, LitStr, Path, Token,
    Type,
};

/// A value and the span its problems are reported at.
pub(crate) struct At<T> {
    /// The value.
    pub(crate) value: T,
    /// Where it was written.
    pub(crate) span: Span,
}

/// What the derive reads from its input, whatever the input's shape.
pub(crate) struct Parsed {
    /// The path generated code names the library by: `crate = "..."`, or `::rest_hooks`. Known
    /// even when the input is not a `Model`, so that the stub emitted beside the errors resolves.
    pub(crate) root: Path,
    /// The input, if it has a `Model`'s shape.
    pub(crate) input: Option<Input>,
}

/// Everything the derive reads from a `Model` struct with named fields.
pub(crate) struct Input {
    /// The struct's name.
    pub(crate) ident: Ident,
    /// `#[sea_orm(table_name = "...")]`, the source of the default model label.
    pub(crate) table_name: Option<At<String>>,
    /// The struct's `#[hookable(...)]` keys.
    pub(crate) attrs: Attrs,
    /// The named fields, in declaration order.
    pub(crate) fields: Vec<Field>,
}

/// The keys of `#[hookable(...)]` on the struct, each as written.
#[derive(Default)]
pub(crate) struct Attrs {
    /// `model = "app.Model"`.
    pub(crate) model: Option<At<String>>,
    /// `owner = "field"`.
    pub(crate) owner: Option<At<String>>,
    /// `owner_with = path`: an async fn `(&Model, &C) -> Result<Option<Owner>, DbErr>`.
    pub(crate) owner_with: Option<ExprPath>,
    /// `serialize_with = path`: a fn `(&Model) -> serde_json::Value`.
    pub(crate) serialize_with: Option<ExprPath>,
    /// `serialize_with_db = path`: an async fn `(&Model, &C) -> Result<serde_json::Value, DbErr>`.
    pub(crate) serialize_with_db: Option<ExprPath>,
    /// `custom_behavior`: the user writes the `ActiveModelBehavior` impl.
    pub(crate) custom_behavior: Option<Span>,
    /// `all_owners`: the model has no owner, and its events go to every owner's hooks.
    pub(crate) all_owners: Option<Span>,
    /// `previous_values`: an update reads the row first, to send the changed fields' previous values.
    pub(crate) previous_values: Option<Span>,
    /// `actions(read, archived)`: the model's custom actions, each with where it was written.
    pub(crate) actions: Vec<At<String>>,
    /// `crate = "path"`: the path of `rest_hooks` in an application that re-exports it.
    pub(crate) root: Option<Path>,
    /// Whether `owner` or `owner_with` was written, well formed or not: a malformed one is
    /// reported as such, not as a missing owner.
    pub(crate) owner_written: bool,
}

/// One named field.
pub(crate) struct Field {
    /// The field's name.
    pub(crate) ident: Ident,
    /// The field's type, where a type that cannot be serialized is reported.
    pub(crate) ty: Type,
    /// Whether `#[sea_orm(primary_key)]` marks it.
    pub(crate) primary_key: bool,
    /// Where `#[hookable(skip)]` was written, if it was.
    pub(crate) skip: Option<Span>,
}

impl Input {
    /// The field named `name`, written with or without `r#`.
    pub(crate) fn field(&self, name: &str) -> Option<&Field> {
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.fields.iter().find(|field| field.name() == name)
    }
}

impl Field {
    /// The name without `r#`, as serialized and as `owner = "..."` names it.
    pub(crate) fn name(&self) -> String {
        self.ident.unraw().to_string()
    }

    /// Whether an update reports it in `changed`: neither skipped nor part of the primary key.
    pub(crate) fn reported(&self) -> bool {
        !self.primary_key && self.skip.is_none()
    }
}

/// Every mistake found so far, reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<Error>);

impl Errors {
    /// Records one mistake.
    pub(crate) fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// All the mistakes as one error, or `None` if there were none.
    pub(crate) fn into_error(self) -> Option<Error> {
        self.0
    }
}

/// The keys `#[hookable(...)]` takes on the struct.
const CONTAINER_KEYS: [&str; 10] = [
    "model",
    "owner",
    "owner_with",
    "all_owners",
    "serialize_with",
    "serialize_with_db",
    "previous_values",
    "custom_behavior",
    "actions",
    "crate",
];

/// Parses `input`. The input is `None` when it does not have a `Model`'s shape (a struct with named
/// fields and no generics); its attributes are still read, so that their mistakes are reported too.
pub(crate) fn parse(input: &DeriveInput, errors: &mut Errors) -> Parsed {
    let fields = named_fields(input).map_err(|error| errors.push(error)).ok();
    let generic = !input.generics.params.is_empty();
    if generic {
        errors.push(Error::new_spanned(&input.generics, "a SeaORM `Model` has no generic parameters; remove them"));
    }
    let mut attrs = Attrs::default();
    let mut seen = Vec::new();
    for attr in hookable_attrs(&input.attrs) {
        report(attr.parse_nested_meta(|meta| container_key(&meta, &mut attrs, &mut seen, errors)), errors);
    }
    let root = attrs.root.clone().unwrap_or_else(|| syn::parse_quote!(::rest_hooks));
    let fields = fields.map(|fields| fields.iter().filter_map(|field| parse_field(field, errors)).collect());
    let table_name = table_name(&input.attrs);
    let input =
        fields.filter(|_| !generic).map(|fields| Input { ident: input.ident.clone(), table_name, attrs, fields });
    Parsed { root, input }
}

/// The fields of a struct with named fields; anything else is an error.
fn named_fields(input: &DeriveInput) -> syn::Result<&Punctuated<syn::Field, Token![,]>> {
    let not_named = "`Hookable` needs named fields, as a SeaORM `Model` has";
    match &input.data {
        Data::Struct(DataStruct { fields: Fields::Named(fields), .. }) => Ok(&fields.named),
        Data::Struct(DataStruct { fields: Fields::Unnamed(fields), .. }) => {
            Err(Error::new_spanned(fields, format!("{not_named}; this is a tuple struct")))
        }
        Data::Struct(DataStruct { fields: Fields::Unit, .. }) => {
            Err(Error::new_spanned(&input.ident, format!("{not_named}; this struct has none")))
        }
        Data::Enum(data) => {
            Err(Error::new(data.enum_token.span, "`Hookable` goes on a SeaORM `Model` struct, not an enum"))
        }
        Data::Union(data) => {
            Err(Error::new(data.union_token.span, "`Hookable` goes on a SeaORM `Model` struct, not a union"))
        }
    }
}

/// The `#[hookable(...)]` attributes among `attrs`.
fn hookable_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("hookable"))
}

/// Records the syntax error that ended an attribute, if any.
fn report(result: syn::Result<()>, errors: &mut Errors) {
    if let Err(error) = result {
        errors.push(error);
    }
}

/// Reads one key of the struct's `#[hookable(...)]`.
fn container_key(
    meta: &ParseNestedMeta<'_>,
    attrs: &mut Attrs,
    seen: &mut Vec<String>,
    errors: &mut Errors,
) -> syn::Result<()> {
    let key = key_name(meta);
    if !first_time(meta, &key, seen, errors)? {
        return Ok(());
    }
    attrs.owner_written |= key == "owner" || key == "owner_with";
    match key.as_str() {
        "model" => attrs.model = string(meta, r#"model = "app.Model""#, errors)?,
        "owner" => attrs.owner = string(meta, r#"owner = "user_id""#, errors)?,
        "owner_with" => attrs.owner_with = path(meta, "owner_with = path::to::async_fn", errors)?,
        "serialize_with" => attrs.serialize_with = path(meta, "serialize_with = path::to::fn", errors)?,
        "serialize_with_db" => {
            attrs.serialize_with_db = path(meta, "serialize_with_db = path::to::async_fn", errors)?;
        }
        "custom_behavior" => attrs.custom_behavior = Some(flag(meta, errors)?),
        "all_owners" => attrs.all_owners = Some(flag(meta, errors)?),
        "previous_values" => attrs.previous_values = Some(flag(meta, errors)?),
        "actions" => attrs.actions = actions(meta, errors)?,
        "crate" => attrs.root = module_path(meta, r#"crate = "my_reexport::rest_hooks""#, errors)?,
        "skip" => unknown(meta, "`skip` goes on a field, not on the struct", errors)?,
        _ => {
            let known = CONTAINER_KEYS.map(|known| format!("`{known}`")).join(", ");
            unknown(meta, &format!("unknown key `{key}`; on the struct `hookable` takes {known}"), errors)?;
        }
    }
    Ok(())
}

/// Parses one field and its `#[hookable(...)]` keys.
fn parse_field(field: &syn::Field, errors: &mut Errors) -> Option<Field> {
    let mut skip = None;
    let mut seen = Vec::new();
    for attr in hookable_attrs(&field.attrs) {
        report(attr.parse_nested_meta(|meta| field_key(&meta, &mut skip, &mut seen, errors)), errors);
    }
    let primary_key = is_primary_key(&field.attrs);
    Some(Field { ident: field.ident.clone()?, ty: field.ty.clone(), primary_key, skip })
}

/// Reads one key of a field's `#[hookable(...)]`.
fn field_key(
    meta: &ParseNestedMeta<'_>,
    skip: &mut Option<Span>,
    seen: &mut Vec<String>,
    errors: &mut Errors,
) -> syn::Result<()> {
    let key = key_name(meta);
    if !first_time(meta, &key, seen, errors)? {
        return Ok(());
    }
    match key.as_str() {
        "skip" => *skip = Some(flag(meta, errors)?),
        key if CONTAINER_KEYS.contains(&key) => {
            unknown(meta, &format!("`{key}` goes on the struct, not on a field; a field takes only `skip`"), errors)?;
        }
        _ => unknown(meta, &format!("unknown key `{key}`; on a field `hookable` takes only `skip`"), errors)?,
    }
    Ok(())
}

/// The key as written, such as `owner`.
fn key_name(meta: &ParseNestedMeta<'_>) -> String {
    let segments = meta.path.segments.iter().map(|segment| segment.ident.unraw().to_string());
    segments.collect::<Vec<_>>().join("::")
}

/// Whether `key` is new in this attribute list; a repeat is reported at itself and skipped.
fn first_time(meta: &ParseNestedMeta<'_>, key: &str, seen: &mut Vec<String>, errors: &mut Errors) -> syn::Result<bool> {
    if !seen.iter().any(|earlier| earlier == key) {
        seen.push(key.to_owned());
        return Ok(true);
    }
    errors.push(Error::new_spanned(&meta.path, format!("duplicate key `{key}`; give it once")));
    skip_value(meta)?;
    Ok(false)
}

/// Reports an unknown key at the key and skips its value.
fn unknown(meta: &ParseNestedMeta<'_>, message: &str, errors: &mut Errors) -> syn::Result<()> {
    errors.push(Error::new_spanned(&meta.path, message));
    skip_value(meta)
}

/// Consumes the key's value: `= expr` or `(...)`.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// The expression after `key =`. A key written without one is reported; `example` shows the form.
fn value(meta: &ParseNestedMeta<'_>, example: &str, errors: &mut Errors) -> syn::Result<Option<Expr>> {
    if meta.input.peek(Token![=]) {
        return meta.value()?.parse().map(Some);
    }
    errors.push(Error::new_spanned(&meta.path, format!("`{}` needs a value: write `{example}`", key_name(meta))));
    skip_value(meta)?;
    Ok(None)
}

/// A string value, `key = "..."`; another kind of value is reported at the value.
fn string(meta: &ParseNestedMeta<'_>, example: &str, errors: &mut Errors) -> syn::Result<Option<At<String>>> {
    Ok(value(meta, example, errors)?.and_then(|expr| match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Some(At { value: lit.value(), span: lit.span() }),
        other => {
            errors.push(Error::new_spanned(other, format!("expected a string: write `{example}`")));
            None
        }
    }))
}

/// A function path, written bare (`key = path::to::fn`) or in a string (`key = "path::to::fn"`).
fn path(meta: &ParseNestedMeta<'_>, example: &str, errors: &mut Errors) -> syn::Result<Option<ExprPath>> {
    Ok(value(meta, example, errors)?.and_then(|expr| {
        let parsed = match expr {
            Expr::Path(path) => Ok(path),
            Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => lit.parse::<ExprPath>().map_err(|_| {
                Error::new(lit.span(), format!("expected a function path in this string: write `{example}`"))
            }),
            other => Err(Error::new_spanned(other, format!("expected a function path: write `{example}`"))),
        };
        parsed.map_err(|error| errors.push(error)).ok()
    }))
}

/// A module path in a string, `key = "path::to::module"`; another kind of value, or a string that
/// is not such a path, is reported at the value.
fn module_path(meta: &ParseNestedMeta<'_>, example: &str, errors: &mut Errors) -> syn::Result<Option<Path>> {
    Ok(value(meta, example, errors)?.and_then(|expr| {
        let parsed = match expr {
            Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => lit.parse_with(Path::parse_mod_style).map_err(|_| {
                Error::new(lit.span(), format!("expected a module path in this string: write `{example}`"))
            }),
            other => Err(Error::new_spanned(other, format!("expected a module path in a string: write `{example}`"))),
        };
        parsed.map_err(|error| errors.push(error)).ok()
    }))
}

/// The custom actions of `actions(read, archived)`, each a name as `"app.Model.read"` ends. A
/// name that is not one, a built-in action (`created`, `updated`, `deleted`) or a repeat is
/// reported at itself.
fn actions(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Vec<At<String>>> {
    const EXAMPLE: &str = "actions(read, archived)";
    if !meta.input.peek(syn::token::Paren) {
        errors.push(Error::new_spanned(
            &meta.path,
            format!("`actions` lists the model's custom actions: write `{EXAMPLE}`"),
        ));
        skip_value(meta)?;
        return Ok(Vec::new());
    }
    let mut found: Vec<At<String>> = Vec::new();
    meta.parse_nested_meta(|action| {
        let span = action.path.span();
        let name = match action.path.get_ident() {
            Some(ident) => ident.unraw().to_string(),
            None => {
                errors.push(Error::new(span, format!("expected an action name: write `{EXAMPLE}`")));
                return skip_value(&action);
            }
        };
        if action.input.peek(Token![=]) || action.input.peek(syn::token::Paren) {
            errors.push(Error::new(span, format!("an action is a bare name: write `{EXAMPLE}`")));
            skip_value(&action)?;
        }
        if matches!(name.as_str(), "created" | "updated" | "deleted") {
            errors.push(Error::new(span, format!("`{name}` is a built-in action; `actions` lists custom ones only")));
        } else if found.iter().any(|earlier| earlier.value == name) {
            errors.push(Error::new(span, format!("action `{name}` is listed twice")));
        } else {
            found.push(At { value: name, span });
        }
        Ok(())
    })?;
    Ok(found)
}

/// A flag, `key` alone. A value is reported at the value, and the flag still counts as given.
fn flag(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Span> {
    let key = key_name(meta);
    let message = format!("`{key}` takes no value: write `{key}` alone");
    if meta.input.peek(Token![=]) {
        let value: Expr = meta.value()?.parse()?;
        errors.push(Error::new_spanned(value, message));
    } else if meta.input.peek(syn::token::Paren) {
        let list: TokenTree = meta.input.parse()?;
        errors.push(Error::new(list.span(), message));
    }
    Ok(meta.path.span())
}

/// `#[sea_orm(table_name = "...")]`. SeaORM reports its own mistakes, so they are ignored here.
fn table_name(attrs: &[Attribute]) -> Option<At<String>> {
    let mut found = None;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("sea_orm")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table_name") {
                let lit: LitStr = meta.value()?.parse()?;
                found = Some(At { value: lit.value(), span: lit.span() });
                return Ok(());
            }
            skip_value(&meta)
        });
    }
    found
}

/// Whether `#[sea_orm(primary_key)]` marks a field.
fn is_primary_key(attrs: &[Attribute]) -> bool {
    let mut found = false;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("sea_orm")) {
        let _ = attr.parse_nested_meta(|meta| {
            found |= meta.path.is_ident("primary_key");
            skip_value(&meta)
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;
    use syn::{DeriveInput, parse_quote};

    use super::{Errors, parse};

    /// The root `input` names, and its errors' messages.
    fn root_of(input: &DeriveInput) -> (String, Vec<String>) {
        let mut errors = Errors::default();
        let parsed = parse(input, &mut errors);
        let messages = errors.into_error().into_iter().flatten().map(|error| error.to_string()).collect();
        (parsed.root.to_token_stream().to_string().replace(' ', ""), messages)
    }

    #[test]
    fn root_defaults_to_rest_hooks() {
        let input = parse_quote! {
            #[hookable(all_owners)]
            struct Model { id: i32 }
        };
        assert_eq!(root_of(&input), ("::rest_hooks".to_owned(), vec![]));
    }

    #[test]
    fn crate_names_the_root() {
        for path in ["my_reexport::rest_hooks", "::my_reexport::rest_hooks", "crate::reexport::hooks", "hooks"] {
            let input = parse_quote! {
                #[hookable(all_owners, crate = #path)]
                struct Model { id: i32 }
            };
            assert_eq!(root_of(&input), (path.to_owned(), vec![]), "{path}");
        }
    }

    #[test]
    fn crate_names_the_root_of_an_input_that_is_not_a_model() {
        let input = parse_quote! {
            #[hookable(crate = "hooks")]
            enum Model { A }
        };
        assert_eq!(root_of(&input).0, "hooks");
    }

    #[test]
    fn malformed_crate_values_say_the_expected_form() {
        let write = r#"write `crate = "my_reexport::rest_hooks"`"#;
        let cases: [(DeriveInput, String); 4] = [
            (
                parse_quote!(
                    #[hookable(crate = my_reexport::rest_hooks)]
                    struct Model {
                        id: i32,
                    }
                ),
                format!("expected a module path in a string: {write}"),
            ),
            (
                parse_quote!(
                    #[hookable(crate = "not a path")]
                    struct Model {
                        id: i32,
                    }
                ),
                format!("expected a module path in this string: {write}"),
            ),
            (
                parse_quote!(
                    #[hookable(crate = "Vec<u8>")]
                    struct Model {
                        id: i32,
                    }
                ),
                format!("expected a module path in this string: {write}"),
            ),
            (
                parse_quote!(
                    #[hookable(crate)]
                    struct Model {
                        id: i32,
                    }
                ),
                format!("`crate` needs a value: {write}"),
            ),
        ];
        for (input, message) in cases {
            assert_eq!(root_of(&input), ("::rest_hooks".to_owned(), vec![message]));
        }
    }
}
