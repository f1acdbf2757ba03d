//! Writing what attempts produced: the attempt log, the delivery rows (delivered, the next attempt,
//! or dead), and each hook's health ([`health`]).
//!
//! The outcome writer is a thin actor that batches outcomes; [`write_outcomes`] writes one batch in
//! one transaction. Hooks disabled by a batch are reported to the application after it commits.
//!
//! It also keeps the leases of the requests under way: every quarter of a lease it renews them all
//! in one transaction ([`renew_leases`]), so a lease runs out only when its process stopped
//! renewing it — died, or lost its database. A request whose lease could not be renewed is
//! aborted before the lease runs out, so that no delivery is ever sent by two live processes at
//! once; another process (or this one, later) takes it over. Renewals and outcome writes take
//! turns, so an outcome is always written under the lease its delivery holds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, TransactionTrait};
use tokio::task::AbortHandle;
use uuid::Uuid;

use crate::delivery::InFlight;
use crate::dispatch::Shared;
use crate::error::DeliveryError;
use crate::health::{self, Disabled};
use crate::hook::HookTarget;
use crate::registry::Due;
use crate::retry::Verdict;
use crate::store::{attempt, delivery};

/// Rows per multi-row statement.
const CHUNK: usize = 500;

/// The result of one attempt, as written to the attempt log and the delivery row.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Outcome {
    pub(crate) id: Uuid,
    /// What was attempted; `None` for a job that was not attempted (see `release`).
    pub(crate) attempt: Option<Attempted>,
    /// The lease the job held; a job not attempted because the engine stopped gives it back.
    pub(crate) lease_until: Option<i64>,
    /// Counts the delivery in flight until the outcome is written.
    pub(crate) in_flight: Option<InFlight>,
}

/// A delivery leased under `lease_until`, queued (`task` is `None`) or started: its lease is
/// renewed until its outcome is written, and it is stopped if the lease cannot be.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Started {
    pub(crate) id: Uuid,
    pub(crate) lease_until: i64,
    pub(crate) task: Option<AbortHandle>,
}

/// One attempt that was made.
#[derive(Debug)]
pub(crate) struct Attempted {
    pub(crate) hook: HookTarget,
    pub(crate) outbox_id: i64,
    pub(crate) number: u32,
    pub(crate) lease_until: i64,
    /// When it ended (engine clock, Unix ms).
    pub(crate) at: i64,
    pub(crate) duration: Duration,
    pub(crate) status: Option<u16>,
    pub(crate) error: Option<DeliveryError>,
    pub(crate) excerpt: Option<String>,
    pub(crate) verdict: Verdict,
}

impl Outcome {
    /// A job that was not attempted and whose lease stays (another process took it, or the lease
    /// could not be renewed): nothing to write.
    pub(crate) fn skipped(id: Uuid) -> Self {
        Self { id, attempt: None, lease_until: None, in_flight: None }
    }

    /// A job not attempted because the engine stopped: its lease is given back so that the next
    /// start takes it at once.
    pub(crate) fn released(id: Uuid, lease_until: i64) -> Self {
        Self { id, attempt: None, lease_until: Some(lease_until), in_flight: None }
    }

    /// The outcome as written under `lease_until`, the lease its delivery holds now.
    fn under(&mut self, lease_until: i64) {
        if self.lease_until.is_some() {
            self.lease_until = Some(lease_until);
        }
        if let Some(attempted) = &mut self.attempt {
            attempted.lease_until = lease_until;
        }
    }
}

/// Writes outcomes in batches (one transaction for whatever arrived while the last one ran) and
/// renews the leases of requests under way, taking turns.
pub(crate) struct OutcomeWriter {
    shared: Arc<Shared>,
    buffer: Vec<Outcome>,
    writing: bool,
    /// The deliveries queued or under way: their lease as it stands, and their task once started.
    leases: HashMap<Uuid, (i64, Option<AbortHandle>)>,
    /// Set when the leases are due for renewal.
    renew: bool,
    /// Set while outcomes are gathered for a batch (see [`GATHER`]).
    gathering: bool,
}

/// How long the first outcome of a batch waits for others to arrive: a few outcomes written in one
/// transaction hold the database's write lock (on SQLite, the application's too) far less than as
/// many transactions of one.
const GATHER: Duration = Duration::from_millis(2);

