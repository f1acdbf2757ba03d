//! The hook resource: subscribe, list, read, change, delete. Every query is narrowed to the
//! caller's owner, so another owner's hook is "not found" exactly like a missing one.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, ExprTrait, QueryFilter, SqlErr, TransactionTrait};

use super::ApiState;
use super::auth::Caller;
use super::body::{HookPath, JsonBody, QueryParams};
use super::error::documented::{Always, BodyErrors, HookErrors, QueryErrors};
use super::error::{ApiError, ErrorBody};
use super::views::{Change, HookPage, HookView, ListQuery, Subscribe, one_target};
use crate::engine::hook_table::{HookRow, Page};
use crate::foundation::hook::HookId;
use crate::foundation::hookable::Owner;
use crate::foundation::store::{delivery, hook_state};

/// The page size when none is asked for, and the largest one.
pub(crate) const PAGE: (u64, u64) = (50, 100);

/// The OpenAPI description of a duplicate's answer.
const DUPLICATE: &str = "Another hook already has this value, which the server allows once (e.g. one hook per \
     target): `field` names it when the server knows it";

/// The reason recorded when an owner turns a hook off.
const DISABLED_BY_OWNER: &str = "disabled by its owner";

/// Subscribes a URL to an event; answers the hook with its signing secret, shown only here.
#[utoipa::path(
    post, path = "/", tag = "hooks", operation_id = "subscribe",
    request_body = Subscribe,
    responses(
        (status = 201, description = "The hook, with its secret", body = HookView,
            headers(("location" = String, description = "The hook's URL"))),
        (status = 409, description = DUPLICATE, body = ErrorBody),
        Always, BodyErrors,
    )
)]
pub(crate) async fn subscribe(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    OriginalUri(uri): OriginalUri,
    JsonBody(body): JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Result<Response, ApiError> {
    let (body, fields) = with_fields::<Subscribe>(&state, &owner, body).await?;
    let target = one_target(body.target, body.target_url)?
        .ok_or_else(|| ApiError::validation(Some("target".to_owned()), "missing field `target`"))?;
    state.check_event(&body.event)?;
    let hook =
        state.table.create(state.engine.shared(), &owner, &body.event, &target, &fields).await.map_err(|error| {
            match error {
                crate::foundation::error::SubscribeError::Invalid(invalid) => ApiError::from(invalid),
                crate::foundation::error::SubscribeError::Db(error) => write_error(&state, &error),
                other => ApiError::internal(&other),
            }
        })?;
    let location = format!("{}/{}", uri.path().trim_end_matches('/'), hook.id);
    let view = HookView::with_secret(hook, None, &state.engine.shared().config.ordered_events);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(view)).into_response())
}

/// Lists the caller's hooks, oldest first, a page at a time.
#[utoipa::path(
    get, path = "/", tag = "hooks", operation_id = "list_hooks",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of hooks", body = HookPage),
        Always, QueryErrors,
    )
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<HookPage>, ApiError> {
    let limit = page_size(query.limit)?;
    if let Some(after) = query.starting_after.as_deref().filter(|after| !state.table.accepts_id(after)) {
        return Err(ApiError::bad_parameter("starting_after", format!("`{after}` is not a hook id")));
    }
    let page = Page { event: query.event.as_deref(), after: query.starting_after.as_deref(), limit: limit + 1 };
    let mut hooks = state.table.list(state.engine.db(), &owner, page).await?;
    let has_more = hooks.len() as u64 > limit;
    hooks.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let keys: Vec<String> = hooks.iter().map(|hook| hook.id.to_string()).collect();
    let states = hook_state::Entity::find()
        .filter(hook_state::Column::HookId.is_in(keys))
        .filter(hook_state::Column::DisabledAt.is_not_null().or(hook_state::Column::Ordered.eq(true)))
        .all(state.engine.db())
        .await?;
    let ordered_events = &state.engine.shared().config.ordered_events;
    let hooks = hooks
        .into_iter()
        .map(|hook| {
            let key = hook.id.to_string();
            let state = states.iter().find(|state| state.hook_id == key);
            HookView::new(hook, state, ordered_events)
        })
        .collect();
    Ok(Json(HookPage { hooks, has_more }))
}

