//! Writing what attempts produced: the attempt log, the delivery rows (delivered, the next attempt,
//! or dead), and each hook's health ([`health`]); and renewing the leases of the deliveries under
//! way. [`write_outcomes`] writes one batch in one transaction and returns the hooks it disabled,
//! which are reported to the application after it commits. The outcome writer actor decides when.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::foundation::delivery::Disabled;
use crate::foundation::retry::Verdict;
use crate::foundation::store::{attempt, delivery};
use crate::pipeline::deliver::{Attempted, Outcome};
use crate::pipeline::health;
use crate::runtime::shared::Shared;
use crate::runtime::signals::{Due, Room};

/// Rows per multi-row statement.
const CHUNK: usize = 500;

/// Renews the leases `held` (delivery, lease) until a lease from `now`, in one transaction;
/// returns each delivery's new lease, or `None` where it no longer held that lease.
pub(crate) async fn renew_leases(
    shared: &Shared,
    held: &[(Uuid, i64)],
    now: i64,
) -> Result<Vec<(Uuid, Option<i64>)>, DbErr> {
    let until = now.saturating_add(shared.config.lease_ms());
    let txn = crate::runtime::pool::begin_write(&shared.db).await?;
    let mut renewed = Vec::with_capacity(held.len());
    for &(id, lease_until) in held {
        let done = delivery::Entity::update_many()
            .col_expr(delivery::Column::LeaseUntil, Expr::value(until))
            .filter(delivery::Column::Id.eq(id))
            .filter(delivery::Column::State.eq(delivery::state::PENDING))
            .filter(delivery::Column::LeaseUntil.eq(lease_until))
            .exec(&txn)
            .await?;
        renewed.push((id, (done.rows_affected == 1).then_some(until)));
    }
    txn.commit().await?;
    Ok(renewed)
}

/// Asks the registry to look again when a retry of this batch is due before its next idle poll,
/// and at once when a delivery held in order is done, so that the next one about its instance
/// follows without waiting for the poll.
pub(crate) fn wake_for_retries(shared: &Shared, batch: &[Outcome]) {
    let turn_done = batch
        .iter()
        .filter_map(|outcome| outcome.attempt.as_ref())
        .any(|attempted| attempted.ordered && !matches!(attempted.verdict, Verdict::Retry { .. }));
    if let (true, Some(signals)) = (turn_done, shared.signals()) {
        signals.room.do_send(Room);
    }
    let soonest = batch
        .iter()
        .filter_map(|outcome| match outcome.attempt.as_ref().map(|attempted| &attempted.verdict) {
            Some(Verdict::Retry { after }) => Some(*after),
            _ => None,
        })
        .min();
    if let (Some(after), Some(signals)) = (soonest, shared.signals())
        && after < shared.config.poll_interval
    {
        signals.due.do_send(Due(after));
    }
}

/// Writes one batch; returns the hooks it disabled.
pub(crate) async fn write_outcomes(shared: &Shared, batch: &[Outcome]) -> Result<Vec<Disabled>, DbErr> {
    let now = shared.clock.now_ms();
    let txn = crate::runtime::pool::begin_write(&shared.db).await?;
    log_attempts(&txn, batch).await?;
    release_leases(&txn, batch).await?;
    write_delivered(&txn, batch, now).await?;
    write_failures(&txn, batch, now).await?;
    let attempts: Vec<&Attempted> = batch.iter().filter_map(|outcome| outcome.attempt.as_ref()).collect();
    let disabled = health::update(&txn, &attempts, now, shared.config.disable_after).await?;
    txn.commit().await?;
    Ok(disabled)
}

