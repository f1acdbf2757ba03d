//! What the API reads and writes: request bodies, query strings and the JSON forms of hooks,
//! attempts, events and test outcomes. Their OpenAPI schemas are derived from these types.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use crate::engine::hook_table::HookRow;
use crate::foundation::event_map::EventInfo;
use crate::foundation::store::{attempt, hook_state};

/// `POST /`: subscribe `target` to `event`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Subscribe {
    /// An event of the catalogue (`GET /events`).
    #[schema(example = "book.added")]
    pub(crate) event: String,
    /// The absolute http(s) URL to POST the event to. Required, unless `target_url` is given
    /// instead (not both).
    #[schema(example = "https://example.com/hooks/books")]
    pub(crate) target: Option<String>,
    /// Zapier's name for `target`.
    pub(crate) target_url: Option<String>,
    /// Zapier's legacy `subscription_url`: accepted and ignored.
    #[allow(dead_code)] // read by serde only
    pub(crate) subscription_url: Option<String>,
}

/// `PATCH /{id}`: the fields to change; those left out stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Change {
    /// A new event of the catalogue.
    pub(crate) event: Option<String>,
    /// A new target URL.
    pub(crate) target: Option<String>,
    /// Zapier's name for `target` (not both).
    pub(crate) target_url: Option<String>,
    /// `false` disables the hook (nothing is sent to it, its pending deliveries fail); `true`
    /// enables it again, also after the engine disabled it.
    pub(crate) active: Option<bool>,
    /// `true` sends its deliveries about one instance in order: each only once the one before it
    /// is delivered or dead. `false` sends each as soon as it can go.
    pub(crate) ordered: Option<bool>,
}

/// `target` or `target_url`, not both.
pub(crate) fn one_target(target: Option<String>, target_url: Option<String>) -> Result<Option<String>, ApiError> {
    match (target, target_url) {
        (Some(_), Some(_)) => {
            Err(ApiError::validation(Some("target_url".to_owned()), "give `target` or `target_url`, not both"))
        }
        (target, target_url) => Ok(target.or(target_url)),
    }
}

/// `POST /{id}/replay`: what to send again. An empty body, or `null`, sends every failed delivery
/// again.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Replay {
    /// One delivery of this hook, whatever its state.
    pub(crate) delivery: Option<Uuid>,
    /// With `to`: every delivery created in `from..to`, delivered ones included.
    pub(crate) from: Option<DateTime<Utc>>,
    /// The end of the range (excluded).
    pub(crate) to: Option<DateTime<Utc>>,
}

/// `GET /`: which hooks, a page at a time, in the order they were created.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only hooks of this event.
    pub(crate) event: Option<String>,
    /// How many hooks at most, 1 to 100; default 50.
    #[param(minimum = 1, maximum = 100)]
    pub(crate) limit: Option<u64>,
    /// The page after the hook with this id: the last id of the previous page.
    pub(crate) starting_after: Option<String>,
}

/// `GET /{id}/attempts`: how many.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AttemptsQuery {
    /// How many attempts at most, the newest first, 1 to 100; default 50.
    #[param(minimum = 1, maximum = 100)]
    pub(crate) limit: Option<u64>,
}

/// A hook's id: an integer, or text (such as a UUID) where the application's hook table keys its
/// hooks so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum HookId {
    /// An integer id.
    Int(i64),
    /// Any other id.
    Text(String),
}

impl From<crate::foundation::keys::HookId> for HookId {
    fn from(id: crate::foundation::keys::HookId) -> Self {
        match id {
            crate::foundation::keys::HookId::Int(id) => Self::Int(id),
            crate::foundation::keys::HookId::Text(id) => Self::Text(id),
        }
    }
}

impl std::fmt::Display for HookId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(id) => write!(f, "{id}"),
            Self::Text(id) => f.write_str(id),
        }
    }
}

