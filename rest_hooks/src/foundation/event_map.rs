//! The event map: which action of which model fires which event.
//!
//! Built once at startup, from code ([`EventMapBuilder::event`]) or from a config file
//! ([`EventsConfig`]), and checked as a whole: a malformed name, a duplicate mapping or a model label
//! that no `#[derive(Hookable)]` entity declares is an error that names every culprit, before the
//! first save. On the save path a lookup is one hash probe on the model label.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::foundation::changes::Changes;
use crate::foundation::event::{Spec, check_dotted};
use crate::foundation::hookable::{DeclaredFields, declared_models};

/// The event an action fires, and for whom. The event map builds it; more fields may come.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mapping {
    /// The event name, such as `book.added`.
    pub event: Arc<str>,
    /// `true` when the spec ended in `+`: every owner's hooks receive it.
    pub all_owners: bool,
}

/// An event on an update of given fields only: `"app.Model.updated(title, pages)"`.
#[derive(Debug)]
struct FieldMapping {
    fields: Vec<String>,
    mapping: Mapping,
}

#[derive(Debug, Default)]
struct ModelEvents {
    created: Option<Mapping>,
    updated: Option<Mapping>,
    updated_fields: Vec<FieldMapping>,
    deleted: Option<Mapping>,
    custom: HashMap<String, Mapping>,
}

impl ModelEvents {
    fn slot(&mut self, action: &str) -> &mut Option<Mapping> {
        match action {
            "created" => &mut self.created,
            "updated" => &mut self.updated,
            "deleted" => &mut self.deleted,
            _ => unreachable!("custom actions live in the map"),
        }
    }

    fn get(&self, action: &str) -> Option<&Mapping> {
        match action {
            "created" => self.created.as_ref(),
            "updated" => self.updated.as_ref(),
            "deleted" => self.deleted.as_ref(),
            custom => self.custom.get(custom),
        }
    }
}

/// One entry of the catalogue returned by [`EventMap::events`]. The event map builds it; more fields
/// may come.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EventInfo {
    /// The event name.
    pub name: String,
    /// The model label it is tied to, or `None` for a raw event.
    pub model: Option<String>,
    /// The model action that fires it, or `None` for a raw event.
    pub action: Option<String>,
    /// Whether every owner's hooks receive it (`+` in the spec).
    pub all_owners: bool,
    /// The fields of an event on an update of given fields only (`updated(title, pages)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

/// The validated event map. Cheap to share; build it with [`EventMap::builder`].
#[derive(Debug, Default)]
pub struct EventMap {
    models: HashMap<String, ModelEvents>,
    events: BTreeMap<String, EventInfo>,
}

impl EventMap {
    /// Starts an empty map.
    pub fn builder() -> EventMapBuilder {
        EventMapBuilder::default()
    }

    /// The event that `action` of `model` fires, if any. One hash lookup. For `updated`, the
    /// event mapped without a field list; [`updates`](Self::updates) gives all of them.
    pub fn lookup(&self, model: &str, action: &str) -> Option<&Mapping> {
        self.models.get(model)?.get(action)
    }

    /// The events an update of `model` fires: the plain `updated` one, and each event on given
    /// fields whose fields `changes` touches. Without `changes` (an update recorded without change
    /// information), the plain one only.
    ///
    /// ```
    /// use rest_hooks::{Changes, EventMap};
    ///
    /// let map = EventMap::builder()
    ///     .check_models(false)
    ///     .event("book.changed", "bookstore.Book.updated")
    ///     .event("book.retitled", "bookstore.Book.updated(title)")
    ///     .build()
    ///     .unwrap();
    /// let events = |changes: Option<&Changes>| -> Vec<String> {
    ///     map.updates("bookstore.Book", changes).map(|m| m.event.to_string()).collect()
    /// };
    /// assert_eq!(events(Some(&Changes::new(["title"]))), ["book.changed", "book.retitled"]);
    /// assert_eq!(events(Some(&Changes::new(["pages"]))), ["book.changed"]);
    /// assert_eq!(events(None), ["book.changed"]);
    /// ```
    pub fn updates<'a>(&'a self, model: &str, changes: Option<&'a Changes>) -> impl Iterator<Item = &'a Mapping> {
        let events = self.models.get(model);
        let plain = events.and_then(|events| events.updated.as_ref());
        let on_fields = events.map_or(&[][..], |events| &events.updated_fields[..]);
        let on_fields = on_fields
            .iter()
            .filter(move |on| changes.is_some_and(|changes| changes.touches(&on.fields)))
            .map(|on| &on.mapping);
        plain.into_iter().chain(on_fields)
    }

