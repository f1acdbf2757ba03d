//! Replay: sending deliveries again, outside the retry schedule.
//!
//! A replay puts deliveries back to pending, due now, and wakes the dispatcher; they keep their id
//! (`webhook-id`), so a receiver that already has one can drop it. A replayed delivery gets one
//! attempt: it already used its schedule, so if that attempt fails it is failed ("dead") again, and
//! can be replayed again. Deliveries being attempted right now (under a live lease) are left alone.
//! Deliveries of a disabled hook are not replayed: [enable](Engine::enable_hook) it first.
//!
//! Events can be replayed too: an event the dispatcher could not turn into deliveries (its stored
//! payload unreadable, the application's finder or serializer panicking) is marked failed, listed
//! by [`Engine::failed_events`], and put back to pending by [`Engine::replay_event`] once the
//! cause is fixed. (A database error never fails an event: it stays pending and is tried again.)

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::engine::Engine;
use crate::foundation::error::ReplayError;
use crate::foundation::hook::HookId;
use crate::foundation::store::{delivery, hook_state, outbox};

impl Engine {
    /// Sends delivery `id` again now, whatever its state (delivered, failed, or waiting for its
    /// next attempt). Returns `false` when it is being attempted right now.
    pub async fn replay(&self, id: Uuid) -> Result<bool, ReplayError> {
        let row = delivery::Entity::find_by_id(id).one(self.db()).await?.ok_or(ReplayError::NoSuchDelivery(id))?;
        self.check_enabled(&HookId::parse(&row.hook_id)).await?;
        Ok(self.reschedule(Condition::all().add(delivery::Column::Id.eq(id))).await? == 1)
    }

    /// Sends every failed ("dead") delivery of hook `hook` again now. Returns how many.
    pub async fn replay_failed(&self, hook: &HookId) -> Result<u64, ReplayError> {
        self.check_enabled(hook).await?;
        let filter = Condition::all()
            .add(delivery::Column::HookId.eq(hook.to_string()))
            .add(delivery::Column::State.eq(delivery::state::FAILED));
        Ok(self.reschedule(filter).await?)
    }

    /// Sends every delivery of hook `hook` created in `from..to` again now, delivered ones
    /// included. Returns how many.
    pub async fn replay_range(
        &self,
        hook: &HookId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64, ReplayError> {
        self.check_enabled(hook).await?;
        let filter = Condition::all()
            .add(delivery::Column::HookId.eq(hook.to_string()))
            .add(delivery::Column::CreatedAt.gte(from.timestamp_millis()))
            .add(delivery::Column::CreatedAt.lt(to.timestamp_millis()));
        Ok(self.reschedule(filter).await?)
    }

    /// The events the dispatcher marked failed, oldest first, at most `limit`: each with its
    /// `error`, saying why it could not be turned into deliveries.
    pub async fn failed_events(&self, limit: u64) -> Result<Vec<outbox::Model>, DbErr> {
        outbox::Entity::find()
            .filter(outbox::Column::State.eq(outbox::state::FAILED))
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .all(self.db())
            .await
    }

    /// Dispatches failed event `outbox_id` again: it goes back to pending, and its hooks are found
    /// and its deliveries made as for a new event. Returns `false` when it is not failed (pending,
    /// or dispatched already: replay its deliveries instead).
    pub async fn replay_event(&self, outbox_id: i64) -> Result<bool, ReplayError> {
        outbox::Entity::find_by_id(outbox_id).one(self.db()).await?.ok_or(ReplayError::NoSuchEvent(outbox_id))?;
        let done = outbox::Entity::update_many()
            .col_expr(outbox::Column::State, Expr::value(outbox::state::PENDING))
            .col_expr(outbox::Column::Error, Expr::value(Option::<String>::None))
            .col_expr(outbox::Column::DispatchedAt, Expr::value(Option::<i64>::None))
            .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .filter(outbox::Column::Id.eq(outbox_id))
            .filter(outbox::Column::State.eq(outbox::state::FAILED))
            .exec(self.db())
            .await?;
        if done.rows_affected > 0 {
            self.wake();
        }
        Ok(done.rows_affected == 1)
    }

    async fn check_enabled(&self, hook: &HookId) -> Result<(), ReplayError> {
        let state = hook_state::Entity::find_by_id(hook.to_string()).one(self.db()).await?;
        match state {
            Some(hook_state::Model { disabled_at: Some(_), disabled_reason, .. }) => {
                Err(ReplayError::HookDisabled { hook: hook.clone(), reason: disabled_reason.unwrap_or_default() })
            }
            _ => Ok(()),
        }
    }

    /// Makes the deliveries `filter` selects pending and due now, except those under a live lease.
    async fn reschedule(&self, filter: Condition) -> Result<u64, DbErr> {
        let now = self.shared().clock.now_ms();
        let free =
            Condition::any().add(delivery::Column::LeaseUntil.is_null()).add(delivery::Column::LeaseUntil.lt(now));
        let done = delivery::Entity::update_many()
            .col_expr(delivery::Column::State, Expr::value(delivery::state::PENDING))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(delivery::Column::DeliveredAt, Expr::value(Option::<i64>::None))
            .filter(filter)
            .filter(free)
            .exec(self.db())
            .await?;
        if done.rows_affected > 0 {
            self.wake();
        }
        Ok(done.rows_affected)
    }
}
