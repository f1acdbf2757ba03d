//! Writing what attempts produced: the attempt log, the delivery rows (delivered, the next attempt,
//! or dead), and each hook's health ([`health`]); and renewing the leases of the deliveries under
//! way. [`write_outcomes`] writes one batch in one transaction and returns the hooks it disabled,
//! which are reported to the application after it commits. The outcome writer actor decides when.
//!
//! A delivery started at dispatch has no row yet: its row is inserted with its outcome (one
//! multi-row statement for the batch), and its event, held until then, is marked dispatched in the
//! transaction that writes its last such outcome. A new delivery that waits for its receiver is
//! written here too, unleased, with the same statement.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::foundation::delivery::Disabled;
use crate::foundation::retry::Verdict;
use crate::foundation::slots::lane_of;
use crate::foundation::store::shapes::{CHUNK, padded, runs};
use crate::foundation::store::{attempt, delivery, outbox};
use crate::pipeline::deliver::{Attempted, Outcome, Unrecorded};
use crate::pipeline::health;
use crate::runtime::shared::Shared;
use crate::runtime::signals::{Due, Room};

/// What a renewal of leases found: each delivery's and each held event's new lease, or `None`
/// where it no longer held the lease.
pub(crate) struct Renewed {
    pub(crate) deliveries: Vec<(Uuid, Option<i64>)>,
    pub(crate) events: Vec<(i64, Option<i64>)>,
}

/// Renews the leases `held` (delivery, lease) and those of the events held here until a lease from
/// `now`, in one transaction.
pub(crate) async fn renew_leases(shared: &Shared, held: &[(Uuid, i64)], now: i64) -> Result<Renewed, DbErr> {
    let until = now.saturating_add(shared.config.lease_ms());
    let events = shared.held().leases();
    if held.is_empty() && events.is_empty() {
        return Ok(Renewed { deliveries: Vec::new(), events: Vec::new() });
    }
    let txn = crate::runtime::pool::begin_write(&shared.db).await?;
    let outbox_pending = outbox::Column::State.eq(outbox::state::PENDING);
    let (id, lease) = (outbox::Column::Id, outbox::Column::LeaseUntil);
    let renewed_events = renew::<outbox::Entity, _>(&txn, events, until, id, lease, outbox_pending).await?;
    let (id, lease) = (delivery::Column::Id, delivery::Column::LeaseUntil);
    let renewed =
        renew::<delivery::Entity, _>(&txn, held.to_vec(), until, id, lease, delivery::still_pending()).await?;
    txn.commit().await?;
    let mut holds = shared.held();
    for (outbox_id, lease) in &renewed_events {
        if let Some(until) = lease {
            holds.renewed(*outbox_id, *until);
        }
    }
    Ok(Renewed { deliveries: renewed, events: renewed_events })
}