    /// Whether an update of `model` can fire any event.
    pub(crate) fn maps_updates(&self, model: &str) -> bool {
        self.models.get(model).is_some_and(|events| events.updated.is_some() || !events.updated_fields.is_empty())
    }

    /// Whether `name` is an event of this map (model-bound or raw).
    pub fn contains(&self, name: &str) -> bool {
        self.events.contains_key(name)
    }

    /// The catalogue of events, sorted by name.
    pub fn events(&self) -> impl Iterator<Item = &EventInfo> {
        self.events.values()
    }

    /// The event names, sorted, joined with `, ` for error messages.
    pub(crate) fn known_names(&self) -> String {
        self.events.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
    }

    /// The actions mapped for `model`, sorted, for error messages.
    pub(crate) fn actions_of(&self, model: &str) -> Vec<String> {
        let mut actions: Vec<String> = self
            .events
            .values()
            .filter(|info| info.model.as_deref() == Some(model))
            .filter_map(|info| info.action.clone())
            .collect();
        actions.sort();
        actions
    }
}

/// An event map as written in a config file: event name → `"app.Model.action[+]"`, or `null` for
/// a raw event.
///
/// ```
/// let config: rest_hooks::EventsConfig = serde_json::from_str(r#"{
///     "book.added": "bookstore.Book.created",
///     "book.read": "bookstore.Book.read+",
///     "user.logged_in": null
/// }"#).unwrap();
/// assert_eq!(config.0.len(), 3);
///
/// // An event defined twice is refused, not silently overwritten by the second definition.
/// let twice = serde_json::from_str::<rest_hooks::EventsConfig>(
///     r#"{"book.added": "bookstore.Book.created", "book.added": "bookstore.Book.updated"}"#,
/// );
/// assert!(twice.unwrap_err().to_string().starts_with("event `book.added` is defined twice"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EventsConfig(pub BTreeMap<String, Option<String>>);

impl<'de> Deserialize<'de> for EventsConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventsVisitor)
    }
}

/// Reads an [`EventsConfig`], refusing a name seen twice.
struct EventsVisitor;

impl<'de> serde::de::Visitor<'de> for EventsVisitor {
    type Value = EventsConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of event names to `\"app.Model.action\"` or null")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<EventsConfig, A::Error> {
        let mut events = BTreeMap::new();
        while let Some((name, spec)) = map.next_entry::<String, Option<String>>()? {
            if events.contains_key(&name) {
                return Err(serde::de::Error::custom(format_args!("event `{name}` is defined twice")));
            }
            events.insert(name, spec);
        }
        Ok(EventsConfig(events))
    }
}

/// Collects event definitions; [`build`](Self::build) checks them all at once.
#[derive(Clone, Debug, Default)]
pub struct EventMapBuilder {
    entries: Vec<(String, Option<String>)>,
    skip_model_check: bool,
}

impl EventMapBuilder {
    /// Maps `name` to a model action: `"app.Model.action"`, or `"app.Model.action+"` to send it to the
    /// hooks of every owner.
    pub fn event(mut self, name: impl Into<String>, spec: impl Into<String>) -> Self {
        self.entries.push((name.into(), Some(spec.into())));
        self
    }

    /// Declares a raw event, tied to no model, fired with [`Engine::raw`](crate::Engine::raw).
    pub fn raw_event(mut self, name: impl Into<String>) -> Self {
        self.entries.push((name.into(), None));
        self
    }

    /// Adds every entry of a config file's event map.
    pub fn events(mut self, config: EventsConfig) -> Self {
        self.entries.extend(config.0);
        self
    }

    /// Whether model labels must be declared by a `#[derive(Hookable)]` entity linked into this
    /// program. Default: `true`.
    pub fn check_models(mut self, check: bool) -> Self {
        self.skip_model_check = !check;
        self
    }

