//! What an owner does with a hook besides editing it: read the event catalogue, send a test,
//! read the delivery log, replay deliveries, rotate the signing secret.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::ApiState;
use super::auth::Caller;
use super::body::{HookPath, JsonBody, QueryParams};
use super::error::documented::{Always, BodyErrors, HookErrors, QueryErrors};
use super::error::{ApiError, ErrorBody};
use super::hooks::{not_found, owned, page_size, state_of};
use super::views::{AttemptList, AttemptView, AttemptsQuery, EventList, HookView, Replay, Replayed, TestOutcome};
use crate::engine::Engine;
use crate::engine::own_hooks::{HookEntityError, HookWriteError};
use crate::foundation::error::ReplayError;
use crate::foundation::hook::HookId;
use crate::foundation::store::delivery;

/// The event catalogue: every event a hook can subscribe to.
#[utoipa::path(
    get, path = "/events", tag = "events", operation_id = "list_events",
    responses(
        (status = 200, description = "The catalogue, by name", body = EventList),
        Always,
    )
)]
pub(crate) async fn events(State(state): State<ApiState>, Caller(_): Caller) -> Json<EventList> {
    Json(EventList { events: state.offered().map(Into::into).collect() })
}

/// Sends the hook a signed test delivery now and answers what came back. Nothing is stored or
/// retried, and a failure does not count against the hook.
#[utoipa::path(
    post, path = "/{id}/test", tag = "hooks", operation_id = "test_hook",
    params(("id" = String, Path, description = "The hook's id")),
    responses(
        (status = 200, description = "The outcome, whether the target accepted it or not", body = TestOutcome),
        Always, HookErrors,
    )
)]
pub(crate) async fn test(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    HookPath(id): HookPath,
) -> Result<Json<TestOutcome>, ApiError> {
    let hook = owned(&state, &owner, &id).await?;
    let target = state.table.target(state.engine.db(), &hook.id).await?.ok_or_else(|| not_found(&id))?;
    Ok(Json(state.engine.test_delivery(&target).await.into()))
}

/// The hook's delivery log: its latest attempts, the newest first.
#[utoipa::path(
    get, path = "/{id}/attempts", tag = "hooks", operation_id = "list_attempts",
    params(("id" = String, Path, description = "The hook's id"), AttemptsQuery),
    responses(
        (status = 200, description = "The attempts", body = AttemptList),
        Always, HookErrors, QueryErrors,
    )
)]
pub(crate) async fn attempts(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    HookPath(id): HookPath,
    QueryParams(query): QueryParams<AttemptsQuery>,
) -> Result<Json<AttemptList>, ApiError> {
    let limit = page_size(query.limit)?;
    let hook = owned(&state, &owner, &id).await?;
    let rows = state.engine.attempts_of_hook(&hook.id, limit).await?;
    Ok(Json(AttemptList { attempts: rows.into_iter().map(AttemptView::from).collect() }))
}

/// Sends deliveries of the hook again now: one (`delivery`), those created in a time range
/// (`from`, `to`), or, with an empty body (or `null`), every failed one.
#[utoipa::path(
    post, path = "/{id}/replay", tag = "hooks", operation_id = "replay_hook",
    params(("id" = String, Path, description = "The hook's id")),
    request_body(content = Option<Replay>, description = "What to send again; none for every failed delivery"),
    responses(
        (status = 202, description = "How many deliveries were put back in the queue, and how many failed ones still wait for a scheduled retry", body = Replayed),
        (status = 404, description = "No such hook for this owner (another owner's hook answers the same), or the hook has no such `delivery`", body = ErrorBody),
        (status = 409, description = "The hook is disabled: enable it first", body = ErrorBody),
        Always, BodyErrors,
    )
)]
pub(crate) async fn replay(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    HookPath(id): HookPath,
    JsonBody(replay): JsonBody<Option<Replay>>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let replay = replay.unwrap_or_default();
    let hook = owned(&state, &owner, &id).await?;
    let key = hook.id;
    let engine = &state.engine;
    let replayed = match (replay.delivery, replay.from, replay.to) {
        (Some(delivery_id), None, None) => {
            let row = delivery::Entity::find_by_id(delivery_id).one(engine.db()).await?;
            if row.is_none_or(|row| row.hook_id != key.to_string()) {
                return Err(ApiError::not_found(format!("hook `{id}` has no delivery `{delivery_id}`")));
            }
            u64::from(engine.replay(delivery_id).await.map_err(replay_error)?)
        }
        (None, Some(from), Some(to)) if from < to => engine.replay_range(&key, from, to).await.map_err(replay_error)?,
        (None, Some(_), Some(_)) => {
            return Err(ApiError::validation(Some("to".to_owned()), "`to` must come after `from`"));
        }
        (None, None, None) => engine.replay_failed(&key).await.map_err(replay_error)?,
        (Some(_), _, _) => {
            return Err(ApiError::validation(
                Some("delivery".to_owned()),
                "give either `delivery` or a range (`from` and `to`), not both",
            ));
        }
        (None, from, _) => {
            let missing = if from.is_none() { "from" } else { "to" };
            return Err(ApiError::validation(Some(missing.to_owned()), "a range needs both `from` and `to`"));
        }
    };
    let (waiting, next_retry_at) = waiting_retries(engine, &key).await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed, waiting, next_retry_at })))
}

