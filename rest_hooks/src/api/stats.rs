//! The caller's delivery statistics: attempts of the last 24 hours by hour and outcome, read from
//! the attempt log and narrowed to the caller's hooks. The owner portal draws its chart from them.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::error::documented::Always;
use crate::foundation::hook::HookId;
use crate::foundation::store::attempt;

/// One bucket, in milliseconds.
const HOUR_MS: i64 = 3_600_000;

/// How many buckets: a day.
const HOURS: usize = 24;

/// How many hook ids go into one `IN (…)` list.
const IDS_PER_QUERY: usize = 500;

/// The caller's deliveries of the last 24 hours.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Stats {
    /// The length of each bucket, in seconds.
    #[schema(example = 3600)]
    pub(crate) bucket_seconds: u32,
    /// 24 hourly buckets, the oldest first; the last is the current hour, still running.
    pub(crate) hours: Vec<HourStats>,
}

/// The attempts of one hour, by outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct HourStats {
    /// When the hour starts.
    pub(crate) start: DateTime<Utc>,
    /// Attempts the target answered with a 2xx status.
    pub(crate) delivered: u64,
    /// Attempts that failed: another status, or no response at all.
    pub(crate) failed: u64,
}

/// The caller's delivery attempts of the last 24 hours, by hour and outcome, over all of its
/// hooks. Test deliveries are not counted (they are not logged).
#[utoipa::path(
    get, path = "/stats", tag = "hooks", operation_id = "delivery_stats",
    responses(
        (status = 200, description = "Hourly counts of the last day", body = Stats),
        Always,
    )
)]
pub(crate) async fn stats(State(state): State<ApiState>, Caller(owner): Caller) -> Result<Json<Stats>, ApiError> {
    let now = state.engine.shared().clock.now_ms();
    let first = now - now.rem_euclid(HOUR_MS) - (HOURS as i64 - 1) * HOUR_MS;
    let hooks = state.table.ids(state.engine.db(), &owner).await?;
    let mut hours = empty_day(first);
    for chunk in hooks.chunks(IDS_PER_QUERY) {
        for (start, total, delivered) in counts(state.engine.db(), chunk, first).await? {
            let Some(hour) = usize::try_from((start - first) / HOUR_MS).ok().and_then(|at| hours.get_mut(at)) else {
                continue; // written by a clock ahead of the engine's
            };
            let delivered = u64::try_from(delivered).unwrap_or_default();
            hour.delivered += delivered;
            hour.failed += u64::try_from(total).unwrap_or_default().saturating_sub(delivered);
        }
    }
    Ok(Json(Stats { bucket_seconds: (HOUR_MS / 1000) as u32, hours }))
}

/// The 24 buckets from `first` (Unix ms), all zero.
fn empty_day(first: i64) -> Vec<HourStats> {
    (0..HOURS as i64)
        .map(|hour| HourStats {
            start: Utc.timestamp_millis_opt(first + hour * HOUR_MS).single().unwrap_or_default(),
            delivered: 0,
            failed: 0,
        })
        .collect()
}

/// `(hour start, attempts, 2xx attempts)` of the hooks `ids` since `first`, one row per hour that
/// has any. Only integer arithmetic and `COUNT`, which every backend answers as a 64-bit integer.
async fn counts(db: &DatabaseConnection, ids: &[HookId], first: i64) -> Result<Vec<(i64, i64, i64)>, DbErr> {
    let at = || Expr::col(attempt::Column::At);
    let hour = at().sub(at().modulo(HOUR_MS));
    let ok = Expr::col(attempt::Column::Status).gte(200).and(Expr::col(attempt::Column::Status).lt(300));
    attempt::Entity::find()
        .select_only()
        .column_as(hour, "hour")
        .column_as(Expr::from(Func::count(Expr::col(attempt::Column::Id))), "total")
        .column_as(Expr::from(Func::count(Expr::case(ok, 1))), "delivered")
        .filter(attempt::Column::HookId.is_in(ids.iter().map(ToString::to_string)))
        .filter(attempt::Column::At.gte(first))
        // By the alias: the expression again would be another statement parameter, which
        // PostgreSQL and MySQL do not match to the selected one.
        .group_by(Expr::col("hour"))
        .into_tuple()
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_24_hours_from_the_first() {
        let day = empty_day(0);
        assert_eq!(day.len(), 24);
        assert_eq!(Some(day[23].start), Utc.timestamp_millis_opt(23 * HOUR_MS).single());
        assert!(day.iter().all(|hour| hour.delivered == 0 && hour.failed == 0));
    }
}