/// Renews the leases `held` (row id, lease) of rows of `E` until `until`: one statement for the
/// rows held under one lease (most often, all those leased by one pass or renewed together), and
/// where some of them were no longer `pending` under it, one more to find which. Returns each
/// row's new lease, `None` where it was not renewed.
async fn renew<E, K>(
    txn: &DatabaseTransaction,
    held: Vec<(K, i64)>,
    until: i64,
    id: E::Column,
    lease: E::Column,
    pending: SimpleExpr,
) -> Result<Vec<(K, Option<i64>)>, DbErr>
where
    E: EntityTrait,
    K: Copy + Eq + std::hash::Hash + Into<sea_orm::Value> + sea_orm::TryGetable,
{
    let mut by_lease: HashMap<i64, Vec<K>> = HashMap::new();
    for (key, lease_until) in held {
        by_lease.entry(lease_until).or_default().push(key);
    }
    let mut renewed = Vec::new();
    for (lease_until, keys) in by_lease {
        for chunk in keys.chunks(CHUNK) {
            let done = E::update_many()
                .col_expr(lease, Expr::value(until))
                .filter(id.is_in(padded(chunk)))
                .filter(pending.clone())
                .filter(lease.eq(lease_until))
                .exec(txn)
                .await?;
            if done.rows_affected == chunk.len() as u64 {
                renewed.extend(chunk.iter().map(|key| (*key, Some(until))));
                continue;
            }
            // Some were done meanwhile, or taken over by another process: those now under the new
            // lease are still held here.
            let still: HashSet<K> = E::find()
                .select_only()
                .column(id)
                .filter(id.is_in(padded(chunk)))
                .filter(pending.clone())
                .filter(lease.eq(until))
                .into_tuple::<K>()
                .all(txn)
                .await?
                .into_iter()
                .collect();
            renewed.extend(chunk.iter().map(|key| (*key, still.contains(key).then_some(until))));
        }
    }
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

/// Marks the receivers of the rows of waiting deliveries just written as having work waiting, and
/// asks for a pass to claim it: a claim that ran before they were written found none.
pub(crate) fn wake_for_waiting(shared: &Shared, batch: &[Outcome]) {
    let mut any = false;
    for outcome in batch.iter().filter(|outcome| outcome.waits()) {
        if let Some(unrecorded) = &outcome.unrecorded {
            shared.slots.waits(&lane_of(&unrecorded.target, &unrecorded.hook_id));
            any = true;
        }
    }
    if let (true, Some(signals)) = (any, shared.signals()) {
        signals.room.do_send(Room);
    }
}

/// Writes one batch; returns the hooks it disabled.
pub(crate) async fn write_outcomes(shared: &Shared, batch: &[Outcome]) -> Result<Vec<Disabled>, DbErr> {
    let now = shared.clock.now_ms();
    let txn = crate::runtime::pool::begin_write(&shared.db).await?;
    let written = insert_rows(&txn, batch, now).await?;
    log_attempts(&txn, batch).await?;
    release_leases(&txn, batch).await?;
    write_delivered(&txn, batch, now).await?;
    write_failures(&txn, batch, now).await?;
    let completed = shared.held().completed_by(&written);
    mark_dispatched(&txn, completed, now).await?;
    let attempts: Vec<&Attempted> = batch.iter().filter_map(|outcome| outcome.attempt.as_ref()).collect();
    let disabled = health::update(&txn, &attempts, now, shared.config.disable_after).await?;
    txn.commit().await?;
    shared.held().written(&written);
    Ok(disabled)
}

/// Inserts the rows of the deliveries of `batch` started without one, with their outcome: delivered,
/// waiting for a retry, or dead (a hook disabled before the request started is dead too); one not
/// attempted because the engine stopped waits, unleased, for the next start. Returns them
/// (delivery, event). A row another process wrote meanwhile (it dispatched the event again
/// after this process lost its hold) is kept.
async fn insert_rows(txn: &DatabaseTransaction, batch: &[Outcome], now: i64) -> Result<Vec<(Uuid, i64)>, DbErr> {
    let mut written = Vec::new();
    let mut rows = Vec::new();
    for outcome in batch {
        let Some(unrecorded) = &outcome.unrecorded else { continue };
        let row = match &outcome.attempt {
            Some(attempted) => row_with_outcome(outcome.id, unrecorded, attempted, now),
            None if outcome.lease_until.is_some() => new_row(outcome.id, unrecorded),
            None => {
                let mut row = new_row(outcome.id, unrecorded);
                row.state = Set(delivery::state::FAILED);
                row.last_error = Set(Some("the hook was disabled before the request started".to_owned()));
                row
            }
        };
        written.push((outcome.id, unrecorded.outbox_id));
        rows.push(row);
    }
    for run in runs(&rows) {
        delivery::Entity::insert_many(run.to_vec())
            .on_conflict_do_nothing_on([delivery::Column::Id])
            .exec_without_returning(txn)
            .await?;
    }
    Ok(written)
}

/// The row of a delivery started without one, not attempted yet.
fn new_row(id: Uuid, unrecorded: &Unrecorded) -> delivery::ActiveModel {
    delivery::ActiveModel {
        id: Set(id),
        outbox_id: Set(unrecorded.outbox_id),
        hook_id: Set(unrecorded.hook_id.clone()),
        event: Set(unrecorded.event.clone()),
        target: Set(unrecorded.target.clone()),
        receiver: Set(lane_of(&unrecorded.target, &unrecorded.hook_id)),
        body: Set(unrecorded.body.clone()),
        state: Set(delivery::state::PENDING),
        attempts: Set(0),
        created_at: Set(unrecorded.created_at),
        next_attempt_at: Set(unrecorded.created_at),
        lease_until: Set(None),
        last_status: Set(None),
        last_error: Set(None),
        delivered_at: Set(None),
        order_key: Set(None),
    }
}

/// The row of a delivery started without one, after `attempted`.
fn row_with_outcome(id: Uuid, unrecorded: &Unrecorded, attempted: &Attempted, now: i64) -> delivery::ActiveModel {
    let mut row = new_row(id, unrecorded);
    row.attempts = Set(1);
    row.last_status = Set(attempted.status.map(i32::from));
    match failure(attempted, now) {
        None => {
            row.state = Set(delivery::state::DELIVERED);
            row.delivered_at = Set(Some(now));
        }
        Some((state, error, next)) => {
            row.state = Set(state);
            row.last_error = Set(Some(error));
            row.next_attempt_at = Set(next);
        }
    }
    row
}

/// For a failed attempt whose outcome is written at `now`: the delivery's state after it, why it
/// failed, and when it may next be attempted; `None` when it was delivered.
fn failure(attempted: &Attempted, now: i64) -> Option<(i16, String, i64)> {
    let failure = match (&attempted.error, attempted.status) {
        (Some(error), _) => error.to_string(),
        (None, Some(status)) => format!("HTTP {status}"),
        (None, None) => "no answer".to_owned(),
    };
    match &attempted.verdict {
        Verdict::Delivered => None,
        Verdict::Retry { after } => {
            let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
            Some((delivery::state::PENDING, failure, now.saturating_add(after)))
        }
        Verdict::GiveUp { reason } | Verdict::Disable { reason } => {
            Some((delivery::state::FAILED, format!("{failure}; gave up: {reason}"), now))
        }
    }
}

/// Marks dispatched the events `completed` (event, lease) whose last delivery without a row was
/// just written, where this process still holds them.
async fn mark_dispatched(txn: &DatabaseTransaction, completed: Vec<(i64, i64)>, now: i64) -> Result<(), DbErr> {
    let mut by_lease: HashMap<i64, Vec<i64>> = HashMap::new();
    for (outbox_id, lease_until) in completed {
        by_lease.entry(lease_until).or_default().push(outbox_id);
    }
    for (lease_until, ids) in by_lease {
        for chunk in ids.chunks(CHUNK) {
            outbox::mark_dispatched(now)
                .filter(outbox::Column::Id.is_in(padded(chunk)))
                .filter(outbox::Column::State.eq(outbox::state::PENDING))
                .filter(outbox::Column::LeaseUntil.eq(lease_until))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
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
    for run in runs(&rows) {
        attempt::Entity::insert_many(run.to_vec()).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// Gives back the leases of jobs not attempted because the engine stopped (those without a row get
/// one, see [`insert_rows`]).
async fn release_leases(txn: &DatabaseTransaction, batch: &[Outcome]) -> Result<(), DbErr> {
    for outcome in batch.iter().filter(|outcome| outcome.unrecorded.is_none()) {
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
    for outcome in batch.iter().filter(|outcome| outcome.unrecorded.is_none()) {
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
                .filter(delivery::Column::Id.is_in(padded(chunk)))
                .filter(delivery::Column::LeaseUntil.eq(lease_until))
                .filter(delivery::still_pending())
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

async fn write_failures(txn: &DatabaseTransaction, batch: &[Outcome], now: i64) -> Result<(), DbErr> {
    for outcome in batch.iter().filter(|outcome| outcome.unrecorded.is_none()) {
        let Some(attempted) = &outcome.attempt else { continue };
        let Some((state, error, next)) = failure(attempted, now) else { continue };
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
