//! What an update changed: the fields, by their serialized names, and their previous values when
//! the entity asks for them with `#[hookable(previous_values)]`.
//!
//! A save captures the fields its `ActiveModel` sets (and, with previous values, the row before the
//! update) in `before_save`; [`Captured::resolve`] turns that capture and the saved model into the
//! [`Changes`] an `updated` event carries. Stored in the outbox beside the data, the changes become
//! the body's top-level `changed` and `previous`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::foundation::hookable::Hookable;

/// What an update changed, as an `updated` event carries it.
///
/// `fields` lists the changed fields by their serialized names, in declaration order; skipped fields
/// (`#[hookable(skip)]`) and the primary key never appear. `previous` holds their values before the
/// update, serialized as in `data`, when the entity has `#[hookable(previous_values)]`; a field set
/// to the value it already had is then not listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Changes {
    /// The changed fields' serialized names.
    pub fields: Vec<String>,
    /// The changed fields' values before the update, when the entity asks for them.
    pub previous: Option<Map<String, Value>>,
}

impl Changes {
    /// Changes naming `fields`, without previous values.
    ///
    /// ```
    /// let changes = rest_hooks::Changes::new(["title"]);
    /// assert!(changes.touches(&["title", "pages"]));
    /// assert!(!changes.touches(&["pages"]));
    /// ```
    pub fn new<S: Into<String>>(fields: impl IntoIterator<Item = S>) -> Self {
        Self { fields: fields.into_iter().map(Into::into).collect(), previous: None }
    }

    /// Sets the previous values.
    pub fn with_previous(mut self, previous: Map<String, Value>) -> Self {
        self.previous = Some(previous);
        self
    }

    /// Whether any of `fields` changed.
    pub fn touches<S: AsRef<str>>(&self, fields: &[S]) -> bool {
        fields.iter().any(|wanted| self.fields.iter().any(|field| field == wanted.as_ref()))
    }
}

/// The stored payload of an event with changes: `{"data": …, "changed": […], "previous": {…}}`,
/// `previous` only when known.
pub(crate) fn stored_payload(data: Value, changes: &Changes) -> Value {
    let mut payload = Map::with_capacity(3);
    payload.insert("data".to_owned(), data);
    add_to_body(&mut payload, changes);
    Value::Object(payload)
}

/// Reads a payload [`stored_payload`] wrote back into the data and the changes.
pub(crate) fn from_stored_payload(payload: Value) -> Result<(Value, Changes), String> {
    let Value::Object(mut payload) = payload else {
        return Err("stored payload with changes is not an object".to_owned());
    };
    let data = payload.remove("data").unwrap_or(Value::Null);
    let fields = match payload.remove("changed") {
        Some(changed) => serde_json::from_value(changed).map_err(|e| format!("stored `changed` is malformed: {e}"))?,
        None => Vec::new(),
    };
    let previous = match payload.remove("previous") {
        Some(Value::Object(previous)) => Some(previous),
        Some(Value::Null) | None => None,
        Some(_) => return Err("stored `previous` is not an object".to_owned()),
    };
    Ok((data, Changes { fields, previous }))
}

/// Adds `changed` and, when known, `previous` to a body or payload.
pub(crate) fn add_to_body(body: &mut Map<String, Value>, changes: &Changes) {
    let fields = changes.fields.iter().cloned().map(Value::String).collect();
    body.insert("changed".to_owned(), Value::Array(fields));
    if let Some(previous) = &changes.previous {
        body.insert("previous".to_owned(), Value::Object(previous.clone()));
    }
}

/// What `before_save` captured for an update: the fields the `ActiveModel` sets and, with previous
/// values, the row's values of those fields before the update.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Captured {
    pub(crate) fields: Vec<&'static str>,
    pub(crate) previous: Option<Map<String, Value>>,
}

impl Captured {
    /// Captures the set `fields` of a row whose previous state is `before` (when it was read).
    pub(crate) fn new<M: Hookable>(fields: Vec<&'static str>, before: Option<&M>) -> Self {
        let previous = before.map(|before| {
            fields.iter().filter_map(|field| Some(((*field).to_owned(), before.__field_value(field)?))).collect()
        });
        Self { fields, previous }
    }

    /// The changes of the update that saved `model`: with previous values, the set fields whose
    /// value differs from the previous one; without, every set field.
    pub(crate) fn resolve<M: Hookable>(self, model: &M) -> Changes {
        let Some(mut previous) = self.previous else {
            return Changes::new(self.fields);
        };
        let fields: Vec<String> = self
            .fields
            .into_iter()
            .filter(|field| previous.get(*field) != model.__field_value(field).as_ref())
            .map(str::to_owned)
            .collect();
        previous.retain(|field, _| fields.contains(field));
        Changes { fields, previous: Some(previous) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stored_payloads_round_trip() {
        let changes = Changes::new(["title"]).with_previous(json!({"title": "Old"}).as_object().unwrap().clone());
        let payload = stored_payload(json!({"pk": 1}), &changes);
        assert_eq!(payload, json!({"data": {"pk": 1}, "changed": ["title"], "previous": {"title": "Old"}}));
        assert_eq!(from_stored_payload(payload), Ok((json!({"pk": 1}), changes)));

        let without = stored_payload(json!(null), &Changes::new(["pages"]));
        assert_eq!(without, json!({"data": null, "changed": ["pages"]}));
        assert_eq!(from_stored_payload(without).unwrap().1, Changes::new(["pages"]));
        assert!(from_stored_payload(json!([])).is_err());
    }
}