async fn log_attempts(txn: &DatabaseTransaction, batch: &[Outcome]) -> Result<(), DbErr> {
    let rows: Vec<attempt::ActiveModel> = batch
        .iter()
        .filter_map(|outcome| outcome.attempt.as_ref().map(|attempted| (outcome.id, attempted)))
        .map(|(id, attempted)| attempt::ActiveModel {
            delivery_id: Set(id),
            outbox_id: Set(attempted.outbox_id),
            hook_id: Set(attempted.hook.id.to_string()),
            attempt: Set(i32::try_from(attempted.number).unwrap_or(i32::MAX)),
            at: Set(attempted.at),
            duration_ms: Set(i64::try_from(attempted.duration.as_millis()).unwrap_or(i64::MAX)),
            status: Set(attempted.status.map(i32::from)),
            error_kind: Set(attempted.error.as_ref().map(|e| e.kind().to_owned())),
            error: Set(attempted.error.as_ref().map(ToString::to_string)),
            response: Set(attempted.excerpt.clone()),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        attempt::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// Gives back the leases of jobs not attempted because the engine stopped.
async fn release_leases(txn: &DatabaseTransaction, batch: &[Outcome]) -> Result<(), DbErr> {
    for outcome in batch {
        if let (None, Some(lease_until)) = (&outcome.attempt, outcome.lease_until) {
            delivery::Entity::update_many()
                .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<i64>::None))
                .filter(delivery::Column::Id.eq(outcome.id))
                .filter(delivery::Column::LeaseUntil.eq(lease_until))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

async fn write_delivered(txn: &DatabaseTransaction, batch: &[Outcome], now: i64) -> Result<(), DbErr> {
    // Deliveries made under the same lease with the same status (most often: 200 after one pass)
    // share one UPDATE.
    let mut groups: HashMap<(Option<u16>, i64), Vec<Uuid>> = HashMap::new();
    for outcome in batch {
        if let Some(attempted) = &outcome.attempt
            && attempted.verdict == Verdict::Delivered
        {
            groups.entry((attempted.status, attempted.lease_until)).or_default().push(outcome.id);
        }
    }
    for ((status, lease_until), ids) in groups {
        for chunk in ids.chunks(CHUNK) {
            // An attempt whose lease was taken over meanwhile matches no row: the new holder
            // reports.
            delivery::Entity::update_many()
                .col_expr(delivery::Column::State, Expr::value(delivery::state::DELIVERED))
                .col_expr(delivery::Column::Attempts, Expr::col(delivery::Column::Attempts).add(1))
                .col_expr(delivery::Column::LastStatus, Expr::value(status.map(i32::from)))
                .col_expr(delivery::Column::LastError, Expr::value(Option::<String>::None))
                .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<i64>::None))
                .col_expr(delivery::Column::DeliveredAt, Expr::value(now))
                .filter(delivery::Column::Id.is_in(chunk.iter().copied()))
                .filter(delivery::Column::LeaseUntil.eq(lease_until))
                .filter(delivery::still_pending())
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

async fn write_failures(txn: &DatabaseTransaction, batch: &[Outcome], now: i64) -> Result<(), DbErr> {
    for outcome in batch {
        let Some(attempted) = &outcome.attempt else { continue };
        let failure = match (&attempted.error, attempted.status) {
            (Some(error), _) => error.to_string(),
            (None, Some(status)) => format!("HTTP {status}"),
            (None, None) => "no answer".to_owned(),
        };
        let (state, error, next) = match &attempted.verdict {
            Verdict::Delivered => continue,
            Verdict::Retry { after } => {
                let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
                (delivery::state::PENDING, failure, now.saturating_add(after))
            }
            Verdict::GiveUp { reason } | Verdict::Disable { reason } => {
                (delivery::state::FAILED, format!("{failure}; gave up: {reason}"), now)
            }
        };
        // A delivery killed meanwhile (its hook disabled) is no longer pending: left as it is.
        delivery::Entity::update_many()
            .col_expr(delivery::Column::State, Expr::value(state))
            .col_expr(delivery::Column::Attempts, Expr::col(delivery::Column::Attempts).add(1))
            .col_expr(delivery::Column::LastStatus, Expr::value(attempted.status.map(i32::from)))
            .col_expr(delivery::Column::LastError, Expr::value(error))
            .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(next))
            .filter(delivery::Column::Id.eq(outcome.id))
            .filter(delivery::Column::LeaseUntil.eq(attempted.lease_until))
            .filter(delivery::Column::State.eq(delivery::state::PENDING))
            .exec(txn)
            .await?;
    }
    Ok(())
}
