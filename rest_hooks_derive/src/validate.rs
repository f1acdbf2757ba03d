//! Validation: the checks that look past a single key (the model label, the owner — named, or
//! `all_owners` said explicitly — against the fields, the serializer — one at most — and `skip`
//! against the primary key and the serializer), each mistake reported at the attribute that made it.

use syn::Error;

use crate::parse::{Errors, Input};

/// Runs every check, recording each mistake in `errors`.
pub(crate) fn validate(input: &Input, errors: &mut Errors) {
    check_label(input, errors);
    check_owner(input, errors);
    check_primary_key(input, errors);
    check_serializer(input, errors);
    check_skips(input, errors);
}

/// The model label: the one given must be well formed, and without one the table name must give
/// one.
fn check_label(input: &Input, errors: &mut Errors) {
    if let Some(model) = &input.attrs.model {
        if let Some(problem) = label_problem(&model.value) {
            let message = format!("model label `{}` {problem}; write it as in `bookstore.Book`", model.value);
            errors.push(Error::new(model.span, message));
        }
    } else if let Some(table) = &input.table_name {
        if let Some(problem) = part_problem(&upper_camel(&table.value)) {
            let message = format!(
                "table `{}` gives no usable model label: it would have {problem}; name one with \
                 `#[hookable(model = \"app.Model\")]`",
                table.value
            );
            errors.push(Error::new(table.span, message));
        }
    } else {
        let message = "no model label: it defaults to the crate name and `#[sea_orm(table_name = \"...\")]`, \
                       which this struct lacks; add `#[hookable(model = \"app.Model\")]`";
        errors.push(Error::new_spanned(&input.ident, message));
    }
}

/// The owner: exactly one of `owner`, `owner_with` and `all_owners`, and a named owner field must
/// exist.
fn check_owner(input: &Input, errors: &mut Errors) {
    let attrs = &input.attrs;
    if let (Some(_), Some(with)) = (&attrs.owner, &attrs.owner_with) {
        errors.push(Error::new_spanned(with, "`owner` and `owner_with` both say who owns the model; keep one"));
    }
    match (attrs.all_owners, attrs.owner_written) {
        (Some(all), true) => {
            let message = "`all_owners` says the model has no owner, but `owner`/`owner_with` names one; keep one";
            errors.push(Error::new(all, message));
        }
        (None, false) => errors.push(Error::new_spanned(&input.ident, unowned_message(input))),
        _ => {}
    }
    let Some(owner) = &input.attrs.owner else { return };
    if input.field(&owner.value).is_none() {
        let fields: Vec<String> = input.fields.iter().map(|field| format!("`{}`", field.name())).collect();
        let message = format!("no field named `{}`; the fields are {}", owner.value, fields.join(", "));
        errors.push(Error::new(owner.span, message));
    }
}

/// What to say about a model that names no owner.
fn unowned_message(input: &Input) -> String {
    format!(
        "`{}` names no owner, so its events would reach every owner's hooks; say whose each row is with \
         `#[hookable(owner = \"field\")]` (or `owner_with = path::to::async_fn`), or that every owner may see \
         every row with `#[hookable(all_owners)]`",
        input.ident
    )
}

/// The primary key: there must be one, and it cannot be skipped.
fn check_primary_key(input: &Input, errors: &mut Errors) {
    for field in input.fields.iter().filter(|field| field.primary_key) {
        if let Some(skip) = field.skip {
            errors.push(Error::new(skip, "the primary key cannot be skipped: it is always sent as `pk`"));
        }
    }
    if !input.fields.iter().any(|field| field.primary_key) {
        let message = "no field is marked `#[sea_orm(primary_key)]`; mark the key field(s) with it, as `Hookable` \
                       sends the primary key as `pk`";
        errors.push(Error::new_spanned(&input.ident, message));
    }
}

/// The serializer: `serialize_with` and `serialize_with_db` both shape `data`, so one at most.
fn check_serializer(input: &Input, errors: &mut Errors) {
    if let (Some(_), Some(with_db)) = (&input.attrs.serialize_with, &input.attrs.serialize_with_db) {
        let message = "`serialize_with` and `serialize_with_db` both shape `data`; keep one (`serialize_with_db` \
                       when the serializer reads the database)";
        errors.push(Error::new_spanned(with_db, message));
    }
}

/// `skip` shapes the default `data` only, so it cannot go with `serialize_with` or
/// `serialize_with_db`.
fn check_skips(input: &Input, errors: &mut Errors) {
    let serializer = match (&input.attrs.serialize_with, &input.attrs.serialize_with_db) {
        (Some(_), _) => "serialize_with",
        (None, Some(_)) => "serialize_with_db",
        (None, None) => return,
    };
    for skip in input.fields.iter().filter_map(|field| field.skip) {
        let message = format!("`skip` has no effect with `{serializer}`: the serializer chooses the fields; remove it");
        errors.push(Error::new(skip, message));
    }
}

/// What is wrong with a model label, if anything: it needs two or more dot-separated parts.
pub(crate) fn label_problem(label: &str) -> Option<String> {
    if !label.contains('.') {
        return Some("needs two or more dot-separated parts".to_owned());
    }
    label.split('.').find_map(|part| part_problem(part).map(|problem| format!("has {problem}")))
}

/// What is wrong with one part of a model label, if anything: it must match `[A-Za-z_][A-Za-z0-9_-]*`.
fn part_problem(part: &str) -> Option<String> {
    let mut chars = part.chars();
    match chars.next() {
        None => Some("an empty part".to_owned()),
        Some(first) if !(first.is_ascii_alphabetic() || first == '_') => {
            Some(format!("a part `{part}` that does not start with a letter or `_`"))
        }
        Some(_) if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => {
            Some(format!("a part `{part}` with characters other than letters, digits, `_` and `-`"))
        }
        Some(_) => None,
    }
}

/// The UpperCamelCase of a table name: `book_chapter` → `BookChapter`.
pub(crate) fn upper_camel(table: &str) -> String {
    table.split(['_', '-', ' ']).map(capitalize).collect()
}

/// `chapter` → `Chapter`.
fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{label_problem, upper_camel};

    #[test]
    fn table_names_become_upper_camel_case() {
        assert_eq!(upper_camel("book"), "Book");
        assert_eq!(upper_camel("book_chapter"), "BookChapter");
        assert_eq!(upper_camel("book__chapter_"), "BookChapter");
        assert_eq!(upper_camel("BookChapter"), "BookChapter");
        assert_eq!(upper_camel("user2_token"), "User2Token");
        assert_eq!(upper_camel(""), "");
    }

    #[test]
    fn well_formed_labels_pass() {
        for label in ["bookstore.Book", "_app.Model", "my-app.Book_Chapter", "a.b.c"] {
            assert_eq!(label_problem(label), None, "{label}");
        }
    }

    #[test]
    fn malformed_labels_say_why() {
        let cases = [
            ("Book", "needs two or more dot-separated parts"),
            ("", "needs two or more dot-separated parts"),
            ("bookstore..Book", "has an empty part"),
            ("bookstore.", "has an empty part"),
            ("bookstore.2Book", "has a part `2Book` that does not start with a letter or `_`"),
            ("book store.Book", "has a part `book store` with characters other than letters, digits, `_` and `-`"),
        ];
        for (label, problem) in cases {
            assert_eq!(label_problem(label).as_deref(), Some(problem), "{label}");
        }
    }
}
