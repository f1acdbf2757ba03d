//! The caller's failed events: events recorded for the caller that the dispatcher could not turn
//! into deliveries (their stored payload unreadable, the application's finder or serializer
//! panicking on them), with the reason, and a replay of one once the cause is fixed. A database
//! error never fails an event (it stays pending and is tried again), so this list stays empty
//! unless something needs a fix.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::error::documented::Always;
use crate::foundation::error::ReplayError;
use crate::foundation::store::outbox;

/// How many failed events a listing shows, the newest first.
const LISTED: u64 = 100;

/// The caller's failed events, the newest first (at most 100).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FailedEvents {
    /// The events.
    pub(crate) events: Vec<FailedEvent>,
}

/// One event that could not be dispatched.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FailedEvent {
    /// The event's id.
    #[schema(example = 42)]
    pub(crate) id: i64,
    /// Its name.
    #[schema(example = "book.added")]
    pub(crate) event: String,
    /// Why it could not be dispatched.
    #[schema(example = "the serializer panicked: …")]
    pub(crate) error: Option<String>,
    /// When it was recorded.
    pub(crate) recorded_at: DateTime<Utc>,
}

/// Whether a replay put the event back to be dispatched.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventReplayed {
    /// Always true: an event that is not the caller's failed one answers 404.
    pub(crate) replayed: bool,
}

/// The caller's events that could not be dispatched, with the reason, the newest first.
#[utoipa::path(
    get, path = "/failed-events", tag = "events", operation_id = "list_failed_events",
    responses(
        (status = 200, description = "The caller's failed events", body = FailedEvents),
        Always,
    )
)]
pub(crate) async fn list(State(state): State<ApiState>, Caller(owner): Caller) -> Result<Json<FailedEvents>, ApiError> {
    let rows = outbox::Entity::find()
        .filter(outbox::Column::State.eq(outbox::state::FAILED))
        .filter(outbox::Column::Owner.eq(owner.as_str()))
        .filter(outbox::Column::AllOwners.eq(false))
        .order_by_desc(outbox::Column::Id)
        .limit(LISTED)
        .all(state.engine.db())
        .await?;
    let events = rows
        .into_iter()
        // The owner compared byte for byte, whatever the column's collation.
        .filter(|row| row.owner.as_deref() == Some(owner.as_str()))
        .map(|row| FailedEvent {
            id: row.id,
            event: row.event,
            error: row.error,
            recorded_at: Utc.timestamp_millis_opt(row.created_at).single().unwrap_or_default(),
        })
        .collect();
    Ok(Json(FailedEvents { events }))
}

/// Dispatches one of the caller's failed events again, once the cause is fixed: its hooks are found
/// and its deliveries made as for a new event (`202`).
#[utoipa::path(
    post, path = "/failed-events/{event_id}/replay", tag = "events", operation_id = "replay_failed_event",
    params(("event_id" = i64, Path, description = "The failed event's id")),
    responses(
        (status = 202, description = "The event waits for dispatch again", body = EventReplayed),
        (status = 404, description = "No failed event of the caller has this id", body = super::error::ErrorBody),
        Always,
    )
)]
pub(crate) async fn replay(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    uri: Uri,
) -> Result<(StatusCode, Json<EventReplayed>), ApiError> {
    let raw = uri.path().trim_end_matches("/replay").rsplit('/').next().unwrap_or_default().to_owned();
    let missing = || ApiError::not_found(format!("no failed event `{raw}`"));
    // Only the form the listing shows: digits, no sign, no leading zero, no percent-encoding.
    let id = raw.parse::<i64>().ok().filter(|id| *id >= 0 && id.to_string() == raw).ok_or_else(missing)?;
    let row = outbox::Entity::find_by_id(id).one(state.engine.db()).await?.ok_or_else(missing)?;
    let theirs = !row.all_owners && row.owner.as_deref() == Some(owner.as_str());
    if !theirs || row.state != outbox::state::FAILED {
        return Err(missing());
    }
    match state.engine.replay_event(id).await {
        Ok(true) => Ok((StatusCode::ACCEPTED, Json(EventReplayed { replayed: true }))),
        // Replayed by another request meanwhile.
        Ok(false) | Err(ReplayError::NoSuchEvent(_)) => Err(missing()),
        Err(other) => Err(ApiError::internal(&other)),
    }
}
