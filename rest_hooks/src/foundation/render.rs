//! Turning a recorded event into the body one hook receives.
//!
//! Precedence, as in django-rest-hooks: a body supplied with the event, then a per-event render
//! function, then the entity's own serializer (which shaped `data` at record time), then the global
//! serializer, then the default `{"hook": {…}, "data": …}`. An update that knows what it changed
//! adds `"changed": […]` (and `"previous": {…}` with previous values) beside `data` in the default
//! body, whether the data has the default shape or the entity's own.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::foundation::changes::add_to_body;
use crate::foundation::event::Event;
use crate::foundation::hook::HookTarget;
use crate::foundation::store::outbox::Format;

/// A function of the hook and the event that returns the whole body.
pub type RenderFn = Arc<dyn Fn(&HookTarget, &Event) -> Value + Send + Sync>;

#[derive(Clone, Default)]
pub(crate) struct Renderer {
    pub(crate) serializer: Option<RenderFn>,
    pub(crate) per_event: HashMap<String, RenderFn>,
}

impl Renderer {
    pub(crate) fn render(&self, hook: &HookTarget, event: &Event, format: Format) -> Value {
        let format = format.without_changes();
        if format == Format::Override {
            return event.data.clone();
        }
        if let Some(render) = self.per_event.get(&event.name) {
            return render(hook, event);
        }
        match (format, &self.serializer) {
            (Format::RawBare, _) => event.data.clone(),
            (Format::Default, Some(serializer)) => serializer(hook, event),
            _ => default_body(hook, event),
        }
    }
}

/// `{"hook": {"id", "event", "target"}, "data": data}`, with `changed` and `previous` when the
/// event has changes.
pub(crate) fn default_body(hook: &HookTarget, event: &Event) -> Value {
    let mut body = Map::with_capacity(4);
    body.insert("hook".to_owned(), hook.meta());
    body.insert("data".to_owned(), event.data.clone());
    if let Some(changes) = &event.changes {
        add_to_body(&mut body, changes);
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::foundation::changes::Changes;
    use crate::foundation::hookable::Audience;

    fn hook() -> HookTarget {
        HookTarget {
            id: 7.into(),
            event: "book.added".into(),
            target: "http://x.test/".into(),
            owner: None,
            secrets: Vec::new(),
        }
    }

    fn event(data: Value) -> Event {
        Event {
            id: 1,
            name: "book.added".into(),
            model: None,
            action: None,
            audience: Audience::All,
            data,
            recorded_at: 0,
            changes: None,
        }
    }

    fn tagged(tag: &'static str) -> RenderFn {
        Arc::new(move |_, _| json!(tag))
    }

    #[test]
    fn follows_the_precedence() {
        let data = json!({"pk": 1});
        let plain = Renderer::default();
        let hook_meta = json!({"id": 7, "event": "book.added", "target": "http://x.test/"});
        assert_eq!(
            plain.render(&hook(), &event(data.clone()), Format::Default),
            json!({"hook": hook_meta, "data": data})
        );
        assert_eq!(plain.render(&hook(), &event(data.clone()), Format::RawBare), data);

        let global = Renderer { serializer: Some(tagged("global")), ..Renderer::default() };
        assert_eq!(global.render(&hook(), &event(data.clone()), Format::Default), json!("global"));
        assert_eq!(global.render(&hook(), &event(data.clone()), Format::Entity)["data"], data);
        assert_eq!(global.render(&hook(), &event(data.clone()), Format::Raw)["data"], data);

        let mut per_event = global.clone();
        per_event.per_event.insert("book.added".into(), tagged("per-event"));
        assert_eq!(per_event.render(&hook(), &event(data.clone()), Format::Entity), json!("per-event"));
        assert_eq!(per_event.render(&hook(), &event(json!("body")), Format::Override), json!("body"));
    }

    #[test]
    fn adds_the_changes_beside_the_data() {
        let changes = Changes::new(["title"]).with_previous(json!({"title": "Old"}).as_object().unwrap().clone());
        let updated = Event { changes: Some(changes), ..event(json!({"pk": 1})) };
        let hook_meta = json!({"id": 7, "event": "book.added", "target": "http://x.test/"});
        let expected =
            json!({"hook": hook_meta, "data": {"pk": 1}, "changed": ["title"], "previous": {"title": "Old"}});
        let plain = Renderer::default();
        assert_eq!(plain.render(&hook(), &updated, Format::DefaultChanges), expected);
        let global = Renderer { serializer: Some(tagged("global")), ..Renderer::default() };
        assert_eq!(global.render(&hook(), &updated, Format::EntityChanges), expected);
        assert_eq!(global.render(&hook(), &updated, Format::DefaultChanges), json!("global"));
    }
}
