//! Retention: deleting what is old enough to go, the attempt log, delivered deliveries and
//! dispatched outbox rows. Failed ("dead") deliveries stay until they are replayed and delivered.
//!
//! With [`Builder::retention`](crate::Builder::retention) set, a dispatch pass starts a purge when
//! the last one is an hour old (or `retention` old, when that is shorter), beside the pass.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sea_orm::DbErr;

use crate::foundation::store::transitions::{self, Purged};
use crate::runtime::shared::Shared;

/// Deletes what is older than `older_than` by the engine's clock.
pub(crate) async fn purge(shared: &Shared, older_than: Duration) -> Result<Purged, DbErr> {
    let cutoff = shared.clock.now_ms().saturating_sub(i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX));
    transitions::purge(&shared.db, cutoff).await
}

/// How often the engine purges by itself.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Starts a purge beside the pass when retention is set and the last purge is old enough.
pub(crate) fn purge_if_due(shared: &Arc<Shared>) {
    let Some(retention) = shared.config.retention else { return };
    let every = i64::try_from(PURGE_EVERY.min(retention).as_millis()).unwrap_or(i64::MAX);
    let now = shared.clock.now_ms();
    let last = shared.last_purge.load(Ordering::Acquire);
    if now.saturating_sub(last) < every
        || shared.last_purge.compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire).is_err()
    {
        return;
    }
    let shared = Arc::clone(shared);
    shared.runtime.clone().spawn(async move {
        match purge(&shared, retention).await {
            Ok(purged) => tracing::debug!(?purged, "purged old attempts, deliveries and events"),
            Err(error) => {
                tracing::warn!(%error, "cannot purge old attempts, deliveries and events; trying again later")
            }
        }
    });
}
