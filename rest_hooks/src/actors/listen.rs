//! Wake-ups from other processes: on PostgreSQL a trigger on the outbox table notifies channel
//! `rest_hooks` when a recording transaction commits, and every delivering engine listens, so an
//! event recorded by any process is dispatched at once rather than at the next idle poll. Other
//! backends rely on the local nudge and the poll.

use std::sync::Arc;

use crate::runtime::shared::Shared;

/// Starts listening when the engine's database is PostgreSQL; returns the task to abort at stop.
#[cfg(feature = "postgres")]
pub(crate) fn spawn(shared: &Arc<Shared>) -> Option<tokio::task::AbortHandle> {
    use std::time::Duration;

    use sea_orm::sqlx::postgres::PgListener;

    use crate::runtime::signals::Nudge;

    /// How long to wait before listening again after the connection failed.
    const RETRY: Duration = Duration::from_secs(1);

    if shared.db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return None;
    }
    let nudge = shared.signals()?.nudge.clone();
    let pool = shared.db.get_postgres_connection_pool().clone();
    let task = shared.runtime.spawn(async move {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(sea_orm::sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for recorded events; polling meanwhile");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            if let Err(error) = listener.listen("rest_hooks").await {
                tracing::warn!(%error, "cannot listen for recorded events; polling meanwhile");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            // Notifications sent while the connection was down are lost: look once after each
            // (re)connection so nothing waits for the idle poll.
            nudge.do_send(Nudge);
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => nudge.do_send(Nudge),
                    // The connection dropped; `try_recv` reconnects on the next call.
                    Ok(None) => nudge.do_send(Nudge),
                    Err(sea_orm::sqlx::Error::PoolClosed) => return,
                    Err(error) => {
                        tracing::warn!(%error, "lost the listener connection; polling meanwhile");
                        tokio::time::sleep(RETRY).await;
                        break;
                    }
                }
            }
        }
    });
    Some(task.abort_handle())
}

/// Without PostgreSQL support there is nothing to listen to.
#[cfg(not(feature = "postgres"))]
pub(crate) fn spawn(_shared: &Arc<Shared>) -> Option<tokio::task::AbortHandle> {
    None
}
