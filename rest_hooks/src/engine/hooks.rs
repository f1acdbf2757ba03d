//! The engine's operations on the crate's hook table: subscribing, unsubscribing, rotating a
//! secret, checking targets; and the table's `ActiveModelBehavior`, which checks a hook saved
//! directly against the current engine.

use sea_orm::ActiveValue;
use sea_orm::entity::prelude::*;

use crate::engine::Engine;
use crate::engine::own_hooks::{HookWriteError, Hooks};
use crate::foundation::error::ValidationError;
use crate::foundation::hook::HookEntity;
use crate::foundation::hook::{ActiveModel, Entity, Model};
use crate::foundation::hookable::Owner;
use crate::foundation::net::TargetPolicy;
use crate::foundation::signing::Secret;

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    /// Checks the target and, when an engine is running, the event; stamps `created` / `updated`.
    async fn before_save<C>(self, _db: &C, insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        let event = self.event.try_as_ref().map(String::as_str);
        let target = self.target.try_as_ref().map(String::as_str);
        let engine = Engine::current();
        validate(engine.as_ref(), event, target).await.map_err(|e| DbErr::Custom(e.to_string()))?;
        self.stamped(insert)
    }
}

impl ActiveModel {
    /// Stamps `updated` (and `created` on insert) and gives a new hook a fresh secret.
    fn stamped(mut self, insert: bool) -> Result<Self, DbErr> {
        let now = chrono::Utc::now();
        if insert && self.created.is_not_set() {
            self.created = sea_orm::Set(now);
        }
        if insert && matches!(self.secret, ActiveValue::NotSet | ActiveValue::Set(None)) {
            let secret =
                Secret::generate().map_err(|e| DbErr::Custom(format!("cannot make the hook's secret: {e}")))?;
            self.secret = sea_orm::Set(Some(secret));
        }
        self.updated = sea_orm::Set(now);
        Ok(self)
    }
}

async fn validate(engine: Option<&Engine>, event: Option<&str>, target: Option<&str>) -> Result<(), ValidationError> {
    if let (Some(engine), Some(event)) = (engine, event) {
        engine.check_event(event)?;
    }
    if let Some(target) = target {
        match engine {
            Some(engine) => engine.check_target(target).await?,
            None => TargetPolicy::default().check_resolving(target, None).await?,
        };
    }
    Ok(())
}

impl Engine {
    /// Creates a hook in the crate's hook table after checking the event against the map and the
    /// target URL as [`check_target`](Self::check_target) does (its host name is resolved once);
    /// the hook gets a fresh secret (`model.secret`).
    ///
    /// An engine that reads its hooks from the application's own entity
    /// ([`Builder::hook_entity`](crate::Builder::hook_entity)) or a custom finder refuses it
    /// ([`SubscribeError::Refused`](crate::foundation::error::SubscribeError::Refused)): a hook written here would
    /// never fire. Create those hooks with [`Engine::hooks`](Self::hooks).
    pub async fn subscribe<C: ConnectionTrait>(
        &self,
        db: &C,
        owner: Option<Owner>,
        event: &str,
        target: &str,
    ) -> Result<Model, crate::foundation::error::SubscribeError> {
        self.refuse_elsewhere("subscribe")?;
        self.hooks::<Entity>().subscribe(db, owner, event, target).await
    }

    /// Refuses `what` on the crate's hook table when this engine reads its hooks elsewhere: a
    /// hook written there would never fire.
    fn refuse_elsewhere(&self, what: &'static str) -> Result<(), crate::engine::own_hooks::HookEntityError> {
        match &self.shared().config.hooks_elsewhere {
            Some(elsewhere) => {
                Err(crate::engine::own_hooks::HookEntityError::CrateTableUnused { what, elsewhere: elsewhere.clone() })
            }
            None => Ok(()),
        }
    }
}

impl Engine {
    /// Deletes hook `id` of the crate's hook table, in one transaction with what the engine keeps
    /// of it: its pending deliveries fail with `the hook was deleted` (no retry follows) and its
    /// [state](Self::hook_state) goes. A request already under way, or recorded by a dispatch pass
    /// that read the hook before the deletion committed, may still be made once. The attempt log
    /// stays. Returns
    /// whether the hook existed. Inside a transaction it runs under a savepoint, and commits with
    /// the caller. Refused (`DbErr::Custom`) by an engine whose hooks live elsewhere: see
    /// [`Engine::hooks`](Self::hooks).
    pub async fn unsubscribe<C>(&self, db: &C, id: i64) -> Result<bool, DbErr>
    where
        C: ConnectionTrait + sea_orm::TransactionTrait,
    {
        self.refuse_elsewhere("unsubscribe").map_err(|e| DbErr::Custom(e.to_string()))?;
        self.hooks::<Entity>().unsubscribe(db, id).await.map_err(|error| into_db_err(error, id))
    }

    /// Gives hook `id` of the crate's hook table a new secret. The old one keeps signing, beside
    /// the new one, for the [grace period](crate::Builder::secret_grace_period), so that the
    /// receiver can switch at its own pace. Returns the hook with its new secret.
    ///
    /// The secret changes in one `UPDATE`: the secret current at that moment becomes the previous
    /// one. Rotations at once wait for each other on the row and all succeed, each replacing the
    /// secret the one before it made. The hook is read back in the same transaction (under a
    /// savepoint inside the caller's), so what it shows is this rotation's work. The target is not
    /// checked again. Refused (`DbErr::Custom`) by an engine whose hooks live elsewhere: see
    /// [`Engine::hooks`](Self::hooks).
    pub async fn rotate_secret<C>(&self, db: &C, id: i64) -> Result<Model, DbErr>
    where
        C: ConnectionTrait + sea_orm::TransactionTrait,
    {
        self.refuse_elsewhere("rotate_secret").map_err(|e| DbErr::Custom(e.to_string()))?;
        self.hooks::<Entity>().rotate_secret(db, id).await.map_err(|error| into_db_err(error, id))
    }

    /// Checks `target` as a subscription would: a well-formed http(s) URL that the
    /// [`TargetPolicy`] accepts, whose host name, if it has one, does not resolve (through the
    /// engine's resolver) to a refused address. For applications that validate targets of their own
    /// hook entity.
    pub async fn check_target(&self, target: &str) -> Result<reqwest::Url, ValidationError> {
        self.shared().check_target(target).await
    }

    /// The policy that decides which targets this engine calls.
    pub fn target_policy(&self) -> &TargetPolicy {
        &self.shared().config.policy
    }
}

impl Engine {
    /// A writer of hooks in entity `E`: the crate's [`hook::Entity`](crate::hook::Entity), or the
    /// application's own one named with [`Builder::hook_entity`](crate::Builder::hook_entity). Its
    /// methods refuse an entity this engine does not read.
    pub fn hooks<E: HookEntity>(&self) -> Hooks<E> {
        Hooks::new(std::sync::Arc::clone(self.shared()))
    }
}

/// A writer's error as the crate table's methods report it: a missing hook as
/// `DbErr::RecordNotFound`, the database's own error as it came.
fn into_db_err(error: HookWriteError, id: i64) -> DbErr {
    match error {
        HookWriteError::Db(error) => error,
        HookWriteError::NotFound(_) => DbErr::RecordNotFound(format!("hook {id} does not exist")),
        other => DbErr::Custom(other.to_string()),
    }
}
