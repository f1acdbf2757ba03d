//! Looking at what happened: the attempt log per delivery, hook and event, and each hook's state
//! (failing since, disabled and why), with the calls that disable a hook by hand and enable it
//! again.

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use uuid::Uuid;

use crate::engine::Engine;
use crate::foundation::hook::HookId;
use crate::foundation::store::transitions::{self, Purged};
use crate::foundation::store::{attempt, delivery, hook_state};
use std::time::Duration;

impl Engine {
    /// Every attempt of delivery `id`, the first first.
    pub async fn attempts_of_delivery(&self, id: Uuid) -> Result<Vec<attempt::Model>, DbErr> {
        attempt::Entity::find()
            .filter(attempt::Column::DeliveryId.eq(id))
            .order_by_asc(attempt::Column::Attempt)
            .order_by_asc(attempt::Column::Id)
            .all(self.db())
            .await
    }

    /// The latest `limit` attempts to hook `hook`, the newest first.
    pub async fn attempts_of_hook(&self, hook: &HookId, limit: u64) -> Result<Vec<attempt::Model>, DbErr> {
        attempt::Entity::find()
            .filter(attempt::Column::HookId.eq(hook.to_string()))
            .order_by_desc(attempt::Column::At)
            .order_by_desc(attempt::Column::Id)
            .limit(limit)
            .all(self.db())
            .await
    }

    /// Every attempt of every delivery of event `outbox_id` (the outbox row's id, also
    /// [`Event::id`](crate::Event::id)), in the order they were made.
    pub async fn attempts_of_event(&self, outbox_id: i64) -> Result<Vec<attempt::Model>, DbErr> {
        attempt::Entity::find()
            .filter(attempt::Column::OutboxId.eq(outbox_id))
            .order_by_asc(attempt::Column::At)
            .order_by_asc(attempt::Column::Id)
            .all(self.db())
            .await
    }

    /// The deliveries of event `outbox_id`, one per hook it went to.
    pub async fn deliveries_of_event(&self, outbox_id: i64) -> Result<Vec<delivery::Model>, DbErr> {
        delivery::Entity::find()
            .filter(delivery::Column::OutboxId.eq(outbox_id))
            .order_by_asc(delivery::Column::CreatedAt)
            .all(self.db())
            .await
    }

    /// The engine's record of hook `hook`: since when it has been failing, and whether it was
    /// disabled and why. `None` for a hook that never failed.
    pub async fn hook_state(&self, hook: &HookId) -> Result<Option<hook_state::Model>, DbErr> {
        hook_state::Entity::find_by_id(hook.to_string()).one(self.db()).await
    }

    /// Disables hook `hook` by hand, as a 410 would: nothing more is recorded or sent for it, and
    /// its pending deliveries fail with `the hook was disabled: {reason}`. Returns whether it was
    /// enabled before. [`enable_hook`](Self::enable_hook) undoes it. The subscription API shows
    /// `reason` to the hook's owner.
    pub async fn disable_hook(&self, hook: &HookId, reason: &str) -> Result<bool, DbErr> {
        let (key, now) = (hook.to_string(), self.shared().clock.now_ms());
        let txn = self.db().begin().await?;
        let disabled = transitions::disable_hook(&txn, &key, reason, now).await?;
        txn.commit().await?;
        self.shared().hook_disabled(&key, now);
        Ok(disabled)
    }

    /// Enables hook `hook` again after the engine disabled it; its failure streak starts afresh.
    /// Deliveries killed by the disabling stay failed: [replay](Self::replay_failed) them. A mark
    /// the application's own table got ([`HookEntity::disabled`](crate::HookEntity::disabled)) is
    /// the application's to undo. Returns whether the hook was disabled.
    pub async fn enable_hook(&self, hook: &HookId) -> Result<bool, DbErr> {
        let enabled = transitions::enable_hook(self.db(), &hook.to_string()).await?;
        self.shared().hook_enabled(&hook.to_string());
        Ok(enabled)
    }
}

impl Engine {
    /// Deletes attempts made, deliveries delivered and events dispatched more than `older_than`
    /// ago. Failed deliveries and events that failed to dispatch are kept.
    pub async fn purge(&self, older_than: Duration) -> Result<Purged, DbErr> {
        crate::pipeline::retention::purge(self.shared(), older_than).await
    }
}

impl Engine {
    /// Sends hook `hook`'s deliveries in order, per instance (`true`), or as soon as each can go
    /// (`false`, the default): with order, a delivery about an instance (same model, same primary
    /// key) is sent only once every earlier one of this hook about that instance is delivered or
    /// dead, retries included. Other instances and other hooks are not held back: a slow or failing
    /// receiver delays only the later events of the instance it is stuck on. Applies to deliveries
    /// recorded from now on. [`Builder::ordered_events`](crate::Builder::ordered_events) does the
    /// same for every hook of an event.
    pub async fn set_hook_ordered(&self, hook: &HookId, ordered: bool) -> Result<(), DbErr> {
        transitions::set_ordered(self.db(), &hook.to_string(), ordered).await
    }
}
