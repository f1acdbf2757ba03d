//! Writing what attempts produced: the attempt log, the delivery rows (delivered, the next attempt,
//! or dead), each hook's health, and disabling hooks.
//!
//! The outcome writer is a thin actor that batches outcomes; [`write_outcomes`] writes one batch in
//! one transaction. Hooks disabled by a batch are reported to the application after it commits.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};
use uuid::Uuid;

use crate::dispatch::Shared;
use crate::error::{DeliveryError, panic_message};
use crate::hook::{HookId, HookTarget};
use crate::registry::{Capacity, Due};
use crate::retry::Verdict;
use crate::store::{attempt, delivery, hook_state};

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
        Self { id, attempt: None, lease_until: None }
    }

    /// A job not attempted because the engine stopped: its lease is given back so that the next
    /// start takes it at once.
    pub(crate) fn released(id: Uuid, lease_until: i64) -> Self {
        Self { id, attempt: None, lease_until: Some(lease_until) }
    }
}

/// What a hook that was disabled is told to the application.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Disabled {
    /// The hook.
    pub hook: HookTarget,
    /// Why: `the target answered 410 Gone`, or how long it has been failing.
    pub reason: String,
    /// When (Unix ms).
    pub at: i64,
}

/// A function told of every hook the engine disables.
pub(crate) type DisabledHook = Arc<dyn Fn(&Disabled) + Send + Sync>;

/// Writes outcomes in batches: one transaction for whatever arrived while the last one ran.
pub(crate) struct OutcomeWriter {
    shared: Arc<Shared>,
    buffer: Vec<Outcome>,
    writing: bool,
}

impl OutcomeWriter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, buffer: Vec::new(), writing: false }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.writing || self.buffer.is_empty() {
            return;
        }
        self.writing = true;
        let batch = std::mem::take(&mut self.buffer);
        let count = batch.len();
        let shared = Arc::clone(&self.shared);
        let task = self.shared.runtime.spawn(async move {
            match write_outcomes(&shared, &batch).await {
                Ok(disabled) => {
                    report_disabled(&shared, disabled).await;
                    wake_for_retries(&shared, &batch);
                    Ok(())
                }
                Err(error) => Err((error, batch)),
            }
        });
        ctx.spawn(task.into_actor(self).map(move |result, writer, ctx| {
            writer.writing = false;
            match result {
                Ok(Ok(())) => writer.finished(count),
                Ok(Err((error, batch))) => {
                    tracing::warn!(%error, count, "cannot record delivery outcomes; retrying");
                    writer.buffer.extend(batch);
                    ctx.run_later(Duration::from_millis(200), Self::flush);
                    return;
                }
                Err(join) => {
                    tracing::error!(%join, count, "outcome writer task failed; the leases will expire and the deliveries be retried");
                    writer.finished(count);
                }
            }
            writer.flush(ctx);
        }));
    }

    fn finished(&self, count: usize) {
        self.shared.in_flight.fetch_sub(count, Ordering::AcqRel);
        if let Some(registry) = self.shared.registry() {
            registry.do_send(Capacity);
        }
    }
}

impl Actor for OutcomeWriter {
    type Context = Context<Self>;
}

impl Handler<Outcome> for OutcomeWriter {
    type Result = ();

    fn handle(&mut self, outcome: Outcome, ctx: &mut Context<Self>) {
        self.buffer.push(outcome);
        self.flush(ctx);
    }
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
    let mut disable: BTreeMap<String, (HookTarget, String)> = BTreeMap::new();
    for attempted in batch.iter().filter_map(|outcome| outcome.attempt.as_ref()) {
        if let Verdict::Disable { reason } = &attempted.verdict {
            disable.entry(attempted.hook.id.to_string()).or_insert_with(|| (attempted.hook.clone(), reason.clone()));
        }
    }
    for (id, (hook, since)) in track_health(&txn, batch, now, shared.config.disable_after).await? {
        let days = Duration::from_millis(u64::try_from(now.saturating_sub(since)).unwrap_or(0));
        let reason = format!("every attempt has failed for {}", describe(days));
        disable.entry(id).or_insert((hook, reason));
    }
    let mut disabled = Vec::new();
    for (id, (hook, reason)) in disable {
        if disable_hook(&txn, &id, &reason, now).await? {
            disabled.push(Disabled { hook, reason, at: now });
        }
    }
    txn.commit().await?;
    Ok(disabled)
}

