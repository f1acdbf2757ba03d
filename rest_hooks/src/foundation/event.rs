//! Event names, actions and the `"app.Model.action[+]"` specs that tie them together.
//!
//! An *event* is what subscribers subscribe to (`book.added`). An *action* is what happened to a model
//! (`created`, `updated`, `deleted`, or a custom action such as `read`). The event map says which
//! action of which model fires which event; this module owns the small grammar of both.

use std::fmt;

use serde_json::Value;

use crate::foundation::changes::Changes;
use crate::foundation::hookable::Audience;

/// What happened to a model instance.
///
/// `Created`, `Updated` and `Deleted` are recorded by the code `#[derive(Hookable)]` generates; any
/// other action is custom and fired explicitly with [`Engine::action`](crate::Engine::action).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The instance was inserted.
    Created,
    /// The instance was updated.
    Updated,
    /// The instance was deleted.
    Deleted,
    /// An application-defined action, such as `read`.
    Custom(String),
}

impl Action {
    /// The action's name as written in an event spec: `created`, `updated`, `deleted` or the custom name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
            Self::Custom(name) => name,
        }
    }

    /// Parses an action name; the three built-in names give the built-in variants.
    pub fn parse(name: &str) -> Self {
        match name {
            "created" => Self::Created,
            "updated" => Self::Updated,
            "deleted" => Self::Deleted,
            other => Self::Custom(other.to_owned()),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Action {
    fn from(name: &str) -> Self {
        Self::parse(name)
    }
}

/// A recorded event, as finders and serializers see it. The engine builds it; more fields may come.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The outbox row id.
    pub id: i64,
    /// The event name, such as `book.added`.
    pub name: String,
    /// The label of the model that fired it; `None` for raw events.
    pub model: Option<String>,
    /// The action that fired it; `None` for raw events.
    pub action: Option<Action>,
    /// Whose hooks receive it.
    pub audience: Audience,
    /// The data captured when it was recorded (for raw events, the payload).
    pub data: Value,
    /// When it was recorded, in Unix milliseconds.
    pub recorded_at: i64,
    /// What the update changed, for an `updated` event recorded by a save; `None` otherwise (and
    /// for events recorded with [`Engine::emit`](crate::Engine::emit)).
    pub changes: Option<Changes>,
}

impl Event {
    /// A raw event named `name` carrying `data`, to every owner, with id 0 and recorded at time 0:
    /// for an application's own tests of its finders and serializers. The `with_` methods fill in
    /// the rest.
    ///
    /// ```
    /// use rest_hooks::{Action, Audience, Event};
    /// use serde_json::json;
    ///
    /// let event = Event::new("book.added", json!({"fields": {"title": "Dune"}}))
    ///     .with_model("bookstore.Book", Action::Created)
    ///     .with_audience(Audience::Owner(7.into()));
    /// assert_eq!(event.action, Some(Action::Created));
    /// ```
    pub fn new(name: impl Into<String>, data: Value) -> Self {
        Self {
            id: 0,
            name: name.into(),
            model: None,
            action: None,
            audience: Audience::All,
            data,
            recorded_at: 0,
            changes: None,
        }
    }

    /// The model label and action that fired it. Default: none (a raw event).
    pub fn with_model(mut self, model: impl Into<String>, action: Action) -> Self {
        self.model = Some(model.into());
        self.action = Some(action);
        self
    }

    /// Whose hooks receive it. Default: every owner's.
    pub fn with_audience(mut self, audience: Audience) -> Self {
        self.audience = audience;
        self
    }

    /// What the update changed. Default: none.
    pub fn with_changes(mut self, changes: Changes) -> Self {
        self.changes = Some(changes);
        self
    }

    /// The value of field `name` of the instance the event is about, as the body carries it: under
    /// `data.fields` in the default shape (`{"model", "pk", "fields": {…}}`), else at the top of a
    /// `data` object shaped by a serializer of the application's; `None` when there is none.
    ///
    /// ```
    /// use rest_hooks::Event;
    /// use serde_json::json;
    ///
    /// let event = Event::new("ticket.opened", json!({"model": "tracker.ticket", "pk": 7, "fields": {"project_id": 2}}));
    /// assert_eq!(event.field("project_id"), Some(&json!(2)));
    /// assert_eq!(event.field("label"), None);
    /// let shaped = Event::new("ticket.opened", json!({"ticket": 7, "project_id": 2}));
    /// assert_eq!(shaped.field("project_id"), Some(&json!(2)));
    /// ```
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self.data.get("fields").and_then(Value::as_object) {
            Some(fields) => fields.get(name),
            None => self.data.get(name),
        }
    }

    /// Its outbox row id and when it was recorded (Unix ms). Default: 0 and 0.
    pub fn with_id(mut self, id: i64, recorded_at: i64) -> Self {
        self.id = id;
        self.recorded_at = recorded_at;
        self
    }
}

