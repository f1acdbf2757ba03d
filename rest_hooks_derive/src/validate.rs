//! Validation: the checks that need the whole input, each error spanned at the mistake.

use crate::parse::{Errors, Input};

/// Checks a model label: two or more dot-separated parts, each `[A-Za-z_][A-Za-z0-9_-]*`.
pub(crate) fn label_problem(label: &str) -> Option<&'static str> {
    if !label.contains('.') {
        return Some("needs at least two dot-separated parts, as in `bookstore.Book`");
    }
    let bad_part = label.split('.').any(|part| {
        let mut chars = part.chars();
        !chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    bad_part.then_some("has a part that is empty or not made of letters, digits, `_` and `-` (starting with a letter or `_`)")
}

/// Runs every check, adding each problem to `errors`.
pub(crate) fn validate(input: &Input, errors: &mut Errors) {
    if let Some(model) = &input.model
        && let Some(problem) = label_problem(&model.value)
    {
        errors.push(syn::Error::new(model.span, format!("model label `{}` {problem}", model.value)));
    }
    if input.model.is_none() && input.table_name.is_none() {
        errors.push(syn::Error::new(
            input.ident.span(),
            "cannot infer the model label without `#[sea_orm(table_name = \"...\")]`; add `#[hookable(model = \"app.Model\")]`",
        ));
    }
    if let (Some(_), Some(with)) = (&input.owner, &input.owner_with) {
        errors.push(syn::Error::new(with.span, "`owner` and `owner_with` cannot both be given; keep one"));
    }
    if let Some(owner) = &input.owner
        && !input.fields.iter().any(|f| f.ident == owner.value)
    {
        let fields: Vec<String> = input.fields.iter().map(|f| format!("`{}`", f.ident)).collect();
        errors.push(syn::Error::new(
            owner.span,
            format!("no field named `{}`; the fields are {}", owner.value, fields.join(", ")),
        ));
    }
    for field in &input.fields {
        if let (Some(span), true) = (field.skip, field.primary_key) {
            errors.push(syn::Error::new(span, "the primary key cannot be skipped: it is always sent as `pk`"));
        }
    }
    if !input.fields.iter().any(|f| f.primary_key) {
        errors.push(syn::Error::new(input.ident.span(), "no field is marked `#[sea_orm(primary_key)]`"));
    }
}

/// `book_chapter` → `BookChapter`.
pub(crate) fn upper_camel(table: &str) -> String {
    table
        .split(['_', '-', ' '])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_table_names() {
        assert_eq!(upper_camel("book"), "Book");
        assert_eq!(upper_camel("book_chapter"), "BookChapter");
        assert_eq!(upper_camel("books"), "Books");
    }

    #[test]
    fn checks_labels() {
        assert_eq!(label_problem("bookstore.Book"), None);
        assert!(label_problem("Book").is_some());
        assert!(label_problem("bookstore..Book").is_some());
        assert!(label_problem("book store.Book").is_some());
    }
}
