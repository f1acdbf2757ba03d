//! The changes of state the engine makes to deliveries and hook states, each one named function,
//! whoever asks for it: the outcome writer, the subscription API, the engine's own methods.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::foundation::store::{attempt, delivery, hook_state, outbox};

/// Fails the pending deliveries of hook `key` with `reason` (no retry follows) and gives back
/// their leases. Returns how many failed.
pub(crate) async fn fail_pending<C: ConnectionTrait>(db: &C, key: &str, reason: &str) -> Result<u64, DbErr> {
    let failed = delivery::Entity::update_many()
        .col_expr(delivery::Column::State, Expr::value(delivery::state::FAILED))
        .col_expr(delivery::Column::LastError, Expr::value(reason.to_owned()))
        .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .filter(delivery::Column::HookId.eq(key))
        .filter(delivery::Column::State.eq(delivery::state::PENDING))
        .exec(db)
        .await?;
    Ok(failed.rows_affected)
}

/// Hook `key` was deleted: its pending deliveries fail with `the hook was deleted` and its state
/// goes. The attempt log stays.
pub(crate) async fn forget_hook<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    fail_pending(db, key, "the hook was deleted").await?;
    hook_state::Entity::delete_by_id(key).exec(db).await?;
    Ok(())
}

/// Disables hook `key` at `now` (Unix ms) for `reason`, and fails its pending deliveries with `the
/// hook was disabled: {reason}`. Returns whether it was enabled before (a disabled hook keeps its
/// first reason).
pub(crate) async fn disable_hook<C: ConnectionTrait>(db: &C, key: &str, reason: &str, now: i64) -> Result<bool, DbErr> {
    hook_state::Entity::insert(hook_state::ActiveModel {
        hook_id: Set(key.to_owned()),
        failing_since: Set(None),
        disabled_at: Set(None),
        disabled_reason: Set(None),
        ordered: Set(false),
    })
    .on_conflict_do_nothing_on([hook_state::Column::HookId])
    .exec_without_returning(db)
    .await?;
    let changed = hook_state::Entity::update_many()
        .col_expr(hook_state::Column::DisabledAt, Expr::value(now))
        .col_expr(hook_state::Column::DisabledReason, Expr::value(reason.to_owned()))
        .filter(hook_state::Column::HookId.eq(key))
        .filter(hook_state::Column::DisabledAt.is_null())
        .exec(db)
        .await?;
    if changed.rows_affected == 0 {
        return Ok(false);
    }
    fail_pending(db, key, &format!("the hook was disabled: {reason}")).await?;
    Ok(true)
}

/// Makes hook `key`'s deliveries about one instance go in order, or not.
pub(crate) async fn set_ordered<C: ConnectionTrait>(db: &C, key: &str, ordered: bool) -> Result<(), DbErr> {
    hook_state::Entity::insert(hook_state::ActiveModel {
        hook_id: Set(key.to_owned()),
        failing_since: Set(None),
        disabled_at: Set(None),
        disabled_reason: Set(None),
        ordered: Set(ordered),
    })
    .on_conflict(OnConflict::column(hook_state::Column::HookId).update_column(hook_state::Column::Ordered).to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Clears hook `key`'s disabling and failure streak; returns whether it was disabled.
pub(crate) async fn enable_hook<C: ConnectionTrait>(db: &C, key: &str) -> Result<bool, DbErr> {
    let done = hook_state::Entity::update_many()
        .col_expr(hook_state::Column::DisabledAt, Expr::value(Option::<i64>::None))
        .col_expr(hook_state::Column::DisabledReason, Expr::value(Option::<String>::None))
        .col_expr(hook_state::Column::FailingSince, Expr::value(Option::<i64>::None))
        .filter(hook_state::Column::HookId.eq(key))
        .filter(hook_state::Column::DisabledAt.is_not_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// What a purge deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Purged {
    /// Rows of the attempt log.
    pub attempts: u64,
    /// Delivered deliveries.
    pub deliveries: u64,
    /// Dispatched outbox rows.
    pub events: u64,
}

/// Deletes attempts made, deliveries delivered and events dispatched before `cutoff` (Unix ms).
/// Failed deliveries and events that failed to dispatch are kept.
pub(crate) async fn purge<C: ConnectionTrait>(db: &C, cutoff: i64) -> Result<Purged, DbErr> {
    let attempts = attempt::Entity::delete_many().filter(attempt::Column::At.lt(cutoff)).exec(db).await?;
    let deliveries = delivery::Entity::delete_many()
        .filter(delivery::Column::State.eq(delivery::state::DELIVERED))
        .filter(delivery::Column::DeliveredAt.lt(cutoff))
        .exec(db)
        .await?;
    let events = outbox::Entity::delete_many()
        .filter(outbox::Column::State.eq(outbox::state::DISPATCHED))
        .filter(outbox::Column::DispatchedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(Purged { attempts: attempts.rows_affected, deliveries: deliveries.rows_affected, events: events.rows_affected })
}
