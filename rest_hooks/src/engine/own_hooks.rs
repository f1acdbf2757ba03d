//! Writing hooks: subscribing, unsubscribing and rotating secrets in whichever entity the engine
//! reads its hooks from — the crate's table or the application's own
//! ([`Builder::hook_entity`](crate::Builder::hook_entity), django-rest-hooks' `HOOK_CUSTOM_MODEL`).
//!
//! [`Engine::hooks::<E>()`](crate::Engine::hooks) hands out a [`Hooks`] writer for entity `E`. It
//! refuses to write an entity the engine does not read (a hook written there would never fire), and
//! an entity that lacks a column the operation needs ([`HookEntity::target_column`] to create,
//! [`HookEntity::secret_columns`] to rotate), each with a [`HookEntityError`] naming the missing
//! piece.
//!
//! ```no_run
//! # async fn run(engine: rest_hooks::Engine, db: sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
//! // With the crate's own table; an application's entity works the same way once it names its
//! // target column (see `HookEntity`).
//! let hooks = engine.hooks::<rest_hooks::hook::Entity>();
//! let hook = hooks.subscribe(&db, Some(1.into()), "book.added", "https://example.com/hooks").await?;
//! hooks.rotate_secret(&db, hook.id).await?;
//! hooks.unsubscribe(&db, hook.id).await?;
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ColumnType, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, Iterable, ModelTrait, PrimaryKeyToColumn, QueryFilter, TransactionSession, TransactionTrait,
    Value,
};

use crate::foundation::error::SubscribeError;
use crate::foundation::hook::{self, HookEntity, HookId, column_value};
use crate::foundation::store::transitions;
use crate::runtime::shared::Shared;

pub use crate::foundation::error::HookEntityError;
pub use crate::foundation::hook::SecretColumns;
use crate::foundation::hookable::Owner;
use crate::foundation::signing::Secret;

/// Deleting a hook or rotating its secret failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookWriteError {
    /// The entity cannot be written this way: see [`HookEntityError`].
    #[error(transparent)]
    Refused(#[from] HookEntityError),
    /// The hook does not exist.
    #[error("hook `{0}` does not exist")]
    NotFound(HookId),
    /// Another rotation of the hook's secret was written after this one read the secret it
    /// replaces: this one wrote nothing, and the secret the other made is the current one. Only
    /// the subscription API's rotations, which answer it with `409`, refuse such a race;
    /// [`Hooks::rotate_secret`] waits its turn instead.
    #[error("hook `{0}`'s secret was rotated by another call meanwhile; this rotation was not applied")]
    RotatedMeanwhile(HookId),
    /// A new secret could not be made.
    #[error("cannot make the hook's secret: {0}")]
    Secret(#[from] crate::foundation::signing::SecretError),
    /// The database failed.
    #[error("cannot write the hook: {0}")]
    Db(#[from] DbErr),
}

/// What a rotation does about another one written after it read the hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Race {
    /// Waits for it, then replaces the secret it made.
    Wait,
    /// Writes nothing: [`HookWriteError::RotatedMeanwhile`].
    Refuse,
}

/// Writes hooks into entity `E`, the one the engine reads: see [`Engine::hooks`](crate::Engine::hooks).
pub struct Hooks<E> {
    shared: Arc<Shared>,
    entity: PhantomData<fn() -> E>,
}

impl<E> std::fmt::Debug for Hooks<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").field("entity", &std::any::type_name::<E>()).finish_non_exhaustive()
    }
}

impl<E> Hooks<E> {
    /// The writer of entity `E` for the engine that shares `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, entity: PhantomData }
    }
}

