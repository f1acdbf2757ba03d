//! Each hook's health: since when every attempt to it has failed, and disabling it (a 410 Gone
//! answer, or failing for [`disable_after`](crate::Builder::disable_after)). Kept in the engine's
//! own table, [`hook_state`](crate::foundation::store::hook_state), so it works whatever the hook entity; the
//! application is told after the batch that disabled a hook commits.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};

use crate::foundation::delivery::Disabled;
use crate::foundation::hook::{HookId, HookTarget};
use crate::foundation::panics::{catch, catch_async};
use crate::foundation::retry::Verdict;
use crate::foundation::store::shapes::{CHUNK, padded};
use crate::foundation::store::{hook_state, transitions};
use crate::pipeline::deliver::Attempted;
use crate::runtime::shared::Shared;

/// Records the health of the hooks `attempts` went to and disables those that answered 410 or have
/// been failing for longer than `disable_after`. Returns the hooks it disabled.
pub(crate) async fn update(
    txn: &DatabaseTransaction,
    attempts: &[&Attempted],
    now: i64,
    disable_after: Duration,
) -> Result<Vec<Disabled>, DbErr> {
    let mut disable: BTreeMap<String, (HookTarget, String)> = BTreeMap::new();
    for attempted in attempts {
        if let Verdict::Disable { reason } = &attempted.verdict {
            disable.entry(attempted.hook.id.to_string()).or_insert_with(|| (attempted.hook.clone(), reason.clone()));
        }
    }
    for (id, (hook, since)) in track(txn, attempts, now, disable_after).await? {
        let failing = Duration::from_millis(u64::try_from(now.saturating_sub(since)).unwrap_or(0));
        let reason = format!("every attempt has failed for {}", describe(failing));
        disable.entry(id).or_insert((hook, reason));
    }
    let mut disabled = Vec::new();
    for (id, (hook, reason)) in disable {
        if transitions::disable_hook(txn, &id, &reason, now).await? {
            disabled.push(Disabled { hook, reason, at: now });
        }
    }
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

/// Records which hooks are failing and which recovered; returns the hooks that have been failing
/// for longer than `disable_after`, with the time they started failing.
async fn track(
    txn: &DatabaseTransaction,
    attempts: &[&Attempted],
    now: i64,
    disable_after: Duration,
) -> Result<BTreeMap<String, (HookTarget, i64)>, DbErr> {
    let mut succeeded = BTreeSet::new();
    let mut failed: BTreeMap<String, &HookTarget> = BTreeMap::new();
    for attempted in attempts {
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
            .filter(hook_state::Column::HookId.is_in(padded(chunk)))
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
            ordered: Set(false),
        });
        hook_state::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([hook_state::Column::HookId])
            .exec_without_returning(txn)
            .await?;
        hook_state::Entity::update_many()
            .col_expr(hook_state::Column::FailingSince, Expr::value(now))
            .filter(hook_state::Column::HookId.is_in(padded(chunk)))
            .filter(hook_state::Column::FailingSince.is_null())
            .exec(txn)
            .await?;
        let states = hook_state::Entity::find()
            .filter(hook_state::Column::HookId.is_in(padded(chunk)))
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

/// Tells the finder (the application's hook entity) and the application's handlers about hooks
/// just disabled. Failures and panics there are logged: the engine's own state already says it.
pub(crate) async fn report_disabled(shared: &Shared, disabled: Vec<Disabled>) {
    shared.config.metrics.hooks_disabled(disabled.len());
    for notice in disabled {
        shared.hook_disabled(&notice.hook.id.to_string(), shared.clock.now_ms());
        tracing::warn!(hook_id = %notice.hook.id, target = %notice.hook.target, reason = %notice.reason, "hook disabled");
        let id: &HookId = &notice.hook.id;
        match catch_async(shared.finder.disable(&shared.db, id, &notice.reason)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(hook_id = %id, %error, "cannot mark the hook disabled in its own table"),
            Err(panic) => tracing::error!(hook_id = %id, "the finder panicked while disabling: {panic}"),
        }
        for handler in &shared.on_disabled {
            if let Err(panic) = catch(|| handler(&notice)) {
                tracing::error!(hook_id = %id, "a disabled-notification handler panicked: {panic}");
            }
        }
    }
}
