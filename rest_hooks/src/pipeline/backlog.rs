//! Measuring the backlog for the metrics: events waiting for dispatch, and deliveries pending, due
//! and leased. Dispatch passes ask for it; it runs at most once per
//! [`backlog_interval`](crate::Builder::backlog_interval), as a task of its own on the engine's
//! connection (a few counting queries), so neither a pass nor a save waits for it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter};

use crate::foundation::metrics::Backlog;
use crate::foundation::store::{delivery, outbox};
use crate::runtime::shared::Shared;

/// Measures the backlog and sets its gauges, unless that was done less than an interval ago.
pub(crate) fn measure_if_due(shared: &Arc<Shared>) {
    let every = i64::try_from(shared.config.backlog_interval.as_millis()).unwrap_or(i64::MAX);
    let now = shared.clock.now_ms();
    let last = shared.last_backlog.load(Ordering::Acquire);
    if now.saturating_sub(last) < every
        || shared.last_backlog.compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire).is_err()
    {
        return;
    }
    let shared = Arc::clone(shared);
    shared.runtime.clone().spawn(async move {
        match measure(&shared, now).await {
            Ok(backlog) => shared.config.metrics.backlog(backlog),
            Err(error) => tracing::debug!(%error, "cannot measure the backlog for the metrics"),
        }
    });
}

/// The backlog at `now` (engine clock, Unix ms): one count per gauge, each on an indexed column.
async fn measure(shared: &Shared, now: i64) -> Result<Backlog, DbErr> {
    let db = &shared.db;
    // Events held by a live process are dispatched: their first attempts are under way.
    let outbox_pending = outbox::Entity::find()
        .filter(outbox::Column::State.eq(outbox::state::PENDING))
        .filter(outbox::Column::LeaseUntil.is_null().or(outbox::Column::LeaseUntil.lt(now)))
        .count(db)
        .await?;
    let pending = || delivery::Entity::find().filter(delivery::Column::State.eq(delivery::state::PENDING));
    Ok(Backlog {
        outbox_pending,
        pending: pending().count(db).await?,
        due: pending()
            .filter(delivery::Column::NextAttemptAt.lte(now))
            .filter(delivery::Column::LeaseUntil.is_null().or(delivery::Column::LeaseUntil.lt(now)))
            .count(db)
            .await?,
        leased: pending().filter(delivery::Column::LeaseUntil.gte(now)).count(db).await?,
    })
}