/// `duration` in the largest whole unit: `5 days`, `3 h`, `20 min`, `12 s`.
fn describe(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 3600 => format!("{} h", s / 3600),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
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

/// Records which hooks are failing and which recovered; returns the hooks that have been failing
/// for longer than `disable_after`, with the time they started failing.
async fn track_health(
    txn: &DatabaseTransaction,
    batch: &[Outcome],
    now: i64,
    disable_after: Duration,
) -> Result<BTreeMap<String, (HookTarget, i64)>, DbErr> {
    let mut succeeded = BTreeSet::new();
    let mut failed: BTreeMap<String, &HookTarget> = BTreeMap::new();
    for attempted in batch.iter().filter_map(|outcome| outcome.attempt.as_ref()) {
        let id = attempted.hook.id.to_string();
        if attempted.verdict == Verdict::Delivered {
            succeeded.insert(id);
        } else {
            failed.insert(id, &attempted.hook);
        }
    }
    failed.retain(|id, _| !succeeded.contains(id));
    let succeeded: Vec<String> = succeeded.into_iter().collect();
    for chunk in succeeded.chunks(CHUNK) {
        hook_state::Entity::update_many()
            .col_expr(hook_state::Column::FailingSince, Expr::value(Option::<i64>::None))
            .filter(hook_state::Column::HookId.is_in(chunk.iter().cloned()))
            .filter(hook_state::Column::FailingSince.is_not_null())
            .exec(txn)
            .await?;
    }
    if failed.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ids: Vec<String> = failed.keys().cloned().collect();
    let mut overdue = BTreeMap::new();
    let cutoff = now.saturating_sub(i64::try_from(disable_after.as_millis()).unwrap_or(i64::MAX));
    for chunk in ids.chunks(CHUNK) {
        let rows = chunk.iter().map(|id| hook_state::ActiveModel {
            hook_id: Set(id.clone()),
            failing_since: Set(Some(now)),
            disabled_at: Set(None),
            disabled_reason: Set(None),
        });
        hook_state::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([hook_state::Column::HookId])
            .exec_without_returning(txn)
            .await?;
        hook_state::Entity::update_many()
            .col_expr(hook_state::Column::FailingSince, Expr::value(now))
            .filter(hook_state::Column::HookId.is_in(chunk.iter().cloned()))
            .filter(hook_state::Column::FailingSince.is_null())
            .exec(txn)
            .await?;
        let states = hook_state::Entity::find()
            .filter(hook_state::Column::HookId.is_in(chunk.iter().cloned()))
            .filter(hook_state::Column::DisabledAt.is_null())
            .filter(hook_state::Column::FailingSince.lte(cutoff))
            .all(txn)
            .await?;
        for state in states {
            if let (Some(hook), Some(since)) = (failed.get(&state.hook_id), state.failing_since) {
                overdue.insert(state.hook_id, ((*hook).clone(), since));
            }
        }
    }
    Ok(overdue)
}

/// Disables hook `id` in the engine's hook states and kills its pending deliveries. Returns
/// whether it was enabled before.
pub(crate) async fn disable_hook<C: ConnectionTrait>(db: &C, id: &str, reason: &str, now: i64) -> Result<bool, DbErr> {
    hook_state::Entity::insert(hook_state::ActiveModel {
        hook_id: Set(id.to_owned()),
        failing_since: Set(None),
        disabled_at: Set(None),
        disabled_reason: Set(None),
    })
    .on_conflict_do_nothing_on([hook_state::Column::HookId])
    .exec_without_returning(db)
    .await?;
    let changed = hook_state::Entity::update_many()
        .col_expr(hook_state::Column::DisabledAt, Expr::value(now))
        .col_expr(hook_state::Column::DisabledReason, Expr::value(reason.to_owned()))
        .filter(hook_state::Column::HookId.eq(id))
        .filter(hook_state::Column::DisabledAt.is_null())
        .exec(db)
        .await?;
    if changed.rows_affected == 0 {
        return Ok(false);
    }
    delivery::Entity::update_many()
        .col_expr(delivery::Column::State, Expr::value(delivery::state::FAILED))
        .col_expr(delivery::Column::LastError, Expr::value(format!("the hook was disabled: {reason}")))
        .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .filter(delivery::Column::HookId.eq(id))
        .filter(delivery::Column::State.eq(delivery::state::PENDING))
        .exec(db)
        .await?;
    Ok(true)
}

/// Tells the finder (the application's hook entity) and the application's handlers about hooks
/// just disabled. Failures and panics there are logged: the engine's own state already says it.
async fn report_disabled(shared: &Shared, disabled: Vec<Disabled>) {
    for notice in disabled {
        tracing::warn!(hook_id = %notice.hook.id, target = %notice.hook.target, reason = %notice.reason, "hook disabled");
        let id: &HookId = &notice.hook.id;
        match futures_util::FutureExt::catch_unwind(AssertUnwindSafe(shared.finder.disable(
            &shared.db,
            id,
            &notice.reason,
        )))
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(hook_id = %id, %error, "cannot mark the hook disabled in its own table"),
            Err(panic) => {
                tracing::error!(hook_id = %id, "the finder panicked while disabling: {}", panic_message(&*panic))
            }
        }
        for handler in &shared.on_disabled {
            if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| handler(&notice))) {
                tracing::error!(hook_id = %id, "a disabled-notification handler panicked: {}", panic_message(&*panic));
            }
        }
    }
}