    /// Validates every entry and builds the map, or returns every problem found.
    pub fn build(self) -> Result<EventMap, EventMapError> {
        let declared = (!self.skip_model_check).then(declared_models);
        let mut problems = Vec::new();
        let mut map = EventMap::default();
        let mut seen: HashMap<(String, String, Option<Vec<String>>), String> = HashMap::new();
        let mut names = HashSet::new();
        for (name, spec) in self.entries {
            if let Err(e) = check_dotted(&name) {
                problems.push(format!("event name `{name}` is not a valid dotted name: {e}"));
                continue;
            }
            if !names.insert(name.clone()) {
                problems.push(format!("event `{name}` is defined twice"));
                continue;
            }
            let Some(spec_text) = spec else {
                let info = EventInfo { name: name.clone(), model: None, action: None, all_owners: false, fields: None };
                map.events.insert(name, info);
                continue;
            };
            let spec = match Spec::parse(&spec_text) {
                Ok(spec) => spec,
                Err(e) => {
                    problems.push(format!("event `{name}` maps `{spec_text}`, which is malformed: {e}"));
                    continue;
                }
            };
            if let Some(declared) = &declared
                && !declared.contains_key(spec.model.as_str())
            {
                problems.push(undeclared(&name, &spec.model, declared));
                continue;
            }
            if let Some(model) = declared.as_ref().and_then(|declared| declared.get(spec.model.as_str()))
                && let Some(problem) = undeclared_action(&name, &spec_text, &spec, model)
            {
                problems.push(problem);
                continue;
            }
            if let Some(fields) = &spec.fields {
                let declared = declared.as_ref().and_then(|declared| declared.get(spec.model.as_str()));
                let found = field_problems(&name, &spec_text, &spec.action, fields, declared);
                if !found.is_empty() {
                    problems.extend(found);
                    continue;
                }
            }
            let key = (spec.model.clone(), spec.action.clone(), spec.fields.clone().map(sorted));
            if let Some(first) = seen.get(&key) {
                let list = spec.fields.as_ref().map(|fields| format!("({})", fields.join(", "))).unwrap_or_default();
                problems.push(format!(
                    "event `{name}` maps `{}.{}{list}`, already mapped by `{first}`",
                    spec.model, spec.action
                ));
                continue;
            }
            seen.insert(key, name.clone());
            map.insert(name, spec);
        }
        if problems.is_empty() { Ok(map) } else { Err(EventMapError { problems }) }
    }
}

impl EventMap {
    fn insert(&mut self, name: String, spec: Spec) {
        let mapping = Mapping { event: Arc::from(name.as_str()), all_owners: spec.all_owners };
        let events = self.models.entry(spec.model.clone()).or_default();
        match (spec.action.as_str(), &spec.fields) {
            ("updated", Some(fields)) => events.updated_fields.push(FieldMapping { fields: fields.clone(), mapping }),
            ("created" | "updated" | "deleted", _) => *events.slot(&spec.action) = Some(mapping),
            (custom, _) => {
                events.custom.insert(custom.to_owned(), mapping);
            }
        }
        let info = EventInfo {
            name: name.clone(),
            model: Some(spec.model),
            action: Some(spec.action),
            all_owners: spec.all_owners,
            fields: spec.fields,
        };
        self.events.insert(name, info);
    }
}

fn sorted(mut fields: Vec<String>) -> Vec<String> {
    fields.sort();
    fields
}

/// What is wrong with the field list of event `name`'s spec: a list on an action other than
/// `updated`, or fields an update of the model never reports (checked when the model is declared).
fn field_problems(
    name: &str,
    spec: &str,
    action: &str,
    fields: &[String],
    declared: Option<&DeclaredFields>,
) -> Vec<String> {
    if action != "updated" {
        return vec![format!("event `{name}` maps `{spec}`: a field list goes only on `updated`, not on `{action}`")];
    }
    let Some(declared) = declared else { return Vec::new() };
    fields
        .iter()
        .filter(|field| !declared.fields.contains(&field.as_str()))
        .map(|field| {
            let mut message = format!("event `{name}` maps `{spec}`: ");
            if declared.skipped.contains(&field.as_str()) {
                message.push_str(&format!(
                    "field `{field}` is skipped (`#[hookable(skip)]`), so an update never reports it"
                ));
            } else {
                message.push_str(&format!("the model has no field `{field}` that an update reports"));
                match closest(field, declared.fields.iter().copied()) {
                    Some(guess) => message.push_str(&format!(" (did you mean `{guess}`?)")),
                    None => message.push_str(&format!("; its fields: {}", declared.fields.join(", "))),
                }
            }
            message
        })
        .collect()
}