impl<E: HookEntity> Hooks<E>
where
    E::Model: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: Send,
{
    /// Creates a hook of `owner` (`None`: a hook that receives unowned and all-owner events only)
    /// after checking `event` against the map and `target` as
    /// [`Engine::check_target`](crate::Engine::check_target) does. The event, owner and target columns are set, a fresh secret
    /// when the entity has [secret columns](HookEntity::secret_columns), then
    /// [`HookEntity::fill_new`] sets the application's own; the row is inserted through the
    /// entity's `ActiveModelBehavior`.
    pub async fn subscribe<C: ConnectionTrait>(
        &self,
        db: &C,
        owner: Option<Owner>,
        event: &str,
        target: &str,
    ) -> Result<E::Model, SubscribeError> {
        self.subscribe_setting(db, owner, event, target, |_| Ok(())).await
    }

    /// [`subscribe`](Self::subscribe), with the application's own columns of the new hook set by
    /// `set` before [`HookEntity::fill_new`] runs (which may read them):
    /// `hooks.subscribe_with(&db, owner, "ticket.opened", url, |hook| hook.project_id = Set(Some(2)))`.
    pub async fn subscribe_with<C: ConnectionTrait>(
        &self,
        db: &C,
        owner: Option<Owner>,
        event: &str,
        target: &str,
        set: impl FnOnce(&mut E::ActiveModel) + Send,
    ) -> Result<E::Model, SubscribeError> {
        self.subscribe_setting(db, owner, event, target, |hook| {
            set(hook);
            Ok(())
        })
        .await
    }

    /// The subscription API's: `fields` (checked against their columns' types) set before
    /// [`HookEntity::fill_new`] runs.
    pub(crate) async fn subscribe_fields<C: ConnectionTrait>(
        &self,
        db: &C,
        owner: Option<Owner>,
        event: &str,
        target: &str,
        fields: Vec<(E::Column, Value)>,
    ) -> Result<E::Model, SubscribeError> {
        self.subscribe_setting(db, owner, event, target, |hook| {
            fields.into_iter().try_for_each(|(column, value)| hook.try_set(column, value))
        })
        .await
    }

    async fn subscribe_setting<C: ConnectionTrait>(
        &self,
        db: &C,
        owner: Option<Owner>,
        event: &str,
        target: &str,
        set: impl FnOnce(&mut E::ActiveModel) -> Result<(), DbErr> + Send,
    ) -> Result<E::Model, SubscribeError> {
        self.check_read()?;
        let target_column = E::target_column().ok_or(HookEntityError::NoTargetColumn(entity_name::<E>()))?;
        self.shared.check_event(event)?;
        self.shared.check_target(target).await?;
        let mut hook = <E::ActiveModel as ActiveModelBehavior>::new();
        hook.try_set(E::event_column(), Value::from(event))?;
        hook.try_set(target_column, Value::from(target))?;
        if let Some(owner) = &owner {
            hook.try_set(E::owner_column(), exact_value(E::owner_column(), owner.as_str())?)?;
        }
        if let Some(columns) = E::secret_columns() {
            let secret =
                Secret::generate().map_err(|e| DbErr::Custom(format!("cannot make the hook's secret: {e}")))?;
            hook.try_set(columns.secret, Value::from(secret.expose()))?;
        }
        let now = chrono::Utc::now();
        for column in [E::created_column(), E::updated_column()].into_iter().flatten() {
            hook.try_set(column, Value::from(now))?;
        }
        set(&mut hook)?;
        E::fill_new(&mut hook, owner.as_ref());
        if std::any::TypeId::of::<E>() == std::any::TypeId::of::<hook::Entity>() {
            // The crate's table: checked and stamped above. Its `before_save` would only resolve
            // the target once more.
            return Ok(E::insert(hook).exec_with_returning(db).await?);
        }
        Ok(hook.insert(db).await?)
    }

    /// Deletes hook `id`, in one transaction with what the engine keeps of it, as
    /// [`Engine::unsubscribe`](crate::Engine::unsubscribe) does for the crate's table. Returns whether the hook existed.
    pub async fn unsubscribe<C>(&self, db: &C, id: impl Into<HookId>) -> Result<bool, HookWriteError>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        self.check_read()?;
        let (id, key) = self.key(id)?;
        let txn = db.begin().await?;
        let deleted = E::delete_many().filter(key.0.eq(key.1)).exec(&txn).await?.rows_affected > 0;
        if deleted {
            transitions::forget_hook(&txn, &id.to_string()).await?;
        }
        txn.commit().await?;
        Ok(deleted)
    }

    /// Gives hook `id` a new secret, as [`Engine::rotate_secret`](crate::Engine::rotate_secret) does for the crate's table: the
    /// old one keeps signing beside it for the
    /// [grace period](crate::Builder::secret_grace_period) when the entity has columns for the
    /// previous secret, else it stops at once. Returns the hook as it is now. Refused for an
    /// entity with no [secret columns](HookEntity::secret_columns).
    /// Rotations at once wait for each other and all succeed, each replacing the secret the one
    /// before it made.
    pub async fn rotate_secret<C>(&self, db: &C, id: impl Into<HookId>) -> Result<E::Model, HookWriteError>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        self.rotate(db, id.into(), Race::Wait).await
    }

    /// [`rotate_secret`](Self::rotate_secret), writing the new secret only over the secret this
    /// call read: when another rotation of the hook is written in between, this one writes nothing
    /// and fails with [`HookWriteError::RotatedMeanwhile`], so that a secret it returns was not
    /// replaced before it was returned, and the one it replaced keeps its grace period.
    pub(crate) async fn rotate_secret_unraced<C>(&self, db: &C, id: HookId) -> Result<E::Model, HookWriteError>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        self.rotate(db, id, Race::Refuse).await
    }

    /// Rotates hook `id`'s secret, waiting for or refusing a rotation made meanwhile.
    async fn rotate<C>(&self, db: &C, id: HookId, race: Race) -> Result<E::Model, HookWriteError>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        self.check_read()?;
        let columns = E::secret_columns().ok_or(HookEntityError::NoSecretColumn(entity_name::<E>()))?;
        let (id, (column, value)) = self.key(id)?;
        let mut unchanged = None;
        if race == Race::Refuse {
            let read = E::find().filter(column.eq(value.clone())).one(db).await?;
            let replaced = read.ok_or_else(|| HookWriteError::NotFound(id.clone()))?.get(columns.secret);
            unchanged = Some(if replaced == replaced.as_null() {
                columns.secret.is_null()
            } else {
                columns.secret.eq(replaced)
            });
        }
        let secret = Secret::generate()?;
        let mut update = E::update_many();
        if let Some((previous, until)) = columns.previous {
            // The previous secret first: MySQL assigns left to right.
            update = update
                .col_expr(previous, Expr::col(columns.secret))
                .col_expr(until, Expr::value(Some(self.grace_end())));
        }
        if let Some(updated) = E::updated_column() {
            update = update.col_expr(updated, Expr::value(chrono::Utc::now()));
        }
        let mut update = update.col_expr(columns.secret, Expr::value(secret.expose())).filter(column.eq(value.clone()));
        if let Some(unchanged) = unchanged {
            update = update.filter(unchanged);
        }
        let txn = db.begin().await?;
        if update.exec(&txn).await?.rows_affected == 0 {
            let exists = E::find().filter(column.eq(value)).one(&txn).await?.is_some();
            return Err(if exists { HookWriteError::RotatedMeanwhile(id) } else { HookWriteError::NotFound(id) });
        }
        let hook = E::find().filter(column.eq(value)).one(&txn).await?.ok_or(HookWriteError::NotFound(id))?;
        txn.commit().await?;
        Ok(hook)
    }

    /// Refuses an entity the engine does not read.
    fn check_read(&self) -> Result<(), HookEntityError> {
        let entity = entity_name::<E>();
        let read = match &self.shared.config.hooks_elsewhere {
            None => entity == entity_name::<hook::Entity>(),
            Some(elsewhere) => *elsewhere == format!("entity `{entity}`"),
        };
        if read { Ok(()) } else { Err(HookEntityError::NotTheEngines { entity, reads: self.shared.hooks_read_from() }) }
    }

    /// Hook `id`, its primary key column and its value there.
    fn key(&self, id: impl Into<HookId>) -> Result<(HookId, (E::Column, Value)), HookWriteError> {
        let id = id.into();
        let column = primary_key::<E>()?;
        let value = column_value(column, "hook id", &id.to_string())?;
        Ok((id, (column, value)))
    }

    /// When a secret rotated now stops signing.
    fn grace_end(&self) -> chrono::DateTime<chrono::Utc> {
        let grace = self.shared.config.secret_grace;
        let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        chrono::Utc::now().checked_add_signed(grace).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
    }
}