/// The longest event name accepted, in bytes.
pub(crate) const MAX_EVENT_NAME_LEN: usize = 200;

/// Why an event name, model label or spec was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NameError {
    Empty,
    TooLong,
    NoDot,
    EmptySegment,
    BadChar(char),
    BadStart(char),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::TooLong => write!(f, "it is longer than {MAX_EVENT_NAME_LEN} bytes"),
            Self::NoDot => f.write_str("it needs at least two dot-separated parts"),
            Self::EmptySegment => f.write_str("it has an empty part between dots"),
            Self::BadChar(c) => write!(f, "it contains {c:?}; use letters, digits, `_` and `-`"),
            Self::BadStart(c) => write!(f, "a part starts with {c:?}; start each part with a letter or `_`"),
        }
    }
}

/// Checks a dotted name: two or more parts, each `[A-Za-z_][A-Za-z0-9_-]*`.
pub(crate) fn check_dotted(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_EVENT_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if !name.contains('.') {
        return Err(NameError::NoDot);
    }
    name.split('.').try_for_each(check_segment)
}

fn check_segment(segment: &str) -> Result<(), NameError> {
    let mut chars = segment.chars();
    let first = chars.next().ok_or(NameError::EmptySegment)?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(NameError::BadStart(first));
    }
    match chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        Some(bad) => Err(NameError::BadChar(bad)),
        None => Ok(()),
    }
}

/// A parsed `"app.Model.action[(field, …)][+]"` spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) model: String,
    pub(crate) action: String,
    pub(crate) all_owners: bool,
    /// The fields of `updated(title, pages)`, as written, without repeats.
    pub(crate) fields: Option<Vec<String>>,
}

/// Why a spec was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SpecError {
    Model(NameError),
    MissingAction,
    Action(NameError),
    NoFields,
    Field(String),
    Unclosed,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Model(e) => write!(f, "its model label is malformed: {e}"),
            Self::MissingAction => f.write_str("it has no action; write `app.Model.action`"),
            Self::Action(e) => write!(f, "its action is malformed: {e}"),
            Self::NoFields => f.write_str("its field list is empty; name a field, as in `updated(title)`"),
            Self::Field(field) => write!(f, "its field list names `{field}`, which is not a field name"),
            Self::Unclosed => f.write_str("its field list is not closed; write `updated(title, pages)`"),
        }
    }
}

impl Spec {
    /// Parses `app.Model.action`, `app.Model.action+`, and either with a field list after the action:
    /// `app.Model.updated(title, pages)`.
    pub(crate) fn parse(spec: &str) -> Result<Self, SpecError> {
        let spec = spec.trim();
        let (body, mut all_owners) = match spec.strip_suffix('+') {
            Some(body) => (body.trim_end(), true),
            None => (spec, false),
        };
        let (body, fields) = split_fields(body)?;
        let body = match body.strip_suffix('+') {
            Some(body) => {
                all_owners = true;
                body
            }
            None => body,
        };
        let (model, action) = body.rsplit_once('.').ok_or(SpecError::MissingAction)?;
        check_dotted(model).map_err(SpecError::Model)?;
        check_segment(action).map_err(SpecError::Action)?;
        Ok(Self { model: model.to_owned(), action: action.to_owned(), all_owners, fields })
    }
}