/// Reads one of the caller's hooks.
#[utoipa::path(
    get, path = "/{id}", tag = "hooks", operation_id = "get_hook",
    params(("id" = String, Path, description = "The hook's id")),
    responses(
        (status = 200, description = "The hook", body = HookView),
        Always, HookErrors,
    )
)]
pub(crate) async fn get(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    HookPath(id): HookPath,
) -> Result<Json<HookView>, ApiError> {
    let hook = owned(&state, &owner, &id).await?;
    let hook_state = state_of(&state, &hook.id).await?;
    Ok(Json(HookView::new(hook, hook_state.as_ref(), &state.engine.shared().config.ordered_events)))
}

/// Changes a hook's event or target, or turns it off and on.
#[utoipa::path(
    patch, path = "/{id}", tag = "hooks", operation_id = "change_hook",
    params(("id" = String, Path, description = "The hook's id")),
    request_body = Change,
    responses(
        (status = 200, description = "The changed hook", body = HookView),
        (status = 409, description = DUPLICATE, body = ErrorBody),
        Always, HookErrors, BodyErrors,
    )
)]
pub(crate) async fn change(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    HookPath(id): HookPath,
    JsonBody(change): JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Result<Json<HookView>, ApiError> {
    let hook = owned(&state, &owner, &id).await?;
    let (change, fields) = with_fields::<Change>(&state, &owner, change).await?;
    let engine = &state.engine;
    let target = one_target(change.target, change.target_url)?;
    if let Some(event) = &change.event {
        state.check_event(event)?;
    }
    if let Some(target) = &target {
        engine.check_target(target).await?;
    }
    let key = hook.id.to_string();
    let txn = engine.db().begin().await?;
    state
        .table
        .change(&txn, &hook.id, change.event.as_deref(), target.as_deref(), &fields)
        .await
        .map_err(|error| write_error(&state, &error))?;
    if let Some(target) = &target {
        // Retries and replays of its deliveries go where the hook points now.
        delivery::Entity::update_many()
            .col_expr(delivery::Column::Target, Expr::value(target.clone()))
            .col_expr(delivery::Column::Receiver, Expr::value(crate::foundation::slots::lane_of(target, &key)))
            .filter(delivery::Column::HookId.eq(key.as_str()))
            .filter(delivery::Column::State.ne(delivery::state::DELIVERED))
            .exec(&txn)
            .await?;
    }
    if let Some(ordered) = change.ordered {
        crate::foundation::store::transitions::set_ordered(&txn, &key, ordered).await?;
    }
    match change.active {
        Some(false) => {
            crate::foundation::store::transitions::disable_hook(
                &txn,
                &key,
                DISABLED_BY_OWNER,
                engine.shared().clock.now_ms(),
            )
            .await?;
        }
        Some(true) => {
            crate::foundation::store::transitions::enable_hook(&txn, &key).await?;
        }
        None => {}
    }
    // Deleted meanwhile: the transaction rolls back as it drops.
    let hook = state.table.get_in(&txn, &owner, &id).await?.ok_or_else(|| not_found(&id))?;
    let hook_state = hook_state::Entity::find_by_id(key.as_str()).one(&txn).await?;
    txn.commit().await?;
    match change.active {
        Some(false) => engine.shared().hook_disabled(&key, engine.shared().clock.now_ms()),
        Some(true) => engine.shared().hook_enabled(&key),
        None => {}
    }
    Ok(Json(HookView::new(hook, hook_state.as_ref(), &state.engine.shared().config.ordered_events)))
}

/// Deletes a hook: nothing more is sent to it, pending retries included. Of deletions made at the
/// same time, one answers 204, the others 404.
#[utoipa::path(
    delete, path = "/{id}", tag = "hooks", operation_id = "delete_hook",
    params(("id" = String, Path, description = "The hook's id")),
    responses(
        (status = 204, description = "Deleted"),
        Always, HookErrors,
    )
)]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    HookPath(id): HookPath,
) -> Result<StatusCode, ApiError> {
    let hook = owned(&state, &owner, &id).await?;
    let deleted =
        state.table.delete(state.engine.shared(), &hook.id).await.map_err(|error| ApiError::internal(&error))?;
    // Deleted by another request since it was read.
    if !deleted {
        return Err(not_found(&id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A request body read as `T`, less the application's own fields
/// ([`HookEntity::api_columns`](crate::HookEntity::api_columns)), which are returned beside it once
/// checked: a value of the wrong type, or one the application refuses, is a 422 naming its field.
async fn with_fields<T: serde::de::DeserializeOwned>(
    state: &ApiState,
    owner: &Owner,
    mut body: serde_json::Map<String, serde_json::Value>,
) -> Result<(T, serde_json::Map<String, serde_json::Value>), ApiError> {
    let names = state.table.api_fields().map_err(|problem| ApiError::internal(&problem))?;
    let mut fields = serde_json::Map::new();
    for field in names {
        if let Some(value) = body.remove(field.name) {
            fields.insert(field.name.to_owned(), value);
        }
    }
    let rest = serde_json::to_vec(&body).map_err(|error| ApiError::internal(&error))?;
    let body = super::body::parse::<T>(&rest)?;
    if !fields.is_empty() {
        state
            .table
            .check_fields(state.engine.db(), &fields, owner)
            .await?
            .map_err(|refused| ApiError::validation(Some(refused.field), refused.message))?;
    }
    Ok((body, fields))
}

/// The caller's hook `id`, or 404 — the same 404 for a hook of another owner, a missing one and
/// an id that is not the hook's in the form the API shows it (`+10`, `010` and `%31%30` are not hook 10).
pub(crate) async fn owned(state: &ApiState, owner: &Owner, id: &str) -> Result<HookRow, ApiError> {
    state.table.get(state.engine.db(), owner, id).await?.ok_or_else(|| not_found(id))
}

/// The answer to a write the database refused: `409` naming the field for a duplicate (a unique
/// index of the application's, such as one target per owner), `500` for anything else.
fn write_error(state: &ApiState, error: &DbErr) -> ApiError {
    let Some(SqlErr::UniqueConstraintViolation(message)) = error.sql_err() else {
        return ApiError::internal(error);
    };
    tracing::info!(%message, "the hooks API refused a duplicate hook");
    let fields = state.table.field_columns();
    let field = fields.into_iter().find(|(_, column)| names_column(&message, column)).map(|(field, _)| field);
    ApiError::duplicate(field)
}

/// Whether the database's `message` about a unique index names `column`: as a word of its own,
/// `_` and `.` separating words (`t.target`, `Key (owner, target)`, `one_hook_per_target`).
fn names_column(message: &str, column: &str) -> bool {
    message.match_indices(column).any(|(at, _)| {
        let before = message[..at].chars().next_back();
        let after = message[at + column.len()..].chars().next();
        [before, after].into_iter().flatten().all(|c| !c.is_alphanumeric())
    })
}

/// The answer for a hook the caller does not have.
pub(crate) fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no hook `{id}`"))
}

/// The engine's record of hook `id`, when it has one.
pub(crate) async fn state_of(state: &ApiState, id: &HookId) -> Result<Option<hook_state::Model>, ApiError> {
    Ok(state.engine.hook_state(id).await?)
}

/// A `limit` parameter, checked.
pub(crate) fn page_size(limit: Option<u64>) -> Result<u64, ApiError> {
    let (default, max) = PAGE;
    match limit {
        None => Ok(default),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(limit) => Err(ApiError::bad_parameter("limit", format!("limit must be from 1 to {max}; it was {limit}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::names_column;

    #[test]
    fn a_unique_index_names_its_columns_as_words() {
        assert!(names_column("UNIQUE constraint failed: rest_hooks_hook.owner, rest_hooks_hook.target", "target"));
        assert!(names_column("duplicate key value violates unique constraint \"one_hook_per_target\"", "target"));
        assert!(names_column("Duplicate entry '1-x' for key 'webhook.url'", "url"));
        assert!(!names_column("UNIQUE constraint failed: targets.owner, targets.url", "target"));
        assert!(!names_column("UNIQUE constraint failed: hook.events", "event"));
    }
}