/// A hook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HookView {
    /// Its id: the `{id}` of the paths below.
    #[schema(example = 1)]
    pub(crate) id: HookId,
    /// The event it receives.
    #[schema(example = "book.added")]
    pub(crate) event: String,
    /// The URL that receives it.
    #[schema(example = "https://example.com/hooks/books")]
    pub(crate) target: String,
    /// Whether events are sent to it.
    pub(crate) active: bool,
    /// Whether its deliveries about one instance are sent in order.
    pub(crate) ordered: bool,
    /// Why they are: `event` (the server sends every hook of this event in order) or `hook` (set on
    /// this hook with `PATCH` `{"ordered": true}`). Absent when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ordered_by: Option<OrderedBy>,
    /// Why it is not active: disabled by its owner, a `410 Gone` answer, failing for too long, or
    /// turned off by the application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) disabled_reason: Option<String>,
    /// When it was created, where the server keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) created: Option<DateTime<Utc>>,
    /// When it was last changed, where the server keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) updated: Option<DateTime<Utc>>,
    /// The secret that signs its deliveries (Standard Webhooks, `whsec_…`). Shown only when the
    /// hook is created and when its secret is rotated: keep it then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) secret: Option<String>,
    /// After a rotation: until when the previous secret still signs, beside the new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) previous_secret_until: Option<DateTime<Utc>>,
    /// The application's own fields ([`HookEntity::api_columns`](crate::HookEntity::api_columns)),
    /// described in the document when there are any.
    #[serde(flatten)]
    #[schema(ignore)]
    pub(crate) fields: serde_json::Map<String, serde_json::Value>,
}

/// Why a hook's deliveries go in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OrderedBy {
    /// The server sends every hook of the hook's event in order.
    Event,
    /// The hook itself was set to go in order.
    Hook,
}

impl HookView {
    /// The hook without its secret; `ordered_events` are the events the server sends in order.
    pub(crate) fn new(
        hook: HookRow,
        state: Option<&hook_state::Model>,
        ordered_events: &std::collections::HashSet<String>,
    ) -> Self {
        let disabled_reason = state
            .filter(|state| state.disabled_at.is_some())
            .map(|state| state.disabled_reason.clone().unwrap_or_else(|| "disabled".to_owned()))
            .or_else(|| (!hook.in_scope).then(|| TURNED_OFF.to_owned()));
        let ordered_by = if ordered_events.contains(&hook.event) {
            Some(OrderedBy::Event)
        } else {
            state.is_some_and(|state| state.ordered).then_some(OrderedBy::Hook)
        };
        HookView {
            id: hook.id.into(),
            event: hook.event,
            target: hook.target,
            active: disabled_reason.is_none(),
            ordered: ordered_by.is_some(),
            ordered_by,
            disabled_reason,
            created: hook.created,
            updated: hook.updated,
            secret: None,
            previous_secret_until: None,
            fields: hook.fields,
        }
    }

    /// The hook with its current secret, for the answers that show it.
    pub(crate) fn with_secret(
        hook: HookRow,
        state: Option<&hook_state::Model>,
        ordered_events: &std::collections::HashSet<String>,
    ) -> Self {
        let secret = hook.secret.as_ref().map(|secret| secret.expose().to_owned());
        let previous_secret_until = hook.previous_until;
        HookView { secret, previous_secret_until, ..HookView::new(hook, state, ordered_events) }
    }
}

/// Why a hook outside the hook entity's [`scope`](crate::HookEntity::scope) is not active.
const TURNED_OFF: &str = "turned off by the application";

/// A page of hooks.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HookPage {
    /// The hooks, oldest first.
    pub(crate) hooks: Vec<HookView>,
    /// Whether more follow: ask again with `starting_after` set to the last id.
    pub(crate) has_more: bool,
}

/// One attempt to deliver an event to a hook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptView {
    /// The delivery: the same on every attempt, sent as `webhook-id` (`msg_` and this id without
    /// dashes).
    pub(crate) delivery: Uuid,
    /// The event (outbox row) it delivered.
    pub(crate) event_id: i64,
    /// Which attempt of the delivery, from 1.
    pub(crate) attempt: i32,
    /// When it ended.
    pub(crate) at: DateTime<Utc>,
    /// How long it took.
    pub(crate) duration_ms: i64,
    /// The HTTP status, when a response arrived.
    pub(crate) status: Option<i32>,
    /// Why no response arrived: `timeout`, `connect`, `request`, `panicked`, `forbidden` or
    /// `signing`.
    pub(crate) error_kind: Option<String>,
    /// The error's message.
    pub(crate) error: Option<String>,
    /// The start of the response body.
    pub(crate) response: Option<String>,
}

impl From<attempt::Model> for AttemptView {
    fn from(row: attempt::Model) -> Self {
        AttemptView {
            delivery: row.delivery_id,
            event_id: row.outbox_id,
            attempt: row.attempt,
            at: Utc.timestamp_millis_opt(row.at).single().unwrap_or_default(),
            duration_ms: row.duration_ms,
            status: row.status,
            error: owner_facing(row.error_kind.as_deref(), row.error),
            error_kind: row.error_kind,
            response: row.response,
        }
    }
}