/// Splits `head(a, b)` into `head` and its fields; a body without a list is all head.
fn split_fields(body: &str) -> Result<(&str, Option<Vec<String>>), SpecError> {
    let Some(open) = body.find('(') else {
        return if body.contains(')') { Err(SpecError::Unclosed) } else { Ok((body, None)) };
    };
    let list = body[open + 1..].strip_suffix(')').ok_or(SpecError::Unclosed)?;
    let mut fields: Vec<String> = Vec::new();
    for field in list.split(',').map(str::trim).filter(|field| !field.is_empty()) {
        if !is_field_name(field) {
            return Err(SpecError::Field(field.to_owned()));
        }
        if !fields.iter().any(|seen| seen == field) {
            fields.push(field.to_owned());
        }
    }
    if fields.is_empty() {
        return Err(SpecError::NoFields);
    }
    Ok((body[..open].trim_end(), Some(fields)))
}

/// Whether `name` can be a Rust field's name: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let spec = Spec::parse("bookstore.Book.created").unwrap();
        assert_eq!(
            spec,
            Spec { model: "bookstore.Book".into(), action: "created".into(), all_owners: false, fields: None }
        );
        assert!(Spec::parse("bookstore.Book.read+").unwrap().all_owners);
        assert_eq!(Spec::parse("created"), Err(SpecError::MissingAction));
        assert_eq!(Spec::parse("Book.created"), Err(SpecError::Model(NameError::NoDot)));
        assert_eq!(Spec::parse("bookstore.Book."), Err(SpecError::Action(NameError::EmptySegment)));
        assert_eq!(Spec::parse("book store.Book.created"), Err(SpecError::Model(NameError::BadChar(' '))));
    }

    #[test]
    fn parses_field_lists() {
        let spec = Spec::parse("bookstore.Book.updated(title, pages, title)").unwrap();
        assert_eq!(spec.action, "updated");
        assert_eq!(spec.fields, Some(vec!["title".to_owned(), "pages".to_owned()]));
        assert!(Spec::parse("bookstore.Book.updated(title)+").unwrap().all_owners);
        assert!(Spec::parse("bookstore.Book.updated+(title)").unwrap().all_owners);
        assert_eq!(Spec::parse("bookstore.Book.updated()"), Err(SpecError::NoFields));
        assert_eq!(Spec::parse("bookstore.Book.updated( , )"), Err(SpecError::NoFields));
        assert_eq!(Spec::parse("bookstore.Book.updated(title"), Err(SpecError::Unclosed));
        assert_eq!(Spec::parse("bookstore.Book.updated)"), Err(SpecError::Unclosed));
        assert_eq!(Spec::parse("bookstore.Book.updated(ti tle)"), Err(SpecError::Field("ti tle".into())));
    }

    #[test]
    fn checks_dotted_names() {
        assert!(check_dotted("book.added").is_ok());
        assert!(check_dotted("user.logged_in").is_ok());
        assert_eq!(check_dotted("book"), Err(NameError::NoDot));
        assert_eq!(check_dotted("book..added"), Err(NameError::EmptySegment));
        assert_eq!(check_dotted("book.1st"), Err(NameError::BadStart('1')));
        assert_eq!(check_dotted(""), Err(NameError::Empty));
        assert_eq!(check_dotted(&"a.".repeat(200)), Err(NameError::TooLong));
    }

    #[test]
    fn actions_round_trip() {
        for name in ["created", "updated", "deleted", "read"] {
            assert_eq!(Action::parse(name).as_str(), name);
        }
        assert_eq!(Action::parse("read"), Action::Custom("read".into()));
    }
}