/// What is wrong with the action of event `name`'s spec, if anything: a custom action the model
/// does not declare (most often a typo of a built-in one).
fn undeclared_action(name: &str, text: &str, spec: &Spec, model: &DeclaredFields) -> Option<String> {
    const BUILT_IN: [&str; 3] = ["created", "updated", "deleted"];
    let action = spec.action.as_str();
    if BUILT_IN.contains(&action) || model.actions.contains(&action) {
        return None;
    }
    let known = || BUILT_IN.iter().chain(model.actions).copied();
    let mut message = format!("event `{name}` maps `{text}`, but `{}` has no action `{action}`", spec.model);
    match closest(action, known()) {
        Some(guess) => message.push_str(&format!(" (did you mean `{guess}`?)")),
        None => message.push_str(&format!("; its actions: {}", known().collect::<Vec<_>>().join(", "))),
    }
    message.push_str(&format!("; a custom action is declared on the entity: `#[hookable(actions({action}))]`"));
    Some(message)
}

fn undeclared(name: &str, model: &str, declared: &HashMap<&'static str, DeclaredFields>) -> String {
    let mut message = format!("event `{name}` maps model `{model}`, which no `#[derive(Hookable)]` entity declares");
    match closest(model, declared.keys().copied()) {
        Some(guess) => message.push_str(&format!(" (did you mean `{guess}`?)")),
        None if declared.is_empty() => message.push_str(" (no Hookable entity is linked in)"),
        None => {
            let mut known: Vec<_> = declared.keys().copied().collect();
            known.sort_unstable();
            message.push_str(&format!("; declared: {}", known.join(", ")));
        }
    }
    message
}

/// The declared name nearest to `wanted`, when it is close enough to be a typo.
fn closest<'a>(wanted: &str, declared: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    declared
        .into_iter()
        .map(|label| (edit_distance(wanted, label), label))
        .filter(|(distance, _)| *distance <= 2.max(wanted.len() / 5))
        .min()
        .map(|(_, label)| label)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb { diagonal } else { 1 + diagonal.min(above).min(row[j]) };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The event map was refused; every problem found is listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMapError {
    problems: Vec<String>,
}

impl EventMapError {
    /// Each problem, as a sentence naming the event and the input at fault.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for EventMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid event map: {}", self.problems.join("; "))
    }
}