fn entity_name<E>() -> &'static str {
    std::any::type_name::<E>()
}

/// The first primary key column of `E`.
pub(crate) fn primary_key<E: EntityTrait>() -> Result<E::Column, HookEntityError> {
    E::PrimaryKey::iter()
        .next()
        .map(PrimaryKeyToColumn::into_column)
        .ok_or(HookEntityError::NoPrimaryKey(entity_name::<E>()))
}

/// The text form of a key as a value of exactly `column`'s type, so that it can be set on an
/// `ActiveModel` field of that type (an `i32` field takes `Value::Int`, not `Value::BigInt`).
pub(crate) fn exact_value<C: ColumnTrait>(column: C, text: &str) -> Result<Value, DbErr> {
    let mismatch = |kind: &str| {
        DbErr::Custom(format!("owner `{text}` is not a valid {kind} for hook column `{}`", column.as_str()))
    };
    macro_rules! parse {
        ($kind:literal, $ty:ty) => {
            Value::from(text.parse::<$ty>().map_err(|_| mismatch($kind))?)
        };
    }
    Ok(match column.def().get_column_type() {
        ColumnType::TinyInteger => parse!("integer", i8),
        ColumnType::SmallInteger => parse!("integer", i16),
        ColumnType::Integer => parse!("integer", i32),
        ColumnType::TinyUnsigned => parse!("unsigned integer", u8),
        ColumnType::SmallUnsigned => parse!("unsigned integer", u16),
        ColumnType::Unsigned => parse!("unsigned integer", u32),
        _ => column_value(column, "owner", text)?,
    })
}