/// The deliveries of hook `key` that failed at least once and wait for a retry scheduled later
/// than now (so not those a replay just made due): how many, and when the first is tried.
async fn waiting_retries(engine: &Engine, key: &HookId) -> Result<(u64, Option<DateTime<Utc>>), ApiError> {
    let now = engine.shared().clock.now_ms();
    let waiting = delivery::Entity::find()
        .filter(delivery::Column::HookId.eq(key.to_string()))
        .filter(delivery::Column::State.eq(delivery::state::PENDING))
        .filter(delivery::Column::Attempts.gt(0))
        .filter(delivery::Column::NextAttemptAt.gt(now));
    let count = waiting.clone().count(engine.db()).await?;
    let first = waiting.order_by_asc(delivery::Column::NextAttemptAt).one(engine.db()).await?;
    let next = first.and_then(|row| Utc.timestamp_millis_opt(row.next_attempt_at).single());
    Ok((count, next))
}

fn replay_error(error: ReplayError) -> ApiError {
    match error {
        ReplayError::HookDisabled { hook, reason } => ApiError::conflict(format!(
            "hook `{hook}` is disabled ({reason}); turn it on with `PATCH` `{{\"active\": true}}` before replaying"
        )),
        ReplayError::NoSuchDelivery(id) => ApiError::not_found(format!("no delivery `{id}`")),
        other => ApiError::internal(&other),
    }
}

/// Gives the hook a new signing secret, shown only here. The old one keeps signing beside it for
/// the engine's grace period (`previous_secret_until`). Of rotations made at the same time, one
/// wins; the others change nothing and answer 409.
#[utoipa::path(
    post, path = "/{id}/rotate-secret", tag = "hooks", operation_id = "rotate_secret",
    params(("id" = String, Path, description = "The hook's id")),
    responses(
        (status = 200, description = "The hook, with its new secret", body = HookView),
        (status = 409, description = "Nothing was changed: another rotation of the hook's secret was made meanwhile (its secret is the current one), or the server signs every hook with one secret and there is none per hook to rotate", body = ErrorBody),
        Always, HookErrors,
    )
)]
pub(crate) async fn rotate_secret(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    HookPath(id): HookPath,
) -> Result<Json<HookView>, ApiError> {
    let hook = owned(&state, &owner, &id).await?;
    let rotated = state.table.rotate(state.engine.shared(), &hook.id).await.map_err(|error| match error {
        HookWriteError::NotFound(_) => not_found(&id),
        HookWriteError::RotatedMeanwhile(_) => ApiError::conflict(format!(
            "the secret of hook `{id}` was rotated by another request meanwhile; this rotation was not applied, \
             and the secret that request answered is the current one"
        )),
        HookWriteError::Refused(HookEntityError::NoSecretColumn(_)) => ApiError::conflict(
            "this server signs every hook with one secret of its own; a hook's secret cannot be rotated".to_owned(),
        ),
        other => ApiError::internal(&other),
    })?;
    let hook_state = state_of(&state, &rotated.id).await?;
    Ok(Json(HookView::with_secret(rotated, hook_state.as_ref(), &state.engine.shared().config.ordered_events)))
}