/// An attempt's error as its hook's owner may read it. An SSRF refusal says where the target's
/// host led (addresses of the server's own network), a panic or a signing failure speaks of the
/// server's own code and stored secrets: those are told in general terms. Timeouts and connection
/// errors are about the owner's own target and stay as they are.
fn owner_facing(kind: Option<&str>, error: Option<String>) -> Option<String> {
    match kind {
        Some("forbidden") => Some(format!("refused: the target {}", super::error::REFUSED_ADDRESS)),
        Some("panicked" | "signing") => Some("the server could not send it (an error on the server's side)".to_owned()),
        _ => error,
    }
}

/// The delivery log of a hook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptList {
    /// The attempts, the newest first.
    pub(crate) attempts: Vec<AttemptView>,
}

/// What kind of event: a model change, a custom action of a model, or a raw event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EventKind {
    /// A model was created, updated or deleted.
    Change,
    /// A custom action of a model, such as `read`.
    Custom,
    /// An event the application fires itself, tied to no model.
    Raw,
}

/// One event of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventView {
    /// The name to subscribe to.
    #[schema(example = "book.added")]
    pub(crate) name: String,
    /// What kind of event.
    pub(crate) kind: EventKind,
    /// The model it is tied to, for change and custom events.
    #[schema(example = "bookstore.Book")]
    pub(crate) model: Option<String>,
    /// The model action that fires it.
    #[schema(example = "created")]
    pub(crate) action: Option<String>,
    /// Whether it goes to the hooks of every owner, not only the instance's owner.
    pub(crate) all_owners: bool,
    /// For an event on an update of given fields only, those fields: an update that changes none
    /// of them does not fire it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["title", "pages"]))]
    pub(crate) fields: Option<Vec<String>>,
}

impl From<&EventInfo> for EventView {
    fn from(info: &EventInfo) -> Self {
        let kind = match info.action.as_deref() {
            None => EventKind::Raw,
            Some("created" | "updated" | "deleted") => EventKind::Change,
            Some(_) => EventKind::Custom,
        };
        EventView {
            name: info.name.clone(),
            kind,
            model: info.model.clone(),
            action: info.action.clone(),
            all_owners: info.all_owners,
            fields: info.fields.clone(),
        }
    }
}

/// The event catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventList {
    /// Every event a hook can subscribe to, by name.
    pub(crate) events: Vec<EventView>,
}

/// What a test delivery got back.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TestOutcome {
    /// Whether the target answered 2xx.
    pub(crate) delivered: bool,
    /// The `webhook-id` it was sent with; no real delivery has it.
    pub(crate) message_id: String,
    /// The HTTP status, when a response arrived.
    pub(crate) status: Option<u16>,
    /// How long it took.
    pub(crate) duration_ms: u64,
    /// The start of the response body, when a response arrived.
    pub(crate) response: Option<String>,
    /// Why no response arrived (as in the attempt log), when none did.
    pub(crate) error_kind: Option<String>,
    /// The error's message.
    pub(crate) error: Option<String>,
}

impl From<crate::engine::ping::TestDelivery> for TestOutcome {
    fn from(test: crate::engine::ping::TestDelivery) -> Self {
        let delivered = test.is_success();
        let duration_ms = u64::try_from(test.duration.as_millis()).unwrap_or(u64::MAX);
        let (status, response, error_kind, error) = match test.outcome {
            Ok(response) => (Some(response.status), Some(response.body), None, None),
            Err(error) => {
                let kind = error.kind();
                (None, None, Some(kind.to_owned()), owner_facing(Some(kind), Some(error.to_string())))
            }
        };
        TestOutcome { delivered, message_id: test.message_id, status, duration_ms, response, error_kind, error }
    }
}

/// How many deliveries a replay sent again, and how many of the hook's failed ones it left to
/// their retry schedule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Replayed {
    /// Deliveries put back in the queue, due now.
    pub(crate) replayed: u64,
    /// Deliveries of the hook whose attempts failed so far and that wait for a retry the engine
    /// has scheduled: not dead, so not sent again by an empty-bodied replay; each is tried again
    /// at its time.
    pub(crate) waiting: u64,
    /// When the first of those `waiting` deliveries is tried again.
    pub(crate) next_retry_at: Option<DateTime<Utc>>,
}