impl OutcomeWriter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, buffer: Vec::new(), writing: false, leases: HashMap::new(), renew: false, gathering: false }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.writing {
            return;
        }
        if self.renew && !self.leases.is_empty() {
            self.renew_leases(ctx);
            return;
        }
        self.renew = false;
        if self.buffer.is_empty() {
            return;
        }
        self.writing = true;
        let mut batch = std::mem::take(&mut self.buffer);
        for outcome in &mut batch {
            if let Some((lease_until, _)) = self.leases.remove(&outcome.id) {
                outcome.under(lease_until);
            }
        }
        let count = batch.len();
        let shared = Arc::clone(&self.shared);
        let task = self.shared.runtime.spawn(async move {
            match write_outcomes(&shared, &batch).await {
                Ok(disabled) => {
                    health::report_disabled(&shared, disabled).await;
                    wake_for_retries(&shared, &batch);
                    Ok(())
                }
                Err(error) => Err((error, batch)),
            }
        });
        ctx.spawn(task.into_actor(self).map(move |result, writer, ctx| {
            writer.writing = false;
            match result {
                Ok(Ok(())) => {}
                Ok(Err((error, batch))) => {
                    tracing::warn!(%error, count, "cannot record delivery outcomes; retrying");
                    writer.buffer.extend(batch);
                    ctx.run_later(Duration::from_millis(200), Self::flush);
                    return;
                }
                Err(join) => {
                    tracing::error!(%join, count, "outcome writer task failed; the leases will expire and the deliveries be retried");
                }
            }
            writer.flush(ctx);
        }));
    }

    /// Renews every lease held; aborts the requests whose lease was lost, or is about to run out
    /// after a failed renewal.
    fn renew_leases(&mut self, ctx: &mut Context<Self>) {
        self.writing = true;
        self.renew = false;
        let held: Vec<(Uuid, i64)> = self.leases.iter().map(|(id, (until, _))| (*id, *until)).collect();
        let shared = Arc::clone(&self.shared);
        let task = self.shared.runtime.spawn(async move {
            let now = shared.clock.now_ms();
            (now, renew_leases(&shared, &held, now).await)
        });
        ctx.spawn(task.into_actor(self).map(|result, writer, ctx| {
            writer.writing = false;
            match result {
                Ok((_, Ok(renewed))) => {
                    for (id, lease) in renewed {
                        match lease {
                            Some(until) => {
                                if let Some(entry) = writer.leases.get_mut(&id) {
                                    entry.0 = until;
                                }
                            }
                            // Not pending under this lease any more (its hook was disabled, or its
                            // outcome came before its start was registered): nothing to send.
                            None => writer.abort(id),
                        }
                    }
                }
                Ok((now, Err(error))) => {
                    tracing::warn!(%error, "cannot renew the leases of requests under way");
                    let margin = writer.shared.config.lease_ms() / 2;
                    let expiring: Vec<Uuid> = writer
                        .leases
                        .iter()
                        .filter(|(_, (until, _))| until.saturating_sub(now) < margin)
                        .map(|(id, _)| *id)
                        .collect();
                    for id in expiring {
                        tracing::warn!(delivery_id = %id, "aborting a request whose lease is running out; it will be taken over");
                        writer.abort(id);
                    }
                }
                Err(join) => tracing::error!(%join, "lease renewal task failed"),
            }
            writer.flush(ctx);
        }));
    }

    /// Stops delivery `id`: takes it out of its queue, or aborts its request if that still runs;
    /// forgets its lease.
    fn abort(&mut self, id: Uuid) {
        match self.leases.remove(&id) {
            Some((_, Some(task))) => task.abort(),
            Some((_, None)) => drop(self.shared.slots.unqueue(id)),
            None => {}
        }
    }
}

impl Actor for OutcomeWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.shared.config.lease / 4, |writer, ctx| {
            writer.renew = true;
            writer.flush(ctx);
        });
    }
}

impl Handler<Outcome> for OutcomeWriter {
    type Result = ();

    fn handle(&mut self, outcome: Outcome, ctx: &mut Context<Self>) {
        self.buffer.push(outcome);
        // While a batch is being written, the next gathers by itself.
        if !self.writing && !self.gathering {
            self.gathering = true;
            ctx.run_later(GATHER, |writer, ctx| {
                writer.gathering = false;
                writer.flush(ctx);
            });
        }
    }
}

impl Handler<Started> for OutcomeWriter {
    type Result = ();

    fn handle(&mut self, started: Started, _: &mut Context<Self>) {
        match (self.leases.get_mut(&started.id), started.task) {
            // A queued delivery starts: its lease may have been renewed while it waited.
            (Some(entry), Some(task)) => entry.1 = Some(task),
            (Some(_), None) => {}
            (None, Some(task)) if task.is_finished() => {}
            (None, task) => {
                self.leases.insert(started.id, (started.lease_until, task));
            }
        }
    }
}

/// Renews the leases `held` (delivery, lease) until a lease from `now`, in one transaction;
/// returns each delivery's new lease, or `None` where it no longer held that lease.
pub(crate) async fn renew_leases(
    shared: &Shared,
    held: &[(Uuid, i64)],
    now: i64,
) -> Result<Vec<(Uuid, Option<i64>)>, DbErr> {
    let until = now.saturating_add(shared.config.lease_ms());
    let txn = shared.db.begin().await?;
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

/// Asks the registry to look again when a retry of this batch is due before its next idle poll.
fn wake_for_retries(shared: &Shared, batch: &[Outcome]) {
    let soonest = batch
        .iter()
        .filter_map(|outcome| match outcome.attempt.as_ref().map(|attempted| &attempted.verdict) {
            Some(Verdict::Retry { after }) => Some(*after),
            _ => None,
        })
        .min();
    if let (Some(after), Some(registry)) = (soonest, shared.registry())
        && after < shared.config.poll_interval
    {
        registry.do_send(Due(after));
    }
}

/// Writes one batch; returns the hooks it disabled.
pub(crate) async fn write_outcomes(shared: &Shared, batch: &[Outcome]) -> Result<Vec<Disabled>, DbErr> {
    let now = shared.clock.now_ms();
    let txn = shared.db.begin().await?;
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
                .filter(delivery::Column::State.eq(delivery::state::PENDING))
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