impl std::error::Error for EventMapError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn unchecked() -> EventMapBuilder {
        EventMap::builder().check_models(false)
    }

    #[test]
    fn looks_up_builtin_and_custom_actions() {
        let map = unchecked()
            .event("book.added", "bookstore.Book.created")
            .event("book.read", "bookstore.Book.read+")
            .raw_event("user.logged_in")
            .build()
            .unwrap();
        assert_eq!(&*map.lookup("bookstore.Book", "created").unwrap().event, "book.added");
        let read = map.lookup("bookstore.Book", "read").unwrap();
        assert!(read.all_owners);
        assert!(map.lookup("bookstore.Book", "updated").is_none());
        assert!(map.lookup("bookstore.Author", "created").is_none());
        assert!(map.contains("user.logged_in"));
        assert_eq!(map.known_names(), "book.added, book.read, user.logged_in");
    }

    #[test]
    fn names_every_culprit() {
        let err = unchecked()
            .event("book.added", "bookstore.Book.created")
            .event("book.new", "bookstore.Book.created+")
            .event("book", "bookstore.Book.updated")
            .event("book.gone", "deleted")
            .event("book.added", "bookstore.Book.deleted")
            .build()
            .unwrap_err();
        assert_eq!(
            err.problems(),
            [
                "event `book.new` maps `bookstore.Book.created`, already mapped by `book.added`",
                "event name `book` is not a valid dotted name: it needs at least two dot-separated parts",
                "event `book.gone` maps `deleted`, which is malformed: it has no action; write `app.Model.action`",
                "event `book.added` is defined twice",
            ]
        );
    }

    #[test]
    fn reads_a_config_map() {
        let config: EventsConfig =
            serde_json::from_str(r#"{"book.added": "bookstore.Book.created", "user.logged_in": null}"#).unwrap();
        let map = unchecked().events(config).build().unwrap();
        assert!(map.lookup("bookstore.Book", "created").is_some());
        assert!(map.contains("user.logged_in"));
    }

    #[test]
    fn maps_updates_of_given_fields_beside_the_plain_one() {
        let map = unchecked()
            .event("book.changed", "bookstore.Book.updated")
            .event("book.retitled", "bookstore.Book.updated(title)")
            .event("book.resized", "bookstore.Book.updated(pages, title)+")
            .build()
            .unwrap();
        let events = |fields: &[&str]| -> Vec<String> {
            let changes = Changes::new(fields.iter().copied());
            map.updates("bookstore.Book", Some(&changes)).map(|m| m.event.to_string()).collect()
        };
        assert_eq!(events(&["title"]), ["book.changed", "book.retitled", "book.resized"]);
        assert_eq!(events(&["pages"]), ["book.changed", "book.resized"]);
        assert_eq!(events(&[]), ["book.changed"]);
        assert_eq!(&*map.lookup("bookstore.Book", "updated").unwrap().event, "book.changed");
        assert!(map.maps_updates("bookstore.Book"));
        let resized = map.events().find(|info| info.name == "book.resized").unwrap();
        assert_eq!(resized.fields, Some(vec!["pages".to_owned(), "title".to_owned()]));
        assert!(resized.all_owners);

        let only_fields = unchecked().event("book.retitled", "bookstore.Book.updated(title)").build().unwrap();
        assert!(only_fields.maps_updates("bookstore.Book"));
        assert!(only_fields.lookup("bookstore.Book", "updated").is_none());
        assert_eq!(only_fields.updates("bookstore.Book", None).count(), 0);
    }

    #[test]
    fn refuses_the_same_field_list_twice_and_lists_off_updated() {
        let err = unchecked()
            .event("book.a", "bookstore.Book.updated(title, pages)")
            .event("book.b", "bookstore.Book.updated(pages, title)")
            .event("book.c", "bookstore.Book.created(title)")
            .event("book.d", "bookstore.Book.updated()")
            .build()
            .unwrap_err();
        assert_eq!(
            err.problems(),
            [
                "event `book.b` maps `bookstore.Book.updated(pages, title)`, already mapped by `book.a`",
                "event `book.c` maps `bookstore.Book.created(title)`: a field list goes only on `updated`, not on \
                 `created`",
                "event `book.d` maps `bookstore.Book.updated()`, which is malformed: its field list is empty; name a \
                 field, as in `updated(title)`",
            ]
        );
    }

    #[test]
    fn a_custom_action_the_model_does_not_declare_is_refused_with_the_nearest_one() {
        let model = DeclaredFields { fields: &["title"], skipped: &[], actions: &["read"] };
        let problem = |text: &str| undeclared_action("ticket.x", text, &Spec::parse(text).unwrap(), &model);
        assert_eq!(problem("tracker.Ticket.updated"), None);
        assert_eq!(problem("tracker.Ticket.read+"), None);
        assert_eq!(
            problem("tracker.Ticket.upated").unwrap(),
            "event `ticket.x` maps `tracker.Ticket.upated`, but `tracker.Ticket` has no action `upated` (did you mean \
             `updated`?); a custom action is declared on the entity: `#[hookable(actions(upated))]`"
        );
        assert_eq!(
            problem("tracker.Ticket.reed").unwrap(),
            "event `ticket.x` maps `tracker.Ticket.reed`, but `tracker.Ticket` has no action `reed` (did you mean \
             `read`?); a custom action is declared on the entity: `#[hookable(actions(reed))]`"
        );
        assert_eq!(
            problem("tracker.Ticket.archived").unwrap(),
            "event `ticket.x` maps `tracker.Ticket.archived`, but `tracker.Ticket` has no action `archived`; its \
             actions: created, updated, deleted, read; a custom action is declared on the entity: \
             `#[hookable(actions(archived))]`"
        );
    }

    #[test]
    fn names_the_nearest_field() {
        let declared = DeclaredFields { fields: &["title", "pages"], skipped: &["secret"], actions: &[] };
        let problems = field_problems(
            "e.x",
            "a.B.updated(titel, secret, zzz)",
            "updated",
            &["titel".into(), "secret".into(), "zzz".into()],
            Some(&declared),
        );
        assert_eq!(
            problems,
            [
                "event `e.x` maps `a.B.updated(titel, secret, zzz)`: the model has no field `titel` that an update \
                 reports (did you mean `title`?)",
                "event `e.x` maps `a.B.updated(titel, secret, zzz)`: field `secret` is skipped \
                 (`#[hookable(skip)]`), so an update never reports it",
                "event `e.x` maps `a.B.updated(titel, secret, zzz)`: the model has no field `zzz` that an update \
                 reports; its fields: title, pages",
            ]
        );
    }

    #[test]
    fn suggests_the_nearest_label() {
        let declared: HashSet<&str> = ["bookstore.Book", "bookstore.Author"].into();
        assert_eq!(closest("bookstore.Bok", declared.iter().copied()), Some("bookstore.Book"));
        assert_eq!(closest("shop.Order", declared.iter().copied()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
